"""Input validation shared by the losses: clear errors instead of tensor internals."""
from __future__ import annotations

import torch


def check_target(target: torch.Tensor, num_classes: int, ignore_index: int, expected: tuple, what: str) -> None:
    if not torch.is_tensor(target):
        raise TypeError(f"{what}: target must be a tensor, got {type(target).__name__}")
    if target.dtype.is_floating_point or target.dtype == torch.bool:
        raise TypeError(f"{what}: target must hold integer class ids, got dtype {target.dtype}")
    if tuple(target.shape) != tuple(expected):
        raise ValueError(f"{what}: target shape {tuple(target.shape)} does not match the expected {tuple(expected)}")
    valid = target != ignore_index
    if valid.any():
        bad = valid & ((target < 0) | (target >= num_classes))
        if bad.any():
            vals = torch.unique(target[bad])[:10].tolist()
            raise ValueError(f"{what}: target holds class ids {vals} outside 0..{num_classes - 1} "
                             f"(and not the ignore index {ignore_index})")


class CountReducer:
    """How a loss turns its local pair/pixel counts into the counts of the whole batch.

    The default (one process) leaves them alone.  Under data parallelism,
    :class:`relationnet.engine.distributed.CountReducer` sums them over processes and
    ``world_size`` undoes DDP's gradient averaging, so each loss is normalised by the
    global batch exactly as in a single-process run.
    """

    world_size = 1

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        return t
