"""Runs: each chosen checkpoint's settings, training curves and evaluation."""
from __future__ import annotations

import streamlit as st

import figures
import helpers
from selection import Selection


def render(sel: Selection) -> None:
    for r in sel.chosen:
        st.subheader(r.key)
        if r.error:
            st.error(helpers.shown(r.error, sel.runs_dir))
            continue
        st.table(helpers.settings_table(r.meta))
        log = helpers.metrics_log(r)
        if log:
            st.plotly_chart(figures.training_curves(log), key=f"curve_{r.key}")
        table = helpers.eval_table(helpers.read_eval(r.checkpoint.parent / "eval.json"))
        if table:
            st.table(table)
        else:
            st.caption("no evaluation yet (`relationnet demo` writes one; or `relationnet eval CHECKPOINT`)")
