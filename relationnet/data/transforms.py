"""Joint image/label transforms on ``torchvision.transforms.v2``.

Images are ``tv_tensors.Image`` (uint8, ``(3, H, W)``), labels ``tv_tensors.Mask`` (``(H, W)``):
v2 resizes masks with nearest-neighbour and the crop pads them with 255 (ignore), so labels are
never interpolated.  The paper's training augmentation: random horizontal flip, a random scale in
0.55–1.3 and a random crop (512×1024 on Cityscapes).
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from .labels import IGNORE_INDEX

#: ImageNet statistics (what the ResNet backbones expect).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class RandomScale(v2.Transform):
    """Resize every input by one factor drawn uniformly from ``scale`` (masks with nearest)."""

    def __init__(self, scale: tuple[float, float] = (0.55, 1.3)):
        super().__init__()
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low ≤ high, got {scale}")
        self.scale = tuple(scale)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        s = random.uniform(*self.scale)
        return {"size": [max(1, round(h * s)), max(1, round(w * s))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, (tv_tensors.Image, tv_tensors.Mask)):
            return F.resize(inpt, params["size"], antialias=True)
        return inpt


def _to_float_and_normalize() -> list:
    return [v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True),
            v2.Normalize(MEAN, STD)]


def train_transform(crop: tuple[int, int] = (512, 1024), scale: tuple[float, float] = (0.55, 1.3),
                    flip: bool = True) -> v2.Compose:
    """Flip, random scale, random crop to ``crop = (height, width)`` (padding: image 0, label 255), normalise."""
    if len(crop) != 2 or min(crop) < 1:
        raise ValueError(f"crop must be (height, width) with positive sizes, got {crop}")
    steps = [v2.RandomHorizontalFlip()] if flip else []
    steps += [RandomScale(scale),
              v2.RandomCrop(tuple(int(c) for c in crop), pad_if_needed=True,
                            fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}),
              *_to_float_and_normalize()]
    return v2.Compose(steps)


def eval_transform() -> v2.Compose:
    """Full-resolution evaluation: only the dtype change and normalisation."""
    return v2.Compose(_to_float_and_normalize())


def normalize_image(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``(..., 3, H, W)`` (or float in 0..1) -> the normalised float tensor the models take."""
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif not torch.is_floating_point(x):
        raise ValueError(f"expected a uint8 or float image tensor, got {x.dtype}")
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected (..., 3, H, W), got shape {tuple(x.shape)}")
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - mean) / std


def denormalize(x: torch.Tensor) -> np.ndarray:
    """A normalised ``(3, H, W)`` tensor back to an ``(H, W, 3)`` uint8 image."""
    mean = torch.tensor(MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(3, 1, 1)
    img = (x.detach().float().cpu() * std + mean).clamp(0, 1) * 255
    return img.round().to(torch.uint8).permute(1, 2, 0).numpy()
