"""RelationNet: deep-aligned representations for semantic segmentation (Zhuang et al.).

    import relationnet as rn
    model = rn.models.RelationNet(num_classes=19, backbone="resnet38", width=0.125)

The subpackages are imported on first use (``rn.models`` imports torch and the models then), so that the
command line answers ``--help`` at once.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["models", "ops", "losses", "metrics", "data", "inference", "engine", "viz", "load"]
_SUBMODULES = {"models", "ops", "losses", "metrics", "data", "inference", "engine", "viz", "config", "experiments",
               "notebook"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "load":
        from .engine.checkpoint import load_run
        return load_run
    raise AttributeError(f"module 'relationnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | {"load"})
