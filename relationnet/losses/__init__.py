"""The training objective L = L_ohem + λ·L_scl (paper Eq. 2)."""
from __future__ import annotations

import torch

from ._checks import CountReducer
from ..backbones import OUTPUT_STRIDE
from .ohem import ohem_cross_entropy
from .scl import labels_at_output, pair_labels, spatial_correlation_loss


def relationnet_loss(out: dict, target: torch.Tensor, lam: float = 0.1, thresh: float | None = 0.6,
                     min_kept: int = 0, ignore_index: int = 255, stride: int = OUTPUT_STRIDE,
                     counts: CountReducer | None = None) -> tuple[torch.Tensor, dict]:
    """Eq. 2 on a model output dict and full-resolution (B, H, W) labels.

    ``thresh=None`` gives plain cross-entropy (the CE rows of Table I); the SCL term is
    added when ``lam > 0`` and ``out`` holds ``"similarity"``.  Returns the total and its
    parts ``{"ohem", "scl", "total"}`` as floats for logging (``scl`` is 0.0 when unused).
    ``counts``: see :class:`~relationnet.losses._checks.CountReducer` (data-parallel training).
    """
    logits = out["logits"]
    cls = ohem_cross_entropy(logits, target, thresh=thresh, min_kept=min_kept, ignore_index=ignore_index,
                             counts=counts)
    total, scl_val = cls, 0.0
    if lam > 0 and "similarity" in out:
        sim = out["similarity"]
        small = target if target.shape[-2:] == sim.shape[-2:] else labels_at_output(target, stride)
        scl = spatial_correlation_loss(sim, small, ignore_index, num_classes=logits.shape[1], counts=counts)
        total = cls + lam * scl
        scl_val = float(scl.detach())
    return total, {"ohem": float(cls.detach()), "scl": scl_val, "total": float(total.detach())}


__all__ = ["ohem_cross_entropy", "spatial_correlation_loss", "labels_at_output", "pair_labels", "relationnet_loss"]
