"""The backbones RelationNet stands on, each described once: what settings it takes.  The model builds from this
registry (:class:`relationnet.models.RelationNet`) and the config checks against it (:func:`relationnet.config.validate`),
so a rule such as "EfficientNet-Lite has no deformable convolutions" lives here and nowhere else.  Pure data (no torch):
the ground floor."""
from __future__ import annotations

from dataclasses import dataclass

#: Every backbone here runs at output stride 8 (the paper's): output cell (i, j) is centred on input pixel (8i, 8j).
#: A model says it as ``model.output_stride``; the losses, the multi-step test and the dashboard read it from there
#: or from here.
OUTPUT_STRIDE = 8


@dataclass(frozen=True)
class Backbone:
    name: str
    width: bool            # takes a width multiplier (else width must be 1.0)
    dcn: bool              # has the deformable convolutions of the paper's blocks 6–7 (dcn may be true)
    imagenet: bool         # pretrained="imagenet" works: its ImageNet weights install with the package
    weights: str           # what a weights file given as ``pretrained`` holds


BACKBONES: dict[str, Backbone] = {
    "resnet38": Backbone("resnet38", width=True, dcn=True, imagenet=False,
                         weights="the resnet38d conversion's naming"),
    "resnet101": Backbone("resnet101", width=False, dcn=True, imagenet=False, weights="torchvision's naming"),
    **{f"efficientnet_lite{i}": Backbone(f"efficientnet_lite{i}", width=True, dcn=False, imagenet=True,
                                         weights="efficientnet_pytorch's naming") for i in (0, 1, 2)},
}


def problems(name: str, width: float = 1.0, dcn: bool = False, pretrained=None) -> list[str]:
    """What is wrong with these settings for backbone ``name``, one sentence each naming the setting and the fix
    (empty: they work).  The model raises ``ValueError`` and the config ``ConfigError`` with the first."""
    if name not in BACKBONES:
        return [f"unknown backbone {name!r}; choose one of {tuple(BACKBONES)}"]
    b, out = BACKBONES[name], []
    if dcn and not b.dcn:
        out.append(f"dcn is not available for {name} (deformable convolutions are ResNet38/101 only); set dcn=false")
    if width != 1.0 and not b.width:
        out.append(f"the {name} backbone has no width multiplier; set width=1.0")
    if pretrained == "imagenet" and not b.imagenet:
        label = {"resnet38": "ResNet38", "resnet101": "ResNet101"}.get(name, name)
        out.append(f"pretrained=imagenet: no package ships {label} ImageNet weights; give the path of a weights file "
                   f"({b.weights}), or use an efficientnet_lite* backbone with pretrained=imagenet")
    return out
