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
depthwise kernels on such small maps; where the phase maps are smaller than the kernel, the weight gradient is
taken on the dilated map instead (:class:`_PhaseSplitDepthwise`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _phase_conv(x: torch.Tensor, weight: torch.Tensor, d: int) -> torch.Tensor:
    """The dilated depthwise convolution (no bias) of ``x`` by ``weight``, phase by phase."""
    b, c, h, w = x.shape
    k = weight.shape[-1]
    hp, wp = -(-h // d) * d, -(-w // d) * d
    if (hp, wp) != (h, w):
        x = F.pad(x, (0, wp - w, 0, hp - h))
    # (B, C, hp/d, d, wp/d, d) -> (B·d·d, C, hp/d, wp/d): phase (a, b) holds x[..., a::d, b::d]. One copy straight
    # into channels-last memory (B, d, d, hp/d, wp/d, C): oneDNN's depthwise kernels are fastest in that layout on
    # such small maps, and the permutation and the layout change cost one pass instead of two.
    phases = (x.reshape(b, c, hp // d, d, wp // d, d).permute(0, 3, 5, 2, 4, 1)
              .reshape(b * d * d, hp // d, wp // d, c).permute(0, 3, 1, 2))
    y = F.conv2d(phases, weight, None, padding=k // 2, groups=c)
    y = y.permute(0, 2, 3, 1).reshape(b, d, d, hp // d, wp // d, c)         # a view when y is channels-last
    y = y.permute(0, 5, 3, 1, 4, 2).reshape(b, c, hp, wp)
    return y[:, :, :h, :w]


class _PhaseSplitDepthwise(torch.autograd.Function):
    """Forward and input gradient phase-split; the weight gradient from PyTorch's kernel on the dilated map.

    Used when the phase maps are smaller than the kernel (most taps fall in the padding): there oneDNN's
    depthwise weight gradient on the phases was the slowest piece of the whole training step (5×5 kernel, 3×6
    phases of a 12×24 map, C = 1152: the layer's forward + backward 188 ms through the phases, 97 ms so).  On
    larger phase maps the phases' own weight gradient is as fast, and plain autograd through :func:`_phase_conv`
    is used (``benchmarks/backbone_speed.py --layers`` times each layer three ways, without it the network).  The input gradient of a stride-1 "same"
    convolution is the same convolution with the kernel flipped, so it is phase-split too."""

    @staticmethod
    def forward(ctx, x, weight, d):
        ctx.save_for_backward(x, weight)
        ctx.d = d
        return _phase_conv(x, weight, d)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        d, k = ctx.d, weight.shape[-1]
        # under autocast the forward ran in half precision, the backward runs outside it: compute in gy's dtype
        # and return each gradient in its input's dtype
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = _phase_conv(gy, weight.flip(-1, -2).to(gy.dtype), d).to(x.dtype)
        if ctx.needs_input_grad[1]:
            gw = torch.nn.grad.conv2d_weight(x.to(gy.dtype), weight.shape, gy.contiguous(), padding=d * (k // 2),
                                             dilation=d, groups=x.shape[1]).to(weight.dtype)
        return gx, gw, None


def phase_split_depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                                 dilation: int, weight_grad: str = "auto") -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=dilation*(k//2), dilation=dilation, groups=C)`` for a
    (C, 1, k, k) depthwise ``weight`` with odd ``k``, computed phase by phase (same values and
    gradients).  ``weight_grad="auto"`` takes the weight gradient on the dilated map where the phase maps are
    smaller than the kernel (:class:`_PhaseSplitDepthwise`); ``"phases"`` always lets autograd differentiate the
    phase-split convolution (the first form, kept for ``benchmarks/backbone_speed.py``)."""
    if weight_grad not in ("auto", "phases"):
        raise ValueError(f"weight_grad must be 'auto' or 'phases', got {weight_grad!r}")
    c = x.shape[1]
    k = weight.shape[-1]
    if weight.shape != (c, 1, k, k) or k % 2 == 0:
        raise ValueError(f"expected a (C, 1, k, k) depthwise weight with odd k for {c} channels, got {tuple(weight.shape)}")
    d = int(dilation)
    if d == 1:
        return F.conv2d(x, weight, bias, padding=k // 2, groups=c)
    h, w = x.shape[-2:]
    if weight_grad == "auto" and min(-(-h // d), -(-w // d)) < k:   # phases smaller than the kernel: see the class
        y = _PhaseSplitDepthwise.apply(x, weight, d)
    else:
        y = _phase_conv(x, weight, d)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` (same parameters and state-dict keys) whose dilated, stride-1 form
    runs phase-split (:func:`phase_split_depthwise_conv2d`); ``phase_split=False`` keeps PyTorch's
    dilated kernel (for comparison); ``weight_grad`` is passed on (an attribute, so a built model can be switched)."""

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 phase_split: bool = True, weight_grad: str = "auto"):
        super().__init__(channels, channels, kernel_size, stride=stride, padding=dilation * (kernel_size // 2),
                         dilation=dilation, groups=channels, bias=False)
        self.phase_split, self.weight_grad = phase_split, weight_grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.phase_split and self.dilation[0] > 1 and self.stride == (1, 1):
            return phase_split_depthwise_conv2d(x, self.weight, self.bias, self.dilation[0], self.weight_grad)
        return super().forward(x)
