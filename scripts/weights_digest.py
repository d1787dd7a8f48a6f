"""Train a few tiny runs and print one digest of their final weights: the check that a change of code leaves
training bit-identical (same machine, same thread count).  ``python scripts/weights_digest.py [--json]``.

The runs: the full model (ResNet38 width 0.125, relation module, SCL) for 2 epochs, the OHEM baseline on
EfficientNet-Lite0 from its ImageNet weights, and three stages of alternating training; each 2-3 steps on a
tiny SynthCity, one thread, no data-loader workers.  tests/test_bit_identical.py holds the digests recorded
before the redesign against today's code.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

RUNS = {
    "full": {"backbone": "resnet38", "width": 0.125, "dcn": False, "relation": True, "similarity": True, "lam": 0.1},
    "lite0_baseline": {"backbone": "efficientnet_lite0", "width": 0.25, "dcn": False, "relation": False,
                       "similarity": False, "lam": 0.0, "pretrained": "imagenet"},
    "alternating": {"backbone": "resnet38", "width": 0.125, "dcn": False, "alternating": True,
                    "stage_epochs": [1, 1, 1]},
}
BASE = {"dataset": "synthcity", "crop": [64, 128], "batch_size": 2, "epochs": 2, "const_epochs": 1,
        "iters_per_epoch": 2, "optimizer": "adamw", "lr": 2e-3, "lr_final": 2e-5, "workers": 0, "eval_every": 1,
        "val_limit": 2, "device": "cpu", "seed": 5}


def machine() -> str:
    from relationnet.machine import cpu_name
    return f"{cpu_name()} | torch {torch.__version__} | 1 thread"


def digest_folder(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("last.safetensors")):
        h.update(str(p.relative_to(folder)).encode())
        for k, v in sorted(load_file(str(p)).items()):
            h.update(k.encode())
            h.update(v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()[:32]


def digests() -> dict:
    from relationnet import config as config_mod
    from relationnet.data import synthcity
    from relationnet.engine.train import train
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = synthcity.generate(tmp / "data", synthcity.SynthCityConfig(num_train=6, num_val=2, num_coarse=4,
                                                                          width=128, height=64, seed=3),
                                  workers=1, progress=False)
        out = {}
        for name, o in RUNS.items():
            cfg = config_mod.from_dict({**BASE, **o, "root": str(root), "name": name})
            train(cfg, tmp / name, progress=False)
            out[name] = digest_folder(tmp / name)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    d = digests()
    print(json.dumps({"machine": machine(), "digests": d}, indent=1) if a.json
          else "\n".join(f"{k}: {v}" for k, v in d.items()) + f"\n({machine()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
