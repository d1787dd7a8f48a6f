"""Class lists, palettes and the Cityscapes id maps.

The Cityscapes tables come from ``cityscapesscripts.helpers.labels`` (the official package),
never retyped here.  255 means *ignore* everywhere in the project.
"""
from __future__ import annotations

import numpy as np
import torch
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

IGNORE_INDEX = 255

_TRAIN = sorted((lab for lab in _CS_LABELS if 0 <= lab.trainId < IGNORE_INDEX), key=lambda lab: lab.trainId)

#: The 19 Cityscapes training classes, indexed by train id.
CITYSCAPES_CLASSES: tuple[str, ...] = tuple(lab.name for lab in _TRAIN)
#: Their official colours, ``(19, 3)`` uint8.
CITYSCAPES_PALETTE: np.ndarray = np.array([lab.color for lab in _TRAIN], dtype=np.uint8)
#: Official label id of each train id, ``(19,)``.
TRAIN_ID_TO_LABEL_ID: np.ndarray = np.array([lab.id for lab in _TRAIN], dtype=np.uint8)


def _label_to_train() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for lab in _CS_LABELS:
        if lab.id >= 0 and 0 <= lab.trainId < IGNORE_INDEX:
            lut[lab.id] = lab.trainId
    return lut


#: Look-up table ``label id (0..255) -> train id``; void ids and the license plate (−1) give 255.
LABEL_ID_TO_TRAIN_ID: np.ndarray = _label_to_train()

#: Pascal Context, the usual 60-class setting: 0 is background, 1..59 the 59 frequent classes.
PASCAL_CONTEXT_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book",
    "bottle", "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow",
    "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground", "horse",
    "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant",
    "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table", "track",
    "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood")


def _voc_palette(n: int) -> np.ndarray:
    """The PASCAL VOC colour map (bits of the index spread over R, G, B)."""
    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


PASCAL_CONTEXT_PALETTE: np.ndarray = _voc_palette(len(PASCAL_CONTEXT_CLASSES))

_DATASETS = {"cityscapes": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
             "synthcity": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
             "pascal_context": (PASCAL_CONTEXT_CLASSES, PASCAL_CONTEXT_PALETTE)}


def _lookup(dataset: str):
    try:
        return _DATASETS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(_DATASETS))}") from None


def class_names(dataset: str) -> tuple[str, ...]:
    return _lookup(dataset)[0]


def palette(dataset: str) -> np.ndarray:
    return _lookup(dataset)[1]


def colorize(label, palette: np.ndarray | None = CITYSCAPES_PALETTE) -> np.ndarray:
    """``(H, W)`` train ids -> ``(H, W, 3)`` uint8 colours; 255 and unknown ids are black (``None``: Cityscapes')."""
    if palette is None:
        palette = CITYSCAPES_PALETTE
    lab = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    if lab.ndim != 2:
        raise ValueError(f"colorize expects a (H, W) label map, got shape {lab.shape}")
    lab = lab.astype(np.int64)
    pal = np.zeros((256, 3), dtype=np.uint8)
    pal[: len(palette)] = palette[:256]
    out = pal[np.clip(lab, 0, 255)]
    out[(lab < 0) | (lab >= len(palette))] = 0
    return out


def overlay(image: np.ndarray, label, alpha: float = 0.5, palette: np.ndarray = CITYSCAPES_PALETTE) -> np.ndarray:
    """Blend the palette colours of ``label`` over an ``(H, W, 3)`` uint8 image (ignored pixels untouched)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = np.asarray(image)
    col = colorize(label, palette)
    if img.shape != col.shape:
        raise ValueError(f"image {img.shape} and label {col.shape[:2]} differ in size")
    lab = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
    keep = ((lab >= 0) & (lab < len(palette)))[..., None]
    mixed = (1 - alpha) * img.astype(np.float32) + alpha * col.astype(np.float32)
    return np.where(keep, np.round(mixed), img).astype(np.uint8)
