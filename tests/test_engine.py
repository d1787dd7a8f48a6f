import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_overrides
from PIL import Image
from safetensors.torch import load_file

import relationnet as rn
from relationnet import config as config_mod
from relationnet.engine import checkpoint as ck
from relationnet.engine.evaluate import (OfficialEvalError, boundary_band, cityscapes_official, evaluate,
                                         feature_alignment)
from relationnet.engine.schedule import lr_at
from relationnet.engine.train import train

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ config and schedule

def test_config_presets_load_and_errors(tmp_path):
    for name in config_mod.presets():
        config_mod.load(name)
    cfg = config_mod.load("synthcity_full", ["lam=1", "crop=[64,128]", "relation=false"])
    assert cfg.lam == 1.0 and cfg.crop == [64, 128] and cfg.relation is False
    with pytest.raises(config_mod.ConfigError, match="unknown config key.*'lamda'.*valid keys: name"):
        config_mod.load(None, ["lamda=1"])
    with pytest.raises(config_mod.ConfigError, match="backbone must be one of"):
        config_mod.load(None, ["backbone=vgg"])
    with pytest.raises(config_mod.ConfigError, match="lam must be a number"):
        config_mod.load(None, ["lam=lots"])
    with pytest.raises(config_mod.ConfigError, match="key=value"):
        config_mod.load(None, ["lam"])
    with pytest.raises(config_mod.ConfigError, match="not found"):
        config_mod.load(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("lam: [1\n")
    with pytest.raises(config_mod.ConfigError, match="not valid YAML"):
        config_mod.load(tmp_path / "bad.yaml")
    with pytest.raises(config_mod.ConfigError, match="similarity"):
        config_mod.load(None, ["similarity=false", "lam=0.1"])


def test_paper_schedule():
    assert lr_at(0, 60, 35, 5e-4, 5e-6) == 5e-4
    assert lr_at(35, 60, 35, 5e-4, 5e-6) == 5e-4
    assert lr_at(47.5, 60, 35, 5e-4, 5e-6) == pytest.approx((5e-4 + 5e-6) / 2)
    assert lr_at(60, 60, 35, 5e-4, 5e-6) == pytest.approx(5e-6)


# ------------------------------------------------------------------ checkpoints

def test_checkpoint_roundtrip_and_bad_files(tmp_path):
    model = rn.models.RelationNet(5, width=0.125, dcn=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32))["logits"].sum().backward()
    opt.step()
    meta = {"model": model.config(), "epoch": 3, "step": 7, "classes": ["a"] * 5}
    ck.save_checkpoint(tmp_path / "c", model, meta, opt)
    assert not list(tmp_path.glob("*.tmp"))
    loaded, meta2 = ck.load_model(tmp_path / "c.json")
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    opt2 = torch.optim.SGD(loaded.parameters(), lr=0.5, momentum=0.9)
    ck.restore(tmp_path / "c", loaded, opt2)
    assert opt2.param_groups[0]["lr"] == 0.1
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[i]["momentum_buffer"], s2[i]["momentum_buffer"]) for i in s1)
    # truncated tensors
    st = tmp_path / "c.safetensors"
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])
    with pytest.raises(ck.CheckpointError, match="c.safetensors does not match"):
        ck.load_model(tmp_path / "c")
    with pytest.raises(ck.CheckpointError, match="not a readable safetensors"):
        ck.load_checkpoint(tmp_path / "c", verify=False)
    # foreign / corrupt metadata
    (tmp_path / "f.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ck.CheckpointError, match="f.json is not a relationnet checkpoint"):
        ck.load_model(tmp_path / "f.json")
    (tmp_path / "g.json").write_bytes(b"\x00\xff garbage")
    with pytest.raises(ck.CheckpointError, match="g.json is not a readable checkpoint"):
        ck.load_model(tmp_path / "g")
    with pytest.raises(ck.CheckpointError, match="not found"):
        ck.load_model(tmp_path / "missing")
    # weights of another architecture
    other = rn.models.RelationNet(7, width=0.125)
    ck.save_checkpoint(tmp_path / "o", other, {"model": model.config()})
    with pytest.raises(ck.CheckpointError, match="does not fit"):
        ck.load_model(tmp_path / "o")


def test_no_unpickling_anywhere():
    """Every torch.load in the code passes weights_only=True; nothing imports pickle."""
    for path in (REPO / "relationnet").rglob("*.py"):
        text = path.read_text()
        for i, line in enumerate(text.splitlines()):
            if "torch." + "load(" in line:     # spelled apart so this guard is not itself a hit
                assert "weights_only=True" in line, f"{path}:{i + 1}"
        assert "import pickle" not in text, path


# ------------------------------------------------------------------ metrics of the evaluation module

def test_boundary_band_hand_case():
    lab = torch.zeros(1, 6, 6, dtype=torch.long)
    lab[:, :, 3:] = 1
    lab[0, 0, 0] = 255
    band = boundary_band(lab, width=1)[0]
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[:, 2:4] = True             # the columns either side of the 0|1 edge
    expected[0:2, 0:2] = True           # neighbours of the ignore pixel count as near a label change
    expected[0, 0] = False              # the ignore pixel itself is never scored
    assert torch.equal(band, expected)


def test_feature_alignment_hand_case():
    labels = torch.tensor([[[0, 0, 1]]])
    f = torch.zeros(1, 2, 1, 3)
    f[0, :, 0, 0] = torch.tensor([1.0, 0.0])
    f[0, :, 0, 1] = torch.tensor([1.0, 1.0])
    f[0, :, 0, 2] = torch.tensor([0.0, 1.0])
    r = feature_alignment(f, labels)
    c = 1 / np.sqrt(2)
    assert r["within"] == pytest.approx(c) and r["across"] == pytest.approx(c) and r["score"] == pytest.approx(0)
    f[0, :, 0, 1] = torch.tensor([1.0, 0.0])    # now aligned: same inside class 0, orthogonal across
    r = feature_alignment(f, labels)
    assert r["within"] == pytest.approx(1) and r["across"] == pytest.approx(0) and r["score"] == pytest.approx(1)
    assert r["pairs_within"] == 1 and r["pairs_across"] == 1


# ------------------------------------------------------------------ official evaluation

def _official_fixture(tmp_path, n=3, h=20, w=30):
    rng = np.random.default_rng(0)
    gts, preds = [], []
    for i in range(n):
        train_ids = rng.integers(0, 19, (h, w))
        train_ids[:2] = 255
        label_ids = np.where(train_ids == 255, 0, rn.data.TRAIN_ID_TO_LABEL_ID[np.clip(train_ids, 0, 18)])
        p = tmp_path / f"c_{i:06d}_000019_gtFine_labelIds.png"
        Image.fromarray(label_ids.astype(np.uint8)).save(p)
        gts.append(p)
        pred = np.where(rng.random((h, w)) < 0.6, np.clip(train_ids, 0, 18), rng.integers(0, 19, (h, w)))
        preds.append((f"c_{i}", pred.astype(np.uint8)))
    return gts, preds


def test_official_evaluation_agrees_with_core_metrics(tmp_path):
    gts, preds = _official_fixture(tmp_path)
    assert not hasattr(np, "in1d") or np.__version__ < "2.4"
    res = cityscapes_official(preds, gts, workdir=tmp_path / "w")
    assert not hasattr(np, "in1d") or np.__version__ < "2.4"      # the shim is removed again
    cm = rn.metrics.ConfusionMatrix(19)
    for (_, p), g in zip(preds, gts):
        cm.update(torch.from_numpy(p.astype(np.int64)),
                  torch.from_numpy(rn.data.LABEL_ID_TO_TRAIN_ID[np.array(Image.open(g))].astype(np.int64)))
    core = cm.compute()
    for tid, name in enumerate(rn.data.CITYSCAPES_CLASSES):
        assert res["per_class"][name] == pytest.approx(core["iou"][tid], abs=1e-9)
    assert res["iou_class"] == pytest.approx(core["miou"], abs=1e-9)
    assert np.isnan(res["iiou_class"])          # no instanceIds files here


def test_official_evaluation_size_mismatch_is_an_error_not_an_exit(tmp_path):
    gts, preds = _official_fixture(tmp_path, n=1)
    preds = [(preds[0][0], np.zeros((5, 5), np.uint8))]
    with pytest.raises(OfficialEvalError, match="widths|heights"):
        cityscapes_official(preds, gts)


def test_official_evaluation_with_instances_on_synthcity(tiny_root):
    vset = rn.data.Cityscapes(tiny_root, "val")
    gts = [lbl for _, lbl, _ in vset.items]
    preds = [(name, vset.load(i)[1].clip(0, 18)) for i, (_, _, name) in enumerate(vset.items)]
    res = cityscapes_official(preds, gts)
    assert res["iou_class"] == pytest.approx(1.0) and res["iiou_class"] == pytest.approx(1.0)


# ------------------------------------------------------------------ training

def test_training_learns_something(tiny_root, tmp_path):
    cfg = config_mod.load("synthcity_baseline", tiny_overrides(tiny_root, epochs=4, const_epochs=3, iters_per_epoch=6,
                                                               eval_every=4, lr=3e-3))
    res = train(cfg, tmp_path / "run", progress=False)["final"]
    rows = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss_total"] < rows[0]["loss_total"]
    # a constant predictor (the most frequent training class everywhere)
    counts = torch.zeros(19)
    for s in rn.data.Cityscapes(tiny_root, "train"):
        lab = s["label"][s["label"] != 255]
        counts += torch.bincount(lab, minlength=19)
    cm = rn.metrics.ConfusionMatrix(19)
    for s in rn.data.Cityscapes(tiny_root, "val"):
        cm.update(torch.full_like(s["label"], int(counts.argmax())), s["label"])
    assert res["val_miou"] > cm.compute()["miou"]
    assert (tmp_path / "run/best.json").is_file() and (tmp_path / "run/last.safetensors").is_file()


def test_alternating_training_three_stages(tiny_root, tmp_path):
    cfg = config_mod.load("synthcity_full", tiny_overrides(tiny_root, alternating=True, stage_epochs=[1, 1, 1],
                                                           iters_per_epoch=2, lam=0.5))
    train(cfg, tmp_path / "alt", progress=False)
    logs = {s: [json.loads(x) for x in (tmp_path / f"alt/{s}/metrics.jsonl").read_text().splitlines()]
            for s in ("stage1", "stage2", "stage3")}
    assert logs["stage1"][0]["loss_scl"] > 0 and logs["stage3"][0]["loss_scl"] > 0
    assert logs["stage2"][0]["loss_scl"] == 0
    assert logs["stage2"][0]["loss_total"] == pytest.approx(logs["stage2"][0]["loss_ohem"])
    assert ck.read_meta(tmp_path / "alt/stage2/last")["annotation"] == "coarse"
    # weights carry over: stage 2 starts from stage 1's last weights (its untouched similarity subnet stays equal)
    w1 = load_file(str(tmp_path / "alt/stage1/last.safetensors"))
    w2 = load_file(str(tmp_path / "alt/stage2/last.safetensors"))
    sim = [k for k in w1 if k.startswith("model.similarity.classify")]
    assert sim and all(torch.equal(w1[k], w2[k]) for k in sim)
    assert not torch.equal(w1["model.classifier.1.weight"], w2["model.classifier.1.weight"])
    assert json.loads((tmp_path / "alt/results.json").read_text()).keys() == {"stage1", "stage2", "stage3"}


def _train_cmd(root, out, **kw):
    over = tiny_overrides(root, **kw)
    return [sys.executable, "-m", "relationnet.cli", "train", "synthcity_full", "--out", str(out), "--no-progress",
            *[f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in over.items()]]


def test_kill_and_resume_is_bit_identical(tiny_root, tmp_path):
    kw = dict(epochs=4, const_epochs=2, iters_per_epoch=3, eval_every=1)
    subprocess.run(_train_cmd(tiny_root, tmp_path / "straight", **kw), check=True, capture_output=True)
    proc = subprocess.Popen(_train_cmd(tiny_root, tmp_path / "cut", **kw), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = tmp_path / "cut/metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if log.is_file() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ck.read_meta(tmp_path / "cut/last")["epoch"] < 4
    subprocess.run(_train_cmd(tiny_root, tmp_path / "cut", **kw), check=True, capture_output=True)
    a = load_file(str(tmp_path / "straight/last.safetensors"))
    b = load_file(str(tmp_path / "cut/last.safetensors"))
    model_keys = [k for k in a if k.startswith("model.") or k.startswith("optim.")]
    assert all(torch.equal(a[k], b[k]) for k in model_keys)
    drop = lambda rows: [{k: v for k, v in json.loads(r).items() if k not in ("sec", "cpu_sec")} for r in rows]
    assert drop((tmp_path / "straight/metrics.jsonl").read_text().splitlines()) == \
        drop((tmp_path / "cut/metrics.jsonl").read_text().splitlines())
    # a save killed inside its write: the next run finishes the folder and says what it did
    (tmp_path / "cut/last.safetensors.tmp").write_bytes(b"partial")
    (tmp_path / "cut/.tmpK1lLed").write_bytes(b"partial")
    r = subprocess.run(_train_cmd(tiny_root, tmp_path / "cut", **kw), check=True, capture_output=True, text=True)
    assert "last: dropped an unfinished save" in r.stderr and "removed 1 temporary file" in r.stderr
    assert not (tmp_path / "cut/last.safetensors.tmp").exists() and not (tmp_path / "cut/.tmpK1lLed").exists()


def test_ddp_gloo_two_processes_equal_single_process(tiny_root, tmp_path):
    # the distributed mechanics on the from-scratch ResNet38 (deterministic to 1e-5 over these steps)
    kw = dict(epochs=1, const_epochs=1, iters_per_epoch=3, crop=[64, 128], scale=[1.0, 1.0], flip=False,
              freeze_bn=True, dropout=0.0, lam=0.1, optimizer="sgd", lr=0.01, backbone="resnet38", pretrained=None)
    subprocess.run(_train_cmd(tiny_root, tmp_path / "single", **kw), check=True, capture_output=True)
    cmd = _train_cmd(tiny_root, tmp_path / "ddp", **kw)
    ddp = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *cmd[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(ddp, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    a = load_file(str(tmp_path / "single/last.safetensors"))
    b = load_file(str(tmp_path / "ddp/last.safetensors"))
    for k in a:
        if k.startswith("model."):
            assert torch.allclose(a[k], b[k], atol=1e-5), k
    ra = json.loads((tmp_path / "single/metrics.jsonl").read_text())
    rb = json.loads((tmp_path / "ddp/metrics.jsonl").read_text())
    assert rb["val_miou"] == pytest.approx(ra["val_miou"], abs=1e-4)


def test_evaluate_and_cli_predict(tiny_root, tmp_path):
    model = rn.models.RelationNet(19, width=0.125, dcn=False)
    cfg = config_mod.load("synthcity_full", tiny_overrides(tiny_root))
    ck.save_checkpoint(tmp_path / "m", model, {"model": model.config(), "config": cfg.to_dict(),
                                               "palette": rn.data.CITYSCAPES_PALETTE.tolist()})
    vset = rn.data.Cityscapes(tiny_root, "val", transform=rn.data.eval_transform())
    r1 = evaluate(model, vset, 19, steps=1, progress=False)
    r4 = evaluate(model, vset, 19, steps=4, progress=False)
    assert 0 <= r1["miou"] <= 1 and 0 <= r4["boundary_miou"] <= 1
    from relationnet.cli import main
    img = next((tiny_root / "leftImg8bit/val").rglob("*.png"))
    assert main(["predict", str(tmp_path / "m"), str(img), "--out", str(tmp_path / "p"), "--steps", "4"]) == 0
    pred = np.array(Image.open(next((tmp_path / "p").glob("*_trainIds.png"))))
    assert pred.shape == (64, 128) and pred.max() < 19
    assert (tmp_path / "p" / f"{img.stem}_color.png").is_file()
    assert main(["eval", str(tmp_path / "m"), "--steps", "1", "--official", "--limit", "3",
                 "--json", str(tmp_path / "e.json")]) == 0
    assert "official" in json.loads((tmp_path / "e.json").read_text())
    (tmp_path / "bad.json").write_text("{}")
    assert main(["predict", str(tmp_path / "bad"), str(img)]) == 2


def test_a_run_folder_of_another_configuration_is_refused(tiny_root, tmp_path):
    cfg = config_mod.load("synthcity_baseline", tiny_overrides(tiny_root, epochs=1, const_epochs=1, iters_per_epoch=1,
                                                              backbone="resnet38", pretrained=None, width=0.125))
    train(cfg, tmp_path / "run", progress=False)
    other = config_mod.load("synthcity_baseline", tiny_overrides(tiny_root, epochs=1, const_epochs=1, iters_per_epoch=1,
                                                                backbone="resnet38", pretrained=None, width=0.25))
    with pytest.raises(config_mod.ConfigError, match=r"another configuration \(differs in width\)"):
        train(other, tmp_path / "run", progress=False)
    # what does not change the result (the folder of the data, the name) does not count
    same = config_mod.load("synthcity_baseline", tiny_overrides(tiny_root, epochs=1, const_epochs=1, iters_per_epoch=1,
                                                               backbone="resnet38", pretrained=None, width=0.125,
                                                               name="renamed", workers=1))
    train(same, tmp_path / "run", progress=False)


def test_config_differences_ignore_what_does_not_change_a_run():
    base = config_mod.load(None)
    assert config_mod.differences(base, config_mod.load(None, {"name": "x", "root": "/elsewhere", "workers": 0})) == []
    assert config_mod.differences(base, config_mod.load(None, {"stage_epochs": [1, 1, 1]})) == []   # not alternating
    alt = config_mod.load(None, {"alternating": True})
    assert config_mod.differences(alt, config_mod.load(None, {"alternating": True, "stage_epochs": [1, 1, 1]})) == \
        ["stage_epochs"]
    assert config_mod.differences(base, config_mod.load(None, {"lam": 1.0, "width": 0.5})) == ["lam", "width"]
    assert config_mod.fingerprint(base) == config_mod.fingerprint(config_mod.load(None, {"name": "other"}))
    older = {k: v for k, v in base.to_dict().items() if k not in ("stage2_lam", "start_stage")}   # saved before they existed
    assert config_mod.differences(older, base) == [] and config_mod.fingerprint(older) == config_mod.fingerprint(base)


def test_evaluation_cache_adds_only_missing_steps(tiny_root, tmp_path, monkeypatch):
    """A cached 1-step result is kept and only the 4-step test runs; another checkpoint starts afresh."""
    from relationnet.experiments import runs as demo
    model = rn.models.RelationNet(19, width=0.125, dcn=False)
    cfg = config_mod.load("synthcity_full", tiny_overrides(tiny_root))
    meta = {"model": model.config(), "config": cfg.to_dict(), "palette": rn.data.CITYSCAPES_PALETTE.tolist()}
    ck.save_checkpoint(tmp_path / "m", model, meta)
    first = demo.evaluate_run(tmp_path / "m", cfg, steps=(1,), progress=False)
    calls = []
    real = demo.evaluate
    monkeypatch.setattr(demo, "evaluate", lambda *a, **k: calls.append(k["steps"]) or real(*a, **k))
    both = demo.evaluate_run(tmp_path / "m", cfg, steps=(1, 4), progress=False)
    assert calls == [4] and both["step1"] == first["step1"] and "step4" in both
    assert demo.evaluate_run(tmp_path / "m", cfg, steps=(1, 4), progress=False) == both and calls == [4]
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    ck.save_checkpoint(tmp_path / "m", model, meta)          # new weights: the cache no longer applies
    demo.evaluate_run(tmp_path / "m", cfg, steps=(1, 4), progress=False)
    assert calls == [4, 1, 4]


def test_sigterm_stops_training_like_ctrl_c(tiny_root, tmp_path):
    """`kill PID` (also the only way to stop a job started with `&`, which ignores SIGINT): exit 130, the message
    says how to continue, the last checkpoint loads, and the rerun finishes the run."""
    kw = dict(epochs=6, const_epochs=2, iters_per_epoch=3, eval_every=1)
    proc = subprocess.Popen(_train_cmd(tiny_root, tmp_path / "run", **kw), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "run/last.json").is_file():      # the first epoch is saved
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; rerun the same command to continue" in err and "Traceback" not in err
    assert 1 <= ck.read_meta(tmp_path / "run/last")["epoch"] < 6
    subprocess.run(_train_cmd(tiny_root, tmp_path / "run", **kw), check=True, capture_output=True)
    assert ck.read_meta(tmp_path / "run/last")["epoch"] == 6


def test_sigterm_to_the_whole_job_with_data_workers_is_a_stop_not_an_error(tiny_root, tmp_path):
    """SIGTERM to the whole job (a scheduler's stop; `pkill -f` reaches the data workers too), the workers first:
    the command says it was interrupted, with no traceback (PyTorch's workers die of a SIGTERM their parent did
    not send, and the main process printed 'DataLoader worker ... killed by signal: Terminated' with a traceback
    from the loader's cleanup, or exited with that as its error)."""
    import os
    kw = dict(epochs=6, const_epochs=2, iters_per_epoch=3, eval_every=1, workers=1)
    proc = subprocess.Popen(_train_cmd(tiny_root, tmp_path / "run", **kw), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "run/last.json").is_file():
        time.sleep(0.05)
    workers = []
    while time.time() < deadline and not workers:         # the next epoch's worker, loading batches
        workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        time.sleep(0.05)
    for pid in [*workers, proc.pid]:    # the workers first, as `pkill -f` may order it
        os.kill(pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; rerun the same command to continue" in err and "Traceback" not in err and "error" not in err
    subprocess.run(_train_cmd(tiny_root, tmp_path / "run", **kw), check=True, capture_output=True)
    assert ck.read_meta(tmp_path / "run/last")["epoch"] == 6


def test_a_kill_inside_a_checkpoint_save_is_finished_or_dropped(tmp_path):
    """The two states a SIGKILL can leave inside save_checkpoint, made by hand, and a full disk."""
    model = rn.models.RelationNet(5, width=0.125, dcn=False)
    meta = {"model": model.config(), "epoch": 1, "step": 1}
    ck.save_checkpoint(tmp_path / "c", model, meta)
    old_st, old_js = (tmp_path / "c.safetensors").read_bytes(), (tmp_path / "c.json").read_text()
    # killed before the first rename: both temporary files exist -> dropped, the old checkpoint stands
    (tmp_path / "c.safetensors.tmp").write_bytes(b"partial")
    (tmp_path / "c.json.tmp").write_text("{")
    assert ck.finish_interrupted_save(tmp_path / "c") == "dropped an unfinished save"
    assert not list(tmp_path.glob("*.tmp")) and (tmp_path / "c.safetensors").read_bytes() == old_st
    # killed between the renames: new tensors in place, old JSON, the new JSON complete in c.json.tmp
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    ck.save_checkpoint(tmp_path / "n", model, {**meta, "epoch": 2})
    (tmp_path / "n.safetensors").replace(tmp_path / "c.safetensors")
    (tmp_path / "n.json").replace(tmp_path / "c.json.tmp")
    with pytest.raises(ck.CheckpointError, match="does not match"):        # as a reader would find it
        ck.load_model(tmp_path / "c")
    assert ck.finish_interrupted_save(tmp_path / "c").startswith("completed")
    loaded, m = ck.load_model(tmp_path / "c")
    assert m["epoch"] == 2 and torch.equal(next(loaded.parameters()), next(model.parameters()))
    assert ck.finish_interrupted_save(tmp_path / "c") is None
    # killed inside safetensors' own write (seen in the SIGKILL campaign: it writes '.tmp' + six random letters and
    # digits next to the target, then renames): the left-over is removed, other files stay
    (tmp_path / ".tmpL0wQaY").write_bytes(b"partial tensors")
    (tmp_path / ".tmpnotes").write_text("a user's")
    assert ck.finish_interrupted_save(tmp_path / "c") is None                     # not the checkpoint's own files
    assert ck.finish_interrupted_saves(tmp_path, ("c", "best")) == ["removed 1 temporary file(s) of a killed tensor write"]
    assert not (tmp_path / ".tmpL0wQaY").exists() and (tmp_path / ".tmpnotes").is_file()
    assert ck.load_model(tmp_path / "c")[1]["epoch"] == 2
    # a full disk while writing: a clear error, no temporary files, the previous checkpoint intact
    import errno
    from relationnet.engine import checkpoint as ckmod

    def full(*a, **k):
        Path(a[1]).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    before = (tmp_path / "c.safetensors").read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ckmod, "save_file", full)
        with pytest.raises(ck.CheckpointError, match="No space left on device.*previous checkpoint is intact"):
            ck.save_checkpoint(tmp_path / "c", model, meta)
    assert not list(tmp_path.glob("*.tmp")) and (tmp_path / "c.safetensors").read_bytes() == before
    ck.load_model(tmp_path / "c")
    assert old_js != (tmp_path / "c.json").read_text()


def test_a_demo_rerun_reports_the_logged_training_time(demo_runs, tiny_root, tmp_path):
    """A rerun reuses everything and takes seconds; its page still says how long training took (from the logs)."""
    import shutil
    from conftest import TINY_DEMO
    from relationnet.experiments.demo import run_demo
    out = tmp_path / "demo"
    shutil.copytree(demo_runs, out)
    logged = sum(json.loads(line)["sec"] for log in out.rglob("metrics.jsonl") for line in log.read_text().splitlines())
    summary = run_demo(out, size="ci", root=str(tiny_root), device="cpu", app=False, progress=False, extra=TINY_DEMO)
    assert summary["logged_train_seconds"] == pytest.approx(logged, abs=0.2)
    page = re.search(r"Training took (\d+\.\d) min on cpu", (out / "results.md").read_text())
    assert page, "the page names the logged training time"
    # the page rounds the summed (per-run rounded) seconds to 0.1 min: equal to the logs up to that rounding
    assert abs(float(page.group(1)) - logged / 60) <= 0.05 + 0.2 / 60 + 1e-9


def test_training_never_removes_a_metrics_file_it_did_not_write(tiny_root, tmp_path):
    """Starting afresh in a folder without a checkpoint removes only a log this trainer wrote (a first epoch cut short,
    its last line half written); a user's own metrics.jsonl stops the run, byte for byte as it was."""
    cfg = config_mod.load("synthcity_baseline", tiny_overrides(tiny_root, epochs=1, const_epochs=1, iters_per_epoch=1,
                                                              backbone="resnet38", pretrained=None, width=0.125))
    user = tmp_path / "mine"
    user.mkdir()
    (user / "metrics.jsonl").write_text('{"accuracy": 0.9, "note": "my experiment"}\n')
    before = (user / "metrics.jsonl").read_bytes()
    with pytest.raises(config_mod.ConfigError, match="not written by this trainer"):
        train(cfg, user, progress=False)
    assert (user / "metrics.jsonl").read_bytes() == before and not (user / "last.json").exists()
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "metrics.jsonl").write_text('{"stage": "", "epoch": 1, "step": 1, "loss_total": 2.0}\n{"stage": "", "ep')
    train(cfg, ours, progress=False)
    rows = [json.loads(line) for line in (ours / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1] and "sec" in rows[0]                 # the new run's line alone
