"""Similarity maps (SCL, Sec. II-A3): the similarity subnet's P(same label) for each of the 9 offsets, and the
boundaries it implies."""
from __future__ import annotations

import streamlit as st

import figures
import helpers
import state
from relationnet import viz
from selection import Selection


def render(sel: Selection) -> None:
    st.caption("The similarity subnet's probability that each pixel shares its label with the neighbour at each of "
               "the 9 offsets (Sec. II-A3), and the boundary map 1 − mean neighbour similarity.")
    if sel.rgb is None:
        st.info("choose an image in the sidebar")
        return
    o = state.outputs(sel.run_a, sel.image_key, sel.rgb, 1, sel.runs_dir)
    if o is not None and o["similarity"] is None:
        st.info(f"{sel.run_a.key} has no similarity subnet (trained without SCL); pick a checkpoint with λ > 0")
    elif o is not None:
        probs = viz.similarity_probabilities(o["similarity"])
        st.plotly_chart(figures.offset_facets(probs), key="sim9")
        c1, c2 = st.columns(2)
        with c1:
            st.plotly_chart(figures.predicted_boundaries(probs), key="bmap")
        if sel.label is not None:
            with c2:
                st.plotly_chart(figures.true_boundaries(helpers.label_cells(sel.label)), key="tbound")
        h, w = probs.shape[1:]
        py = st.number_input("pixel row (output grid)", 0, h - 1, h // 2, key="py")
        px_ = st.number_input("pixel column (output grid)", 0, w - 1, w // 2, key="px")
        st.plotly_chart(figures.neighbour_figure(probs, int(py), int(px_)), key="grid3")
