"""Batch norm folded into the convolutions (inference): the same outputs as the eval-mode model, by hand on one
convolution and end to end on each backbone."""
import pytest
import torch
from torch import nn

import relationnet as rn
from relationnet.models.fold import count_batchnorms, fold_batchnorm


def test_one_fold_by_hand():
    """conv then BN = one conv with w·γ/√(σ²+ε) and (b − μ)·γ/√(σ²+ε) + β, written out."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)).eval()
    bn = seq[1]
    bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-1, 1)
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = seq[0].weight * s.view(-1, 1, 1, 1)
    b = (seq[0].bias - bn.running_mean) * s + bn.bias
    folded = fold_batchnorm(seq)
    assert isinstance(folded[1], nn.Identity) and isinstance(seq[1], nn.BatchNorm2d)     # the original is kept
    torch.testing.assert_close(folded[0].weight, w)
    torch.testing.assert_close(folded[0].bias, b)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(folded(x), seq(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,width,dcn,left", [("efficientnet_lite0", 0.25, False, 0), ("resnet101", 1.0, True, 0),
                                                 ("resnet38", 0.125, True, 37)])
def test_folded_model_equals_the_eval_model(name, width, dcn, left):
    """Every batch norm after a convolution goes (ResNet38's pre-activation ones stay: ``left``), and the logits,
    features and similarity map are the eval-mode model's to float rounding, with non-trivial statistics."""
    torch.manual_seed(0)
    m = rn.models.RelationNet(19, name, width=width, dcn=dcn).eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5), mod.running_var.uniform_(0.5, 2.0)
    f = fold_batchnorm(m)
    assert count_batchnorms(f) == left < count_batchnorms(m)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        a, b = m(x, return_similarity=True), f(x, return_similarity=True)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=1e-3 * a[k].abs().max().item())
