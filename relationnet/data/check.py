"""``relationnet data check ROOT``: read every image and label of a dataset folder once and list every bad file.

Each item is read as training reads it (:meth:`PairedFolder.load`: the image, the label, their sizes, the label
values), in a thread pool (PIL decodes outside the GIL) with a progress bar.  The result is one list of
problems, a line each, so a user fixes them all at once instead of one per crash.  Training runs the same check
on the validation split before its first epoch (:func:`check_split`), so a broken validation label is found
before any work, not at the first evaluation.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from ._io import DatasetError

#: (split, annotation) pairs a folder may hold, per dataset; the ones present are checked.
SPLITS = {"cityscapes": (("train", "fine"), ("val", "fine"), ("train", "coarse"), ("train_extra", "coarse")),
          "synthcity": (("train", "fine"), ("val", "fine"), ("train", "coarse"), ("train_extra", "coarse")),
          "pascal_context": (("train", "fine"), ("val", "fine"))}


def _load(ds, i: int) -> str | None:
    try:
        ds.load(i)
        return None
    except DatasetError as e:
        return str(e)
    except Exception as e:          # anything else a damaged file can raise: reported, not a crash
        return f"{ds.items[i][0]}: {type(e).__name__}: {e}"


def check_split(ds, workers: int | None = None, progress: bool = True, desc: str = "checking",
                limit: int = 0) -> list[str]:
    """Problems of every item of ``ds`` (a :class:`~relationnet.data._io.PairedFolder`), in item order."""
    n = len(ds) if not limit else min(limit, len(ds))
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        found = list(tqdm(pool.map(lambda i: _load(ds, i), range(n)), total=n, desc=desc, unit="img",
                          disable=not progress))
    return [p for p in found if p]


def check_root(dataset: str, root: str | Path, workers: int | None = None, progress: bool = True) -> dict:
    """``{"split/annotation": [problems]}`` for every split the folder holds; a folder that holds none, or
    a split whose listing fails (missing labels, wrong layout), is a problem too."""
    from . import build_dataset
    if dataset not in SPLITS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    out = {}
    for split, ann in SPLITS[dataset]:
        key = f"{split}/{ann}"
        if dataset != "pascal_context":
            sub = root / ("gtFine" if ann == "fine" else "gtCoarse") / split
            if not (root / "leftImg8bit" / split).is_dir() or (split != "val" and not sub.is_dir()):
                if split in ("train", "val") and ann == "fine":
                    out[key] = [f"{root / 'leftImg8bit' / split} or {sub}: missing"]
                continue
        try:
            ds = build_dataset(dataset, root, split, ann)
        except (DatasetError, ValueError) as e:
            out[key] = [str(e)]
            continue
        out[key] = check_split(ds, workers, progress, desc=f"checking {key}")
    return out
