"""The dashboard's and notebooks' drawing functions against hand-worked cases, naive loops and scikit-learn."""
import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix
from sklearn.metrics.pairwise import cosine_similarity

from relationnet import viz
from relationnet.data import eval_transform
from relationnet.data.cityscapes import Cityscapes
from relationnet.engine.evaluate import compare
from relationnet.inference import predict
from relationnet.metrics import ConfusionMatrix
from relationnet.ops import OFFSETS


def test_cosine_affinity_equals_scikit_learn():
    f = torch.randn(1, 16, 5, 7, generator=torch.Generator().manual_seed(0))
    flat = f[0].reshape(16, -1).T.numpy()
    for y, x in ((0, 0), (2, 3), (4, 6)):
        ref = cosine_similarity(flat[y * 7 + x][None], flat)[0].reshape(5, 7)
        np.testing.assert_allclose(viz.cosine_affinity(f, y, x), ref, atol=1e-6)
    assert viz.cosine_affinity(f, 2, 3)[2, 3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="outside the 5×7"):
        viz.cosine_affinity(f, 5, 0)
    with pytest.raises(ValueError, match=r"\(C, h, w\)"):
        viz.cosine_affinity(torch.zeros(3, 4), 0, 0)


def test_neighbour_grid_follows_offsets_and_truth_by_hand():
    probs = np.stack([np.full((3, 4), k / 10) for k in range(9)])
    grid = viz.neighbour_grid(probs, 1, 1)
    for k, (dy, dx) in enumerate(OFFSETS):
        assert grid[1 + dy, 1 + dx] == pytest.approx(k / 10)
    lab = np.array([[1, 1, 2, 2],
                    [1, 1, 2, 255],
                    [3, 1, 2, 2]])
    nan = np.nan
    np.testing.assert_array_equal(viz.neighbour_truth(lab, 1, 1), [[1, 1, 0], [1, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(viz.neighbour_truth(lab, 0, 0), [[nan, nan, nan], [nan, 1, 1], [nan, 1, 1]])
    np.testing.assert_array_equal(viz.neighbour_truth(lab, 1, 2), [[0, 1, 1], [0, 1, nan], [0, 1, 1]])
    assert np.isnan(viz.neighbour_truth(lab, 1, 3)).all()                         # an ignore cell


def test_affinity_contrast_by_hand():
    aff = np.array([[1.0, 0.8, 0.1],
                    [0.6, 0.2, -0.4]])
    lab = np.array([[5, 5, 7],
                    [5, 255, 7]])
    same, other = viz.affinity_contrast(aff, lab, 0, 0)
    assert same == pytest.approx((0.8 + 0.6) / 2) and other == pytest.approx((0.1 - 0.4) / 2)
    assert all(np.isnan(v) for v in viz.affinity_contrast(aff, lab, 1, 1))


def test_agreement_map_and_row_normalised_by_hand():
    lab = np.array([[0, 1, 2, 255]])
    a = np.array([[0, 1, 0, 0]])
    b = np.array([[0, 0, 2, 1]])
    m = viz.agreement_map(a, b, lab)
    c = viz.AGREEMENT_COLOURS
    assert [tuple(v) for v in m[0]] == [c["both right"], c["only A right"], c["only B right"], c["ignore"]]
    assert tuple(viz.agreement_map(a, a, np.array([[1, 0, 1, 255]]))[0, 0]) == c["both wrong"]
    cm = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    np.testing.assert_allclose(viz.row_normalised(cm), [[0.75, 0.25, 0], [np.nan] * 3, [0.25, 0.25, 0.5]])


def test_band_view_colours_the_band_of_a_naive_loop():
    rng = np.random.default_rng(0)
    lab = np.zeros((12, 14), np.int64)
    lab[:, 7:] = 3
    lab[2:5, 2:4] = 255
    pred = rng.integers(0, 4, lab.shape)
    band = np.zeros(lab.shape, bool)                          # within 1 px (Chebyshev) of a label change
    for y in range(12):
        for x in range(14):
            win = lab[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
            band[y, x] = len(np.unique(win)) > 1 and lab[y, x] != 255
    rgb = np.full((12, 14, 3), 200, np.uint8)
    out = viz.band_view(rgb, pred, lab, band, dim=0.5)
    for y in range(12):
        for x in range(14):
            want = ((40, 200, 70) if pred[y, x] == lab[y, x] else (235, 40, 40)) if band[y, x] else (100, 100, 100)
            assert tuple(out[y, x]) == want, (y, x)


class _Fixed(torch.nn.Module):
    """A stand-in model: class = a fixed function of the pixel's red channel, at output stride 8."""
    def __init__(self, k: int, shift: int):
        super().__init__()
        self.k, self.shift = k, shift

    def forward(self, x):
        r = torch.nn.functional.avg_pool2d(x[:, :1], 8)
        ids = ((r * 3).floor().long() + self.shift) % self.k
        return {"logits": torch.nn.functional.one_hot(ids[:, 0], self.k).permute(0, 3, 1, 2).float()}


def test_compare_counts_equal_scikit_learn_and_a_naive_loop(tiny_root):
    ds = Cityscapes(tiny_root, "val", transform=eval_transform())
    models = [_Fixed(19, 0), _Fixed(19, 1)]
    seen = []
    res = compare(models, ds, 19, limit=3, band_width=2, callback=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and len(res["images"]) == 3
    preds = [[predict(m, ds[i]["image"][None], steps=1).argmax(1)[0].numpy() for i in range(3)] for m in models]
    labels = [ds[i]["label"].numpy() for i in range(3)]
    for m in range(2):
        t = np.concatenate([l.ravel() for l in labels])
        p = np.concatenate([q.ravel() for q in preds[m]])
        keep = t != 255
        np.testing.assert_array_equal(res["confusion"][m], confusion_matrix(t[keep], p[keep], labels=range(19)))
    for i, im in enumerate(res["images"]):
        lab, pa, pb = labels[i], preds[0][i], preds[1][i]
        valid = lab != 255
        assert im["scored"] == valid.sum()
        assert im["correct"] == [((pa == lab) & valid).sum(), ((pb == lab) & valid).sum()]
        assert im["only"] == [((pa == lab) & (pb != lab) & valid).sum(), ((pb == lab) & (pa != lab) & valid).sum()]
    # the band confusion counts only pixels within 2 px of a label change
    lab = labels[0]
    h, w = lab.shape
    band = np.array([[len(np.unique(lab[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3])) > 1 and lab[y, x] != 255
                      for x in range(w)] for y in range(h)])
    one = compare(models[:1], ds, 19, limit=1, band_width=2)
    np.testing.assert_array_equal(one["band_confusion"][0],
                                  confusion_matrix(lab[band], preds[0][0][band], labels=range(19)))
    assert one["images"][0]["only"] == one["images"][0]["correct"]            # alone, "only" is "right"
    with pytest.raises(ValueError, match="at least one model"):
        compare([], ds, 19)


def test_compare_keeps_what_the_browser_shows_within_its_budget(tiny_root):
    from relationnet.models import RelationNet
    ds = Cityscapes(tiny_root, "val", transform=eval_transform())
    torch.manual_seed(0)
    models = [RelationNet(19, backbone="resnet38", width=0.125, dcn=False).eval() for _ in range(2)]
    res = compare(models, ds, 19, limit=3, keep_bytes=10**9)
    assert sorted(res["kept"]) == [0, 1, 2]
    with torch.no_grad():
        for i in range(3):
            x = ds[i]["image"][None]
            for m, (pred, feat) in zip(models, res["kept"][i]):
                np.testing.assert_array_equal(pred, predict(m, x, steps=1).argmax(1)[0].numpy())
                torch.testing.assert_close(feat, m(x)["features"][0].half())
    one = sum(p.nbytes + f.numel() * 2 for p, f in res["kept"][0])
    assert sorted(compare(models, ds, 19, limit=3, keep_bytes=2 * one)["kept"]) == [0, 1]     # the budget holds
    assert compare(models, ds, 19, limit=2)["kept"] == {}                                      # nothing by default
    assert all(f is None for _, f in compare(models, ds, 19, limit=1, steps=4, keep_bytes=10**9)["kept"][0])


def test_confusion_matrix_from_a_saved_matrix():
    cm = ConfusionMatrix.from_matrix(np.array([[3, 1], [0, 4]]))
    r = cm.compute()
    assert r["iou"] == pytest.approx([3 / 4, 4 / 5]) and r["pixel_acc"] == pytest.approx(7 / 8)
    with pytest.raises(ValueError, match="square integer"):
        ConfusionMatrix.from_matrix(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="square integer"):
        ConfusionMatrix.from_matrix(np.ones((2, 2)))
