"""Pixel affinity: click a pixel; which pixels does its feature resemble (Fig. 1), and the similarity subnet's 3×3
answer around it (Fig. 3)."""
from __future__ import annotations

import functools

import numpy as np
import streamlit as st

import figures
import helpers
import state
from relationnet.data.labels import CITYSCAPES_CLASSES
from selection import Selection

AFFINITY_CAPTION = (
    "What the paper predicts (Fig. 1, Sec. II-B): SCL makes the features of one object alike and features across a "
    "contour different. If it does, the map for RelationNet + SCL is red over the chosen pixel's own object and turns "
    "blue right at its contour, and a baseline's map is more diffuse, spilling over contours and fading inside large "
    "objects. The 3×3 grid is the similarity subnet's own answer (Fig. 3) to \"same label as this pixel?\" for its "
    "8 neighbours; a subnet that does its job answers near 1 inside an object and near 0 across a contour (the text "
    "under each value is the truth). These are predictions to look at, one pixel at a time, not findings: whether SCL "
    "aligns the features on average is the studies' Fig1-Align and SCL-Align claims, with their verdicts in the "
    "Ablations tab.")


def render(sel: Selection) -> None:
    if sel.rgb is None:
        st.info("choose an image in the sidebar")
    else:
        affinity_view(sel)


def _pick_from(chart_key: str, shape: tuple[int, int]) -> None:
    """on_select of an affinity map: the clicked marker's cell becomes the chosen cell."""
    try:
        points = st.session_state[chart_key]["selection"]["points"]
    except (KeyError, TypeError):
        return
    if points and "x" in points[0] and "y" in points[0]:
        st.session_state.aff_y, st.session_state.aff_x = figures.cell_of(points[0]["x"], points[0]["y"], shape)


@st.fragment
def affinity_view(sel: Selection) -> None:
    """Reruns alone on a click (a fragment): the models' outputs are cached, so a click costs the maps only."""
    rgb, label = sel.rgb, sel.label
    outs = [(r, state.outputs(r, sel.image_key, rgb, 1, sel.runs_dir)) for r in sel.chosen]
    outs = [(r, o) for r, o in outs if o is not None]
    if not outs:
        return
    shape = tuple(outs[0][1]["features"].shape[1:])
    if any(tuple(o["features"].shape[1:]) != shape for _, o in outs):
        st.warning("the two checkpoints have feature maps of different sizes; showing the first only")
        outs = outs[:1]
    h, w = shape
    st.session_state.aff_y = min(int(st.session_state.get("aff_y", h // 2)), h - 1)
    st.session_state.aff_x = min(int(st.session_state.get("aff_x", w // 2)), w - 1)
    c1, c2, c3 = st.columns([1, 1, 3])
    y = int(c1.number_input(f"cell row (0–{h - 1})", 0, h - 1, key="aff_y"))
    x = int(c2.number_input(f"cell column (0–{w - 1})", 0, w - 1, key="aff_x"))
    c3.caption(f"Click a pixel of either map, or type its cell: cell ({y}, {x}) is centred on input pixel "
               f"({figures.STRIDE * y}, {figures.STRIDE * x}).")
    c3.markdown(figures.colour_scale_html("cosine of the features"), unsafe_allow_html=True)
    cells = None if label is None else helpers.label_cells(label)
    cols = st.columns(len(outs))
    for i, (col, (r, o)) in enumerate(zip(cols, outs)):
        with col:
            panel = figures.affinity_panel(rgb, o, cells, (y, x), f"{r.key}: cosine to cell ({y}, {x})")
            key = f"aff_map_{i}"
            st.plotly_chart(panel["figure"],
                            key=key, on_select=functools.partial(_pick_from, key, shape), selection_mode="points",
                            config={"displayModeBar": False}, theme=None)
            if panel["contrast"] is not None and not np.isnan(panel["contrast"][0]):
                same, other = panel["contrast"]
                cls = CITYSCAPES_CLASSES[cells[y, x]] if cells[y, x] < len(CITYSCAPES_CLASSES) else cells[y, x]
                st.caption(f"mean cosine to the other {cls} cells: {same:.2f}; to cells of other classes: "
                           f"{other:.2f}")
            if panel["neighbours"] is None:
                st.caption("no similarity subnet in this checkpoint (trained without SCL)")
            else:
                st.markdown(panel["neighbours"], unsafe_allow_html=True)
    st.caption(AFFINITY_CAPTION)
