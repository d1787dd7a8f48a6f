import pytest
import torch

import relationnet as rn


def test_offsets_order():
    assert rn.ops.OFFSETS[0] == (-1, -1) and rn.ops.OFFSETS[4] == (0, 0) and rn.ops.OFFSETS[8] == (1, 1)
    assert list(rn.ops.OFFSETS) == [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)]


def test_fig3_4x4_by_hand():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)   # rows 1..4, 5..8, 9..12, 13..16
    s = rn.ops.shift_features(x)[0, :, 0]         # (9, 4, 4)
    up = torch.tensor([[0, 0, 0, 0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12.]])
    right = torch.tensor([[2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0], [14, 15, 16, 0.]])
    down_left = torch.tensor([[0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15], [0, 0, 0, 0.]])
    up_left = torch.tensor([[0, 0, 0, 0], [0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11.]])
    assert torch.equal(s[rn.ops.OFFSETS.index((-1, 0))], up)
    assert torch.equal(s[rn.ops.OFFSETS.index((0, 1))], right)
    assert torch.equal(s[rn.ops.OFFSETS.index((1, -1))], down_left)
    assert torch.equal(s[rn.ops.OFFSETS.index((-1, -1))], up_left)
    assert torch.equal(s[4], x[0, 0])


def test_shift_equals_loop_over_offsets():
    x = torch.randn(2, 3, 5, 7)
    s = rn.ops.shift_features(x)
    h, w = x.shape[-2:]
    for k, (dy, dx) in enumerate(rn.ops.OFFSETS):
        ref = torch.zeros_like(x)
        for y in range(h):
            for xx in range(w):
                if 0 <= y + dy < h and 0 <= xx + dx < w:
                    ref[:, :, y, xx] = x[:, :, y + dy, xx + dx]
        assert torch.equal(s[:, k], ref)


def test_pad_value_and_correlation_features():
    x = torch.randn(1, 2, 3, 3)
    s = rn.ops.shift_features(x, pad_value=255.0)
    assert s[0, 0, :, 0, 0].eq(255).all()           # (-1,-1) of the top-left pixel is outside
    c = rn.ops.correlation_features(x)
    assert c.shape == (1, 9, 4, 3, 3)
    assert torch.equal(c[:, :, :2], x.unsqueeze(1).expand(1, 9, 2, 3, 3))
    assert torch.equal(c[:, :, 2:], rn.ops.shift_features(x))


def test_shift_rejects_non_4d():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        rn.ops.shift_features(torch.zeros(3, 4, 4))
