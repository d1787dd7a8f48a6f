"""Segmentation metrics from a confusion matrix: pixel accuracy, mean accuracy, mIoU.

Rows of the matrix are ground truth, columns predictions.  Pixels whose target is the
ignore index are skipped.  Averaging rule: a class enters the mean accuracy only when it
occurs in the ground truth, and the mIoU only when it occurs in the ground truth or the
prediction (its union is non-empty); a class absent from both is ``nan`` in ``iou`` and is
left out of the means.  This matches the Cityscapes and Pascal Context evaluation tools.
"""
from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if torch.is_tensor(x):
        return x
    raise TypeError(f"expected a torch tensor or numpy array, got {type(x).__name__}")


class ConfusionMatrix:
    def __init__(self, num_classes: int, ignore_index: int = 255):
        if num_classes < 1:
            raise ValueError(f"num_classes must be ≥ 1, got {num_classes}")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.mat = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    @classmethod
    def from_matrix(cls, matrix, ignore_index: int = 255) -> "ConfusionMatrix":
        """A matrix already counted (rows: true class, columns: predicted), e.g. one saved as an array."""
        m = _as_tensor(matrix)
        if m.dim() != 2 or m.shape[0] != m.shape[1] or m.dtype.is_floating_point:
            raise ValueError(f"expected a square integer matrix, got shape {tuple(m.shape)} of {m.dtype}")
        cm = cls(m.shape[0], ignore_index)
        cm.mat = m.to(torch.int64).clone()
        return cm

    def reset(self) -> None:
        self.mat.zero_()

    def update(self, pred, target) -> None:
        """Add a batch: ``pred`` and ``target`` integer class ids of the same (any) shape."""
        pred, target = _as_tensor(pred), _as_tensor(target)
        if pred.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}; "
                             "pass class ids (argmax over the class dimension), not scores")
        if pred.dtype.is_floating_point or target.dtype.is_floating_point:
            raise TypeError("ConfusionMatrix.update expects integer class ids")
        k = self.num_classes
        pred, target = pred.reshape(-1).long().cpu(), target.reshape(-1).long().cpu()
        valid = target != self.ignore_index
        pred, target = pred[valid], target[valid]
        if target.numel() and (target.min() < 0 or target.max() >= k):
            raise ValueError(f"target holds ids outside 0..{k - 1} other than the ignore index {self.ignore_index}")
        if pred.numel() and (pred.min() < 0 or pred.max() >= k):
            raise ValueError(f"prediction holds ids outside 0..{k - 1}")
        self.mat += torch.bincount(target * k + pred, minlength=k * k).view(k, k)

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        """Add another matrix (e.g. from another process) into this one; returns self."""
        if other.num_classes != self.num_classes:
            raise ValueError("cannot merge confusion matrices of different sizes")
        self.mat += other.mat
        return self

    def compute(self) -> dict:
        m = self.mat.double()
        tp = m.diag()
        gt, pr = m.sum(1), m.sum(0)
        union = gt + pr - tp
        total = m.sum()
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
        acc = torch.where(gt > 0, tp / gt.clamp(min=1), torch.full_like(tp, float("nan")))
        return {
            "pixel_acc": float(tp.sum() / total) if total > 0 else float("nan"),
            "mean_acc": float(acc[gt > 0].mean()) if (gt > 0).any() else float("nan"),
            "miou": float(iou[union > 0].mean()) if (union > 0).any() else float("nan"),
            "iou": iou.tolist(),
        }
