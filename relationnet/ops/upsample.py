"""Upsampling that respects RelationNet's geometry: output cell ``(i, j)`` sits on pixel ``(s·i, s·j)``.

Plain ``F.interpolate(..., align_corners=False)`` treats a cell as covering a block of
pixels and would shift predictions by (s − 1)/2 pixels; here pixel ``y`` samples the
coarse map at position ``y / s`` exactly (linear interpolation between the two nearest
cells), and pixels past the last cell repeat it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def upsample_centered(x: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
    """(B, C, h, w) values at pixels ``(stride·i, stride·j)`` -> (B, C, H, W) by bilinear interpolation."""
    h, w = x.shape[-2:]
    H, W = size
    if stride == 1:
        return x[..., :H, :W]
    fh, fw = stride * (h - 1) + 1, stride * (w - 1) + 1
    up = F.interpolate(x, size=(fh, fw), mode="bilinear", align_corners=True) if (h > 1 or w > 1) else x
    if up.shape[-2:] != (fh, fw):   # a single cell along both axes
        up = x.expand(*x.shape[:-2], fh, fw)
    pad_h, pad_w = max(0, H - fh), max(0, W - fw)
    if pad_h or pad_w:
        up = F.pad(up, (0, pad_w, 0, pad_h), mode="replicate")
    return up[..., :H, :W]


def infer_stride(small: int, large: int) -> int:
    """The output stride s with ceil(large / s) == small (8 for RelationNet)."""
    for s in (8, 4, 2, 1, 16, 32):
        if -(-large // s) == small:
            return s
    return max(1, round(large / small))
