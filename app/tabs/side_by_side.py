"""Side by side: two checkpoints on one image, validation images ordered by how much the two disagree."""
from __future__ import annotations

import streamlit as st

import figures
import helpers
import state
from relationnet import viz
from relationnet.data import DatasetError, overlay
from relationnet.engine.evaluate import by_disagreement
from selection import Selection


def render(sel: Selection) -> None:
    if sel.run_b is None:
        st.info("choose a second checkpoint in the sidebar (\"compare with\")")
        return
    chosen, data_root = sel.chosen, sel.data_root
    scores = state.validation_scores(sel, "side_by_side") if data_root else None
    s_rgb, s_label, s_key, kept = sel.rgb, sel.label, sel.image_key, None
    if scores:
        order = by_disagreement(scores["images"])
        options = [helpers.disagreement_text(k, im, sel.run_a.key, sel.run_b.key) for k, im in enumerate(order)]
        pick = st.selectbox("validation image, most disagreement first", options, key="sbs_pick")
        idx = order[options.index(pick)]["index"]
        try:
            s_rgb, s_label, _ = state.cached_val_sample(data_root, idx)
            s_key = f"val:{data_root}:{idx}"
            kept = scores["kept"].get(idx)
        except DatasetError as e:              # the file changed since it was scored
            st.error(str(e))
            s_rgb = s_label = None
    elif sel.rgb is not None:
        st.caption("Showing the sidebar's image" + ("; score the validation set (button above) to browse the images "
                   "where the two checkpoints disagree most." if data_root else "."))
    if s_rgb is not None and not all(helpers.scores_cityscapes(r) for r in chosen):
        s_label = None                        # labels of 19 classes say nothing about another class set
    if s_rgb is None:
        return
    if kept and all(f is not None for _, f in kept):      # as scored (1-step): no model run while browsing
        pair = [(r, {"pred": p, "features": f.float()}) for r, (p, f) in zip(chosen, kept)]
        shown_steps = 1
    else:
        pair = [(r, state.outputs(r, s_key, s_rgb, sel.steps, sel.runs_dir)) for r in chosen]
        shown_steps = sel.steps
    pair = [(r, o) for r, o in pair if o is not None]
    if len(pair) == 2:
        _pair_views(sel, pair, s_rgb, s_label, shown_steps, kept)


def _pair_views(sel: Selection, pair: list, s_rgb, s_label, shown_steps: int, kept) -> None:
    """One row per view (prediction, errors, PCA of features), the two checkpoints next to each other; then the
    ground truth and which of the two is right where (or, without labels, where they differ)."""
    alpha = sel.alpha
    pcs, same_dims = figures.pair_pca([o["features"] for _, o in pair])
    (ra, oa), (rb, ob) = pair
    head = st.columns(2)
    head[0].markdown(f"**{ra.key}**")
    head[1].markdown(f"**{rb.key}**")
    rows = [(lambda o, pc, r: overlay(s_rgb, o["pred"], alpha, helpers.run_palette(r)), f"prediction ({shown_steps}-step"
             + (", as scored)" if kept else ")"))]
    if s_label is not None:
        rows.append((lambda o, pc, r: viz.error_map(o["pred"], s_label), "errors (red) / correct (green)"))
    rows.append((lambda o, pc, r: figures.upsample_cells(pc),
                 "PCA of features" + (" (one PCA for both: colours comparable)" if same_dims else "")))
    for draw, caption in rows:                # one row per view: the two checkpoints next to each other
        for col, (r, o), pc in zip(st.columns(2), pair, pcs):
            col.image(draw(o, pc, r), caption=caption, width="stretch")
    c1, c2 = st.columns(2)
    if s_label is not None:
        c1.image(overlay(s_rgb, s_label, alpha), caption="ground truth", width="stretch")
        c2.image(viz.agreement_map(oa["pred"], ob["pred"], s_label), width="stretch",
                 caption="which of the two is right, pixel by pixel")
        c2.markdown(helpers.legend_html({{"only A right": f"only {ra.key} right",
                                          "only B right": f"only {rb.key} right"}.get(k, k): v
                                         for k, v in viz.AGREEMENT_COLOURS.items()}),
                    unsafe_allow_html=True)
    else:
        differ, share = figures.difference_view(s_rgb, oa["pred"], ob["pred"])
        c1.image(s_rgb, caption="image", width="stretch")
        c2.image(differ, width="stretch",
                 caption=f"where the two predictions differ ({share:.1f} % of pixels; no ground truth for this image)")
