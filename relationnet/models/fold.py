"""Batch norm folded into the convolution before it, for inference: ``y = γ·(W∗x + b − μ)/σ + β`` is one
convolution with weights ``γ/σ·W`` and bias ``γ/σ·(b − μ) + β``, so an eval-mode network computes the same values
(to float rounding) with one pass over each feature map fewer.

Folded: every ``BatchNorm2d`` that directly follows a convolution — inside an ``nn.Sequential`` (the head, the
relation module's reduction, the similarity subnet, ResNet101's stem and shortcuts) and in the named pairs of
EfficientNet-Lite's blocks and ResNet101's bottlenecks.  ResNet38 is pre-activation (its batch norms come *before*
their convolutions, after a ReLU): those stay."""
from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from .deform import DeformableConv2d

#: Module class name -> (convolution, batch norm) attribute pairs, the batch norm reading the convolution's output.
PAIRS = {
    "MBConv": (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")),
    "EfficientNetLite": (("_conv_stem", "_bn0"), ("_conv_head", "_bn1")),
    "Bottleneck": (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
}


def _conv(m: nn.Module) -> nn.Module | None:
    """The module holding the weight that a batch norm after ``m`` folds into (None: not a convolution)."""
    if isinstance(m, DeformableConv2d):
        return m.conv
    if isinstance(m, nn.Conv2d) or type(m).__name__ == "DeformConv2d":
        return m
    return None


def _pairs(parent: nn.Module) -> list[tuple[str, str]]:
    if isinstance(parent, nn.Sequential):
        names = [n for n, _ in parent.named_children()]
        return [(a, b) for a, b in zip(names, names[1:])
                if _conv(parent._modules[a]) is not None and isinstance(parent._modules[b], nn.BatchNorm2d)]
    return [(c, b) for c, b in PAIRS.get(type(parent).__name__, ())
            if hasattr(parent, c) and isinstance(getattr(parent, b, None), nn.BatchNorm2d)]


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with each batch norm that follows a convolution folded into it (replaced by
    ``nn.Identity``); ``model`` itself is unchanged.  For inference only: the copy's batch norms no longer train."""
    out = copy.deepcopy(model).eval()
    seen = set()
    for parent in list(out.modules()):
        for conv_name, bn_name in _pairs(parent):
            bn = getattr(parent, bn_name)
            target = _conv(getattr(parent, conv_name))
            if id(bn) in seen or bn.running_mean is None:
                continue
            seen.add(id(bn))
            w, b = fuse_conv_bn_weights(target.weight, target.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)
            target.weight, target.bias = w, b
            setattr(parent, bn_name, nn.Identity())
    return out


def count_batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


__all__ = ["fold_batchnorm", "count_batchnorms"]
