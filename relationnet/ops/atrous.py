"""A dilated depthwise convolution computed as an undilated one on phase-subsampled maps.

A ``k×k`` depthwise convolution with dilation ``d`` (stride 1, padding ``d·(k//2)``) reads, for
output pixel ``(y, x)``, the inputs ``(y + d·u, x + d·v)`` with ``u, v ∈ [-k//2, k//2]``: all of them
share ``y mod d`` and ``x mod d``.  Splitting the map into its ``d × d`` phases (the pixels with
the same ``(y mod d, x mod d)``), each phase is convolved by the same kernel *undilated* with
padding ``k//2``, and the phases are interleaved back.  This is TensorFlow's "space to batch"
form of atrous convolution.  The zero padding agrees because a row (column) outside the image in
a phase is a row outside the image in the original; the map is zero-padded to a multiple of ``d``
first and cropped after.

Why: PyTorch's CPU kernels for *dilated* depthwise convolutions take a slow generic path
(forward + backward on (8, C, 16, 32) here: 5×5 at dilation 2, C = 672: 161 ms dilated, 30 ms
phase-split; 3×3 at dilation 4, C = 1152: 74 ms vs 32 ms); ``benchmarks/backbone_speed.py`` times the
whole network both ways.  The phases are convolved in channels-last layout, oneDNN's fastest for
depthwise kernels on such small maps.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def phase_split_depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                                 dilation: int) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=dilation*(k//2), dilation=dilation, groups=C)`` for a
    (C, 1, k, k) depthwise ``weight`` with odd ``k``, computed phase by phase (same values and
    gradients)."""
    b, c, h, w = x.shape
    k = weight.shape[-1]
    if weight.shape != (c, 1, k, k) or k % 2 == 0:
        raise ValueError(f"expected a (C, 1, k, k) depthwise weight with odd k for {c} channels, got {tuple(weight.shape)}")
    d = int(dilation)
    if d == 1:
        return F.conv2d(x, weight, bias, padding=k // 2, groups=c)
    hp, wp = -(-h // d) * d, -(-w // d) * d
    if (hp, wp) != (h, w):
        x = F.pad(x, (0, wp - w, 0, hp - h))
    # (B, C, hp/d, d, wp/d, d) -> (B·d·d, C, hp/d, wp/d): phase (a, b) holds x[..., a::d, b::d]
    phases = x.reshape(b, c, hp // d, d, wp // d, d).permute(0, 3, 5, 1, 2, 4).reshape(b * d * d, c, hp // d, wp // d)
    # channels-last phases: oneDNN's depthwise kernels are fastest in that layout on these small maps
    y = F.conv2d(phases.contiguous(memory_format=torch.channels_last), weight, bias, padding=k // 2, groups=c)
    y = y.reshape(b, d, d, c, hp // d, wp // d).permute(0, 3, 4, 1, 5, 2).reshape(b, c, hp, wp)
    return y[:, :, :h, :w]


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` (same parameters and state-dict keys) whose dilated, stride-1 form
    runs phase-split (:func:`phase_split_depthwise_conv2d`); ``phase_split=False`` keeps PyTorch's
    dilated kernel (for comparison)."""

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 phase_split: bool = True):
        super().__init__(channels, channels, kernel_size, stride=stride, padding=dilation * (kernel_size // 2),
                         dilation=dilation, groups=channels, bias=False)
        self.phase_split = phase_split

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.phase_split and self.dilation[0] > 1 and self.stride == (1, 1):
            return phase_split_depthwise_conv2d(x, self.weight, self.bias, self.dilation[0])
        return super().forward(x)
