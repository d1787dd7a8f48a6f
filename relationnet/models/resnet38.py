"""ResNet38 ("model A" of Wu, Shen & van den Hengel, *Wider or Deeper*) as RelationNet modifies it.

Layout (channels at ``width=1.0``; every count is multiplied by ``width``)::

    conv1a   3×3, 64
    B2       3 × (3×3 128, 3×3 128)       first conv stride 2      -> 1/2
    B3       3 × (3×3 256, 3×3 256)       first conv stride 2      -> 1/4
    B4       6 × (3×3 512, 3×3 512)       first conv stride 2      -> 1/8
    B5       3 × (3×3 512, 3×3 1024)      second conv dilation 2 (later blocks: both)
    B6       bottleneck 1×1 512, 3×3 1024 (dilation 4), 1×1 2048
    B7       bottleneck 1×1 1024, 3×3 2048 (dilation 4), 1×1 4096
    bn7      BN + ReLU of the 4096-channel output

Blocks are pre-activation (BN -> ReLU -> conv); the shortcut is a 1×1 projection of the
pre-activated input wherever width or stride changes, the identity otherwise.

The paper's changes to the original network (Section II-A1): no pooling layers — the
first convolution of B2, B3 and B4 has stride 2 instead — and dilation 2 in B5, so the
output stride is 8; with ``dcn=True`` the second (3×3) convolution of B6 and B7 is a
deformable convolution (:class:`~relationnet.models.deform.DeformableConv2d`, offsets
initialised to zero, so it starts as the plain convolution).

ImageNet weights (``pretrained=PATH``): the public PyTorch conversion of model A's ImageNet
classifier that weakly-supervised segmentation code bases load (``resnet38d``: ``conv1a``, ``b2``,
``b2_1`` … ``b7``, ``bn7``, with ``bn_branch2a`` / ``conv_branch2a`` / ``bn_branch2b1`` /
``conv_branch2b1`` / ``bn_branch2b2`` / ``conv_branch2b2`` / ``conv_branch1`` inside a block) maps
onto this module key by key through :func:`resnet38d_key`; only ``width=1.0`` matches it.  Loading is
strict: a missing trunk key, an unexpected key (other than the ImageNet classifier ``fc*`` /
``linear*``) or a shape mismatch is an error that names them; the deformable convolutions' offset
layers are the only trunk layers allowed to be new (they start at zero, so a DCN block starts as the
pretrained plain convolution).

Every strided convolution is 3×3 with padding 1 (or 1×1 with no padding), so output cell
``(i, j)`` is centred on input pixel ``(8i, 8j)`` and the output size is
``ceil(H/8) × ceil(W/8)`` for any input size.  Dropout in B6/B7 (0.3/0.5 in the original)
is kept as an option, off by default.
"""
from __future__ import annotations

import torch
from torch import nn

from .deform import DeformableConv2d
from .weights import check_state_dict, load_state_dict_file


def scaled(channels: int, width: float) -> int:
    """Channel count ``channels × width``, rounded, at least 4."""
    return max(4, int(round(channels * width)))


def _bn_relu(c: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """Pre-activation block of two 3×3 convolutions."""

    def __init__(self, cin: int, cmid: int, cout: int, stride: int = 1, dilation1: int = 1,
                 dilation2: int = 1):
        super().__init__()
        self.pre = _bn_relu(cin)
        self.conv1 = nn.Conv2d(cin, cmid, 3, stride=stride, padding=dilation1, dilation=dilation1, bias=False)
        self.mid = _bn_relu(cmid)
        self.conv2 = nn.Conv2d(cmid, cout, 3, padding=dilation2, dilation=dilation2, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
                         if cin != cout or stride != 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.pre(x)
        skip = x if self.shortcut is None else self.shortcut(a)
        return skip + self.conv2(self.mid(self.conv1(a)))


class BottleneckBlock(nn.Module):
    """Pre-activation bottleneck 1×1 -> 3×3 (dilated, optionally deformable) -> 1×1."""

    def __init__(self, cin: int, c1: int, c2: int, cout: int, dilation: int = 4, dcn: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        self.pre = _bn_relu(cin)
        self.conv1 = nn.Conv2d(cin, c1, 1, bias=False)
        self.mid1 = _bn_relu(c1)
        conv2 = DeformableConv2d if dcn else nn.Conv2d
        self.conv2 = conv2(c1, c2, 3, padding=dilation, dilation=dilation, bias=False)
        self.mid2 = _bn_relu(c2)
        self.conv3 = nn.Conv2d(c2, cout, 1, bias=False)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.pre(x)
        skip = x if self.shortcut is None else self.shortcut(a)
        y = self.drop(self.mid1(self.conv1(a)))
        y = self.drop(self.mid2(self.conv2(y)))
        return skip + self.conv3(y)


#: (name, number of blocks, mid channels, out channels, first stride) of the basic stages.
BASIC_STAGES = (("b2", 3, 128, 128, 2), ("b3", 3, 256, 256, 2), ("b4", 6, 512, 512, 2),
                ("b5", 3, 512, 1024, 1))
#: (name, 1×1 channels, 3×3 channels, out channels) of the bottleneck stages.
BOTTLENECK_STAGES = (("b6", 512, 1024, 2048), ("b7", 1024, 2048, 4096))


class ResNet38(nn.Module):
    """ResNet38 trunk at output stride 8.  ``forward`` returns the (B, out_channels, ⌈H/8⌉, ⌈W/8⌉) map."""

    def __init__(self, width: float = 1.0, dcn: bool = False, dropout: bool = False, pretrained=None):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        self.width, self.dcn = width, dcn
        c = scaled(64, width)
        self.conv1a = nn.Conv2d(3, c, 3, padding=1, bias=False)
        for name, n, mid, out, stride in BASIC_STAGES:
            mid, out = scaled(mid, width), scaled(out, width)
            dilated = name == "b5"
            blocks = []
            for i in range(n):
                # B5: the first block dilates its second conv only, the later ones both.
                d1 = 2 if dilated and i > 0 else 1
                d2 = 2 if dilated else 1
                blocks.append(BasicBlock(c, mid, out, stride=stride if i == 0 else 1,
                                         dilation1=d1, dilation2=d2))
                c = out
            setattr(self, name, nn.Sequential(*blocks))
        for (name, c1, c2, out), p in zip(BOTTLENECK_STAGES, (0.3, 0.5)):
            c1, c2, out = scaled(c1, width), scaled(c2, width), scaled(out, width)
            setattr(self, name, BottleneckBlock(c, c1, c2, out, dilation=4, dcn=dcn,
                                                dropout=p if dropout else 0.0))
            c = out
        self.bn7 = _bn_relu(c)
        self.out_channels = c
        if pretrained is not None:
            self.load_resnet38d(pretrained)

    def load_resnet38d(self, path) -> None:
        """Load the ``resnet38d`` ImageNet weights file at ``path`` (see the module docstring)."""
        state = load_state_dict_file(path)
        own = self.state_dict()
        mapped, unexpected = {}, []
        for k, v in state.items():
            new = resnet38d_key(k)
            if new is None:
                if not k.split(".")[0].startswith(("fc", "linear")):       # the ImageNet classifier is dropped
                    unexpected.append(k)
                continue
            if new not in own and new.replace(".conv2.", ".conv2.conv.") in own:   # a deformable conv2
                new = new.replace(".conv2.", ".conv2.conv.")
            mapped[new] = v
        for k in own:                   # new layers: the deformable convolutions' zero-initialised offsets
            if ".offset." in k and k not in mapped:
                mapped[k] = own[k]
        check_state_dict(self, {**mapped, **{f"<{k}>": torch.zeros(0) for k in unexpected}},
                         f"{path} as resnet38d ImageNet weights for ResNet38 width {self.width}")
        self.load_state_dict(mapped, strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1a(x)
        for name in ("b2", "b3", "b4", "b5", "b6", "b7"):
            x = getattr(self, name)(x)
        return self.bn7(x)

    def deformable_convs(self) -> dict[str, DeformableConv2d]:
        """The deformable convolutions by name (empty when ``dcn=False``)."""
        return {n: m for n, m in self.named_modules() if isinstance(m, DeformableConv2d)}


#: resnet38d layer names inside a block -> this module's
_BLOCK_KEYS = {"bn_branch2a": "pre.0", "conv_branch2a": "conv1", "conv_branch1": "shortcut",
               "bn_branch2b1": "mid.0", "conv_branch2b1": "conv2"}
_BOTTLENECK_KEYS = {"bn_branch2a": "pre.0", "conv_branch2a": "conv1", "conv_branch1": "shortcut",
                    "bn_branch2b1": "mid1.0", "conv_branch2b1": "conv2", "bn_branch2b2": "mid2.0",
                    "conv_branch2b2": "conv3"}


def resnet38d_key(key: str) -> str | None:
    """``b4_3.conv_branch2a.weight`` -> ``b4.3.conv1.weight``, ``b6.conv_branch2b1.weight`` ->
    ``b6.conv2.weight`` (``b6.conv2.conv.weight`` with DCN: renamed by the loader), ``bn7.weight`` ->
    ``bn7.0.weight``, ``conv1a.weight`` unchanged; None for a key of no trunk layer."""
    head, _, rest = key.partition(".")
    if head == "conv1a":
        return key
    if head == "bn7":
        return f"bn7.0.{rest}"
    stage, _, index = head.partition("_")
    layer, _, param = rest.partition(".")
    if stage in ("b6", "b7") and not index and layer in _BOTTLENECK_KEYS:
        return f"{stage}.{_BOTTLENECK_KEYS[layer]}.{param}"
    if stage in ("b2", "b3", "b4", "b5") and (not index or index.isdigit()) and layer in _BLOCK_KEYS:
        return f"{stage}.{int(index or 0)}.{_BLOCK_KEYS[layer]}.{param}"
    return None
