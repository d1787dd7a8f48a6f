"""Statistics of a SynthCity (or any Cityscapes-layout) folder, read back through the loader.

    python scripts/synthcity_stats.py [--root data/synthcity] [--limit 500]

Prints the share of each class among labelled fine pixels, classes per image, the unlabelled share
of fine and coarse labels, and the val mIoU of a plain colour look-up (a per-colour majority vote
fitted on train, 8 levels per channel): how far colour alone gets.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import relationnet as rn
from relationnet.data import synthcity


def colour_codes(img: np.ndarray) -> np.ndarray:
    q = (img // 32).astype(np.int64)
    return q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=None)
    p.add_argument("--limit", type=int, default=500, help="images per split to read")
    a = p.parse_args(argv)
    root = Path(a.root) if a.root else synthcity.ensure()
    train, val = rn.data.Cityscapes(root, "train"), rn.data.Cityscapes(root, "val")
    votes, counts, per_image, unl_fine = np.zeros((512, 19), np.int64), np.zeros(19), [], []
    for i in range(min(a.limit, len(train))):
        img, lab, _ = train.load(i)
        c, lab = colour_codes(img).ravel(), lab.ravel()
        ok = lab != 255
        np.add.at(votes, (c[ok], lab[ok]), 1)
        counts += np.bincount(lab[ok], minlength=19)
        per_image.append(len(np.unique(lab[ok])))
        unl_fine.append(1 - ok.mean())
    lut = votes.argmax(1)
    cm = rn.metrics.ConfusionMatrix(19)
    for i in range(min(a.limit, len(val))):
        img, lab, _ = val.load(i)
        cm.update(torch.from_numpy(lut[colour_codes(img)]), torch.from_numpy(lab.astype(np.int64)))
    unl_coarse = []
    for split in ("train", "train_extra"):
        try:
            ds = rn.data.Cityscapes(root, split, "coarse")
        except rn.data.DatasetError:
            continue
        unl_coarse += [(ds.load(i)[1] == 255).mean() for i in range(min(a.limit, len(ds)))]
    print(f"root: {root}  ({len(train)} train / {len(val)} val images read up to {a.limit} each)\n")
    print("| class | % of labelled fine pixels |\n|---|---|")
    for name, share in zip(rn.data.CITYSCAPES_CLASSES, 100 * counts / counts.sum()):
        print(f"| {name} | {share:.2f} |")
    print(f"\nclasses present: {int((counts > 0).sum())} of 19; per image: min {min(per_image)}, "
          f"mean {np.mean(per_image):.1f}, max {max(per_image)}")
    print(f"unlabelled pixels: fine {100 * np.mean(unl_fine):.1f} %, coarse "
          f"{100 * np.mean(unl_coarse) if unl_coarse else float('nan'):.1f} %")
    print(f"colour look-up (fitted on train) val mIoU: {100 * cm.compute()['miou']:.1f} %")


if __name__ == "__main__":
    main()
