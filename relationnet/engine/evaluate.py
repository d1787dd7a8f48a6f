"""Evaluation: the core metrics, a boundary-band mIoU, a feature-alignment score, and the
official Cityscapes evaluation.

* :func:`evaluate` runs :func:`relationnet.inference.predict` over a dataset and returns
  pixel accuracy, mean accuracy, mIoU and per-class IoU (:class:`relationnet.metrics.ConfusionMatrix`)
  plus ``boundary_miou``.
* **Boundary band** (:func:`boundary_band`): pixels within ``width`` pixels (Chebyshev
  distance) of a label boundary, i.e. whose (2·width+1)² window holds more than one label
  (ignore counts as a label for finding boundaries; ignore pixels are never scored).
  ``boundary_miou`` is the mIoU over those pixels only; the paper claims sharper contours,
  and this is where they show.
* **Feature alignment** (:func:`feature_alignment`): over horizontally and vertically
  adjacent cells of the ``features`` map, the mean cosine similarity of pairs with the
  same label (``within``) and with different labels (``across``); ``score = within − across``.
  Aligned features (Fig. 1d) are alike inside objects and differ across contours: a
  larger score.
* :func:`cityscapes_official` writes predictions as label-id PNGs and calls
  ``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling.evaluateImgLists`` (class and
  category IoU and iIoU, as in Table III).  It shims ``np.in1d`` (gone in numpy ≥ 2.4) for
  the call only, and turns the tool's ``sys.exit`` on bad input into :class:`OfficialEvalError`.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from ..data.labels import IGNORE_INDEX, TRAIN_ID_TO_LABEL_ID
from ..inference import predict
from ..losses.scl import labels_at_output
from ..metrics import ConfusionMatrix
from .distributed import DistInfo, all_reduce_sum


#: Pixels either side of a label change that boundary mIoU scores (the band of :func:`boundary_band`).
BAND_WIDTH = 3


def boundary_band(label: torch.Tensor, width: int = BAND_WIDTH) -> torch.Tensor:
    """(…, H, W) labels -> bool mask of pixels within ``width`` of a label change (ignore pixels excluded)."""
    lab = label.float().reshape(-1, 1, *label.shape[-2:])
    k = 2 * width + 1
    hi = F.max_pool2d(lab, k, stride=1, padding=width)
    lo = -F.max_pool2d(-lab, k, stride=1, padding=width)
    band = (hi != lo).reshape(label.shape)
    return band & (label != IGNORE_INDEX)


def feature_alignment(features: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> dict:
    """Mean cosine similarity of adjacent feature pairs within a class vs across a boundary.

    ``features`` (B, C, h, w); ``labels`` (B, h, w) at the same resolution, or at full
    resolution (then the label at each cell's centre pixel is used).
    """
    if labels.shape[-2:] != features.shape[-2:]:
        labels = labels_at_output(labels)
    f = F.normalize(features.float(), dim=1)
    sims, same = [], []
    for dy, dx in ((0, 1), (1, 0)):
        a, b = f[:, :, : f.shape[2] - dy, : f.shape[3] - dx], f[:, :, dy:, dx:]
        la, lb = labels[:, : labels.shape[1] - dy, : labels.shape[2] - dx], labels[:, dy:, dx:]
        ok = (la != ignore_index) & (lb != ignore_index)
        sims.append((a * b).sum(1)[ok])
        same.append((la == lb)[ok])
    s, m = torch.cat(sims), torch.cat(same)
    within = float(s[m].mean()) if m.any() else float("nan")
    across = float(s[~m].mean()) if (~m).any() else float("nan")
    return {"within": within, "across": across, "score": within - across,
            "pairs_within": int(m.sum()), "pairs_across": int((~m).sum())}


def _batches_of_equal_size(items: list[dict]):
    """Group consecutive items of equal image size into stacked batches."""
    groups: list[list[dict]] = []
    for it in items:
        if groups and groups[-1][0]["image"].shape == it["image"].shape:
            groups[-1].append(it)
        else:
            groups.append([it])
    for g in groups:
        yield torch.stack([it["image"] for it in g]), torch.stack([it["label"] for it in g]), [it["name"] for it in g]


@torch.no_grad()
def evaluate(model, dataset, num_classes: int, steps: int = 1, batch_size: int = 4, device="cpu",
             band_width: int = BAND_WIDTH, limit: int = 0, progress: bool = True, dist_info: DistInfo | None = None,
             predictions: list | None = None) -> dict:
    """Metrics of ``model`` on ``dataset`` (items ``{"image", "label"}`` with eval transforms applied).

    ``predictions``, when a list, receives ``(name, (H, W) uint8 train-id prediction)`` per image.
    """
    dist_info = dist_info or DistInfo()
    model.eval()
    n = len(dataset) if not limit else min(limit, len(dataset))
    mine = list(range(dist_info.rank, n, dist_info.world_size))
    cm, band_cm = ConfusionMatrix(num_classes), ConfusionMatrix(num_classes)
    batches = [mine[i:i + batch_size] for i in range(0, len(mine), batch_size)]
    for idx in tqdm(batches, desc=f"eval ({steps}-step)", leave=False, disable=not progress):
        for images, labels, names in _batches_of_equal_size([dataset[i] for i in idx]):
            _score(model, images, labels, names, steps, device, cm, band_cm, band_width, predictions)
    cm.mat = all_reduce_sum(cm.mat, dist_info)
    band_cm.mat = all_reduce_sum(band_cm.mat, dist_info)
    res = cm.compute()
    res["boundary_miou"] = band_cm.compute()["miou"]
    res["steps"] = steps
    return res


def _score(model, images, labels, names, steps, device, cm, band_cm, band_width, predictions):
    probs = predict(model, images.to(device), steps=steps)
    pred = probs.argmax(1).cpu()
    cm.update(pred, labels)
    band = boundary_band(labels, band_width)
    band_cm.update(pred, torch.where(band, labels, torch.full_like(labels, IGNORE_INDEX)))
    if predictions is not None:
        predictions.extend(zip(names, pred.to(torch.uint8).numpy()))


class OfficialEvalError(RuntimeError):
    """The official Cityscapes evaluation refused its input (the tool would have exited)."""


@contextlib.contextmanager
def _numpy_in1d_shim():
    """cityscapesscripts 2.3 calls ``np.in1d``, removed in numpy 2.4: provide it for the call only."""
    added = not hasattr(np, "in1d")
    if added:
        np.in1d = lambda ar1, ar2, assume_unique=False, invert=False: np.isin(
            np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)
    try:
        yield
    finally:
        if added:
            del np.in1d


def cityscapes_official(predictions: list[tuple[str, np.ndarray]], gt_label_paths: list[str | Path],
                        workdir: str | Path | None = None, instance_level: bool | None = None) -> dict:
    """Official pixel-level evaluation of train-id predictions against ``*_labelIds.png`` files.

    Returns ``{"iou_class", "iiou_class", "iou_category", "iiou_category", "per_class", "per_category"}``
    (fractions in 0..1; iIoU is ``nan`` when ``*_instanceIds.png`` files are absent).
    """
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev
    if len(predictions) != len(gt_label_paths):
        raise OfficialEvalError(f"{len(predictions)} predictions for {len(gt_label_paths)} ground-truth files")
    gt_label_paths = [str(p) for p in gt_label_paths]
    if instance_level is None:
        instance_level = all(Path(p.replace("labelIds", "instanceIds")).is_file() for p in gt_label_paths)
    with contextlib.ExitStack() as stack:
        wd = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        wd.mkdir(parents=True, exist_ok=True)
        pred_paths = []
        for name, pred in predictions:
            p = wd / f"{name}_pred_labelIds.png"
            Image.fromarray(TRAIN_ID_TO_LABEL_ID[np.clip(pred, 0, len(TRAIN_ID_TO_LABEL_ID) - 1)]).save(p)
            pred_paths.append(str(p))
        args = ev.args
        saved = {k: getattr(args, k) for k in ("quiet", "JSONOutput", "evalInstLevelScore", "exportFile", "colorized")}
        args.quiet, args.JSONOutput, args.evalInstLevelScore, args.colorized = True, False, instance_level, False
        args.exportFile = str(wd / "result.json")
        out = io.StringIO()
        try:
            with _numpy_in1d_shim(), contextlib.redirect_stdout(out):
                res = ev.evaluateImgLists(pred_paths, gt_label_paths, args)
        except SystemExit:
            msg = out.getvalue().strip().splitlines()
            raise OfficialEvalError(msg[-1] if msg else "the Cityscapes evaluation exited") from None
        finally:
            for k, v in saved.items():
                setattr(args, k, v)
    nan = float("nan")
    return {"iou_class": float(res["averageScoreClasses"]),
            "iiou_class": float(res["averageScoreInstClasses"]) if instance_level else nan,
            "iou_category": float(res["averageScoreCategories"]),
            "iiou_category": float(res["averageScoreInstCategories"]) if instance_level else nan,
            "per_class": {k: float(v) for k, v in res["classScores"].items()},
            "per_category": {k: float(v) for k, v in res["categoryScores"].items()}}


@torch.no_grad()
def compare(models: list, dataset, num_classes: int, steps: int = 1, band_width: int = BAND_WIDTH, limit: int = 0,
            device="cpu", callback=None, progress: bool = False, keep_bytes: int = 0) -> dict:
    """Score several models on the same images, keeping what a side-by-side view needs.

    Returns ``{"confusion": [(K, K) int64 per model], "band_confusion": [...] (boundary band only),
    "images": [{"index", "name", "scored", "correct": [per model], "only": [per model]}]}``, where
    ``only[m]`` counts the scored pixels model ``m`` gets right and every other model gets wrong (with two
    models: A right and B wrong, and the reverse).  ``callback(done, total)`` is called after each image.

    With ``keep_bytes`` > 0 it also keeps, while they fit in that many bytes, each image's predictions (uint8) and,
    for the 1-step test, the models' ``features`` (float16, caught from the same forward pass):
    ``"kept": {index: [(pred (H, W), features (C, h, w) or None) per model]}`` — browsing them costs no model run.
    """
    if not models:
        raise ValueError("compare needs at least one model")
    for m in models:
        m.eval()
    n = len(dataset) if not limit else min(limit, len(dataset))
    cms = [ConfusionMatrix(num_classes) for _ in models]
    band_cms = [ConfusionMatrix(num_classes) for _ in models]
    images, kept, kept_bytes = [], {}, 0
    for i in tqdm(range(n), desc="compare", leave=False, disable=not progress):
        item = dataset[i]
        x, lab = item["image"][None].to(device), torch.as_tensor(item["label"])[None]
        valid = lab != IGNORE_INDEX
        band = boundary_band(lab, band_width)
        band_lab = torch.where(band, lab, torch.full_like(lab, IGNORE_INDEX))
        right, outs = [], []
        for m, cm, bcm in zip(models, cms, band_cms):
            run = _KeepOutput(m) if keep_bytes and steps == 1 else m      # 1-step: one forward, the whole image
            pred = predict(run, x, steps=steps).argmax(1).cpu()
            cm.update(pred, lab)
            bcm.update(pred, band_lab)
            right.append((pred == lab) & valid)
            out = run.out if run is not m else None
            feat = out.get("features") if isinstance(out, dict) else None
            outs.append((pred[0].to(torch.uint8).numpy(), None if feat is None else feat[0].detach().cpu().half()))
        stack = torch.stack(right)
        only = [int((stack[k] & ~torch.cat([stack[:k], stack[k + 1:]]).any(0)).sum()) for k in range(len(models))]
        images.append({"index": i, "name": item["name"], "scored": int(valid.sum()),
                       "correct": [int(r.sum()) for r in right], "only": only})
        size = sum(p.nbytes + (0 if f is None else f.numel() * 2) for p, f in outs)
        if keep_bytes and kept_bytes + size <= keep_bytes:
            kept[i] = outs
            kept_bytes += size
        if callback is not None:
            callback(i + 1, n)
    return {"confusion": [c.mat.numpy() for c in cms], "band_confusion": [c.mat.numpy() for c in band_cms],
            "images": images, "kept": kept}


def by_disagreement(images: list[dict]) -> list[dict]:
    """:func:`compare`'s per-image rows, the images where two models differ most first: by the share of scored pixels
    that exactly one of them gets right."""
    return sorted(images, key=lambda im: -(im["only"][0] + im["only"][1]) / max(im["scored"], 1))


class _KeepOutput(torch.nn.Module):
    """Runs a model and keeps its last output (a wrapper per call: nothing is attached to a model that other
    threads, e.g. other dashboard sessions, may be running)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.out = model, None

    def forward(self, x):
        self.out = self.model(x)
        return self.out


