"""A deformable 3×3 convolution (Dai et al., 2017) built on ``torchvision.ops.DeformConv2d``.

The offsets come from a plain convolution over the same input with the same kernel,
stride, padding and dilation; it is initialised to zero, so a freshly built deformable
convolution computes exactly the plain convolution it replaces and only learns to deform
during training.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import DeformConv2d


class DeformableConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, dilation: int = 1, bias: bool = False):
        super().__init__()
        k = kernel_size
        self.offset = nn.Conv2d(in_channels, 2 * k * k, k, stride=stride, padding=padding,
                                dilation=dilation, bias=True)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.conv = DeformConv2d(in_channels, out_channels, k, stride=stride, padding=padding,
                                 dilation=dilation, bias=bias)

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight

    def forward(self, x: torch.Tensor, return_offsets: bool = False):
        offsets = self.offset(x)
        y = self.conv(x, offsets)
        return (y, offsets) if return_offsets else y

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> "DeformableConv2d":
        """A deformable replacement for ``conv`` with the same geometry (weights copied)."""
        if conv.groups != 1 or conv.kernel_size[0] != conv.kernel_size[1]:
            raise ValueError("only square, ungrouped convolutions can be made deformable")
        m = cls(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0],
                conv.padding[0], conv.dilation[0], bias=conv.bias is not None)
        with torch.no_grad():
            m.conv.weight.copy_(conv.weight)
            if conv.bias is not None:
                m.conv.bias.copy_(conv.bias)
        return m
