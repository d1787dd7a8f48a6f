"""Training is bit-identical across refactors: the tiny runs of scripts/weights_digest.py give the digests recorded
before the change (tests/data/weights_digest.json) on the machine that recorded them."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("weights_digest", ROOT / "scripts" / "weights_digest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_tiny_runs_train_to_the_recorded_weights():
    wd = _script()
    recorded = json.loads((ROOT / "tests" / "data" / "weights_digest.json").read_text())["digests"]
    machine = wd.machine()
    if machine not in recorded:
        pytest.skip(f"no digest recorded for {machine!r} (recorded: {sorted(recorded)}); run "
                    "scripts/weights_digest.py --json at the last commit before a change and add it")
    assert wd.digests() == recorded[machine]


def test_the_digest_sees_a_one_bit_change(tmp_path):
    """The digest is of the weights' bytes: flipping one bit of one tensor changes it."""
    import torch
    from safetensors.torch import save_file
    wd = _script()
    t = {"w": torch.arange(6, dtype=torch.float32), "n": torch.tensor(3)}
    (tmp_path / "a").mkdir()
    save_file(t, str(tmp_path / "a" / "last.safetensors"))
    before = wd.digest_folder(tmp_path / "a")
    t["w"].view(torch.int32)[2] ^= 1
    save_file(t, str(tmp_path / "a" / "last.safetensors"))
    assert wd.digest_folder(tmp_path / "a") != before
