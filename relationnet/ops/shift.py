"""The shift-feature operation of the paper's Fig. 3.

The anchor feature map is zero-padded by one pixel; shifting it by each of the nine
offsets ``(dy, dx)`` in {-1, 0, 1}² and cropping back to the original size gives, at every
pixel ``(y, x)``, the feature of its neighbour ``(y + dy, x + dx)`` (zeros where the
neighbour falls outside the map).  Concatenating anchor and shifted views gives the
*correlation feature* for each offset, which the similarity subnet classifies.

All nine views are produced by a single ``torch.nn.functional.unfold`` call (a 3×3 window
with padding 1), so there is no Python loop over offsets or pixels; unfold orders the
window positions row-major, which is exactly the order of :data:`OFFSETS`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: The nine ``(dy, dx)`` offsets in row-major order from (-1, -1) to (1, 1); index 4 is (0, 0).
OFFSETS: tuple[tuple[int, int], ...] = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
CENTER = OFFSETS.index((0, 0))


def shift_features(x: torch.Tensor, pad_value: float = 0.0) -> torch.Tensor:
    """Return the nine shifted views of ``x``.

    Args:
        x: (B, C, H, W) feature map (any floating dtype).
        pad_value: value used outside the map (0 for features as in Fig. 3).

    Returns:
        (B, 9, C, H, W) tensor ``s`` with ``s[:, k, :, y, x] = x[:, :, y + dy, x + dx]`` for
        ``(dy, dx) = OFFSETS[k]``, and ``pad_value`` where that neighbour is outside the map.
    """
    if x.dim() != 4:
        raise ValueError(f"shift_features expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    if pad_value != 0.0:
        x = F.pad(x, (1, 1, 1, 1), value=pad_value)
        cols = F.unfold(x, kernel_size=3, padding=0)
    else:
        cols = F.unfold(x, kernel_size=3, padding=1)
    # unfold gives (B, C*9, H*W), channel-major then window position.
    return cols.view(b, c, 9, h, w).transpose(1, 2)


def correlation_features(x: torch.Tensor) -> torch.Tensor:
    """Concatenate the anchor with each of its nine shifted views (Fig. 3).

    Returns (B, 9, 2C, H, W): ``[..., :C, ...]`` is the anchor, ``[..., C:, ...]`` the neighbour.
    """
    shifted = shift_features(x)
    anchor = x.unsqueeze(1).expand_as(shifted)
    return torch.cat([anchor, shifted], dim=2)
