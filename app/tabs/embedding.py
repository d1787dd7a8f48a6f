"""Feature embedding (Fig. 1): the features before the classifier, compressed to 3 PCA components shown as RGB."""
from __future__ import annotations

import streamlit as st

import figures
import helpers
import state
from relationnet import viz
from relationnet.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from selection import Selection


def render(sel: Selection) -> None:
    st.caption("Fig. 1: the features before the classifier, compressed to 3 PCA components shown as RGB. "
               "One PCA is fitted on all shown checkpoints so colours are comparable.")
    if sel.rgb is None:
        st.info("choose an image in the sidebar")
        return
    label = sel.label
    outs = [(r, state.outputs(r, sel.image_key, sel.rgb, 1, sel.runs_dir)) for r in sel.chosen]
    outs = [(r, o) for r, o in outs if o is not None]
    dims = {o["features"].shape[0] for _, o in outs}
    if outs and len(dims) == 1:
        imgs, pca = viz.pca_rgb([o["features"] for _, o in outs])
        cols = st.columns(len(outs))
        for col, (r, o), im in zip(cols, outs, imgs):
            with col:
                st.image(figures.upsample_cells(im), caption=f"{r.key}: PCA of features", width="stretch")
                if label is not None:
                    fa = helpers.feature_alignment_of(o["features"], label)
                    st.metric("feature alignment (within − across)", f"{fa['score']:.3f}",
                              help=f"within-class cos {fa['within']:.3f}, across-boundary cos {fa['across']:.3f}")
                ev = helpers.read_eval(r.checkpoint.parent / "eval.json")
                if "boundary_miou" in ev.get("step4", {}):
                    st.metric("boundary mIoU (val, 4-step)", f"{100 * ev['step4']['boundary_miou']:.1f} %")
        if label is not None:
            r, o = outs[0]
            fig = figures.pca_scatter(o["features"], helpers.label_cells(label), pca, CITYSCAPES_CLASSES,
                                      CITYSCAPES_PALETTE,
                                      f"{r.key}: sampled pixels in PCA space, coloured by ground truth")
            st.plotly_chart(fig, key="pca3d")
    elif outs:
        st.warning("the two checkpoints have different feature sizes; showing them with separate PCAs")
        for r, o in outs:
            st.image(viz.pca_rgb([o["features"]])[0][0], caption=r.key)
