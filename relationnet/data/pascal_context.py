"""Pascal Context in the common 60-class layout (59 classes + background).

Expected layout::

    root/JPEGImages/<id>.jpg                          (the VOC2010 images)
    root/SegmentationClassContext/<id>.png            (8-bit PNG: 0 background, 1..59 classes, 255 ignore)
    root/ImageSets/SegmentationContext/train.txt      (4998 ids, one per line)
    root/ImageSets/SegmentationContext/val.txt        (5105 ids)

How to produce it from the official release: download VOC2010 (``VOCdevkit/VOC2010``) and the
Pascal Context ``trainval_merged.json`` annotations, then convert each image's 459-class mask to
the 59 frequent classes (everything else → 0, background) with the ``detail`` API, as done by the
common segmentation toolboxes; write the masks to ``SegmentationClassContext/`` and the ids of
the official train/val split to the two text files.  The class order is
:data:`~relationnet.data.labels.PASCAL_CONTEXT_CLASSES`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ._io import DatasetError, PairedFolder, missing_labels_error
from .labels import PASCAL_CONTEXT_CLASSES


class PascalContext(PairedFolder):
    num_classes = len(PASCAL_CONTEXT_CLASSES)

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None):
        super().__init__(transform)
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.root, self.split = Path(root), split
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist")
        split_file = self.root / "ImageSets" / "SegmentationContext" / f"{split}.txt"
        if not split_file.is_file():
            raise DatasetError(f"{split_file} does not exist; see relationnet/data/pascal_context.py for the layout")
        ids = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
        if not ids:
            raise DatasetError(f"{split_file} lists no images")
        self.items, missing, no_image = [], [], []
        for i in ids:
            img = self.root / "JPEGImages" / f"{i}.jpg"
            lbl = self.root / "SegmentationClassContext" / f"{i}.png"
            if not img.is_file():
                no_image.append(img)
            if not lbl.is_file():
                missing.append(lbl)
            self.items.append((img, lbl, i))
        if no_image:
            raise DatasetError(f"{len(no_image)} of {len(ids)} images listed in {split_file} do not exist, "
                               f"e.g. {no_image[0]}")
        if missing:
            raise missing_labels_error(missing, len(ids), "context")

    def to_class_ids(self, raw: np.ndarray, label_path: Path) -> np.ndarray:
        return self.check_class_ids(raw, label_path)
