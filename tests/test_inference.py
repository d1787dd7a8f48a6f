import pytest
import torch
from torch import nn

import relationnet as rn
from relationnet.inference import predict, shifted_grid


class ToyStride8(nn.Module):
    """A translation-equivariant stride-8 net: one 9×9 conv, stride 8, padding 4 (cell i centred on 8i)."""

    def __init__(self, k=3):
        super().__init__()
        self.conv = nn.Conv2d(3, k, 9, stride=8, padding=4)

    def dense(self, x):
        return nn.functional.conv2d(x, self.conv.weight, self.conv.bias, stride=1, padding=4)

    def forward(self, x):
        return {"logits": self.conv(x)}


@pytest.mark.parametrize("hw", [(40, 56), (37, 45)])
def test_64_steps_equal_dense_evaluation(hw):
    torch.manual_seed(0)
    net = ToyStride8()
    x = torch.randn(2, 3, *hw)
    grid = shifted_grid(net, x, 64)
    assert grid.shape == (2, 3, *hw)
    assert torch.allclose(grid, net.dense(x), atol=1e-5)
    assert torch.allclose(predict(net, x, steps=64), net.dense(x).softmax(1), atol=1e-5)


def test_4_and_16_steps_hit_their_grid_exactly_and_align_with_1_step():
    torch.manual_seed(0)
    net = ToyStride8()
    x = torch.randn(1, 3, 48, 64)
    dense = net.dense(x)
    for steps, t in [(1, 8), (4, 4), (16, 2)]:
        p = predict(net, x, steps=steps)
        assert p.shape == (1, 3, 48, 64)
        assert torch.allclose(p[..., ::t, ::t], dense[..., ::t, ::t].softmax(1), atol=1e-5)
    # 1-step output at the cell centres equals the network's own output (no offset)
    assert torch.allclose(predict(net, x, 1)[..., ::8, ::8], net(x)["logits"].softmax(1), atol=1e-5)


def test_batched_shifts_equal_a_loop_over_shifts():
    torch.manual_seed(0)
    net = ToyStride8()
    x = torch.randn(2, 3, 32, 40)
    batched = shifted_grid(net, x, 16, chunk=16)
    small_chunks = shifted_grid(net, x, 16, chunk=1)
    loop = torch.zeros_like(batched)
    for p in range(0, 8, 2):
        for q in range(0, 8, 2):
            out = net(nn.functional.pad(x, (q, 6 - q, p, 6 - p)))["logits"]
            for u in range(loop.shape[-2]):
                for v in range(loop.shape[-1]):
                    y, xx = 2 * u, 2 * v
                    if (-y) % 8 == p and (-xx) % 8 == q:
                        loop[..., u, v] = out[..., (y + p) // 8, (xx + q) // 8]
    assert torch.allclose(batched, loop, atol=1e-6) and torch.allclose(small_chunks, batched, atol=1e-6)


def test_predict_with_relationnet_flip_and_scales():
    model = rn.models.RelationNet(5, width=0.125).eval()
    x = torch.randn(1, 3, 40, 52)
    for steps in (1, 4):
        p = predict(model, x, steps=steps, flip=True, scales=(0.75, 1.0))
        assert p.shape == (1, 5, 40, 52)
        assert torch.allclose(p.sum(1), torch.ones(1, 40, 52), atol=1e-5)
    with pytest.raises(ValueError, match="steps"):
        predict(model, x, steps=3)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        predict(model, x[0], steps=1)
