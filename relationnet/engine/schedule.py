"""The paper's learning-rate schedule (Section III-D).

``lr`` is constant for the first ``const_epochs`` of ``epochs``, then goes down linearly
to ``lr_final`` at the end: 5e-4 for 35 epochs then to 5e-6 over the last 25 in the paper.
The decay is per iteration, so ``progress`` is a fractional epoch.  A shorter stage (the
alternating stages of 60/30/15 epochs, or a CPU preset) keeps the same proportion.
"""
from __future__ import annotations


def lr_at(progress: float, epochs: float, const_epochs: float, lr: float, lr_final: float) -> float:
    """Learning rate after ``progress`` epochs (0 ≤ progress ≤ epochs)."""
    if progress <= const_epochs or epochs <= const_epochs:
        return lr
    t = min(1.0, (progress - const_epochs) / (epochs - const_epochs))
    return lr + (lr_final - lr) * t


def stage_const_epochs(stage_epochs: int, epochs: int, const_epochs: int) -> float:
    """Constant-lr epochs of a stage, in the same proportion as ``const_epochs / epochs``."""
    return stage_epochs * const_epochs / epochs
