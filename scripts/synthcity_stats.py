"""Statistics of a SynthCity (or any Cityscapes-layout) folder, read back through the loader.

    python scripts/synthcity_stats.py [--root data/synthcity] [--limit 500]
    python scripts/synthcity_stats.py --coverage [--out docs/study/study2/coarse_coverage.md]

Prints the share of each class among labelled fine pixels, classes per image, the unlabelled share
of fine and coarse labels, and the val mIoU of a plain colour look-up (a per-colour majority vote
fitted on train, 8 levels per channel): how far colour alone gets.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
import torch

import relationnet as rn
from relationnet.data import synthcity


def colour_codes(img: np.ndarray) -> np.ndarray:
    q = (img // 32).astype(np.int64)
    return q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]


def coverage(root: Path, limit: int) -> list[dict]:
    """Per class, on the train images that carry both labels: the share of its fine pixels that the coarse label
    marks with the same class (the rest is unlabelled: coarse labels never contradict fine ones), and the share of
    its objects (fine instance ids) that the coarse label leaves out entirely, with those objects' median size."""
    fine, coarse = rn.data.Cityscapes(root, "train"), rn.data.Cityscapes(root, "train", "coarse")
    px, kept = np.zeros(19), np.zeros(19)
    objects: dict[int, list[tuple[int, bool]]] = {c: [] for c in range(19)}
    for i in range(min(limit, len(fine))):
        img_path, lbl_path, name = fine.items[i]
        _, f, _ = fine.load(i)
        _, c, _ = coarse.load(i)
        ok = f != 255
        px += np.bincount(f[ok], minlength=19)
        kept += np.bincount(f[ok & (c == f)], minlength=19)
        inst_path = Path(str(lbl_path).replace("_labelIds.png", "_instanceIds.png"))
        if inst_path.is_file():
            inst = np.asarray(Image.open(inst_path)).astype(np.int64)      # 16-bit: id·1000 + k
            for iid in np.unique(inst[inst >= 1000]):
                m = inst == iid
                cls = int(np.bincount(f[m & ok], minlength=19).argmax()) if (m & ok).any() else None
                if cls is not None:
                    objects[cls].append((int(m.sum()), bool((c[m] == cls).any())))
    rows = []
    for k, name in enumerate(rn.data.CITYSCAPES_CLASSES):
        objs = objects[k]
        left = [s for s, seen in objs if not seen]
        rows.append({"class": name, "fine px": int(px[k]),
                     "coarse keeps % of its fine pixels": round(100 * kept[k] / px[k], 1) if px[k] else float("nan"),
                     "objects": len(objs) or "—",
                     "objects left out %": round(100 * len(left) / len(objs), 1) if objs else "—",
                     "median px of those left out": int(np.median(left)) if left else "—"})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=None)
    p.add_argument("--limit", type=int, default=500, help="images per split to read")
    p.add_argument("--coverage", action="store_true",
                   help="instead: per class, how much of the fine labels the coarse labels keep, and which objects "
                        "they leave out (a Markdown table)")
    p.add_argument("--out", default=None, help="with --coverage: also write the table to this file")
    a = p.parse_args(argv)
    root = Path(a.root) if a.root else synthcity.ensure()
    if a.coverage:
        rows = coverage(root, a.limit)
        cols = list(rows[0])
        text = ("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
                + "\n".join("| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows) + "\n")
        print(text)
        if a.out:
            Path(a.out).write_text(f"# SynthCity's coarse labels against its fine labels\n\nMade by `python "
                                   f"scripts/synthcity_stats.py --coverage --limit {a.limit}` on the default SynthCity "
                                   f"(train images, which carry both labels).\n\n" + text)
        return
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
