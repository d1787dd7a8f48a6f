"""Cost of the multi-step test: 1/4/16/64 steps relative to 1 step (shifted copies batched), side by side.

    python benchmarks/multistep.py [--input-size 128x256] [--width 0.125] [--repeats 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402
from _common import median_time, report  # noqa: E402

import relationnet as rn  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", default="128x256", help="HEIGHTxWIDTH of the input")
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--dcn", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default="benchmarks/results/multistep.json")
    a = p.parse_args(argv)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    h, w = (int(v) for v in a.input_size.lower().split("x"))
    model = rn.models.RelationNet(19, width=a.width, dcn=a.dcn).to(dev).eval()
    x = torch.randn(1, 3, h, w, device=dev)
    rows = []
    for steps in (1, 4, 16, 64):
        t = median_time(lambda: rn.inference.predict(model, x, steps=steps), a.repeats)
        rows.append({"steps": steps, "s / image": t})
    for r in rows:
        r["× 1-step"] = r["s / image"] / rows[0]["s / image"]
    report(f"Multi-step test cost ({h}×{w}, width {a.width}, {dev}; target: 4-step ≤ 3.5× 1-step)", rows, a.json)


if __name__ == "__main__":
    main()
