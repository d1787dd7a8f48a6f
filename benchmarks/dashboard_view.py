"""Dashboard view latency at 256×128 on this machine: what one view of the dashboard computes —
the 4-step prediction, the features and similarity maps, and the PCA embedding — for a demo checkpoint
(or an untrained model of the same architecture when ``runs/demo`` does not exist yet). Target ≤ 2 s.

    python benchmarks/dashboard_view.py [--checkpoint runs/demo/alternating/stage1/last]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402
from _common import report  # noqa: E402

import relationnet as rn  # noqa: E402


def view(model, x):
    with torch.no_grad():
        probs = rn.inference.predict(model, x, steps=4)
        out = model(x, return_similarity=True)
    rn.viz.pca_rgb([out["features"][0]])
    if "similarity" in out:
        rn.viz.boundary_map(rn.viz.similarity_probabilities(out["similarity"]))
    return probs.argmax(1)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="runs/demo/alternating/stage1/last")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default="benchmarks/results/dashboard_view.json")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    if Path(a.checkpoint + ".json").is_file():
        model, _ = rn.engine.load_model(a.checkpoint)
        source = a.checkpoint
    else:
        model, source = rn.models.RelationNet(19, width=0.125, dcn=False).eval(), "untrained (no demo checkpoint)"
    t_load = time.perf_counter() - t0
    x = torch.randn(1, 3, 128, 256)
    view(model, x)
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        view(model, x)
        times.append(time.perf_counter() - t)
    report("Dashboard view latency (256×128, CPU, 2 threads; target ≤ 2 s)",
           [{"checkpoint": source, "load s (once, then cached)": t_load, "view s (median)": statistics.median(times)}],
           a.json)


if __name__ == "__main__":
    main()
