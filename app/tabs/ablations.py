"""Ablations (Table I): the study's claims over seeds, this runs folder's one-run table, and the paper's numbers."""
from __future__ import annotations

import re

import streamlit as st

import helpers
from relationnet.experiments.design import PAPER
from selection import Selection


def render(sel: Selection) -> None:
    st.subheader("The study: every claim over seeds")
    if sel.study is None:
        st.info("no study results found (docs/study/results.json): `relationnet study` writes them")
    else:
        st.caption("5 seeds per arm, paired by seed; the rule (95 % Student-t interval of the paired difference) was "
                   "written before the runs in docs/study/METHOD.md. Differences in points of %.")
        st.dataframe(helpers.study_table(sel.study), hide_index=True, key="study_table")
    st.subheader("This runs folder: one run per row")
    md = sel.runs_dir / "results.md"
    if md.is_file():
        st.caption("One seed per run: the ordering of rows is a demonstration, not evidence (the study above is).")
        st.markdown(re.sub(r"^#+ ", "##### ", md.read_text(), flags=re.M))     # its title as a small heading
    else:
        st.info("no results table yet: `relationnet demo` writes one")
    st.markdown("**The paper's Table I** (Cityscapes val, mIoU %): " +
                "; ".join(f"{v[0]}: {v[1]:.2f}" for v in PAPER.values()))
