import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, jaccard_score

import relationnet as rn


def test_matches_sklearn():
    rng = np.random.default_rng(0)
    k = 6
    target = rng.integers(0, k - 1, size=(3, 20, 30))   # class 5 never in the ground truth
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, k - 2, size=target.shape))
    target[0, :5] = 255
    cm = rn.metrics.ConfusionMatrix(k)
    cm.update(torch.from_numpy(pred[:2]), torch.from_numpy(target[:2]))
    cm.update(pred[2:], target[2:])                       # numpy works too
    res = cm.compute()
    valid = target != 255
    yt, yp = target[valid], pred[valid]
    assert np.array_equal(cm.mat.numpy(), confusion_matrix(yt, yp, labels=list(range(k))))
    assert res["pixel_acc"] == pytest.approx(accuracy_score(yt, yp))
    assert res["mean_acc"] == pytest.approx(balanced_accuracy_score(yt, yp))
    present = sorted(set(yt) | set(yp))
    ious = jaccard_score(yt, yp, labels=present, average=None)
    assert res["miou"] == pytest.approx(ious.mean())
    for c, v in zip(present, ious):
        assert res["iou"][c] == pytest.approx(v)
    assert math.isnan(res["iou"][5])


def test_merge_and_reset():
    a, b = rn.metrics.ConfusionMatrix(3), rn.metrics.ConfusionMatrix(3)
    a.update(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]))
    b.update(torch.tensor([2, 2]), torch.tensor([2, 255]))
    a.merge(b)
    assert a.mat.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    a.reset()
    assert a.mat.sum() == 0


def test_bad_input():
    cm = rn.metrics.ConfusionMatrix(3)
    with pytest.raises(ValueError, match="shape"):
        cm.update(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="outside 0..2"):
        cm.update(torch.zeros(2, dtype=torch.long), torch.tensor([0, 7]))
    with pytest.raises(TypeError, match="integer"):
        cm.update(torch.zeros(2), torch.zeros(2, dtype=torch.long))
