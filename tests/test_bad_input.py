"""Bad input a user can make ends in one line and exit 2, with nothing lost (issue: reliability, items 2, 3, 5)."""
import json
import shutil
import subprocess
import sys

import pytest

from conftest import tiny_overrides


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "relationnet.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def overrides(root, **kw):
    return [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in tiny_overrides(root, **kw).items()]


@pytest.fixture
def damaged(tiny_root, tmp_path):
    """A copy of the tiny set with a truncated train label, a label of the wrong size in val, and a val image that is
    not a PNG at all."""
    root = tmp_path / "set"
    shutil.copytree(tiny_root, root)
    lbl = sorted(root.glob("gtFine/train/*/*_labelIds.png"))[0]
    lbl.write_bytes(lbl.read_bytes()[:60])
    from PIL import Image
    val = sorted(root.glob("gtFine/val/*/*_labelIds.png"))[1]
    Image.new("L", (10, 10)).save(val)
    img = sorted(root.glob("leftImg8bit/val/*/*.png"))[2]
    img.write_bytes(b"not a png")
    return root, lbl, val, img


def one_line_error(r):
    assert r.returncode == 2, (r.stdout[-2000:], r.stderr[-2000:])
    err = [ln for ln in r.stderr.strip().splitlines() if "%|" not in ln]
    assert "Traceback" not in r.stderr and len(err) == 1, r.stderr
    return err[0]


def test_data_check_lists_every_bad_file_at_once(damaged, tiny_root):
    root, lbl, val, img = damaged
    r = cli("data", "check", str(root), "--dataset", "synthcity", "--no-progress")
    assert r.returncode == 2
    for p in (lbl, val, img):
        assert p.name in r.stderr, r.stderr
    assert "3 bad file(s)" in r.stderr and "Traceback" not in r.stderr
    ok = cli("data", "check", str(tiny_root), "--dataset", "synthcity", "--no-progress")
    assert ok.returncode == 0 and "every image and label reads" in ok.stdout
    assert "train/coarse: ok" in ok.stdout and "train_extra/coarse: ok" in ok.stdout


def test_a_bad_validation_file_stops_training_before_any_work(damaged, tmp_path):
    root, _, val, img = damaged
    out = tmp_path / "run"
    r = cli("train", "synthcity_full", "--out", str(out), "--no-progress", *overrides(root))
    line = one_line_error(r)
    assert "2 validation file(s) cannot be read" in line and val.name in line and img.name in line
    assert not list(out.rglob("last.json"))                 # no epoch was trained and lost


def test_a_bad_training_label_in_a_loader_worker_is_one_line(damaged, tmp_path, tiny_root):
    root, lbl, val, img = damaged
    shutil.copy(tiny_root / val.relative_to(root), val)     # validation whole again: the error comes from training
    shutil.copy(tiny_root / img.relative_to(root), img)
    r = cli("train", "synthcity_full", "--out", str(tmp_path / "run"), "--no-progress",
            *overrides(root, workers=1, epochs=3, iters_per_epoch=3, batch_size=4))
    line = one_line_error(r)
    assert lbl.name in line and "DataLoader worker" not in line


def test_no_progress_still_logs_each_epoch_and_a_damaged_log_is_survived(tiny_root, tmp_path):
    out = tmp_path / "run"
    r = cli("train", "synthcity_full", "--out", str(out), "--no-progress", *overrides(tiny_root, epochs=2))
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if " epoch " in ln]
    assert len(lines) == 2 and "epoch 2/2: loss " in lines[1] and "val mIoU" in lines[1]
    assert (out / "train.log").read_text().splitlines() == lines
    # a half-written line and one without "epoch", then a resume to 3 epochs with the same constant phase
    log = out / "metrics.jsonl"
    good = log.read_text().splitlines()
    log.write_text("\n".join(good[:1]) + '\n{"epoch": 2, "loss_tot\n{"loss_total": 1.0}\n')
    r = cli("train", "synthcity_full", "--out", str(out), "--no-progress", *overrides(tiny_root, epochs=2))
    assert r.returncode == 0, r.stderr
    assert f"{log} line 2: not JSON" in r.stderr and f"{log} line 3: no integer 'epoch'" in r.stderr
    assert [json.loads(x)["epoch"] for x in log.read_text().splitlines()] == [1]


def test_synthcity_size_beyond_reason_is_one_line(tmp_path):
    line = one_line_error(cli("data", "synthcity", "--out", str(tmp_path / "s"), "--image-size", "100000x100000"))
    assert "at most 4096x2048" in line and not (tmp_path / "s").exists()


def test_predict_caps_a_photo_skips_a_bad_file_and_never_overwrites(tiny_root, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    import relationnet as rn
    from relationnet import config as config_mod
    from relationnet.cli import main
    from relationnet.engine import checkpoint as ck
    model = rn.models.RelationNet(19, width=0.125, dcn=False)
    cfg = config_mod.load("synthcity_full", tiny_overrides(tiny_root))
    ck.save_checkpoint(tmp_path / "m", model, {"model": model.config(), "config": cfg.to_dict()})
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (600, 900, 3), dtype=np.uint8)).save(src / "big.png")
    Image.fromarray(rng.integers(0, 255, (64, 128, 3), dtype=np.uint8)).save(src / "a.png")
    Image.fromarray(rng.integers(0, 255, (64, 128, 3), dtype=np.uint8)).save(src / "a.jpg")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "p"
    assert main(["predict", str(tmp_path / "m"), str(src), "--out", str(out), "--steps", "1", "--max-side", "256",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "1 file(s) skipped" in err and "broken.png" in err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a_jpg_color.png", "a_jpg_trainIds.png", "a_png_color.png", "a_png_trainIds.png",
                     "big_color.png", "big_trainIds.png"]
    assert np.array(Image.open(out / "big_trainIds.png")).shape == (600, 900)    # labels at the photo's size
    assert main(["predict", str(tmp_path / "m"), str(src / "a.png"), "--max-side", "10"]) == 2
