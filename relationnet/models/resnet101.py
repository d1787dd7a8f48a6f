"""The ResNet101 variant of Tables I/II: torchvision's ResNet101 at output stride 8.

``torchvision.models.resnet101(replace_stride_with_dilation=[False, True, True])`` keeps the
stem (7×7 stride-2 conv + 3×3 stride-2 max-pool) and the stride-2 ``layer2``, and dilates
``layer3``/``layer4`` (2 and 4) instead of striding them, so the output stride is 8 and
output cell ``(i, j)`` is centred on input pixel ``(8i, 8j)``, as for ResNet38.  The fully
connected classifier and global pooling are dropped.  With ``dcn=True`` the 3×3 convolution
of every ``layer4`` block becomes deformable (the paper only uses DCN with ResNet38; this is
for symmetric ablations).

``pretrained`` takes a *local* file (a ``.safetensors`` file or a PyTorch state dict saved
with ``torch.save``, read with ``weights_only=True``), e.g. torchvision's ImageNet weights
that a user downloaded themselves; nothing is ever downloaded here.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet101

from .deform import DeformableConv2d
from .weights import load_state_dict_file


class ResNet101(nn.Module):
    """ResNet101 trunk at output stride 8; ``forward`` returns (B, 2048, ⌈H/8⌉, ⌈W/8⌉)."""

    def __init__(self, dcn: bool = False, pretrained: str | Path | None = None):
        super().__init__()
        net = resnet101(weights=None, replace_stride_with_dilation=[False, True, True])
        if pretrained is not None:
            state = load_state_dict_file(pretrained)
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            try:
                missing, unexpected = net.load_state_dict(state, strict=False)
            except RuntimeError as e:  # shape mismatches
                raise ValueError(f"{pretrained} does not match torchvision's ResNet101: {e}") from None
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise ValueError(
                    f"{pretrained} does not match torchvision's ResNet101: "
                    f"{len(missing)} missing keys (e.g. {missing[:3]}), "
                    f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})")
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        if dcn:
            for block in self.layer4:
                block.conv2 = DeformableConv2d.from_conv(block.conv2)
        self.out_channels = 2048

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
