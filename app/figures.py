"""Plotly figures and pictures of the dashboard's tabs, built from arrays (no Streamlit here): the benchmark
times them and the tests call them directly.

Geometry: output cell ``(i, j)`` is centred on input pixel ``(8i, 8j)`` (the paper's stride-8 grid), so a map
over the cells is drawn at those pixel coordinates on top of the image.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image

from relationnet import viz
from relationnet.backbones import OUTPUT_STRIDE
from relationnet.ops import OFFSETS

#: Input pixels per output cell: every backbone of the package runs at this output stride.
STRIDE = OUTPUT_STRIDE


def jpeg_uri(rgb: np.ndarray, quality: int = 90) -> str:
    """An (H, W, 3) uint8 image as a JPEG data URI: a background that costs a fraction of a PNG to send
    (a 256×512 photo: figure JSON of 86 kB, not 285 kB; ``benchmarks/dashboard_interaction.py --browser``)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def cell_of(x: float, y: float, shape: tuple[int, int]) -> tuple[int, int]:
    """The output cell (row, column) nearest to input pixel ``(x, y)`` on a ``shape`` = (h, w) grid."""
    h, w = shape
    return int(min(max(round(y / STRIDE), 0), h - 1)), int(min(max(round(x / STRIDE), 0), w - 1))


def _pick_layer(h: int, w: int, values: np.ndarray | None = None) -> go.Scatter:
    """One invisible point per output cell: what a click lands on (Streamlit reports clicks on scatter points, not
    on heat maps or images); it also carries the hover text (the value under the cursor). Empty text points, not
    transparent markers: a figure with 2048 markers (a 256×512 image) takes the browser ~2.7× as long to draw
    (``benchmarks/dashboard_interaction.py --browser``), and empty text draws nothing."""
    yy, xx = np.mgrid[0:h, 0:w]
    hover = ("pixel (%{y}, %{x})<extra></extra>" if values is None else
             "pixel (%{y}, %{x})<br>cos %{customdata:.2f}<extra></extra>")
    return go.Scatter(x=(STRIDE * xx).ravel(), y=(STRIDE * yy).ravel(), mode="text", text=[""] * (h * w),
                      customdata=None if values is None else np.asarray(values).ravel(), hovertemplate=hover,
                      showlegend=False, name="cells")


def _ring(cell: tuple[int, int], colour: str) -> go.Scatter:
    y, x = cell
    return go.Scatter(x=[STRIDE * x], y=[STRIDE * y], mode="markers", showlegend=False, hoverinfo="skip",
                      marker={"size": 14, "symbol": "circle-open", "color": colour, "line": {"width": 3}},
                      unselected={"marker": {"opacity": 1}})


def _frame(fig: go.Figure, rgb: np.ndarray, title: str, height: int | None) -> go.Figure:
    H, W = rgb.shape[:2]
    if height is None:                  # the image at about the width of half the page (1280 px wide)
        height = int(min(max(60 + 380 * H / W, 200), 700))
    fig.update_xaxes(range=[-0.5, W - 0.5], showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[H - 0.5, -0.5], showticklabels=False, showgrid=False, zeroline=False,
                     scaleanchor="x", constrain="domain")
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height, margin={"l": 0, "r": 0, "t": 40, "b": 0},
                      clickmode="event+select", dragmode=False, plot_bgcolor="white")
    return fig


def cells_over_image(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w, …) cell values spread over an (H, W) image: each pixel takes its nearest cell, cell (i, j) being centred
    on pixel (8i, 8j) — so cell (i, j) covers rows 8i − 4 … 8i + 3 and columns likewise."""
    H, W = shape
    h, w = values.shape[:2]
    rows = np.clip((np.arange(H) + STRIDE // 2) // STRIDE, 0, h - 1)
    cols = np.clip((np.arange(W) + STRIDE // 2) // STRIDE, 0, w - 1)
    return values[rows[:, None], cols[None, :]]


def blend_map(rgb: np.ndarray, values: np.ndarray, lo: float = -1, hi: float = 1, scale: str = "RdBu_r",
              opacity: float = 0.6) -> np.ndarray:
    """The image with a per-cell colour map laid over it, as one RGB picture (drawn as an image, a heat-map trace
    costs the browser more)."""
    from plotly.colors import get_colorscale, unlabel_rgb
    stops = get_colorscale(scale)
    pos = np.array([p for p, _ in stops])
    cols = np.array([unlabel_rgb(c) for _, c in stops], dtype=np.float64)
    t = np.clip((np.asarray(values, dtype=np.float64) - lo) / (hi - lo), 0, 1)
    colour = np.stack([np.interp(t, pos, cols[:, k]) for k in range(3)], -1)
    over = cells_over_image(colour, rgb.shape[:2])
    return np.clip((1 - opacity) * rgb + opacity * over, 0, 255).round().astype(np.uint8)


def affinity_figure(rgb: np.ndarray, affinity: np.ndarray, cell: tuple[int, int], title: str,
                    height: int | None = None) -> go.Figure:
    """The image with a cosine-similarity map over its cells (−1 blue … +1 red), the chosen cell ringed; every
    cell is clickable and shows its value on hover. No colour bar (a third of a figure's drawing time, and side by
    side it makes the two maps differ in size): the page shows :func:`colour_scale_html` once instead."""
    h, w = affinity.shape
    fig = go.Figure()
    fig.add_trace(go.Image(source=jpeg_uri(blend_map(rgb, affinity)), hoverinfo="skip"))
    fig.add_trace(_pick_layer(h, w, affinity))
    fig.add_trace(_ring(cell, "black"))
    return _frame(fig, rgb, title, height)


def affinity_panel(rgb: np.ndarray, out: dict, cells: np.ndarray | None, cell: tuple[int, int], title: str) -> dict:
    """Everything the Pixel affinity tab draws for one checkpoint and one clicked cell: ``figure`` (the cosine
    map over the image), ``contrast`` (mean cosine to the cell's class / to other classes, or None without labels)
    and ``neighbours`` (the similarity subnet's 3×3 P(same label) as HTML, or None without a subnet).  ``out``
    holds the model's ``features`` (C, h, w) and ``similarity`` (or None); ``cells`` the labels at the output grid."""
    y, x = cell
    amap = viz.cosine_affinity(out["features"], y, x)
    panel = {"figure": affinity_figure(rgb, amap, cell, title),
             "contrast": None if cells is None else viz.affinity_contrast(amap, cells, y, x), "neighbours": None}
    if out.get("similarity") is not None:
        grid = viz.neighbour_grid(viz.similarity_probabilities(out["similarity"]), y, x)
        truth = None if cells is None else viz.neighbour_truth(cells, y, x)
        panel["neighbours"] = neighbour_html(grid, truth, "similarity subnet: P(same label) around the cell")
    return panel


def colour_scale_html(label: str = "cosine", lo: float = -1, hi: float = 1, scale: str = "RdBu_r") -> str:
    """A small horizontal colour scale in HTML (no figure to draw) for maps that share one."""
    from plotly.colors import get_colorscale
    stops = ", ".join(f"{c} {100 * p:.0f}%" for p, c in get_colorscale(scale))
    lo_text, hi_text = (f"{v:+g}".replace("-", "−") for v in (lo, hi))
    return (f'<div style="font-size:0.85em;display:flex;align-items:center;gap:6px">{label} {lo_text}'
            f'<span style="display:inline-block;width:180px;height:10px;border:1px solid #888;'
            f'background:linear-gradient(to right, {stops})"></span>{hi_text}</div>')


def neighbour_html(grid: np.ndarray, truth: np.ndarray | None, title: str) -> str:
    """The similarity subnet's 3×3 P(same label) around a cell as a small HTML table coloured like viridis (a table,
    not a figure: it appears at once), each value with the truth under it (same / diff) where there is one."""
    import html
    from plotly.colors import sample_colorscale
    rows = []
    for i, dy in enumerate(("−1", "0", "+1")):
        cells = [f'<th style="padding:0 6px;font-weight:normal">{dy}</th>']
        for j in range(3):
            v = float(np.clip(grid[i, j], 0, 1))
            colour = sample_colorscale("Viridis", [v])[0]
            ink = "white" if v < 0.6 else "black"
            note = "" if truth is None or np.isnan(truth[i, j]) else ("same" if truth[i, j] == 1 else "diff")
            cells.append(f'<td style="background:{colour};color:{ink};width:64px;height:44px;text-align:center;'
                         f'border:1px solid white;line-height:1.2">{v:.2f}'
                         + (f'<br><span style="font-size:0.8em">{note}</span>' if note else "") + "</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = ('<tr><th style="font-weight:normal;font-size:0.8em">dy \\ dx</th>'
            + "".join(f'<th style="font-weight:normal">{dx}</th>' for dx in ("−1", "0", "+1")) + "</tr>")
    return (f'<div style="font-size:0.9em"><b>{html.escape(title)}</b>'
            f'<table style="border-collapse:collapse;margin-top:4px">{head}{"".join(rows)}</table></div>')


def per_class_figures(names: list[str], iou: dict[str, np.ndarray]) -> tuple[go.Figure, go.Figure | None]:
    """Per-class IoU (%) of one or two checkpoints as horizontal bars sorted by the difference (or by IoU), and
    the difference (first minus second — the chosen checkpoint against the one it is compared with — in points) in
    the same order, the largest gain on top. Classes absent everywhere are left out."""
    keys = list(iou)
    vals = {k: 100 * np.asarray(v, dtype=float) for k, v in iou.items()}
    keep = [c for c in range(len(names)) if any(not np.isnan(vals[k][c]) for k in keys)]
    if len(keys) == 2:
        diff = np.nan_to_num(vals[keys[0]]) - np.nan_to_num(vals[keys[1]])
        order = sorted(keep, key=lambda c: diff[c])
    else:
        order = sorted(keep, key=lambda c: np.nan_to_num(vals[keys[0]][c]))
    labels = [names[c] for c in order]
    height = 120 + 22 * len(order)
    bars = go.Figure([go.Bar(y=labels, x=[vals[k][c] for c in order], name=k, orientation="h",
                             hovertemplate="%{y}: %{x:.1f} %<extra></extra>") for k in keys])
    bars.update_layout(barmode="group", title="per-class IoU (%)", xaxis={"range": [0, 100], "title": "IoU %"},
                       legend={"orientation": "h", "y": -0.08 - 60 / height, "x": 0}, height=height,
                       margin={"l": 10, "r": 10, "t": 40, "b": 10})
    if len(keys) != 2:
        return bars, None
    d = [diff[c] for c in order]
    delta = go.Figure(go.Bar(y=labels, x=d, orientation="h", marker_color=["#d62728" if v < 0 else "#2ca02c" for v in d],
                             text=[f"{v:+.1f}" for v in d], textposition="outside",
                             hovertemplate="%{y}: %{x:+.1f} points<extra></extra>"))
    span = max(5.0, max(abs(v) for v in d) * 1.3) if d else 5.0
    delta.update_layout(title=f"difference: {keys[0]} − {keys[1]} (points)", height=height,
                        xaxis={"range": [-span, span], "title": "points"}, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return bars, delta


def confusion_figure(matrix: np.ndarray, names: list[str], title: str, diverging: bool = False) -> go.Figure:
    """A row-normalised confusion matrix (rows: true class, columns: predicted), or a difference of two."""
    z = 100 * np.asarray(matrix, dtype=float)
    kw = ({"zmin": -max(1.0, np.nanmax(np.abs(z))), "zmax": max(1.0, np.nanmax(np.abs(z))), "colorscale": "RdBu"}
          if diverging else {"zmin": 0, "zmax": 100, "colorscale": "Blues"})
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorbar={"title": "% of row", "thickness": 12},
                               hovertemplate="true %{y} → predicted %{x}: %{z:.1f} %<extra></extra>", **kw))
    fig.update_yaxes(autorange="reversed", title="true class", tickfont={"size": 10})
    fig.update_xaxes(title="predicted class", tickangle=-45, tickfont={"size": 10})
    fig.update_layout(title=title, height=560, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def confusion_view(confusions: list[np.ndarray], names: list[str], options: list[str], which: str) -> go.Figure:
    """The confusion matrix the Per class tab's radio chose: one checkpoint's (``options[k]`` for the k-th of
    ``confusions``), or the first minus the second (the last option)."""
    norm = [viz.row_normalised(cm) for cm in confusions]
    k = options.index(which)
    if k < len(confusions):
        return confusion_figure(norm[k], names, f"{which}: where each class's pixels go")
    return confusion_figure(norm[0] - norm[1], names, f"{which}: change in where each class's pixels go (points)",
                            diverging=True)


def training_curves(log: list[dict]) -> go.Figure:
    """The losses per epoch (OHEM, SCL, total) and the validation mIoU on a second axis."""
    ep = [x["epoch"] for x in log]
    fig = go.Figure()
    for k, name in (("loss_total", "total"), ("loss_ohem", "OHEM"), ("loss_scl", "SCL")):
        fig.add_trace(go.Scatter(x=ep, y=[x.get(k) for x in log], name=f"loss: {name}"))
    val = [(x["epoch"], 100 * x["val_miou"]) for x in log if "val_miou" in x]
    if val:
        fig.add_trace(go.Scatter(x=[v[0] for v in val], y=[v[1] for v in val], name="val mIoU %", yaxis="y2"))
    fig.update_layout(title="training curves", xaxis_title="epoch", yaxis_title="loss",
                      yaxis2=dict(title="val mIoU %", overlaying="y", side="right", range=[0, 100],
                                  tickmode="array", tickvals=[0, 25, 50, 75, 100], showgrid=False),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0), height=360, margin=dict(r=60))
    return fig


def upsample_cells(cells_rgb: np.ndarray) -> np.ndarray:
    """An (h, w, 3) picture over the output cells at input resolution (each cell a STRIDE × STRIDE block)."""
    return np.kron(cells_rgb, np.ones((STRIDE, STRIDE, 1), np.uint8))


def pair_pca(features: list) -> tuple[list[np.ndarray], bool]:
    """Two checkpoints' (C, h, w) features as PCA pictures: one PCA for both when their sizes agree (colours
    comparable; the bool says so), else one each."""
    same_dims = features[0].shape[0] == features[1].shape[0]
    pcs = viz.pca_rgb(features)[0] if same_dims else [viz.pca_rgb([f])[0][0] for f in features]
    return pcs, same_dims


def difference_view(rgb: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> tuple[np.ndarray, float]:
    """Where two predictions differ, in amber over the dimmed image, and the % of pixels that differ."""
    differ = pred_a != pred_b
    return np.where(differ[..., None], np.uint8([255, 200, 0]), rgb // 3).astype(np.uint8), 100 * differ.mean()


def pca_scatter(features, cells: np.ndarray, pca, names, palette, title: str, n: int = 1500) -> go.Figure:
    """Up to ``n`` labelled output cells (seeded sample) in the space of ``pca``'s three components, coloured by
    their class; ``features`` (C, h, w), ``cells`` the labels at the output grid."""
    pts = pca.transform(features.reshape(features.shape[0], -1).T.numpy())
    lab = cells.reshape(-1)
    keep = np.flatnonzero(lab != 255)
    keep = np.random.default_rng(0).choice(keep, min(n, len(keep)), replace=False)
    cmap = {c: f"rgb{tuple(int(v) for v in palette[i])}" for i, c in enumerate(names)}
    fig = px.scatter_3d(x=pts[keep, 0], y=pts[keep, 1], z=pts[keep, 2], color=[names[i] for i in lab[keep]],
                        color_discrete_map=cmap, labels={"x": "PC 1", "y": "PC 2", "z": "PC 3", "color": "class"},
                        title=title)
    fig.update_traces(marker_size=2)
    return fig


#: The offsets in the order plotly fills 3 wrapped facets (from the bottom row up).
_FACET_ORDER = [6, 7, 8, 3, 4, 5, 0, 1, 2]


def offset_facets(probs: np.ndarray) -> go.Figure:
    """The similarity subnet's (9, h, w) P(same label), one map per offset, laid out like the 3×3 neighbourhood."""
    fig = px.imshow(probs[_FACET_ORDER], facet_col=0, facet_col_wrap=3, zmin=0, zmax=1,
                    color_continuous_scale="viridis", title="P(same label) for each offset (dy, dx)")
    for i, k in enumerate(_FACET_ORDER):
        fig.layout.annotations[i].text = f"(dy, dx) = {OFFSETS[k]}"
    return fig


def predicted_boundaries(probs: np.ndarray) -> go.Figure:
    return px.imshow(viz.boundary_map(probs), zmin=0, zmax=1, color_continuous_scale="magma",
                     title="predicted boundaries: 1 − mean neighbour similarity")


def true_boundaries(cells: np.ndarray) -> go.Figure:
    return px.imshow(viz.label_boundaries(cells).astype(float), color_continuous_scale="gray",
                     title="true label boundaries (output resolution)")


def neighbour_figure(probs: np.ndarray, y: int, x: int) -> go.Figure:
    """The 3×3 P(same label) of cell (y, x) and its neighbours, values written in."""
    grid = probs[:, y, x].reshape(3, 3)
    return px.imshow(grid, zmin=0, zmax=1, text_auto=".2f", x=["-1", "0", "+1"], y=["-1", "0", "+1"],
                     labels={"x": "dx", "y": "dy"},
                     title=f"3×3 similarity of cell ({y}, {x}) = pixel ({STRIDE * y}, {STRIDE * x})")


def lambda_study_figure(points: list[tuple[float, dict]]) -> go.Figure:
    """The study's mIoU against λ (mean over seeds; error bars: the paired difference's interval), λ = 0 dashed."""
    fig = go.Figure()
    half = [max(r["hi"] - r["mean"], 0) if r["n"] >= 2 else 0 for _, r in points]
    fig.add_trace(go.Scatter(x=[lam for lam, _ in points], y=[r["arm_mean"] for _, r in points],
                             mode="lines+markers", name="mIoU with SCL (mean over seeds)",
                             error_y={"type": "data", "array": half, "visible": True}))
    fig.add_hline(y=points[0][1]["ref_mean"], line_dash="dash", annotation_text="λ = 0 (no SCL), mean over seeds",
                  annotation_position="bottom right")
    fig.update_layout(xaxis_type="log", xaxis_title="λ (log scale)", yaxis_title="mIoU % (1-step, SynthCity val)",
                      title="The study: mIoU against λ (error bars: 95 % interval of the paired difference to λ = 0)",
                      legend={"orientation": "h", "y": -0.25})
    return fig


def lambda_sweep_figure(sweep: list[tuple[float, dict]], ref: dict | None) -> go.Figure:
    """Fig. 6 in miniature: a runs folder's single runs, mIoU and mAcc against λ > 0, λ = 0 (``ref``) dashed."""
    fig = go.Figure()
    for metric, name in (("miou", "mIoU"), ("mean_acc", "mAcc")):
        fig.add_trace(go.Scatter(x=[lam for lam, _ in sweep], y=[100 * r["step1"][metric] for _, r in sweep],
                                 mode="lines+markers", name=name))
        if ref:
            fig.add_hline(y=100 * ref["step1"][metric], line_dash="dash",
                          annotation_text=f"{name} without SCL", annotation_position="bottom right")
    fig.update_layout(xaxis_type="log", xaxis_title="λ (log scale)", yaxis_title="% (1-step, SynthCity val)",
                      title="Fig. 6 in miniature: the effect of the SCL weight λ")
    return fig
