"""Multi-GPU / multi-node training with ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N -m relationnet.cli train CONFIG`` sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init` then joins the process group (NCCL on
CUDA, gloo on CPU), and each process takes ``batch_size / WORLD_SIZE`` images of every
global batch through a :class:`~torch.utils.data.DistributedSampler`, so the global batch
is the same as a single-process run's.  Only rank 0 writes checkpoints and logs; the
evaluation's confusion matrices are summed over ranks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..losses._checks import CountReducer as _LocalCounts


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init() -> DistInfo:
    """Join the process group when launched by torchrun; a single-process no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend)
    return info


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group, if this process joined one (the CLI's train command does, at its end)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class CountReducer(_LocalCounts):
    """Loss counts summed over all processes (see :class:`relationnet.losses._checks.CountReducer`)."""

    def __init__(self, info: DistInfo):
        self.info, self.world_size = info, info.world_size

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        return all_reduce_sum(t.detach(), self.info)
