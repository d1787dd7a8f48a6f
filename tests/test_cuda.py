"""The CUDA paths, checked against the CPU: they skip on a machine without a GPU and run under
``scripts/gpu_check.py`` (which lists them on the CPU).  Each compares a CUDA result with the CPU's for the same
weights and inputs, or an AMP step with a float32 step, within a tolerance stated beside it."""
import copy

import pytest
import torch

import relationnet as rn
from relationnet.ops.atrous import phase_split_depthwise_conv2d

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (scripts/gpu_check.py)")
pytestmark = [cuda, pytest.mark.cuda]
BACKBONES = [("resnet38", 0.125, True), ("resnet101", 1.0, True), ("efficientnet_lite0", 1.0, False)]


def _model(name, width, dcn, seed=0):
    torch.manual_seed(seed)
    return rn.models.RelationNet(19, name, width=width, dcn=dcn).eval()


@pytest.mark.parametrize("name,width,dcn", BACKBONES)
def test_forward_on_cuda_equals_the_cpu(name, width, dcn):
    """Logits, features and the similarity map: CUDA (TF32 off) equals the CPU to float32 rounding."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    m = _model(name, width, dcn)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ref = m(x, return_similarity=True)
        got = m.cuda()(x.cuda(), return_similarity=True)
    for k in ("logits", "features", "similarity"):
        torch.testing.assert_close(got[k].cpu(), ref[k], rtol=1e-3, atol=1e-3)


def test_deformable_conv_on_cuda_equals_the_cpu():
    torch.manual_seed(0)
    d = rn.models.DeformableConv2d(8, 8, 3, padding=2, dilation=2)
    torch.nn.init.normal_(d.offset.weight, std=0.5)       # non-zero offsets: bilinear sampling off the grid
    x = torch.randn(2, 8, 20, 24, requires_grad=True)
    y = d(x)
    y.square().sum().backward()
    gx = x.grad.clone()
    dc, xc = copy.deepcopy(d).cuda(), x.detach().cuda().requires_grad_()
    yc = dc(xc)
    yc.square().sum().backward()
    torch.testing.assert_close(yc.cpu(), y, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(xc.grad.cpu(), gx, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("d", [2, 4])
def test_phase_split_depthwise_on_cuda_equals_pytorchs(d):
    """The phase-split dilated depthwise convolution against PyTorch's own on CUDA (values and both gradients)."""
    torch.manual_seed(0)
    x = torch.randn(2, 16, 33, 40, device="cuda", requires_grad=True)
    w = torch.randn(16, 1, 3, 3, device="cuda", requires_grad=True)
    y = phase_split_depthwise_conv2d(x, w, None, d)
    ref = torch.nn.functional.conv2d(x, w, None, 1, d, d, 16)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4)
    g = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, w), g)
    rx, rw = torch.autograd.grad(ref, (x, w), g)
    torch.testing.assert_close(gx, rx, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gw, rw, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("steps", [1, 4, 16])
def test_multistep_test_on_cuda_equals_the_cpu(steps):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    m = _model("resnet38", 0.125, False)
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        ref = rn.inference.predict(m, x, steps=steps)
        got = rn.inference.predict(m.cuda(), x.cuda(), steps=steps)
    torch.testing.assert_close(got.cpu(), ref, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name,width,dcn", BACKBONES)
def test_an_amp_training_step_stays_near_float32(name, width, dcn):
    """One training step (OHEM + 0.1·SCL, AdamW) under float16 autocast moves the weights as float32 does: the
    update's relative difference is small (AMP's rounding, not a wrong path)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 96, device="cuda")
    y = torch.randint(0, 19, (2, 64, 96), device="cuda")
    updates = []
    for amp in (False, True):
        m = _model(name, width, dcn).cuda().train()
        before = [p.detach().clone() for p in m.parameters()]
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            out = m(x, return_similarity=True)
        loss, _ = rn.losses.relationnet_loss({k: v.float() for k, v in out.items()}, y, lam=0.1)
        assert torch.isfinite(loss)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        updates.append(torch.cat([(p.detach() - b).flatten() for p, b in zip(m.parameters(), before)]))
    rel = (updates[1] - updates[0]).norm() / updates[0].norm()
    assert rel < 0.05, f"AMP step differs from float32 by {rel:.3f} of the update"


def test_evaluation_on_cuda_equals_the_cpu(tiny_root):
    from relationnet.engine.evaluate import evaluate
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    m = _model("resnet38", 0.125, False)
    vset = rn.data.build_dataset("synthcity", tiny_root, "val", "fine", rn.data.eval_transform())
    ref = evaluate(m, vset, 19, steps=1, device="cpu", limit=4, progress=False)
    got = evaluate(m.cuda(), vset, 19, steps=1, device=torch.device("cuda"), limit=4, progress=False)
    assert abs(got["miou"] - ref["miou"]) < 1e-3
