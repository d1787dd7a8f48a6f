"""Prediction at input resolution: single-step and the multi-step shifted test (Fig. 5, Sec. II-C).

RelationNet's output cell ``(i, j)`` is centred on input pixel ``(8i, 8j)``; bilinear
upsampling fills the 7 pixels between two centres by interpolation, which blurs small
objects and contours.  The multi-step test shifts the input so that the centres land
on the pixels in between and interleaves the results:

* ``steps = s²`` with ``s`` in {1, 2, 4, 8}: the shifts are multiples of ``t = 8 / s``
  pixels along each axis, so pixels on a stride-``t`` grid are predicted directly;
* copy ``(p, q)`` is the image zero-padded by ``p`` rows on top and ``q`` columns on the
  left (zero is the mean colour after normalisation, and what the convolutions pad
  with), so its cell ``(i, j)`` is centred on original pixel ``(8i − p, 8j − q)``; all
  copies have the same size and run **as one batch** (``chunk`` copies at a time);
* the stride-``t`` grid is filled to full resolution by bilinear interpolation between
  grid points (:func:`relationnet.ops.upsample.upsample_centered`).  ``steps=64`` predicts
  every pixel directly, which for a translation-equivariant stride-8 network equals a
  dense stride-1 evaluation; ``steps=1`` is plain (centre-aligned) bilinear upsampling.

``predict`` works for any module whose forward returns ``{"logits": ...}`` at stride 8
and returns softmax probabilities (B, K, H, W).  Optional horizontal flip and
multi-scale averaging (of probabilities) are extras, off by default.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .backbones import OUTPUT_STRIDE
from .ops.upsample import upsample_centered

STRIDE = OUTPUT_STRIDE
VALID_STEPS = (1, 4, 16, 64)


def _logits(model, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out["logits"] if isinstance(out, dict) else out


def shifted_grid(model, images: torch.Tensor, steps: int, chunk: int = 16) -> torch.Tensor:
    """Logits on the stride-``8/√steps`` grid: (B, K, ceil(H/t), ceil(W/t)), entry (u, v) at pixel (t·u, t·v)."""
    s = math.isqrt(steps)
    t = STRIDE // s
    b, _, h, w = images.shape
    pads = torch.arange(s) * t                                   # p in {0, t, …, 8 − t}
    total = STRIDE - t
    copies = [F.pad(images, (int(q), total - int(q), int(p), total - int(p))) for p in pads for q in pads]
    batch = torch.cat(copies, 0)                                 # (s²·B, 3, H + 8 − t, W + 8 − t)
    outs = [_logits(model, batch[i:i + chunk * b]) for i in range(0, batch.shape[0], chunk * b)]
    out = torch.cat(outs, 0)
    k, oh, ow = out.shape[1:]
    out = out.view(s, s, b, k, oh, ow)
    U, V = -(-h // t), -(-w // t)
    y = torch.arange(U) * t
    x = torch.arange(V) * t
    p_y, p_x = (-y) % STRIDE, (-x) % STRIDE                      # which copy centres a cell on y
    iy, ix = (y + p_y) // STRIDE, (x + p_x) // STRIDE            # and which cell of it
    grid = out[(p_y // t)[:, None], (p_x // t)[None, :], :, :, iy[:, None], ix[None, :]]   # (U, V, B, K)
    return grid.permute(2, 3, 0, 1).contiguous()


@torch.no_grad()
def predict(model, images: torch.Tensor, steps: int = 1, chunk: int = 16, flip: bool = False,
            scales: tuple[float, ...] = (1.0,)) -> torch.Tensor:
    """Class probabilities (B, K, H, W) at input resolution with the ``steps``-step shifted test."""
    if steps not in VALID_STEPS:
        raise ValueError(f"steps must be one of {VALID_STEPS}, got {steps}")
    if not torch.is_tensor(images) or images.dim() != 4:
        raise ValueError(f"predict expects (B, 3, H, W) images, got "
                         f"{tuple(images.shape) if torch.is_tensor(images) else type(images).__name__}")
    h, w = images.shape[-2:]
    t = STRIDE // math.isqrt(steps)
    probs = None
    for scale in scales:
        x = images if scale == 1.0 else F.interpolate(images, scale_factor=scale, mode="bilinear",
                                                      align_corners=False)
        for flipped in ((False, True) if flip else (False,)):
            xi = x.flip(-1) if flipped else x
            grid = shifted_grid(model, xi, steps, chunk)
            p = upsample_centered(grid.float(), tuple(xi.shape[-2:]), t).softmax(1)
            if flipped:
                p = p.flip(-1)
            if scale != 1.0:
                p = F.interpolate(p, size=(h, w), mode="bilinear", align_corners=False)
            probs = p if probs is None else probs + p
    return probs / (len(scales) * (2 if flip else 1))
