"""Ablations (Table I): both studies' claims over seeds (study 2 apart, with its equivalence verdicts), this runs
folder's one-run table, and the paper's numbers."""
from __future__ import annotations

import re

import streamlit as st

import helpers
from relationnet.experiments.design import PAPER
from selection import Selection


def render(sel: Selection) -> None:
    st.subheader("Study 1: every claim over seeds")
    if sel.study is None:
        st.info("no study results found (docs/study/results.json): `relationnet study` writes them")
    else:
        st.caption("5 seeds per arm, paired by seed; the rule (95 % Student-t interval of the paired difference) was "
                   "written before the runs in docs/study/METHOD.md. Differences in points of %.")
        st.dataframe(helpers.study_table(sel.study), hide_index=True, key="study_table")
    st.subheader("Study 2: SCL at the paper's effect size, alternating training in the paper's regime")
    if sel.study2 is None:
        st.info("no study-2 results found (docs/study/study2/results.json): `relationnet study --protocol 2` "
                "writes them")
    else:
        st.caption("A separate study with its own protocol (docs/study/study2/METHOD.md, committed before its first "
                   "record): fresh seeds, 20 for the SCL claims; the same 95 % rule, plus an equivalence verdict "
                   "from the 90 % interval against the paper's effect. It runs in the background; *pending* rows "
                   "say how many seeds have landed. Differences in points of %.")
        st.dataframe(helpers.study2_table(sel.study2), hide_index=True, key="study2_table")
    st.subheader("This runs folder: one run per row")
    md = sel.runs_dir / "results.md"
    if md.is_file():
        st.caption("One seed per run: the ordering of rows is a demonstration, not evidence (the study above is).")
        st.markdown(re.sub(r"^#+ ", "##### ", md.read_text(), flags=re.M))     # its title as a small heading
    else:
        st.info("no results table yet: `relationnet demo` writes one")
    st.markdown("**The paper's Table I** (Cityscapes val, mIoU %): " +
                "; ".join(f"{v[0]}: {v[1]:.2f}" for v in PAPER.values()))
