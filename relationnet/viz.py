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
