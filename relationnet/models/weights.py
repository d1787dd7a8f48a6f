"""Reading weight files safely and checking them against a model, for every backbone.

No pickle: ``.safetensors`` files, or ``torch.load(..., weights_only=True)`` for ``.pth`` files; a file that is
not a state dict of tensors, or that does not fit the model key for key, raises a ValueError saying why.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` file or a weights-only ``torch.save`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt, truncated or not a weights file
        raise ValueError(f"cannot read weights from {path}: {type(e).__name__}: {e}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return state


def check_state_dict(net: nn.Module, state: dict, what: str) -> None:
    """Raise a ValueError listing missing keys, unexpected keys and shape mismatches (at most 8 of each)."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{len(v)} {name} ({', '.join(v[:8])}{', …' if len(v) > 8 else ''})"
                 for name, v in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)) if v]
        raise ValueError(f"weights do not match: {what}: " + "; ".join(parts))
