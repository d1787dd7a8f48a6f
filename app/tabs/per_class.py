"""Per class & contours: per-class IoU and confusion matrices over the validation set, and the boundary band on
the sidebar's image."""
from __future__ import annotations

import numpy as np
import streamlit as st

import figures
import helpers
import state
from relationnet import viz
from relationnet.data.labels import CITYSCAPES_CLASSES
from relationnet.engine.evaluate import BAND_WIDTH
from selection import Selection


def render(sel: Selection) -> None:
    chosen = sel.chosen
    scores = state.validation_scores(sel, "per_class")
    if scores:
        scored, band_miou = helpers.per_class_scores(scores)
        ious = {r.key: np.array(sc["iou"]) for r, sc in zip(chosen, scored)}
        summary = [f"**{r.key}**: mIoU {100 * sc['miou']:.1f} %, boundary mIoU {100 * b:.1f} %"
                   for r, sc, b in zip(chosen, scored, band_miou)]
        st.markdown(" · ".join(summary) + f" (1-step, {scores['n']} validation images)")
        st.caption("One checkpoint (one seed) each: where they differ is a demonstration, not evidence; the study's "
                   "seeds carry the claims (Ablations tab).")
        bars, delta = figures.per_class_figures(list(CITYSCAPES_CLASSES), ious)
        if delta is None:
            st.plotly_chart(bars, key="pc_bars", config={"displayModeBar": False})
        else:
            c1, c2 = st.columns(2)
            c1.plotly_chart(bars, key="pc_bars", config={"displayModeBar": False})
            c2.plotly_chart(delta, key="pc_delta", config={"displayModeBar": False})
        options = [r.key for r in chosen] + ([f"{chosen[0].key} − {chosen[1].key}"] if len(chosen) == 2 else [])
        which = st.radio("confusion matrix (rows: true class, normalised to 100 %)", options, horizontal=True,
                         key="pc_cm")
        cm_fig = figures.confusion_view(scores["confusion"], list(CITYSCAPES_CLASSES), options, which)
        st.plotly_chart(cm_fig, key="pc_confusion", config={"displayModeBar": False})
    st.subheader("The boundary band on this image")
    if sel.rgb is None or sel.label is None:
        st.info("choose a validation image in the sidebar: the band needs its ground truth")
        return
    band = helpers.band_of(sel.label)
    st.caption(f"Boundary mIoU scores only the pixels within {BAND_WIDTH} px of a label change (here "
               f"{100 * band.mean():.1f} % of the image), where the paper says SCL sharpens contours. Inside the "
               "band: green right, red wrong; the rest of the image is dimmed.")
    cols = st.columns(len(chosen))
    for col, r in zip(cols, chosen):
        o = state.outputs(r, sel.image_key, sel.rgb, sel.steps, sel.runs_dir) if helpers.scores_cityscapes(r) else None
        if o is not None:
            acc = helpers.band_accuracy(o["pred"], sel.label, band)
            col.image(viz.band_view(sel.rgb, o["pred"], sel.label, band), width="stretch",
                      caption=f"{r.key}: {acc:.1f} % of band pixels right ({sel.steps}-step)")
