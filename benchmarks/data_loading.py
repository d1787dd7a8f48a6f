"""Loader throughput on SynthCity at a training crop: images/s with 0 and 2 workers, side by side.

    python benchmarks/data_loading.py [--root data/synthcity] [--crop 128x256] [--images 256]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

import relationnet as rn  # noqa: E402
from relationnet.data import synthcity  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=None)
    p.add_argument("--crop", default="128x256", help="HEIGHTxWIDTH of the training crop")
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--json", default="benchmarks/results/data_loading.json")
    a = p.parse_args(argv)
    root = synthcity.ensure(a.root)
    ch, cw = (int(v) for v in a.crop.split("x"))
    ds = rn.data.Cityscapes(root, "train", transform=rn.data.train_transform(crop=(ch, cw)))
    rows = []
    for workers in (0, 2):
        loader = rn.data.build_loader(ds, a.batch, shuffle=True, workers=workers)
        n, t = 0, time.perf_counter()
        for batch in loader:
            n += batch["image"].shape[0]
            if n >= a.images:
                break
        dt = time.perf_counter() - t
        rows.append({"workers": workers, "crop": a.crop, "images": n, "images_per_s": n / dt})
    rows[1]["ratio_vs_0_workers"] = rows[1]["images_per_s"] / rows[0]["images_per_s"]
    rows[0]["ratio_vs_0_workers"] = 1.0
    report("Data loading (SynthCity, train transform)", rows, a.json)


if __name__ == "__main__":
    main()
