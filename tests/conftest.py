import os
import random

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

from relationnet.data import synthcity  # noqa: E402

#: A SynthCity small enough to train on in seconds.
TINY = synthcity.SynthCityConfig(num_train=12, num_val=6, num_coarse=8, width=128, height=64, seed=3)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "synthcity"
    synthcity.generate(root, TINY, workers=2, progress=False)
    return root


def tiny_overrides(root, **kw):
    """Config overrides for a seconds-long training run on the tiny SynthCity."""
    base = {"dataset": "synthcity", "root": str(root), "width": 0.125, "dcn": False, "crop": [64, 128],
            "batch_size": 4, "epochs": 2, "const_epochs": 1, "iters_per_epoch": 3, "optimizer": "adamw",
            "lr": 2e-3, "lr_final": 2e-5, "workers": 0, "eval_every": 1, "device": "cpu"}
    base.update(kw)
    return base


TINY_DEMO = {"iters_per_epoch": 2, "epochs": 1, "const_epochs": 1, "stage_epochs": [1, 1, 1], "crop": [64, 128],
             "val_limit": 6, "eval_every": 1}


@pytest.fixture(scope="session")
def demo_runs(tiny_root, tmp_path_factory):
    """The demo's runs (baseline, alternating stages 1–3) trained for a few steps on the tiny SynthCity."""
    from relationnet.experiments.demo import run_demo
    out = tmp_path_factory.mktemp("runs") / "demo"
    run_demo(out, size="ci", root=str(tiny_root), device="cpu", app=False, progress=False, extra=TINY_DEMO)
    return out
