"""Spatial Correlation Loss (paper Eqs. 4–6).

Pairs: every pixel ``(y, x)`` of the (B, h, w) label map with each of its nine neighbours
``(y + dy, x + dx)``, ``(dy, dx)`` in :data:`relationnet.ops.OFFSETS` (itself included).  A pair
whose neighbour leaves the image, or where either label is the ignore index, does not
count.  Positives are pairs with equal labels, negatives pairs with different labels.

Over the whole batch, with ``n_pos``/``n_neg`` the numbers of positive/negative pairs and
``N = n_pos + n_neg``::

    α = n_pos / N      (weights the negative term, as Eq. 5 is written)
    β = n_neg / N      (weights the positive term)
    L_scl = −( Σ_pos β · log σ(s) + Σ_neg α · log(1 − σ(s)) ) / N

where ``s`` is the similarity logit of the pair (``log(1 − σ(s)) = log σ(−s)``; both use
``logsigmoid`` for stability).  The rarer kind of pair gets the larger weight.  With no
counted pair the loss is 0 with an intact (all-zero) gradient path.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..backbones import OUTPUT_STRIDE
from ..ops.shift import shift_features
from ._checks import CountReducer, check_target


def labels_at_output(target: torch.Tensor, stride: int = OUTPUT_STRIDE) -> torch.Tensor:
    """Labels of the output cells: cell ``(i, j)`` takes the label of its centre pixel ``(8i, 8j)``.

    (B, H, W) -> (B, ceil(H/stride), ceil(W/stride)); no interpolation, so no new label values.
    """
    return target[..., ::stride, ::stride]


def pair_labels(target: torch.Tensor, ignore_index: int = 255) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative pair masks, each (B, 9, h, w), for a (B, h, w) label map."""
    t = target.unsqueeze(1).to(torch.float32)
    neigh = shift_features(t, pad_value=float(ignore_index)).squeeze(2)  # (B, 9, h, w)
    anchor = t.expand_as(neigh)
    counted = (anchor != ignore_index) & (neigh != ignore_index)
    pos = counted & (anchor == neigh)
    return pos, counted & ~pos


def spatial_correlation_loss(similarity: torch.Tensor, target: torch.Tensor, ignore_index: int = 255,
                             num_classes: int | None = None, counts: CountReducer | None = None) -> torch.Tensor:
    """SCL of (B, 9, h, w) similarity logits against (B, h, w) labels at the same resolution.

    ``num_classes`` (optional) additionally checks that labels lie in ``0..num_classes-1``.
    ``counts`` (data-parallel training) takes α, β and N over the whole global batch.
    """
    if similarity.dim() != 4 or similarity.shape[1] != 9:
        raise ValueError(f"spatial_correlation_loss: similarity must be (B, 9, h, w), got {tuple(similarity.shape)}")
    b, _, h, w = similarity.shape
    if num_classes is not None:
        check_target(target, num_classes, ignore_index, (b, h, w), "spatial_correlation_loss")
    elif tuple(target.shape) != (b, h, w):
        raise ValueError(f"spatial_correlation_loss: target shape {tuple(target.shape)} does not match the "
                         f"similarity map's (B, h, w) = {(b, h, w)}; use labels_at_output() on full-resolution labels")
    pos, neg = pair_labels(target, ignore_index)
    counts = counts or CountReducer()
    n_pos, n_neg = counts.sum(torch.stack([pos.sum(), neg.sum()]).to(torch.float32)).unbind()
    n = n_pos + n_neg
    if n == 0:
        return similarity.sum() * 0.0
    s = similarity.float()
    alpha, beta = n_pos / n, n_neg / n
    loss_pos = (F.logsigmoid(s) * pos).sum()
    loss_neg = (F.logsigmoid(-s) * neg).sum()
    return -(beta * loss_pos + alpha * loss_neg) / n * counts.world_size
