"""``relationnet export``: a trained run as a file that runs without this package, checked against PyTorch.

* ``torchscript`` (``.pt``): ``torch.jit.trace`` of the model's logits; ``torch.jit.load(path)(images)`` gives
  (B, K, H/8, W/8) logits for any input size that is a multiple of 8.
* ``pt2``: ``torch.export`` (the successor of TorchScript) at the example size; ``torch.export.load(path).module()``.

After writing, the file is loaded back and its logits are compared with the model's on fresh random inputs (for
TorchScript also at a second size); a difference beyond ``tol`` is an error; the file is written under a temporary name and renamed only when
it passes, so a failed export leaves whatever was at the path as it was.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch

from .backbones import OUTPUT_STRIDE

FORMATS = ("torchscript", "pt2")


class LogitsOnly(torch.nn.Module):
    """The model with the logits as its only output (exporters want tensors, not dicts)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)["logits"]


def export(model: torch.nn.Module, path: str | Path, fmt: str = "torchscript", size: tuple[int, int] = (256, 512),
           tol: float = 1e-4) -> dict:
    """Write ``model`` to ``path`` in ``fmt`` and check it; returns ``{"path", "format", "max_abs_diff"}``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    h, w = size
    s = OUTPUT_STRIDE
    if h % s or w % s or h < 2 * s or w < 2 * s:
        raise ValueError(f"--input-size must be HEIGHTxWIDTH with multiples of {s} of at least {2 * s}, got {h}x{w}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # written and checked under a fresh name of its own: a failed export removes only that file, never one that was
    # at ``path`` or any other file of the user's
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        return _export_to(model, fmt, path, tmp, h, w, tol)
    finally:
        tmp.unlink(missing_ok=True)             # ours (mkstemp made it); gone already after a successful rename


def _export_to(model, fmt: str, path: Path, tmp: Path, h: int, w: int, tol: float) -> dict:
    net = LogitsOnly(model.eval()).eval()
    g = torch.Generator().manual_seed(0)
    example = torch.randn(1, 3, h, w, generator=g)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # the tracer's deprecation and shape notes
        if fmt == "torchscript":
            torch.jit.save(torch.jit.trace(net, example, check_trace=False), str(tmp))
            loaded = torch.jit.load(str(tmp))
            sizes = [(h, w), (h + 16, w + 32)]
        else:
            torch.export.save(torch.export.export(net, (example,)), str(tmp))
            loaded = torch.export.load(str(tmp)).module()
            sizes = [(h, w)]
        diff = 0.0
        for hh, ww in sizes:
            x = torch.randn(2 if fmt == "torchscript" else 1, 3, hh, ww, generator=g)
            diff = max(diff, (loaded(x) - net(x)).abs().max().item())
    if not diff <= tol:
        raise RuntimeError(f"the exported {fmt} model differs from the PyTorch model by {diff:.3g} (> {tol}); "
                           "nothing was written")
    os.replace(tmp, path)
    return {"path": str(path), "format": fmt, "max_abs_diff": diff}
