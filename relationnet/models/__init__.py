"""RelationNet and its parts, one paper component per file."""
from .deform import DeformableConv2d
from .relation import RelationModule
from .relationnet import BACKBONES, RelationNet
from .resnet38 import ResNet38
from .resnet101 import ResNet101
from .similarity import SimilaritySubnet

__all__ = ["RelationNet", "ResNet38", "ResNet101", "RelationModule", "SimilaritySubnet",
           "DeformableConv2d", "BACKBONES"]
