"""The dashboard's cached state, shared by the tabs: checkpoints, model outputs, validation images and the
validation scores of checkpoint pairs (Streamlit caches: one copy per server process, whatever the session)."""
from __future__ import annotations

import collections
import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

import helpers
from prefetch import Prefetcher
from relationnet.data import Cityscapes, DatasetError, eval_transform
from relationnet.data.labels import CITYSCAPES_CLASSES
from relationnet.engine.checkpoint import CheckpointError, load_model
from relationnet.engine.evaluate import compare as compare_models
from relationnet.models.fold import fold_batchnorm

if TYPE_CHECKING:
    from selection import Selection


@st.cache_resource(show_spinner="loading checkpoint…")
def cached_model(path: str, mtime: float):
    model, meta = load_model(path, "cpu")
    return fold_batchnorm(model), meta        # inference only: batch norm folded into the convolutions


@st.cache_data(show_spinner=False)
def cached_val_items(root: str) -> list[tuple[str, str, str]]:
    ds = Cityscapes(root, "val")
    return [(str(i), str(l) if l else "", n) for i, l, n in ds.items]


@st.cache_data(show_spinner=False, max_entries=64)
def cached_val_sample(root: str, index: int):
    ds = Cityscapes(root, "val")
    image, label, name = ds.load(index)
    return image, label, name


@st.cache_data(show_spinner=False, max_entries=64)
def cached_outputs(path: str, mtime: float, image_key: str, _rgb: np.ndarray, steps: int, _base: dict | None = None):
    """``_base``: the 1-step outputs when known (computed ahead); else they come from this cache."""
    model, _ = cached_model(path, mtime)
    if steps > 1 and _base is None:
        _base = cached_outputs(path, mtime, image_key, _rgb, 1)                         # features: one forward
    return helpers.model_outputs(model, _rgb, steps, base=_base if steps > 1 else None)


def _mtime(run: helpers.RunFolder) -> float:
    return run.checkpoint.with_suffix(".safetensors").stat().st_mtime


def load_run(run: helpers.RunFolder, runs_dir: Path):
    """(model, meta) or None with the error shown; the rest of the app keeps working."""
    if run.error:
        st.error(helpers.shown(run.error, runs_dir))
        return None
    try:
        return cached_model(str(run.checkpoint), _mtime(run))
    except (CheckpointError, OSError) as e:
        st.error(f"cannot load {run.key}/last: {helpers.shown(str(e), runs_dir)}")
        return None


def outputs(run: helpers.RunFolder, image_key: str, rgb: np.ndarray, steps: int, runs_dir: Path):
    """:func:`helpers.model_outputs` of a run on an image (cached, or computed ahead by :func:`plan_ahead`), or None
    with the run's error shown."""
    if load_run(run, runs_dir) is None:
        return None
    key = (str(run.checkpoint), _mtime(run), image_key, steps)
    st.session_state.setdefault("_rn_used", {}).setdefault(image_key, set()).add((key[0], key[1], steps))
    ahead = prefetcher().get(key)
    if ahead is not None:
        return ahead
    if key in _seen:                          # cached: no spinner flashing on a rerun
        return cached_outputs(*key[:3], rgb, steps)
    h, w = rgb.shape[:2]
    with st.spinner(f"running {run.key} on this {w}×{h} image ({steps}-step test)…"), prefetcher().foreground():
        out = prefetcher().get(key)           # computed ahead while this run waited for its turn
        if out is None:
            out = cached_outputs(*key[:3], rgb, steps, _base=prefetcher().get((*key[:3], 1)) if steps > 1 else None)
    _seen.add(key)
    return out


#: (checkpoint, mtime, image, steps) already computed in this server process (their outputs are in the cache).
_seen: set = set()

#: Validation images after the one on screen whose outputs are computed while the page is idle.
AHEAD = 2


@st.cache_resource
def prefetcher() -> Prefetcher:
    """The server process's one background worker (prefetch.py)."""
    return Prefetcher()


def _val_outputs(model, root: str, index: int, steps: int, base_key: tuple) -> dict:
    image, _, _ = Cityscapes(root, "val").load(index)
    return helpers.model_outputs(model, image, steps, base=prefetcher().get(base_key))


def plan_ahead(sel: Selection) -> None:
    """After the page is drawn: what the open tab ran on this validation image (each checkpoint at each test's
    steps, and the 1-step outputs a multi-step view takes its features from), run on the next :data:`AHEAD` images
    in the background, the 1-step outputs first."""
    used = st.session_state.pop("_rn_used", {}).get(sel.image_key, set())
    if sel.source != "validation image" or not sel.data_root or sel.rgb is None or not used:
        return
    try:
        index, n = int(sel.image_key.rsplit(":", 1)[1]), len(cached_val_items(sel.data_root))
    except (ValueError, DatasetError):
        return
    jobs = []
    for i in range(index + 1, min(n, index + 1 + AHEAD)):
        image_key = f"val:{sel.data_root}:{i}"
        wanted = used | {(path, mtime, 1) for path, mtime, _ in used}        # a multi-step view's features
        for path, mtime, steps in sorted(wanted, key=lambda u: (u[2], u[0])):
            model, _ = cached_model(path, mtime)             # loaded by the page already
            jobs.append(((path, mtime, image_key, steps), functools.partial(
                _val_outputs, model, sel.data_root, i, steps, (path, mtime, image_key, 1))))
    prefetcher().plan(jobs)


# ---------------------------------------------------------------------------------------------- scoring the val set
#: Predictions and features kept from scoring, so browsing the scored images runs no model (beyond: recomputed).
KEEP_BYTES = 512 * 2**20
#: Scored checkpoint pairs kept at once (the oldest is dropped): memory stays under SCORES_KEPT × KEEP_BYTES.
SCORES_KEPT = 3


@st.cache_resource
def scan_store() -> collections.OrderedDict:
    """Validation scores of checkpoint pairs, shared by the server's sessions (scoring takes seconds to minutes)."""
    return collections.OrderedDict()


@st.cache_resource(show_spinner=False)
def val_dataset(root: str):
    return Cityscapes(root, "val", transform=eval_transform())


def scan_key(sel: Selection) -> tuple:
    return tuple((str(r.checkpoint), _mtime(r)) for r in sel.chosen) + (sel.data_root,)


def validation_scores(sel: Selection, where: str) -> dict | None:
    """The chosen checkpoints scored on the validation set (per class, boundary band, per image), or None with a
    button that computes them. Both tabs that need them share one result per checkpoint pair."""
    if not sel.data_root:
        st.info("no validation set for this checkpoint: per-class scores need one (point the run's config at it)")
        return None
    try:
        n_val = len(cached_val_items(sel.data_root))
    except DatasetError as e:
        st.error(str(e))
        return None
    chosen = sel.chosen
    loaded = [load_run(r, sel.runs_dir) for r in chosen]
    if any(m is None for m in loaded):
        return None
    if not all(helpers.scores_cityscapes(r) for r in chosen):
        st.warning("these views score Cityscapes' 19 classes; the checkpoints have "
                   + ", ".join(f"{r.key}: {r.meta['model'].get('num_classes')}" for r in chosen) + " classes")
        return None
    key = scan_key(sel)
    done = scan_store().get(key)
    box = st.expander(f"scored on {done['n']} validation images (1-step) · score again", expanded=False) if done \
        else st.container()
    with box:
        c1, c2 = st.columns([1, 3])
        n = int(c1.number_input("validation images", 1, n_val, min(n_val, 100), key=f"scan_n_{where}"))
        names = " and ".join(r.key for r in chosen)
        if c2.button(f"score {n} validation images with {names}", key=f"scan_{where}"):
            bar = st.progress(0.0, text="scoring…")
            try:
                res = compare_models([model for model, _ in loaded], val_dataset(sel.data_root),
                                     len(CITYSCAPES_CLASSES), steps=1, limit=n, keep_bytes=KEEP_BYTES,
                                     callback=lambda d, t: bar.progress(d / t, text=f"scoring image {d} of {t}"))
            except DatasetError as e:              # a broken image or label file: named, nothing kept
                bar.empty()
                st.error(f"scoring stopped: {e}")
                return None
            bar.empty()
            done = {**res, "n": n}
            store = scan_store()
            store[key] = done
            while len(store) > SCORES_KEPT:
                store.popitem(last=False)
            st.rerun()
    if done is None:
        st.caption("Scoring runs each checkpoint once over the validation images (1-step test); the result is kept "
                   "while the dashboard runs.")
    return done
