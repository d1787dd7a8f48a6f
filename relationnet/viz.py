"""What the notebooks and the dashboard draw: PCA feature embeddings (Fig. 1), similarity and
boundary maps (Sec. II-A3), overlays and error maps.

Pure functions from tensors to arrays; plotting libraries stay in the callers.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from .data.labels import IGNORE_INDEX
from .ops.shift import CENTER


def pca_rgb(feature_maps: list[torch.Tensor], n_components: int = 3, max_samples: int = 20000,
            seed: int = 0) -> tuple[list[np.ndarray], PCA]:
    """Project (C, h, w) feature maps to RGB with **one** PCA fitted on all of them.

    Fitting once on every map makes colours comparable between maps (two checkpoints of
    the same architecture, or several images).  Each component is scaled to 0..255 with
    the 1st/99th percentiles over all maps.  Returns the (h, w, 3) uint8 images and the PCA.
    """
    if not feature_maps:
        raise ValueError("pca_rgb needs at least one feature map")
    channels = {f.shape[0] for f in feature_maps}
    if len(channels) != 1:
        raise ValueError(f"feature maps must have the same number of channels to share a PCA, got {sorted(channels)}")
    flats = [f.detach().float().cpu().reshape(f.shape[0], -1).T.numpy() for f in feature_maps]
    data = np.concatenate(flats)
    rng = np.random.default_rng(seed)
    fit = data if len(data) <= max_samples else data[rng.choice(len(data), max_samples, replace=False)]
    pca = PCA(n_components=min(n_components, fit.shape[1]), random_state=seed).fit(fit)
    proj = [pca.transform(x) for x in flats]
    allp = np.concatenate(proj)
    lo, hi = np.percentile(allp, 1, axis=0), np.percentile(allp, 99, axis=0)
    out = []
    for p, f in zip(proj, feature_maps):
        v = np.clip((p - lo) / np.maximum(hi - lo, 1e-8), 0, 1)
        if v.shape[1] < 3:
            v = np.pad(v, ((0, 0), (0, 3 - v.shape[1])))
        out.append((v.reshape(f.shape[1], f.shape[2], 3) * 255).round().astype(np.uint8))
    return out, pca


def similarity_probabilities(similarity_logits: torch.Tensor) -> np.ndarray:
    """(9, h, w) or (1, 9, h, w) logits -> (9, h, w) probabilities that each neighbour shares the label."""
    s = similarity_logits.detach().float().cpu()
    if s.dim() == 4:
        s = s[0]
    return torch.sigmoid(s).numpy()


def boundary_map(sim_probs: np.ndarray) -> np.ndarray:
    """1 − the mean similarity to the 8 neighbours (itself excluded): high on predicted contours."""
    neigh = np.delete(sim_probs, CENTER, axis=0)
    return 1.0 - neigh.mean(0)


def label_boundaries(label: np.ndarray | torch.Tensor) -> np.ndarray:
    """Bool (h, w): pixels whose 8-neighbourhood holds another (non-ignore) label."""
    lab = label.detach().cpu().numpy() if hasattr(label, "detach") else np.asarray(label)
    padded = np.pad(lab, 1, mode="edge")
    h, w = lab.shape
    out = np.zeros((h, w), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            n = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            out |= (n != lab) & (n != IGNORE_INDEX)
    return out & (lab != IGNORE_INDEX)


def error_map(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: green = correct, red = wrong, black = ignore."""
    out = np.zeros((*label.shape, 3), np.uint8)
    valid = label != IGNORE_INDEX
    out[valid & (pred == label)] = (40, 170, 60)
    out[valid & (pred != label)] = (220, 40, 40)
    return out


def image_iou(pred: np.ndarray, label: np.ndarray, class_names) -> list[dict]:
    """Per-class IoU on one image, for the classes present in the label or the prediction."""
    from .metrics import ConfusionMatrix
    cm = ConfusionMatrix(len(class_names))
    cm.update(torch.from_numpy(pred.astype(np.int64)), torch.from_numpy(label.astype(np.int64)))
    m = cm.mat
    rows = []
    for c, name in enumerate(class_names):
        gt, pr, tp = int(m[c].sum()), int(m[:, c].sum()), int(m[c, c])
        if gt or pr:
            rows.append({"class": name, "IoU %": round(100 * tp / (gt + pr - tp), 1), "pixels (gt)": gt,
                         "pixels (pred)": pr})
    return rows


# ------------------------------------------------------------------ pixel affinity (Fig. 1) and neighbours (Fig. 3)

def cosine_affinity(features: torch.Tensor, y: int, x: int) -> np.ndarray:
    """(C, h, w) or (1, C, h, w) features -> (h, w) cosine similarity of cell ``(y, x)``'s feature to every cell's.

    The question of Fig. 1 asked of one pixel: which pixels does its feature resemble?  Aligned features
    (RelationNet + SCL) should give a map that is high over the pixel's own object and drops at its contour."""
    f = features.detach().float().cpu()
    if f.dim() == 4:
        f = f[0]
    if f.dim() != 3:
        raise ValueError(f"features must be (C, h, w), got shape {tuple(features.shape)}")
    c, h, w = f.shape
    if not (0 <= y < h and 0 <= x < w):
        raise ValueError(f"cell ({y}, {x}) is outside the {h}×{w} feature map")
    flat = torch.nn.functional.normalize(f.reshape(c, -1), dim=0)
    return (flat[:, y * w + x] @ flat).reshape(h, w).numpy()


def neighbour_grid(sim_probs: np.ndarray, y: int, x: int) -> np.ndarray:
    """(3, 3) P(same label) of cell ``(y, x)`` and its neighbours at ``OFFSETS`` (row-major, centre = itself)."""
    return np.asarray(sim_probs)[:, y, x].reshape(3, 3)


def neighbour_truth(label_cells: np.ndarray, y: int, x: int) -> np.ndarray:
    """(3, 3) ground truth for :func:`neighbour_grid`: 1 same label, 0 different, nan ignore or outside the map."""
    lab = np.asarray(label_cells)
    h, w = lab.shape
    out = np.full((3, 3), np.nan)
    if lab[y, x] == IGNORE_INDEX:
        return out
    for i, dy in enumerate((-1, 0, 1)):
        for j, dx in enumerate((-1, 0, 1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < h and 0 <= xx < w and lab[yy, xx] != IGNORE_INDEX:
                out[i, j] = float(lab[yy, xx] == lab[y, x])
    return out


# ------------------------------------------------------------------ two checkpoints, per class, contours

#: Colours of :func:`agreement_map` (RGB) with what they mean, for captions and legends.
AGREEMENT_COLOURS = {"only A right": (30, 120, 255), "only B right": (255, 150, 0),
                     "both wrong": (200, 30, 30), "both right": (70, 70, 70), "ignore": (0, 0, 0)}


def agreement_map(pred_a: np.ndarray, pred_b: np.ndarray, label: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: where checkpoint A is right and B wrong, the reverse, both wrong, both right (see
    ``AGREEMENT_COLOURS``)."""
    valid = label != IGNORE_INDEX
    ra, rb = (pred_a == label) & valid, (pred_b == label) & valid
    out = np.zeros((*label.shape, 3), np.uint8)
    for mask, key in ((ra & rb, "both right"), (valid & ~ra & ~rb, "both wrong"), (ra & ~rb, "only A right"),
                      (rb & ~ra, "only B right")):
        out[mask] = AGREEMENT_COLOURS[key]
    return out


def band_view(rgb: np.ndarray, pred: np.ndarray, label: np.ndarray, band: np.ndarray, dim: float = 0.3) -> np.ndarray:
    """The image dimmed outside the boundary ``band``; inside it, correct pixels green and wrong ones red."""
    out = (rgb.astype(np.float32) * dim)
    band = np.asarray(band, bool) & (label != IGNORE_INDEX)
    right = band & (pred == label)
    out[right] = (40, 200, 70)
    out[band & ~right] = (235, 40, 40)
    return out.round().astype(np.uint8)


def row_normalised(confusion: np.ndarray) -> np.ndarray:
    """Each row (a true class) divided by its pixel count: row i is where class i's pixels went (nan: absent)."""
    m = np.asarray(confusion, dtype=np.float64)
    rows = m.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, m / rows, np.nan)


def affinity_contrast(affinity: np.ndarray, label_cells: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Mean of a :func:`cosine_affinity` map over the other cells of the chosen cell's class, and over cells of
    other classes (ignore cells left out): the picture in two numbers (nan when a group is empty or the cell is
    ignore)."""
    lab = np.asarray(label_cells)
    c = lab[y, x]
    if c == IGNORE_INDEX:
        return float("nan"), float("nan")
    same = lab == c
    same[y, x] = False
    other = (lab != c) & (lab != IGNORE_INDEX)
    a = np.asarray(affinity)
    return (float(a[same].mean()) if same.any() else float("nan"),
            float(a[other].mean()) if other.any() else float("nan"))
