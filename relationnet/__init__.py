"""RelationNet: deep-aligned representations for semantic segmentation (Zhuang et al.).

    import relationnet as rn
    model = rn.models.RelationNet(num_classes=19, backbone="resnet38", width=0.125)
"""
from . import data, engine, inference, losses, metrics, models, ops, viz

__version__ = "0.1.0"
__all__ = ["models", "ops", "losses", "metrics", "data", "inference", "engine", "viz"]
