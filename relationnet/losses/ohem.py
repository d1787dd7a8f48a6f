"""Online hard example mining cross-entropy (paper Eq. 3).

``L_ohem = −(1/|S|) Σ_{i∈S} log p_{i,y_i}`` with ``S`` the valid pixels (label ≠ ignore) whose
probability of the true class is below the threshold ``t`` (the paper uses t = 0.6).

``min_kept > 0`` keeps at least the ``min_kept`` hardest valid pixels even when fewer than
that are below ``t`` (the practice of the ResNet38 and PSPNet code bases): ``S`` becomes the
union of the pixels below ``t`` and the ``min_kept`` pixels of smallest true-class probability.  When no pixel qualifies the
loss is ``0`` and still has a gradient path to the logits (all-zero gradient).

Targets at a different resolution than the logits: the logits are upsampled bilinearly to
the target's size (the usual practice for output-stride-8 networks trained on
full-resolution labels), with RelationNet's geometry: logit cell ``(i, j)`` lands on label
pixel ``(8i, 8j)`` (:func:`relationnet.ops.upsample.upsample_centered`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..ops.upsample import infer_stride, upsample_centered
from ._checks import CountReducer, check_target


def upsample_to(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return upsample_centered(logits, size, infer_stride(logits.shape[-2], size[0]))


def ohem_cross_entropy(logits: torch.Tensor, target: torch.Tensor, thresh: float | None = 0.6, min_kept: int = 0,
                       ignore_index: int = 255, counts: CountReducer | None = None) -> torch.Tensor:
    """OHEM cross-entropy of (B, K, h, w) ``logits`` against a (B, H, W) integer ``target``.

    ``thresh=None`` keeps every valid pixel: plain cross-entropy (the CE rows of Table I).
    ``counts`` (data-parallel training) normalises by the number of kept pixels of the
    whole global batch, so that the averaged gradients equal a single-process run's.
    """
    if logits.dim() != 4:
        raise ValueError(f"ohem_cross_entropy: logits must be (B, K, h, w), got shape {tuple(logits.shape)}")
    if target.dim() != 3 or target.shape[0] != logits.shape[0]:
        raise ValueError(f"ohem_cross_entropy: target must be (B, H, W) with B={logits.shape[0]}, "
                         f"got shape {tuple(target.shape)}")
    check_target(target, logits.shape[1], ignore_index, target.shape, "ohem_cross_entropy")
    if thresh is not None and not 0.0 < thresh <= 1.0:
        raise ValueError(f"ohem_cross_entropy: thresh must be in (0, 1], got {thresh}")
    logits = upsample_to(logits, target.shape[-2:])
    nll = F.cross_entropy(logits.float(), target.long(), ignore_index=ignore_index, reduction="none")
    valid = target != ignore_index
    nll_valid = nll[valid]
    if thresh is None:
        keep = torch.ones_like(nll_valid, dtype=torch.bool)
    else:
        p_true = torch.exp(-nll_valid.detach())
        keep = p_true < thresh
        if min_kept > 0 and p_true.numel():  # the min_kept hardest valid pixels are always kept
            k = min(int(min_kept), p_true.numel())
            keep[torch.topk(p_true, k, largest=False).indices] = True
    counts = counts or CountReducer()
    n = counts.sum(keep.sum().to(nll_valid.dtype))
    if n == 0:
        return logits.sum() * 0.0
    return nll_valid[keep].sum() / n * counts.world_size
