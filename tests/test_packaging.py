"""The package as its users install it: ranges in pyproject, the tested pins in constraints.txt (what the README
installs), environment.yml written from both; presets inside the package; a fast --help; python -m relationnet."""
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import tiny_overrides

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


def test_environment_yml_is_written_from_pyproject_and_the_constraints():
    assert (ROOT / "environment.yml").read_text() == lock.environment_yml(), "run python scripts/lock.py"


def test_every_pin_is_inside_the_range_pyproject_allows():
    pins = lock.pins()
    for r in lock.requirements():
        req = Requirement(r)
        n = lock.name_of(r)
        assert n in pins, f"{n} has no tested version in constraints.txt"
        assert req.specifier.contains(pins[n], prereleases=True), (r, pins[n])
        assert "==" not in str(req.specifier), f"{r}: an exact pin belongs in constraints.txt, not pyproject"


def test_the_readme_and_ci_install_the_tested_versions():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" -c constraints.txt && .venv/bin/python -m pytest'
    assert test_cmd in readme and test_cmd in ci
    assert '.venv/bin/pip install -e ".[app]" -c constraints.txt && .venv/bin/relationnet demo' in readme


def test_help_and_version_answer_without_importing_torch():
    code = "import sys; from relationnet.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr
    r = subprocess.run([sys.executable, "-m", "relationnet", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "relationnet 0.1.0"


@pytest.mark.slow
def test_a_non_editable_install_trains_a_preset_from_another_folder(tmp_path, tiny_root):
    """The wheel, installed into a fresh venv (its dependencies borrowed from this one), run from an empty folder."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    whl = next(wheels.glob("relationnet-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(whl)],
                   check=True, capture_output=True, timeout=600)
    work = tmp_path / "elsewhere"
    work.mkdir()
    o = tiny_overrides(tiny_root, epochs=1, iters_per_epoch=1, eval_every=5)
    args = [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in o.items()]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(py), "-c", "import relationnet, sys; print(relationnet.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(site), where                      # the installed copy, not the checkout
    r = subprocess.run([str(py), "-m", "relationnet", "train", "synthcity_full", "--out", "run", "--no-progress", *args],
                       cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "run" / "last.json").is_file()
    mode = (work / "run" / "last.safetensors").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask                               # readable as other files are


@pytest.mark.parametrize("fmt", ["torchscript", "pt2"])
def test_export_matches_pytorch_and_loads_without_the_package(tmp_path, fmt):
    import torch

    import relationnet as rn
    from relationnet.cli import main
    from relationnet.engine import checkpoint as ck
    model = rn.models.RelationNet(19, backbone="resnet38", width=0.125, dcn=False).eval()
    ck.save_checkpoint(tmp_path / "run" / "last", model, {"model": model.config()})
    out = tmp_path / f"m.{fmt}"
    assert main(["export", str(tmp_path / "run"), "--format", fmt, "--out", str(out), "--input-size", "64x128"]) == 0
    x = torch.randn(1, 3, 64, 128)
    code = ("import torch, sys; x = torch.load(sys.argv[2], weights_only=True); "
            + ("m = torch.jit.load(sys.argv[1])" if fmt == "torchscript" else "m = torch.export.load(sys.argv[1]).module()")
            + "; torch.save(m(x), sys.argv[3]); assert 'relationnet' not in sys.modules")
    torch.save(x, tmp_path / "x.pt")
    env = {**os.environ, "PYTHONPATH": ""}
    r = subprocess.run([sys.executable, "-I", "-c", code, str(out), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "y.pt", weights_only=True), model(x)["logits"],
                                   rtol=1e-5, atol=1e-5)
    assert main(["export", str(tmp_path / "run"), "--input-size", "60x128"]) == 2


def test_a_failed_export_leaves_the_file_that_was_there(tmp_path):
    import relationnet as rn
    from relationnet.export import export
    model = rn.models.RelationNet(19, backbone="resnet38", width=0.125, dcn=False)
    mine = tmp_path / "model.pt"
    mine.write_bytes(b"the user's own file")
    theirs = tmp_path / "model.pt.tmp"                                  # a file that merely looks like a temporary
    theirs.write_bytes(b"also the user's")
    with pytest.raises(RuntimeError, match="nothing was written"):
        export(model, mine, "torchscript", (64, 128), tol=-1.0)          # no export can pass: it must fail
    assert mine.read_bytes() == b"the user's own file" and theirs.read_bytes() == b"also the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "model.pt.tmp"]
