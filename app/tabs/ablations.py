"""Ablations (Table I): both studies' claims over seeds (study 2 apart, with its equivalence verdicts), this runs
folder's one-run table, and the paper's numbers."""
from __future__ import annotations

import re

import streamlit as st

import helpers
from relationnet.experiments.design import PAPER
from relationnet.experiments.study2_page import account_markdown, is_pending
from selection import Selection


def render(sel: Selection) -> None:
    st.subheader("Study 1: every claim over seeds")
    if sel.study is None:
        st.info("no study results found (docs/study/results.json): `relationnet study` writes them")
    else:
        st.caption("5 seeds per arm, paired by seed; the rule (95 % Student-t interval of the paired difference) was "
                   "written before the runs in docs/study/METHOD.md. Differences in points of %.")
        st.dataframe(helpers.study_table(sel.study), hide_index=True, key="study_table")
    st.subheader("Study 2: SCL at the paper's effect size, alternating training taken apart")
    if sel.study2 is None:
        st.info("no study-2 results found (docs/study/study2/results.json): `relationnet study --protocol 2` "
                "writes them")
    else:
        pending = any(is_pending(r) for r in sel.study2.values())
        st.caption("A separate study with its own protocol (docs/study/study2/METHOD.md, committed before its first "
                   "record): 20 fresh seeds (100–119) for the SCL claims, seeds 0–4 rerun here for the alternating "
                   "arms (0–2 for the learning curve); the same 95 % rule, plus an equivalence verdict "
                   "from the 90 % interval against the paper's effect. "
                   + ("*Pending* rows say how many seeds have landed; they are not verdicts. " if pending else "")
                   + "Differences in points of %.")
        st.dataframe(helpers.study2_table(sel.study2), hide_index=True, key="study2_table")
        try:                             # the results page's (a)–(d) account, by its own code, and its figures
            account = account_markdown(sel.study2.values(), (sel.study or {}).get("Alt-Budget"), heading="#####")
        except (KeyError, TypeError, ValueError) as e:     # a hand-edited results.json: the table above still shows
            st.warning(f"study 2's account of study 1's Alt-Budget cannot be written from these results ({e!r})")
            account = ""
        if account:
            st.markdown(account)
        folder = helpers.study_dir() / "study2"
        for name, caption in (("alternating.png", "Study 2's alternating-training claims beside study 1's Alt-Budget, "
                               "and the fine-only learning curve"),
                              ("mechanism_S4.png", "What SCL does during training (S4, the seeds landed when the "
                               "page was tabulated): descriptions, not claims; the claims are the Probe rows above")):
            if (folder / name).is_file():
                try:
                    st.image(helpers.decode_upload((folder / name).read_bytes(), name), caption=caption)
                except (helpers.UploadError, OSError) as e:
                    st.warning(f"study 2's figure {name} cannot be shown: {e}")
    st.subheader("This runs folder: one run per row")
    md = sel.runs_dir / "results.md"
    if md.is_file():
        st.caption("One seed per run: the ordering of rows is a demonstration, not evidence (the study above is).")
        st.markdown(re.sub(r"^#+ ", "##### ", md.read_text(), flags=re.M))     # its title as a small heading
    else:
        st.info("no results table yet: `relationnet demo` writes one")
    st.markdown("**The paper's Table I** (Cityscapes val, mIoU %): " +
                "; ".join(f"{v[0]}: {v[1]:.2f}" for v in PAPER.values()))
