"""Datasets (Cityscapes, Pascal Context, the embedded SynthCity), transforms, palettes and loaders."""
from __future__ import annotations

import os
import random
import signal
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from . import synthcity
from ._io import DatasetError, read_label, read_rgb
from .cityscapes import Cityscapes
from .labels import _DATASETS
from .labels import (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX, LABEL_ID_TO_TRAIN_ID,
                     PASCAL_CONTEXT_CLASSES, PASCAL_CONTEXT_PALETTE, TRAIN_ID_TO_LABEL_ID, class_names, colorize,
                     overlay, palette)
from .pascal_context import PascalContext
from .transforms import MEAN, STD, denormalize, eval_transform, normalize_image, train_transform

DATASETS = tuple(_DATASETS)


def build_dataset(name: str, root: str | Path, split: str = "train", annotation: str = "fine",
                  transform: Callable | None = None) -> Dataset:
    """The dataset ``name`` (``cityscapes``, ``synthcity`` — same layout — or ``pascal_context``)."""
    if name in ("cityscapes", "synthcity"):
        return Cityscapes(root, split, annotation, transform)
    if name == "pascal_context":
        if annotation != "fine":
            raise ValueError("Pascal Context has only one annotation; use annotation='fine'")
        return PascalContext(root, split, transform)
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def init_worker(worker_id: int) -> None:
    """A loader worker's start: seed numpy and random from torch's per-worker seed, and leave quietly on SIGTERM.

    A SIGTERM to the whole job (``kill -- -PGID``, a batch scheduler, ``pkill -f``) reaches the workers too;
    PyTorch's workers exit quietly only when their parent sends it, so a worker killed by anyone else made the
    main process print "DataLoader worker ... killed by signal: Terminated" (with a traceback) on its way out of a
    clean stop.  Exiting with status 0 leaves the reporting to the main process: its own SIGTERM stops the command
    as Ctrl-C does, and a worker stopped alone is reported as having exited unexpectedly."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)
    signal.signal(signal.SIGTERM, _worker_sigterm)


def _worker_sigterm(signum, frame):
    os._exit(0)


def build_loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0,
                 workers: int = 2, drop_last: bool | None = None, pin_memory: bool | None = None, rank: int = 0,
                 world_size: int = 1) -> DataLoader:
    """The one loader recipe, the trainer's: its order and augmentation depend only on ``(seed, epoch, rank)``, not
    on ``workers`` or their timing.

    A ``DistributedSampler`` over ``world_size`` processes (one process: every index, shuffled by ``(seed, epoch)``
    when ``shuffle``), and the workers' seeds drawn from a generator seeded with ``seed + epoch + 1 + 7919·rank``.
    ``batch_size`` is per process; ``drop_last`` defaults to dropping a last partial batch when shuffling a set of
    at least one global batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    if drop_last is None:
        drop_last = shuffle and len(dataset) >= batch_size * world_size
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed,
                                 drop_last=drop_last)
    sampler.set_epoch(epoch)
    g = torch.Generator().manual_seed(seed + epoch + 1 + 7919 * rank)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      worker_init_fn=init_worker, generator=g,
                      pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory, drop_last=drop_last)


def dataset_loader(name: str, root: str | Path, split: str = "train", batch_size: int = 8, annotation: str = "fine",
                   transform: Callable | None = None, crop: tuple[int, int] = (512, 1024), **loader_kw) -> DataLoader:
    """A ready loader for a dataset name and split: ``train`` gets the training augmentation at ``crop``
    and is shuffled; other splits get the evaluation transform, in order.  ``loader_kw`` go to
    :func:`build_loader` (``seed``, ``epoch``, ``workers``, ``pin_memory``, ``drop_last``)."""
    training = split in ("train", "train_extra")
    if transform is None:
        transform = train_transform(crop) if training else eval_transform()
    ds = build_dataset(name, root, split, annotation, transform)
    return build_loader(ds, batch_size, shuffle=loader_kw.pop("shuffle", training), **loader_kw)


__all__ = ["CITYSCAPES_CLASSES", "CITYSCAPES_PALETTE", "DATASETS", "IGNORE_INDEX", "LABEL_ID_TO_TRAIN_ID", "MEAN",
           "PASCAL_CONTEXT_CLASSES", "PASCAL_CONTEXT_PALETTE", "STD", "TRAIN_ID_TO_LABEL_ID", "Cityscapes",
           "DatasetError", "PascalContext", "build_dataset", "build_loader", "class_names", "dataset_loader", "colorize",
           "denormalize", "eval_transform", "normalize_image", "overlay", "palette", "read_label", "read_rgb",
           "init_worker", "synthcity", "train_transform"]
