"""A picture of SynthCity for the docs: image | fine labels | coarse labels, read back through the loader.

    python scripts/synthcity_preview.py [--root data/synthcity] [--n 4] [--out docs/synthcity.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import relationnet as rn
from relationnet.data import synthcity

REPO = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=None, help="a SynthCity folder (default: data/synthcity, generated if missing)")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--out", default=str(REPO / "docs" / "synthcity.png"))
    a = p.parse_args(argv)
    root = synthcity.ensure(a.root)
    fine = rn.data.Cityscapes(root, "train", "fine")
    coarse = rn.data.Cityscapes(root, "train", "coarse")
    rows = []
    for i in range(min(a.n, len(fine))):
        img, f, _ = fine.load(i)
        _, c, _ = coarse.load(i)
        gap = np.full((img.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([img, gap, rn.data.colorize(f), gap, rn.data.colorize(c)], 1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows[:-1], 0)).save(a.out)
    print(f"wrote {a.out} (image | fine | coarse, black = unlabelled)")


if __name__ == "__main__":
    main()
