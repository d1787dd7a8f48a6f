"""Predictions: each chosen checkpoint's prediction on the sidebar's image, its errors and per-class IoU."""
from __future__ import annotations

import streamlit as st

import helpers
import state
from relationnet import viz
from relationnet.data import overlay
from relationnet.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from selection import Selection


def render(sel: Selection) -> None:
    if sel.rgb is None:
        st.info("choose an image in the sidebar")
        return
    rgb, label = sel.rgb, sel.label
    st.markdown(helpers.class_legend_html(CITYSCAPES_CLASSES, CITYSCAPES_PALETTE), unsafe_allow_html=True)
    cols = st.columns(len(sel.chosen))
    preds = {}
    for col, r in zip(cols, sel.chosen):
        with col:
            st.markdown(f"**{r.key}**")
            o = state.outputs(r, sel.image_key, rgb, sel.steps, sel.runs_dir)
            if o is None:
                continue
            preds[r.key] = o["pred"]
            g1, g2 = st.columns(2)
            g1.image(rgb, caption="image", width="stretch")
            g2.image(overlay(rgb, o["pred"], sel.alpha, helpers.run_palette(r)),
                     caption=f"prediction ({sel.steps}-step, {o['seconds']:.2f} s)", width="stretch")
            if label is not None and not helpers.scores_cityscapes(r):
                st.caption(f"{r.key} predicts {r.meta['model'].get('num_classes')} classes, not the 19 of this "
                           "image's labels: no errors or IoU")
            elif label is not None:
                g1.image(overlay(rgb, label, sel.alpha), caption="ground truth", width="stretch")
                g2.image(viz.error_map(o["pred"], label), caption="errors (red) / correct (green)", width="stretch")
                st.dataframe(viz.image_iou(o["pred"], label, CITYSCAPES_CLASSES), hide_index=True)
    if len(preds) == 2:
        a, b = list(preds.values())
        st.caption(f"The two checkpoints disagree on {100 * (a != b).mean():.1f} % of this image's pixels; the "
                   "Side by side tab shows where, and which of them is right there.")
