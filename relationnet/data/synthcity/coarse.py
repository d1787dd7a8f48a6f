"""SynthCity's coarse labels, made like Cityscapes' gtCoarse: a star-shaped polygon inside each object and stuff
regions shrunk away from their borders; small objects, and a share of the others, left out."""
from __future__ import annotations


import numpy as np
from scipy import ndimage

from .paint import EGO



def coarsen(label: np.ndarray, instance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coarse label ids from fine ones, the way people draw them (0, *unlabeled*, elsewhere).

    Stuff regions are shrunk away from every border by 2–5 px (scaled with the image); each
    object becomes a star-shaped polygon inside its shrunk mask; objects whose shrunk mask is
    smaller than a few dozen pixels, and a fifth of the others, are left unlabelled.
    """
    h, w = label.shape
    scale = max(h / 128, 0.5)
    r = max(1, int(round(rng.uniform(2, 5) * scale)))
    seg = instance.astype(np.int64)
    size = 2 * r + 1
    interior = ndimage.maximum_filter(seg, size=size, mode="nearest") == ndimage.minimum_filter(seg, size=size,
                                                                                               mode="nearest")
    out = np.where(interior & (label != EGO), label, 0).astype(np.uint8)
    min_area = int(40 * scale * scale)
    for inst in np.unique(seg[seg >= 1000]):
        obj = seg == inst
        m = interior & obj
        if int(m.sum()) < min_area or rng.random() < 0.2:
            out[obj] = 0
            continue
        out[obj & ~_star_polygon(m, rng)] = 0
    return out


def _star_polygon(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A polygon with 6–10 vertices cast from the mask's centroid to its edge, filled, within the mask."""
    from matplotlib.path import Path as MplPath
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sub = mask[y0:y1, x0:x1]
    cy, cx = ys.mean() - y0, xs.mean() - x0
    n = int(rng.integers(6, 11))
    ang = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * (2 * np.pi / n) + rng.uniform(0, 2 * np.pi)
    steps = np.arange(0, max(sub.shape) + 1, 0.5)
    py = cy + np.sin(ang)[:, None] * steps[None]
    px = cx + np.cos(ang)[:, None] * steps[None]
    iy, ix = np.round(py).astype(int), np.round(px).astype(int)
    ok = (iy >= 0) & (iy < sub.shape[0]) & (ix >= 0) & (ix < sub.shape[1])
    hit = np.zeros_like(ok)
    hit[ok] = sub[iy[ok], ix[ok]]
    first_out = np.argmin(np.concatenate([hit, np.zeros((n, 1), bool)], axis=1), axis=1)
    reach = steps[np.maximum(first_out - 1, 0)] * rng.uniform(0.85, 1.0, n)
    verts = np.stack([cx + np.cos(ang) * reach, cy + np.sin(ang) * reach], 1)
    gy, gx = np.mgrid[0:sub.shape[0], 0:sub.shape[1]]
    inside = MplPath(verts).contains_points(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(sub.shape)
    full = np.zeros_like(mask)
    full[y0:y1, x0:x1] = inside & sub
    return full
