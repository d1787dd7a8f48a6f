"""EfficientNet-Lite at output stride 8: ImageNet weights load key for key, classify real photos right,
equal timm's independent implementation, keep the (8i, 8j) geometry, and refuse foreign weights clearly."""
import pytest
import torch
import torch.nn.functional as F

import relationnet as rn
from relationnet.config import ConfigError, load
from relationnet.models.efficientnet_lite import EfficientNetLite, imagenet_weights_path

CATS = set(range(281, 288))          # ImageNet's domestic and wild cats (tabby … Egyptian cat, cougar…)
ESPRESSO, CUP = 967, 968


def photo(name: str) -> torch.Tensor:
    skdata = pytest.importorskip("skimage.data")
    im = torch.from_numpy(getattr(skdata, name)()).permute(2, 0, 1)[None].float() / 255
    return rn.data.normalize_image(F.interpolate(im, size=(224, 224), mode="bilinear", align_corners=False))


@pytest.mark.parametrize("variant", ["efficientnet_lite0", "efficientnet_lite2"])
def test_imagenet_classifier_finds_the_right_classes_at_stride_8(variant):
    net = EfficientNetLite(variant, output_stride=8, pretrained=True, classifier=True).eval()
    with torch.no_grad():
        coffee = net.classify(photo("coffee")).topk(5).indices[0].tolist()
        cat = net.classify(photo("chelsea")).topk(5).indices[0].tolist()
    assert {ESPRESSO, CUP} & set(coffee), coffee
    assert coffee[0] in (ESPRESSO, CUP), coffee
    assert CATS & set(cat) and cat[0] in CATS, cat


@pytest.mark.parametrize("variant,output_stride", [("efficientnet_lite0", 8), ("efficientnet_lite1", 16),
                                                   ("efficientnet_lite2", 8)])
def test_equals_timm_with_the_same_weights(variant, output_stride):
    timm = pytest.importorskip("timm")
    ours = EfficientNetLite(variant, output_stride=output_stride, pretrained=True).eval()
    ref = timm.create_model(variant, pretrained=False, output_stride=output_stride).eval()
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3                       # the weights' (TensorFlow) epsilon
    state = torch.load(imagenet_weights_path(variant), weights_only=True, map_location="cpu")
    theirs = [k for k in ref.state_dict() if not k.endswith("num_batches_tracked")]
    file_keys = [k for k in state if not k.endswith("num_batches_tracked")]
    assert len(theirs) == len(file_keys)
    ref.load_state_dict({a: state[b] for a, b in zip(theirs, file_keys)}, strict=False)
    x = torch.randn(2, 3, 72, 136)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref.forward_features(x * ours.in_scale + ours.in_shift),
                                   rtol=1e-4, atol=1e-4)


def test_relationnet_on_lite0_keeps_the_stride_8_geometry():
    model = rn.models.RelationNet(3, "efficientnet_lite0", width=0.125, dcn=False, relation=False,
                                  similarity=False).eval()
    assert model.backbone.out_channels == 1280 and model.feature_channels == 64
    x = torch.randn(1, 3, 1600, 24, requires_grad=True)        # taller than the receptive field
    out = model(x)["logits"]
    assert out.shape[-2:] == (200, 3)
    for i in (out.shape[-2] // 2 - 1, out.shape[-2] // 2):
        x.grad = None
        out[0, :, i, 1].sum().backward(retain_graph=True)
        rows = torch.nonzero(x.grad.abs().sum((0, 1, 3)))[:, 0]
        assert rows.min() > 0 and rows.max() < x.shape[-2] - 1
        assert (rows.min() + rows.max()).item() == 2 * 8 * i
    odd = rn.models.RelationNet(19, "efficientnet_lite0", width=0.125, dcn=False).train()(torch.randn(2, 3, 67, 75))
    assert odd["logits"].shape == (2, 19, 9, 10) and odd["similarity"].shape == (2, 9, 9, 10)


def test_pretrained_relationnet_starts_from_the_imagenet_trunk():
    model = rn.models.RelationNet(19, "efficientnet_lite0", width=0.125, dcn=False, pretrained="imagenet")
    state = torch.load(imagenet_weights_path("efficientnet_lite0"), weights_only=True, map_location="cpu")
    assert torch.equal(model.backbone._blocks[7]._depthwise_conv.weight, state["_blocks.7._depthwise_conv.weight"])


def test_foreign_weights_are_refused_with_the_keys_named(tmp_path):
    from safetensors.torch import save_file
    lite2 = torch.load(imagenet_weights_path("efficientnet_lite2"), weights_only=True, map_location="cpu")
    save_file({k: v.contiguous() for k, v in lite2.items()}, str(tmp_path / "lite2.safetensors"))
    with pytest.raises(ValueError, match=r"shape mismatches \(_conv_head.weight|unexpected keys \(_blocks"):
        EfficientNetLite("efficientnet_lite0", pretrained=tmp_path / "lite2.safetensors")
    lite0 = torch.load(imagenet_weights_path("efficientnet_lite0"), weights_only=True, map_location="cpu")
    partial = {k: v.contiguous() for k, v in lite0.items() if not k.startswith("_blocks.3.")}
    save_file(partial, str(tmp_path / "partial.safetensors"))
    with pytest.raises(ValueError, match=r"missing keys \(_blocks\.3\._expand_conv\.weight"):
        EfficientNetLite("efficientnet_lite0", pretrained=tmp_path / "partial.safetensors")
    r38 = rn.models.ResNet38(width=0.125).state_dict()
    save_file({k: v.contiguous() for k, v in r38.items()}, str(tmp_path / "r38.safetensors"))
    with pytest.raises(ValueError, match="weights do not match"):
        EfficientNetLite("efficientnet_lite0", pretrained=tmp_path / "r38.safetensors")


def test_bad_settings():
    with pytest.raises(ValueError, match="dcn is not available"):
        rn.models.RelationNet(19, "efficientnet_lite0", dcn=True)
    with pytest.raises(ValueError, match="variant"):
        EfficientNetLite("efficientnet_lite9")
    with pytest.raises(ValueError, match="output_stride"):
        EfficientNetLite(output_stride=4)
    with pytest.raises(ValueError, match="no package ships ResNet38"):
        rn.models.RelationNet(19, "resnet38", width=0.125, pretrained="imagenet")
    with pytest.raises(ConfigError, match="pretrained=imagenet"):
        load(None, {"backbone": "resnet38", "pretrained": "imagenet"})
    with pytest.raises(ConfigError, match="dcn is not available"):
        load(None, {"backbone": "efficientnet_lite0", "dcn": True})
