"""No command may delete or replace a user's data (issue: reliability, item 1).

Every case builds a folder, runs the command a user would, and compares the folder's files byte for byte
before and after: the reference is the folder itself, not the code's idea of it.
"""
import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys

import pytest

from relationnet.data import synthcity
from relationnet.data._io import DatasetError

from conftest import TINY, tiny_overrides


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "relationnet.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


@pytest.fixture
def custom_set(tiny_root, tmp_path):
    """A user's small SynthCity with one label file gone."""
    root = tmp_path / "mine"
    shutil.copytree(tiny_root, root)
    victim = next(root.glob("gtFine/val/*/*_labelIds.png"))
    victim.unlink()
    return root, victim


@pytest.fixture
def users_cityscapes(tmp_path):
    """A folder in the Cityscapes layout that SynthCity never wrote (a user's own data)."""
    root = tmp_path / "cs"
    for rel in ("leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png",
                "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png", "notes.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    return root


def test_incomplete_synthcity_root_is_an_error_not_a_wipe(custom_set):
    root, victim = custom_set
    before = snapshot(root)
    with pytest.raises(DatasetError, match=r"missing gtFine/val/.*labelIds\.png.*relationnet data synthcity --out"):
        synthcity.ensure(root)
    assert snapshot(root) == before


def test_generator_refuses_a_folder_it_did_not_write(users_cityscapes):
    before = snapshot(users_cityscapes)
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="SynthCity did not write"):
            synthcity.generate(users_cityscapes, TINY, workers=1, progress=False, overwrite=overwrite)
        assert snapshot(users_cityscapes) == before


def test_overwrite_removes_only_what_synthcity_wrote(tiny_root, tmp_path):
    root = tmp_path / "set"
    shutil.copytree(tiny_root, root)
    (root / "gtFine" / "train" / "synthburg" / "my_notes.txt").write_text("mine")
    before = snapshot(root)
    other = dataclasses.replace(TINY, num_train=2)
    with pytest.raises(FileExistsError, match="did not write.*my_notes"):
        synthcity.generate(root, other, workers=1, progress=False, overwrite=True)
    assert snapshot(root) == before
    (root / "gtFine" / "train" / "synthburg" / "my_notes.txt").unlink()
    with pytest.raises(FileExistsError, match="other arguments"):           # no --overwrite: untouched
        synthcity.generate(root, other, workers=1, progress=False)
    synthcity.generate(root, other, workers=1, progress=False, overwrite=True)
    assert synthcity.is_complete(root, other)
    assert len(list(root.glob("leftImg8bit/train/*/*.png"))) == 2


def test_same_arguments_only_adds_missing_files(custom_set):
    """`relationnet data synthcity` on its own folder with a file gone writes that file and touches no other."""
    root, victim = custom_set
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.png")}
    synthcity.generate(root, TINY, workers=1, progress=False)
    assert victim.is_file()
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.png") if p != victim} == before


@pytest.mark.parametrize("verb", ["train", "eval"])
def test_cli_never_generates_at_a_given_root(verb, tmp_path, custom_set, users_cityscapes, tiny_root):
    """`train root=…` and `eval --root …`: a typo, an incomplete set and a user's Cityscapes folder each
    end in one line and exit 2, with nothing written or removed."""
    if verb == "eval":
        run = tmp_path / "run"
        r = cli("train", "synthcity_full", "--out", str(run), "--no-progress",
                *[f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in
                  tiny_overrides(tiny_root, epochs=1, const_epochs=1, iters_per_epoch=1, eval_every=5).items()])
        assert r.returncode == 0, r.stderr
    typo = tmp_path / "synthcty"
    for root in (typo, custom_set[0], users_cityscapes):
        before = snapshot(root) if root.exists() else None
        if verb == "train":
            r = cli("train", "synthcity_full", "--out", str(tmp_path / "t"), "--no-progress",
                    *[f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in tiny_overrides(root).items()])
        else:
            r = cli("eval", str(run / "last.safetensors"), "--root", str(root))
        assert r.returncode == 2, (root, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "relationnet data synthcity --out" in r.stderr
        assert (snapshot(root) if root.exists() else None) == before
    assert not typo.exists()
