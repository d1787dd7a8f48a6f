"""Reading image/label files safely, and the paired-folder dataset base class."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ..storage import atomic_write_text  # noqa: F401  (the one implementation, on the ground floor)

#: Pixels above this count are refused (a decompression bomb, not a photo).
MAX_PIXELS = 100_000_000


class DatasetError(ValueError):
    """A dataset folder or file is missing, in the wrong layout, or unreadable (the message names it)."""


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
            if im.width * im.height > MAX_PIXELS:
                raise DatasetError(f"{path}: {im.width}×{im.height} is too large to be an image of this dataset")
            im.load()
        return im
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read this image file ({type(e).__name__}: {e})") from None


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB; a clear :class:`DatasetError` naming the file otherwise."""
    path = Path(path)
    im = _open(path)
    if im.mode not in ("RGB", "RGBA", "L", "P", "LA", "CMYK", "YCbCr", "I;16", "I"):
        raise DatasetError(f"{path}: unsupported image mode {im.mode!r}")
    if im.mode in ("I;16", "I"):
        arr = np.asarray(im).astype(np.float64)
        arr = (255 * arr / max(arr.max(), 1)).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def read_label(path: str | Path) -> np.ndarray:
    """A single-channel label PNG (mode ``L`` or ``P``, values 0..255) as ``(H, W)`` uint8."""
    path = Path(path)
    im = _open(path)
    if im.mode not in ("L", "P"):
        raise DatasetError(f"{path}: a label file must be a single-channel 8-bit PNG (mode 'L' or 'P'), "
                           f"this one has mode {im.mode!r}")
    return np.asarray(im, dtype=np.uint8).copy()


def missing_labels_error(missing: list[Path], total: int, kind: str) -> DatasetError:
    return DatasetError(f"{len(missing)} of {total} images have no {kind} label file, e.g. {missing[0]}")


class PairedFolder(Dataset):
    """Images paired with label files.

    ``items`` is a list of ``(image_path, label_path or None, name)``.  ``load(i)`` returns the
    untouched ``(rgb (H, W, 3) uint8, label (H, W) uint8 class ids, name)`` as numpy arrays;
    ``ds[i]`` returns ``{"image": tv_tensors.Image uint8 (3, H, W), "label": tv_tensors.Mask
    int64 (H, W), "name": str}`` with ``transform(image, label)`` applied when one is given.
    Subclasses set ``items``, ``num_classes`` and implement :meth:`to_class_ids`.
    """

    items: list[tuple[Path, Path | None, str]]
    num_classes: int

    def __init__(self, transform: Callable | None = None):
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def to_class_ids(self, raw: np.ndarray, label_path: Path) -> np.ndarray:
        raise NotImplementedError

    def check_class_ids(self, raw: np.ndarray, label_path: Path, what: str = "ids") -> np.ndarray:
        """``raw`` when it holds only ``0..num_classes-1`` and 255; a :class:`DatasetError` naming the file otherwise."""
        bad = np.setdiff1d(np.unique(raw), np.r_[np.arange(self.num_classes), 255])
        if bad.size:
            raise DatasetError(f"{label_path} holds {what} {bad.tolist()[:10]} outside 0..{self.num_classes - 1} "
                               f"and 255")
        return raw

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        img_path, lbl_path, name = self.items[index]
        rgb = read_rgb(img_path)
        if lbl_path is None:
            return rgb, np.full(rgb.shape[:2], 255, np.uint8), name
        raw = read_label(lbl_path)
        if raw.shape != rgb.shape[:2]:
            raise DatasetError(f"{lbl_path} is {raw.shape[1]}×{raw.shape[0]} (width×height) but its image "
                               f"{img_path} is {rgb.shape[1]}×{rgb.shape[0]}")
        return rgb, self.to_class_ids(raw, lbl_path), name

    def __getitem__(self, index: int) -> dict:
        rgb, label, name = self.load(index)
        image = tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1).contiguous())
        mask = tv_tensors.Mask(torch.from_numpy(label.astype(np.int64)))
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return {"image": image, "label": mask, "name": name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images)"
