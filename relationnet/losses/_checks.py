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
