"""The phase-split depthwise convolution against PyTorch's dilated convolution (values and gradients)."""
import pytest
import torch
import torch.nn.functional as F

from relationnet.ops.atrous import DepthwiseConv2d, phase_split_depthwise_conv2d


@pytest.mark.parametrize("weight_grad", ["auto", "phases"])
@pytest.mark.parametrize("k,d,h,w", [(3, 2, 8, 8), (5, 2, 7, 9), (3, 4, 16, 32), (5, 4, 13, 6), (5, 3, 11, 10), (3, 1, 5, 5)])
def test_equals_dilated_conv_in_values_and_gradients(k, d, h, w, weight_grad):
    torch.manual_seed(k * 100 + d * 10 + h)
    c = 6
    x = torch.randn(2, c, h, w, dtype=torch.float64, requires_grad=True)
    wt = torch.randn(c, 1, k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(c, dtype=torch.float64, requires_grad=True)
    ref = F.conv2d(x, wt, b, padding=d * (k // 2), dilation=d, groups=c)
    got = phase_split_depthwise_conv2d(x, wt, b, d, weight_grad)
    torch.testing.assert_close(got, ref)
    g = torch.randn_like(ref)
    gr = torch.autograd.grad(ref, (x, wt, b), g)
    gg = torch.autograd.grad(got, (x, wt, b), g)
    for a, e in zip(gg, gr):
        torch.testing.assert_close(a, e)


def test_module_keeps_conv2d_parameters_and_switch():
    torch.manual_seed(0)
    m = DepthwiseConv2d(8, 5, dilation=2)
    assert set(m.state_dict()) == {"weight"} and m.weight.shape == (8, 1, 5, 5)
    x = torch.randn(1, 8, 12, 10)
    slow = DepthwiseConv2d(8, 5, dilation=2, phase_split=False)
    slow.load_state_dict(m.state_dict())
    torch.testing.assert_close(m(x), slow(x), rtol=1e-5, atol=1e-5)
    assert m(x).shape == x.shape
    assert DepthwiseConv2d(8, 3, stride=2)(x).shape == (1, 8, 6, 5)


def test_bad_weight():
    with pytest.raises(ValueError, match="depthwise weight"):
        phase_split_depthwise_conv2d(torch.randn(1, 4, 8, 8), torch.randn(4, 1, 4, 4), None, 2)
    with pytest.raises(ValueError, match="depthwise weight"):
        phase_split_depthwise_conv2d(torch.randn(1, 4, 8, 8), torch.randn(3, 1, 3, 3), None, 2)
    with pytest.raises(ValueError, match="weight_grad"):
        phase_split_depthwise_conv2d(torch.randn(1, 4, 8, 8), torch.randn(4, 1, 3, 3), None, 2, "dilated")


@pytest.mark.parametrize("k", [3, 5])      # 4×5 phase maps: autograd through the phases (k = 3), the Function (k = 5)
def test_gradients_pass_a_numerical_gradcheck(k):
    """Finite differences, independent of any convolution kernel's backward."""
    torch.manual_seed(k)
    x = torch.randn(1, 3, 7, 9, dtype=torch.float64, requires_grad=True)
    wt = torch.randn(3, 1, k, k, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: phase_split_depthwise_conv2d(a, b, None, 2), (x, wt))


def test_mixed_precision_gradients_come_back_in_their_inputs_dtype():
    """Under autocast the forward runs in half precision and the backward outside it (the training loop's AMP)."""
    torch.manual_seed(0)
    x = torch.randn(2, 8, 12, 24, requires_grad=True)
    wt = torch.randn(8, 1, 5, 5, requires_grad=True)                  # 3×6 phases, 5×5 kernel: the Function's path
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = phase_split_depthwise_conv2d(x, wt, None, 4)
        ref = F.conv2d(x, wt, padding=8, dilation=4, groups=8)
    assert got.dtype == ref.dtype == torch.bfloat16
    g = torch.randn(got.shape).to(torch.bfloat16)
    for a, e in zip(torch.autograd.grad(got, (x, wt), g), torch.autograd.grad(ref, (x, wt), g)):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, e, rtol=2e-2, atol=2e-2 * e.abs().max().item())
