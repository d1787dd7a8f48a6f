import itertools

import pytest
import torch

import relationnet as rn
from relationnet.models.resnet38 import ResNet38


def hand_count_resnet38() -> int:
    """Parameters of ResNet38 at width 1.0 counted from the architecture table alone."""
    c3 = lambda a, b: 9 * a * b
    c1 = lambda a, b: a * b
    bn = lambda c: 2 * c
    total = c3(3, 64)
    cin = 64
    for n, mid, out in [(3, 128, 128), (3, 256, 256), (6, 512, 512), (3, 512, 1024)]:
        for i in range(n):
            total += bn(cin) + c3(cin, mid) + bn(mid) + c3(mid, out)
            if i == 0:
                total += c1(cin, out)            # projection: width (and stride) changes
            cin = out
    for a, b, out in [(512, 1024, 2048), (1024, 2048, 4096)]:
        total += bn(cin) + c1(cin, a) + bn(a) + c3(a, b) + bn(b) + c1(b, out) + c1(cin, out)
        cin = out
    return total + bn(4096)


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_resnet38_parameter_count_matches_hand_count():
    trunk = ResNet38(width=1.0, dcn=False)
    assert count(trunk) == hand_count_resnet38()
    assert abs(count(trunk) / 1e6 - 105.1) < 0.1
    full = rn.models.RelationNet(19, "resnet38", width=1.0, dcn=False, relation=False, similarity=False)
    assert 0 < count(full) - count(trunk) < 3_000_000


def test_dcn_starts_as_plain_conv():
    torch.manual_seed(0)
    plain = ResNet38(width=0.125, dcn=False).eval()
    deform = ResNet38(width=0.125, dcn=True).eval()
    sd = {k.replace("conv2.conv.", "conv2."): v for k, v in deform.state_dict().items() if "offset" not in k}
    plain.load_state_dict(sd)
    x = torch.randn(1, 3, 48, 64)
    assert torch.allclose(plain(x), deform(x), atol=1e-4)
    assert set(deform.deformable_convs()) == {"b6.conv2", "b7.conv2"}


@pytest.mark.parametrize("dcn,relation,similarity", list(itertools.product([False, True], repeat=3)))
def test_every_switch_combination_runs(dcn, relation, similarity):
    model = rn.models.RelationNet(19, width=0.125, dcn=dcn, relation=relation, similarity=similarity)
    for h, w in [(96, 160), (101, 171)]:
        model.train()
        out = model(torch.randn(2, 3, h, w))
        oh, ow = -(-h // 8), -(-w // 8)
        assert out["logits"].shape == (2, 19, oh, ow)
        assert out["features"].shape == (2, model.feature_channels, oh, ow)
        assert ("similarity" in out) == similarity
        if similarity:
            assert out["similarity"].shape == (2, 9, oh, ow)
        model.eval()
        with torch.no_grad():
            assert "similarity" not in model(torch.randn(1, 3, h, w))
            if similarity:
                assert model(torch.randn(1, 3, h, w), return_similarity=True)["similarity"].shape == (1, 9, oh, ow)


def test_every_parameter_gets_a_gradient():
    model = rn.models.RelationNet(5, width=0.125, dcn=True, relation=True, similarity=True).train()
    x = torch.randn(2, 3, 64, 96)
    target = torch.randint(0, 5, (2, 64, 96))
    target[:, :, 40:] = (target[:, :, 40:] + 1) % 5
    total, _ = rn.losses.relationnet_loss(model(x), target, lam=1.0, thresh=None)
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_output_cell_is_centred_on_8i_8j():
    """The receptive field (input-gradient support) of cell (i, j) is symmetric about pixel (8i, 8j)."""
    model = rn.models.RelationNet(3, "resnet38", width=0.125, dcn=False, relation=False, similarity=False).eval()
    x = torch.randn(1, 3, 720, 24, requires_grad=True)
    out = model(x)["logits"]
    for i in (out.shape[-2] // 2 - 1, out.shape[-2] // 2):
        x.grad = None
        out[0, :, i, 1].sum().backward(retain_graph=True)
        rows = torch.nonzero(x.grad.abs().sum((0, 1, 3)))[:, 0]
        assert rows.min() > 0 and rows.max() < x.shape[-2] - 1      # not clipped by the border
        assert (rows.min() + rows.max()).item() == 2 * 8 * i


def test_relation_module_batched_gru_equals_loop():
    torch.manual_seed(1)
    m = rn.models.RelationModule(16, hidden=8).eval()
    x = torch.randn(2, 8, 5, 7)
    got = m.sweep(x)
    b, c, h, w = x.shape
    rows = torch.zeros(b, h, w, c)
    with torch.no_grad():
        for i in range(b):
            for y in range(h):
                rows[i, y] = m.gru_lr(x[i, :, y, :].T.unsqueeze(0))[0][0]
        ref = torch.zeros(b, c, h, w)
        for i in range(b):
            for xx in range(w):
                ref[i, :, :, xx] = m.gru_ud(rows[i, :, xx, :].unsqueeze(0))[0][0].T
    assert torch.allclose(got, ref, atol=1e-5)


def test_relation_module_sees_whole_row_and_column():
    m = rn.models.RelationModule(8, hidden=8).eval()
    x = torch.randn(1, 8, 6, 6, requires_grad=True)
    m(x)[0, :, 2, 3].sum().backward()
    g = x.grad.abs().sum(1)[0]
    assert (g > 0).all()   # after both sweeps every input position reaches (2, 3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown backbone"):
        rn.models.RelationNet(19, backbone="vgg16")
    model = rn.models.RelationNet(19, width=0.125)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="width"):
        rn.models.RelationNet(19, backbone="resnet101", width=0.5)
    with pytest.raises(ValueError, match="num_classes"):
        rn.models.RelationNet(1)


def test_resnet101_variant(tmp_path):
    model = rn.models.RelationNet(19, backbone="resnet101", dcn=False, relation=True, similarity=True).train()
    out = model(torch.randn(1, 3, 67, 75))
    assert out["logits"].shape == (1, 19, 9, 10) and out["similarity"].shape == (1, 9, 9, 10)
    # a local weights file: torchvision key names load; a missing or mismatched file is a clear error
    from safetensors.torch import save_file
    from torchvision.models import resnet101
    ref = resnet101(weights=None)
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "r101.safetensors"))
    loaded = rn.models.ResNet101(pretrained=tmp_path / "r101.safetensors")
    assert torch.equal(loaded.layer4[0].conv2.weight, ref.layer4[0].conv2.weight)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        rn.models.ResNet101(pretrained=tmp_path / "nope.pth")
    save_file({"conv1.weight": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="does not match"):
        rn.models.ResNet101(pretrained=tmp_path / "bad.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read weights"):
        rn.models.ResNet101(pretrained=tmp_path / "junk.pth")


def test_fused_similarity_equals_the_literal_fig3_path():
    sub = rn.models.SimilaritySubnet(32).eval()
    f = torch.randn(2, 32, 7, 9)
    assert torch.allclose(sub(f), sub.forward_reference(f), atol=1e-5)
    # gradients agree too
    f.requires_grad_(True)
    g1 = torch.autograd.grad(sub(f).sum(), f)[0]
    g2 = torch.autograd.grad(sub.forward_reference(f).sum(), f)[0]
    assert torch.allclose(g1, g2, atol=1e-5)


def resnet38d_state(width: float) -> dict:
    """A state dict in the naming of the public resnet38d ImageNet conversion, written from the architecture
    table alone (not from the module): random values, a classifier ``fc8`` that the loader drops."""
    s = lambda c: max(4, int(round(c * width)))          # noqa: E731
    g = torch.Generator().manual_seed(0)
    state = {"conv1a.weight": torch.randn(s(64), 3, 3, 3, generator=g)}

    def bn(name, c):
        state.update({f"{name}.weight": torch.rand(c, generator=g), f"{name}.bias": torch.randn(c, generator=g),
                      f"{name}.running_mean": torch.randn(c, generator=g), f"{name}.running_var": torch.rand(c, generator=g) + 0.5,
                      f"{name}.num_batches_tracked": torch.tensor(7)})
    cin = s(64)
    for stage, n, mid, out in (("b2", 3, 128, 128), ("b3", 3, 256, 256), ("b4", 6, 512, 512), ("b5", 3, 512, 1024)):
        for i in range(n):
            name = stage if i == 0 else f"{stage}_{i}"
            bn(f"{name}.bn_branch2a", cin)
            state[f"{name}.conv_branch2a.weight"] = torch.randn(s(mid), cin, 3, 3, generator=g)
            bn(f"{name}.bn_branch2b1", s(mid))
            state[f"{name}.conv_branch2b1.weight"] = torch.randn(s(out), s(mid), 3, 3, generator=g)
            if i == 0:
                state[f"{name}.conv_branch1.weight"] = torch.randn(s(out), cin, 1, 1, generator=g)
            cin = s(out)
    for name, a, b, out in (("b6", 512, 1024, 2048), ("b7", 1024, 2048, 4096)):
        bn(f"{name}.bn_branch2a", cin)
        state[f"{name}.conv_branch2a.weight"] = torch.randn(s(a), cin, 1, 1, generator=g)
        bn(f"{name}.bn_branch2b1", s(a))
        state[f"{name}.conv_branch2b1.weight"] = torch.randn(s(b), s(a), 3, 3, generator=g)
        bn(f"{name}.bn_branch2b2", s(b))
        state[f"{name}.conv_branch2b2.weight"] = torch.randn(s(out), s(b), 1, 1, generator=g)
        state[f"{name}.conv_branch1.weight"] = torch.randn(s(out), cin, 1, 1, generator=g)
        cin = s(out)
    bn("bn7", cin)
    state["fc8.weight"] = torch.randn(1000, cin, 1, 1, generator=g)
    return state


@pytest.mark.parametrize("dcn", [False, True])
def test_resnet38_loads_resnet38d_imagenet_weights(tmp_path, dcn):
    from safetensors.torch import save_file
    state = resnet38d_state(0.125)
    save_file(state, str(tmp_path / "r38d.safetensors"))
    net = ResNet38(width=0.125, dcn=dcn, pretrained=tmp_path / "r38d.safetensors")
    assert torch.equal(net.conv1a.weight, state["conv1a.weight"])
    assert torch.equal(net.b4[3].conv1.weight, state["b4_3.conv_branch2a.weight"])
    assert torch.equal(net.b5[0].shortcut.weight, state["b5.conv_branch1.weight"])
    assert torch.equal(net.b2[2].mid[0].running_var, state["b2_2.bn_branch2b1.running_var"])
    assert torch.equal(net.b6.conv2.weight, state["b6.conv_branch2b1.weight"])      # DCN: the deformable conv's kernel
    assert torch.equal(net.b7.mid2[0].bias, state["b7.bn_branch2b2.bias"])
    assert torch.equal(net.bn7[0].running_mean, state["bn7.running_mean"])
    model = rn.models.RelationNet(19, "resnet38", width=0.125, dcn=dcn, pretrained=tmp_path / "r38d.safetensors")
    assert torch.equal(model.backbone.b3[1].conv2.weight, state["b3_1.conv_branch2b1.weight"])


def test_resnet38_refuses_foreign_weights_naming_the_keys(tmp_path):
    from safetensors.torch import save_file
    state = resnet38d_state(0.125)
    save_file({k: v for k, v in state.items() if not k.startswith("b4_5.")}, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match=r"missing keys \(b4\.5\.pre\.0\.weight"):
        ResNet38(width=0.125, pretrained=tmp_path / "missing.safetensors")
    save_file({**state, "b8.conv_branch2a.weight": torch.zeros(1)}, str(tmp_path / "extra.safetensors"))
    with pytest.raises(ValueError, match=r"unexpected keys \(<b8\.conv_branch2a\.weight>"):
        ResNet38(width=0.125, pretrained=tmp_path / "extra.safetensors")
    save_file(resnet38d_state(0.25), str(tmp_path / "wide.safetensors"))
    with pytest.raises(ValueError, match=r"shape mismatches \(conv1a\.weight: file \(16, 3, 3, 3\) vs model \(8, 3, 3, 3\)"):
        ResNet38(width=0.125, pretrained=tmp_path / "wide.safetensors")


def test_the_backbone_registry_is_the_one_rule_for_the_model_and_the_config():
    """Every setting the registry refuses, the model refuses with a ValueError and the config with a ConfigError,
    with the same sentence; every setting it accepts, the config accepts."""
    from relationnet import config as config_mod
    from relationnet.backbones import BACKBONES, problems
    refused = 0
    for name in BACKBONES:
        for width, dcn, pre in [(1.0, False, None), (0.5, False, None), (1.0, True, None), (1.0, False, "imagenet")]:
            expect = problems(name, width, dcn, pre)
            o = {"backbone": name, "width": width, "dcn": dcn, "pretrained": pre}
            if expect:
                refused += 1
                with pytest.raises(config_mod.ConfigError) as e:
                    config_mod.load(None, o)
                assert str(e.value) == expect[0]
                with pytest.raises(ValueError) as e:
                    rn.models.RelationNet(19, name, width=width, dcn=dcn, pretrained=pre)
                assert str(e.value) == expect[0]
            else:
                assert config_mod.load(None, o).backbone == name
    # by hand: Lite has no DCN (3), ResNet101 no width (1), ResNet38/101 no shipped ImageNet weights (2)
    assert refused == 6


@pytest.mark.parametrize("name", ["resnet38", "resnet101", "efficientnet_lite0"])
def test_output_stride_is_what_the_model_measures(name):
    """model.output_stride, read by the losses and the multi-step test, is the ratio the network really has."""
    width = 1.0 if name == "resnet101" else 0.125
    model = rn.models.RelationNet(19, name, width=width, dcn=False).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 96, 128))["logits"]
    assert (96 // out.shape[-2], 128 // out.shape[-1]) == (model.output_stride, model.output_stride) == (8, 8)
