import dataclasses
import hashlib
import json
import os

import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import id2label
from PIL import Image
from torchvision import tv_tensors

import relationnet as rn
from relationnet.data import synthcity
from relationnet.data.synthcity import SynthCityConfig

from conftest import TINY


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_official(root, split="train", city="bremen", n=2, coarse=False, h=16, w=24):
    """A tiny dataset in the official layout with real label ids, incl. 0–6 and license plate (-1 -> 255)."""
    rng = np.random.default_rng(0)
    ids = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 17, 24, 26, 33, 9, 14, 255], dtype=np.uint8)
    names = []
    for i in range(n):
        stem = f"{city}_{i:06d}_000019"
        lbl = ids[rng.integers(0, len(ids), (h, w))]
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = lbl                       # the image carries its own label, to check alignment
        write_png(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", img)
        gt = "gtCoarse" if coarse else "gtFine"
        write_png(root / gt / split / city / f"{stem}_{gt}_labelIds.png", lbl)
        names.append(stem)
    return names


def official_train_id(label_id: int) -> int:
    lab = id2label[label_id if label_id != 255 else -1]
    return 255 if lab.trainId in (-1, 255) else lab.trainId


@pytest.mark.parametrize("coarse", [False, True])
def test_cityscapes_maps_ids_like_cityscapesscripts(tmp_path, coarse):
    names = make_official(tmp_path, coarse=coarse)
    ds = rn.data.Cityscapes(tmp_path, "train", annotation="coarse" if coarse else "fine")
    assert len(ds) == 2 and [ds[i]["name"] for i in range(2)] == names
    s = ds[1]
    assert isinstance(s["image"], tv_tensors.Image) and isinstance(s["label"], tv_tensors.Mask)
    raw = s["image"][0].numpy()                    # label ids, written into the red channel
    expected = np.vectorize(official_train_id)(raw)
    assert np.array_equal(s["label"].numpy(), expected)
    assert set(np.unique(s["label"].numpy())) <= set(range(19)) | {255}
    assert official_train_id(255) == 255 and official_train_id(0) == 255 and official_train_id(26) == 13


def test_label_train_ids_files_are_read_as_they_are(tmp_path):
    img_dir = tmp_path / "leftImg8bit" / "val" / "x"
    write_png(img_dir / "x_0_0_leftImg8bit.png", np.zeros((4, 4, 3), np.uint8))
    write_png(tmp_path / "gtFine" / "val" / "x" / "x_0_0_gtFine_labelTrainIds.png", np.full((4, 4), 13, np.uint8))
    assert rn.data.Cityscapes(tmp_path, "val")[0]["label"].unique().tolist() == [13]


def test_cityscapes_errors_name_the_path(tmp_path):
    with pytest.raises(rn.data.DatasetError, match="nowhere"):
        rn.data.Cityscapes(tmp_path / "nowhere")
    with pytest.raises(rn.data.DatasetError, match=r"leftImg8bit.val"):
        rn.data.Cityscapes(tmp_path, "val")
    (tmp_path / "leftImg8bit" / "val").mkdir(parents=True)
    with pytest.raises(rn.data.DatasetError, match="no \\*_leftImg8bit.png"):
        rn.data.Cityscapes(tmp_path, "val")
    make_official(tmp_path, n=3)
    os.remove(tmp_path / "gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png")
    with pytest.raises(rn.data.DatasetError, match="1 of 3 images have no fine label file, e.g. .*bremen_000001"):
        rn.data.Cityscapes(tmp_path, "train")
    with pytest.raises(ValueError, match="coarse"):
        rn.data.Cityscapes(tmp_path, "train_extra", annotation="fine")


def test_corrupt_png_and_size_mismatch(tmp_path):
    make_official(tmp_path, n=2)
    bad = tmp_path / "leftImg8bit/train/bremen/bremen_000000_000019_leftImg8bit.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ds = rn.data.Cityscapes(tmp_path, "train")
    with pytest.raises(rn.data.DatasetError, match="bremen_000000_000019_leftImg8bit"):
        ds[0]
    write_png(tmp_path / "gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(rn.data.DatasetError, match="bremen_000001_000019_gtFine_labelIds.png is 5×5"):
        ds[1]
    write_png(tmp_path / "gtFine/train/bremen/bremen_000001_000019_gtFine_labelIds.png", np.zeros((16, 24, 3), np.uint8))
    with pytest.raises(rn.data.DatasetError, match="mode 'RGB'"):
        ds[1]


def test_pascal_context_layout_and_errors(tmp_path):
    with pytest.raises(rn.data.DatasetError, match="train.txt"):
        rn.data.PascalContext(tmp_path)
    (tmp_path / "ImageSets/SegmentationContext").mkdir(parents=True)
    (tmp_path / "ImageSets/SegmentationContext/train.txt").write_text("2008_000002\n2008_000003\n")
    (tmp_path / "JPEGImages").mkdir()
    for i in ("2008_000002", "2008_000003"):
        Image.fromarray(np.full((10, 12, 3), 100, np.uint8)).save(tmp_path / "JPEGImages" / f"{i}.jpg")
    with pytest.raises(rn.data.DatasetError, match="2 of 2 images have no context label file"):
        rn.data.PascalContext(tmp_path)
    write_png(tmp_path / "SegmentationClassContext/2008_000002.png", np.full((10, 12), 59, np.uint8))
    write_png(tmp_path / "SegmentationClassContext/2008_000003.png", np.full((10, 12), 61, np.uint8))
    ds = rn.data.PascalContext(tmp_path)
    assert ds[0]["label"].unique().tolist() == [59] and ds[0]["image"].shape == (3, 10, 12)
    with pytest.raises(rn.data.DatasetError, match="2008_000003.png holds ids \\[61\\]"):
        ds[1]
    assert len(rn.data.PASCAL_CONTEXT_CLASSES) == 60 and rn.data.PASCAL_CONTEXT_PALETTE.shape == (60, 3)


def test_colorize_uses_official_palette():
    lab = np.array([[0, 13], [255, 18]])
    rgb = rn.data.colorize(lab)
    assert tuple(rgb[0, 0]) == id2label[7].color and tuple(rgb[0, 1]) == id2label[26].color
    assert tuple(rgb[1, 0]) == (0, 0, 0) and tuple(rgb[1, 1]) == id2label[33].color
    with pytest.raises(ValueError):
        rn.data.colorize(np.zeros((2, 2, 2)))


# ------------------------------------------------------------------- SynthCity

def digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.png")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def tiny_synthcity(tiny_root):
    return tiny_root


def test_synthcity_is_read_by_the_cityscapes_loader(tiny_synthcity):
    train = rn.data.Cityscapes(tiny_synthcity, "train")
    val = rn.data.Cityscapes(tiny_synthcity, "val")
    coarse = rn.data.Cityscapes(tiny_synthcity, "train", annotation="coarse")
    extra = rn.data.Cityscapes(tiny_synthcity, "train_extra", annotation="coarse")
    assert (len(train), len(val), len(coarse), len(extra)) == (12, 6, 12, 8)
    classes = set()
    for ds in (train, val):
        for i in range(len(ds)):
            s = ds[i]
            assert s["image"].shape == (3, 64, 128)
            u = set(s["label"].unique().tolist())
            assert u <= set(range(19)) | {255}
            assert len(u - {255}) >= 6
            classes |= u - {255}
    assert len(classes) >= 12, sorted(classes)
    for ds in (coarse, extra):
        share = np.mean([(ds[i]["label"] == 255).float().mean().item() for i in range(len(ds))])
        assert share >= 0.10
    # coarse labels never contradict the fine ones
    for i in range(len(train)):
        f, c = train[i]["label"], coarse[i]["label"]
        assert torch.all((c == 255) | (c == f))


def test_synthcity_class_coverage_default_size(tmp_path):
    """At least 8 classes in any 20 images at the default size (read back from disk)."""
    cfg = SynthCityConfig(num_train=20, num_val=0, num_coarse=0, seed=7)
    synthcity.generate(tmp_path, cfg, workers=1, progress=False)
    ds = rn.data.Cityscapes(tmp_path, "train")
    classes = set()
    for i in range(len(ds)):
        classes |= set(ds[i]["label"].unique().tolist()) - {255}
    assert len(classes) >= 8


def test_synthcity_is_deterministic_and_idempotent(tiny_synthcity, tmp_path):
    again = tmp_path / "again"
    synthcity.generate(again, TINY, workers=1, progress=False)
    assert digest(again) == digest(tiny_synthcity)
    before = {p: p.stat().st_mtime_ns for p in again.rglob("*.png")}
    synthcity.generate(again, TINY, workers=1, progress=False)          # complete: does nothing
    assert before == {p: p.stat().st_mtime_ns for p in again.rglob("*.png")}
    with pytest.raises(FileExistsError, match="other arguments"):
        synthcity.generate(again, SynthCityConfig(num_train=3, num_val=1, num_coarse=1, seed=9), progress=False)


def test_synthcity_interrupted_run_is_finished(tiny_synthcity, tmp_path):
    root = tmp_path / "cut"
    synthcity.generate(root, TINY, workers=1, progress=False)
    # simulate an interruption: the generator's marker instead of the manifest, some files missing, a half-written
    # temp file
    (root / synthcity.MANIFEST).unlink()
    (root / synthcity.IN_PROGRESS).write_text(json.dumps(dataclasses.asdict(TINY)))
    victims = sorted(root.rglob("*_leftImg8bit.png"))[::3]
    for v in victims:
        v.unlink()
    (root / "gtFine/val/valdorf/valdorf_000001_000019_gtFine_labelIds.png").unlink()
    (victims[0].parent / (victims[0].name + ".tmp")).write_bytes(b"half")
    with pytest.raises(rn.data.DatasetError):
        rn.data.Cityscapes(root, "val")       # a reader never silently uses a broken folder
    assert not synthcity.is_complete(root)
    synthcity.generate(root, TINY, workers=2, progress=False)
    assert synthcity.is_complete(root, TINY) and not list(root.rglob("*.tmp"))
    assert digest(root) == digest(tiny_synthcity)


def test_plain_colour_lookup_is_not_enough(tiny_synthcity):
    """A per-colour majority vote fitted on train cannot segment val well: classes are not flat colours."""
    train = rn.data.Cityscapes(tiny_synthcity, "train")
    val = rn.data.Cityscapes(tiny_synthcity, "val")
    def codes(img):
        q = (img.numpy() // 32).astype(np.int64)   # 8 levels per channel
        return q[0] * 64 + q[1] * 8 + q[2]
    votes = np.zeros((512, 19), np.int64)
    for i in range(len(train)):
        s = train[i]
        c, l = codes(s["image"]).ravel(), s["label"].numpy().ravel()
        ok = l != 255
        np.add.at(votes, (c[ok], l[ok]), 1)
    lut = votes.argmax(1)
    cm = rn.metrics.ConfusionMatrix(19)
    for i in range(len(val)):
        s = val[i]
        cm.update(torch.from_numpy(lut[codes(s["image"])]), s["label"])
    assert cm.compute()["miou"] < 0.5


def test_joint_transforms_keep_alignment():
    torch.manual_seed(0)
    h, w = 60, 90
    img = torch.zeros(3, h, w, dtype=torch.uint8)
    lbl = torch.zeros(h, w, dtype=torch.int64)
    for k, (y0, x0) in enumerate([(0, 0), (0, 45), (30, 0), (30, 45)]):
        lbl[y0:y0 + 30, x0:x0 + 45] = k * 3
    img[0] = (lbl * 20).to(torch.uint8)            # the image is drawn from the label
    t = rn.data.train_transform(crop=(48, 64), scale=(0.55, 1.3))
    for _ in range(20):
        i2, l2 = t(tv_tensors.Image(img), tv_tensors.Mask(lbl))
        assert i2.shape == (3, 48, 64) and l2.shape == (48, 64) and l2.dtype == torch.int64
        assert set(l2.unique().tolist()) <= {0, 3, 6, 9, 255}           # no interpolated label values
        red = rn.data.denormalize(i2)[..., 0].astype(int)
        inside = l2 != 255
        # away from region borders the red channel still encodes the label (image not flipped apart from label)
        core = inside.clone()
        for dy in (-2, 0, 2):
            for dx in (-2, 0, 2):
                core &= torch.roll(l2, (dy, dx), (0, 1)) == l2
        assert np.abs(red[core.numpy()] - 20 * l2[core].numpy()).max() <= 3
        assert np.all(red[~inside.numpy()] == 0)                         # padded image is black where label 255


def test_loader_is_seeded(tiny_synthcity):
    ds = rn.data.Cityscapes(tiny_synthcity, "train", transform=rn.data.train_transform(crop=(32, 64)))
    a = next(iter(rn.data.build_loader(ds, 4, True, seed=1, epoch=2, workers=2)))
    b = next(iter(rn.data.build_loader(ds, 4, True, seed=1, epoch=2, workers=2)))
    c = next(iter(rn.data.build_loader(ds, 4, True, seed=1, epoch=3, workers=2)))
    assert a["name"] == b["name"] and torch.equal(a["image"], b["image"])
    assert a["name"] != c["name"] or not torch.equal(a["image"], c["image"])


def test_dataset_loader_by_name(tiny_synthcity):
    train = rn.data.dataset_loader("synthcity", tiny_synthcity, "train", batch_size=4, crop=(32, 48), workers=0)
    b = next(iter(train))
    assert b["image"].shape == (4, 3, 32, 48) and b["image"].dtype == torch.float32
    assert b["label"].shape == (4, 32, 48) and b["label"].dtype == torch.int64
    val = rn.data.dataset_loader("synthcity", tiny_synthcity, "val", batch_size=2, workers=0)
    names = [n for batch in val for n in batch["name"]]
    assert names == [rn.data.Cityscapes(tiny_synthcity, "val")[i]["name"] for i in range(6)]   # in order, all kept
    with pytest.raises(ValueError, match="unknown dataset"):
        rn.data.dataset_loader("kitti", tiny_synthcity)
