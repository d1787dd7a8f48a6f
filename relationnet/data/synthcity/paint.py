"""The canvas SynthCity paints on (image, label ids, instance ids, a depth buffer), the official Cityscapes label
ids it paints, and the colour helpers shared by the street and its objects."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

# official Cityscapes label ids
EGO, ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE = 1, 7, 8, 11, 12, 13, 17
LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER = 19, 20, 21, 22, 23, 24, 25
CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = 26, 27, 28, 31, 32, 33
THINGS = (PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE)


class Canvas:
    """An image, its label ids, instance ids and a depth buffer; shapes are painted nearest-wins."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.img = np.zeros((h, w, 3), np.float32)
        self.lab = np.zeros((h, w), np.uint8)
        self.inst = np.zeros((h, w), np.int32)
        self.depth = np.full((h, w), np.inf, np.float32)
        self.counts: dict[int, int] = {}

    def new_instance(self, label: int) -> int:
        self.counts[label] = self.counts.get(label, 0) + 1
        return label * 1000 + self.counts[label] - 1

    def grid(self, x0: float, y0: float, x1: float, y1: float):
        """Slices and pixel-centre coordinates of the clipped box, or None when it is off-image."""
        c0, c1 = max(0, int(math.floor(x0))), min(self.w, int(math.ceil(x1)) + 1)
        r0, r1 = max(0, int(math.floor(y0))), min(self.h, int(math.ceil(y1)) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32) + 0.5
        return (slice(r0, r1), slice(c0, c1)), xx, yy

    def paint(self, sl, mask: np.ndarray, label: int, color, depth, instance: int | None = None) -> None:
        d = np.broadcast_to(np.asarray(depth, np.float32), mask.shape)
        m = mask & (d <= self.depth[sl])
        if not m.any():
            return
        self.depth[sl][m] = d[m]
        self.lab[sl][m] = label
        self.inst[sl][m] = label if instance is None else instance
        col = np.asarray(color, np.float32)
        self.img[sl][m] = col[m] if col.ndim == 3 else col


def smooth_noise(rng, h: int, w: int, cell: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = h // cell + 2, w // cell + 2
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return ndimage.zoom(g, (h / (gh - 1), w / (gw - 1)), order=1, mode="nearest", grid_mode=False)[:h, :w]


def jitter(rng, base, spread: float = 25.0) -> np.ndarray:
    return np.clip(np.asarray(base, np.float32) + rng.normal(0, spread, 3), 0, 255)


CAR_COLOURS = [(200, 200, 205), (30, 30, 35), (120, 120, 125), (150, 30, 30), (30, 50, 120), (230, 230, 225),
                (90, 100, 80), (170, 140, 60), (60, 60, 90), (140, 140, 150)]
FACADES = [(180, 160, 130), (150, 150, 150), (140, 70, 50), (210, 200, 180), (110, 100, 95), (190, 180, 160),
            (120, 130, 140), (170, 120, 90)]
CLOTHES = [(40, 40, 60), (150, 30, 30), (200, 200, 200), (30, 80, 40), (80, 60, 40), (20, 20, 20), (60, 90, 160)]
