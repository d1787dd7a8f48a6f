"""Cityscapes in its official layout (also read for the embedded SynthCity, written in that layout).

::

    root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png      (train, val, test)
    root/gtCoarse/<split>/<city>/<city>_<seq>_<frame>_gtCoarse_labelIds.png  (train, train_extra, val)

Label ids are mapped to the 19 train ids with the official table (255 = ignore).  When a folder
holds only ``*_labelTrainIds.png`` (made by cityscapesscripts' ``createTrainIdLabelImgs``), those
are read as they are.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ._io import DatasetError, PairedFolder, missing_labels_error
from .labels import CITYSCAPES_CLASSES, LABEL_ID_TO_TRAIN_ID

SPLITS = ("train", "val", "test", "train_extra")
IMAGE_SUFFIX = "_leftImg8bit.png"
#: The SynthCity generator writes this file while it works and the manifest when it is done;
#: a SynthCity folder without its manifest (or with the marker) is refused, never read half-made.
IN_PROGRESS = ".synthcity_in_progress"
SYNTHCITY_MANIFEST = "synthcity.json"
SYNTHCITY_CITIES = {"train": "synthburg", "val": "valdorf", "train_extra": "extraheim"}


class Cityscapes(PairedFolder):
    """``Cityscapes(root, split, annotation, transform)``; see :class:`~relationnet.data._io.PairedFolder`."""

    num_classes = len(CITYSCAPES_CLASSES)

    def __init__(self, root: str | Path, split: str = "train", annotation: str = "fine",
                 transform: Callable | None = None):
        super().__init__(transform)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if annotation not in ("fine", "coarse"):
            raise ValueError(f"annotation must be 'fine' or 'coarse', got {annotation!r}")
        if split == "train_extra" and annotation != "coarse":
            raise ValueError("train_extra has only coarse labels: use annotation='coarse'")
        self.root, self.split, self.annotation = Path(root), split, annotation
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist")
        made_here = any((self.root / "leftImg8bit" / sp / c).is_dir() for sp, c in SYNTHCITY_CITIES.items())
        if (self.root / IN_PROGRESS).exists() or (made_here and not (self.root / SYNTHCITY_MANIFEST).is_file()):
            raise DatasetError(f"{self.root} is a SynthCity folder whose generation did not finish "
                               f"(no {SYNTHCITY_MANIFEST}); rerun `relationnet data synthcity --out {self.root}`")
        img_dir = self.root / "leftImg8bit" / split
        if not img_dir.is_dir():
            raise DatasetError(f"{img_dir} does not exist; expected the official layout "
                               f"leftImg8bit/<split>/<city>/*{IMAGE_SUFFIX}")
        images = sorted(img_dir.glob(f"*/*{IMAGE_SUFFIX}"))
        if not images:
            raise DatasetError(f"{img_dir} holds no *{IMAGE_SUFFIX} files in city subfolders")
        gt = "gtFine" if annotation == "fine" else "gtCoarse"
        gt_dir = self.root / gt / split
        self.items, missing = [], []
        for img in images:
            stem = img.name[: -len(IMAGE_SUFFIX)]
            base = gt_dir / img.parent.name / f"{stem}_{gt}"
            lbl = next((p for p in (Path(f"{base}_labelIds.png"), Path(f"{base}_labelTrainIds.png"))
                        if p.is_file()), None)
            if lbl is None:
                if split == "test" and not gt_dir.is_dir():
                    lbl = None          # test images without any labels: predictions only
                else:
                    missing.append(Path(f"{base}_labelIds.png"))
            self.items.append((img, lbl, stem))
        if missing:
            raise missing_labels_error(missing, len(images), annotation)

    def to_class_ids(self, raw: np.ndarray, label_path: Path) -> np.ndarray:
        if label_path.name.endswith("_labelTrainIds.png"):
            return self.check_class_ids(raw, label_path, "train ids")
        return LABEL_ID_TO_TRAIN_ID[raw]
