"""``relationnet demo``: the main job on the embedded data.

1. generate SynthCity (if absent);
2. train the CPU presets (EfficientNet-Lite0 from ImageNet weights, output stride 8) — the OHEM
   baseline and the full model (+Relation, +SCL, λ = 0.1) as stage 1 of alternating training
   followed by stages 2 (coarse, no SCL) and 3 (fine, SCL);
   the other named runs (+Relation at λ = 0 and the λ sweep 0.01, 1, 10) are defined here too but
   trained on first use (by the notebooks, or ``relationnet demo --all``): they do not fit the
   demo's 20 minutes on 2 cores, and one seed of them is a demonstration, not evidence (the study
   compares them over seeds);
3. evaluate every trained final (``last``) checkpoint with the 1- and 4-step test (no selection on
   the validation set) and write ``results.md`` / ``results.json``;
4. start the dashboard on 127.0.0.1 and print its URL (``--no-app`` skips it).

Finished runs and evaluations are reused on a rerun; an interrupted run resumes.
``size="ci"`` shrinks every run (for tests and the notebooks' CI size).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import config as config_mod
from ..config import Config
from ..data import build_dataset, eval_transform
from ..losses.scl import labels_at_output
from .checkpoint import atomic_write_text, load_model, read_meta
from .evaluate import evaluate, feature_alignment
from ..storage import folder_lock
from .train import dataset_root, resolve_device, train, train_seconds

LAMBDAS = (0.0, 0.01, 0.1, 1.0, 10.0)
#: Table I (Cityscapes val, single scale) and Fig. 6 numbers quoted next to ours.
PAPER = {"baseline": ("ResNet38 + OHEM", 77.39), "relation": ("+ Relation", 78.43),
         "alternating/stage1": ("Stage 1 (full model, fine)", 79.88),
         "alternating/stage2": ("Stage 2† (coarse) + multi-step", 81.16),
         "alternating/stage3": ("Stage 3 + multi-step", 81.76)}


@dataclass
class DemoRun:
    key: str            # folder under the demo directory (and the checkpoint to evaluate)
    title: str
    cfg: Config
    train_dir: str      # folder train() runs in (alternating: the parent of stage folders)
    in_demo: bool = True    # trained by ``relationnet demo`` (the others on first use)
    ckpt: str = ""          # checkpoint to evaluate, relative to the output folder (default: KEY/last)
    init_from: str = ""     # checkpoint (relative) that training starts from, if any
    steps: tuple = (1, 4)   # test steps evaluated

    @property
    def checkpoint(self) -> str:
        return self.ckpt or f"{self.key}/last"


def train_and_evaluate(runs: list[DemoRun], out: Path, device="cpu", progress: bool = True, desc: str = "runs",
                       on_result=None) -> dict[str, dict]:
    """The one mechanism behind the demo and the study: train each run's folder once (resuming, or
    skipping when finished), then evaluate its checkpoint (cached next to it); ``on_result(run, eval,
    seconds)`` is called as each run is done.  Returns ``{key: eval}``."""
    done_dirs, results = {}, {}
    dev = resolve_device(device) if isinstance(device, str) else device
    for run in tqdm(runs, desc=desc, unit="run", disable=not progress):
        t0 = time.perf_counter()
        if run.train_dir not in done_dirs:
            train(run.cfg, out / run.train_dir, progress=progress,
                  init_from=out / run.init_from if run.init_from else None)
            done_dirs[run.train_dir] = time.perf_counter() - t0
        ev = evaluate_run(out / run.checkpoint, run.cfg, steps=run.steps, device=dev, progress=progress)
        results[run.key] = ev
        if on_result is not None:
            on_result(run, ev, round(time.perf_counter() - t0, 1))
    return results


def size_overrides(size: str) -> dict:
    if size == "full":
        return {}
    if size == "ci":
        return {"epochs": 2, "const_epochs": 1, "iters_per_epoch": 12, "stage_epochs": [2, 1, 1], "eval_every": 2,
                "val_limit": 24, "workers": 0}
    raise ValueError(f"size must be 'full' or 'ci', got {size!r}")


def demo_runs(size: str = "full", root: str | None = None, extra: dict | None = None) -> list[DemoRun]:
    o = {**size_overrides(size), **({"root": str(root)} if root else {}), **(extra or {})}
    runs = [DemoRun("baseline", "OHEM baseline", config_mod.load("synthcity_baseline", {**o, "name": "baseline"}),
                    "baseline"),
            DemoRun("relation", "+ Relation (λ = 0)",
                    config_mod.load("synthcity_full", {**o, "name": "relation", "similarity": False, "lam": 0.0}),
                    "relation", in_demo=False)]
    alt = config_mod.load("synthcity_full", {**o, "name": "alternating", "alternating": True})
    for i, title in enumerate(("Stage 1: full model, fine, OHEM + SCL (λ = 0.1)", "Stage 2: coarse, OHEM, no SCL",
                               "Stage 3: fine, OHEM + SCL")):
        runs.append(DemoRun(f"alternating/stage{i + 1}", title, alt, "alternating"))
    for lam in LAMBDAS:
        if lam in (0.0, 0.1):
            continue
        runs.append(DemoRun(f"lambda_{lam:g}", f"full model, λ = {lam:g}",
                            config_mod.load("synthcity_full", {**o, "name": f"lambda_{lam:g}", "lam": lam}),
                            f"lambda_{lam:g}", in_demo=False))
    return runs


def lambda_runs(runs: list[DemoRun]) -> dict[float, str]:
    """λ -> run key of the sweep (0 is +Relation, 0.1 is stage 1), for the runs given."""
    keys = {r.key for r in runs}
    out = {lam: k for lam, k in ((0.0, "relation"), (0.1, "alternating/stage1")) if k in keys}
    out.update({r.cfg.lam: r.key for r in runs if r.key.startswith("lambda_")})
    return dict(sorted(out.items()))


def evaluate_run(ckpt: Path, cfg: Config, steps=(1, 4), device="cpu", progress=True, align_images: int = 16) -> dict:
    """1- and 4-step metrics of a checkpoint plus the feature-alignment score; cached next to it."""
    meta = read_meta(ckpt)
    cache = ckpt.parent / "eval.json"
    res = {"sha256": meta.get("sha256"), "val_limit": cfg.val_limit}
    if cache.is_file():
        old = json.loads(cache.read_text())
        if old.get("sha256") == meta.get("sha256") and old.get("val_limit") == cfg.val_limit:
            res = old                  # the same checkpoint and images: keep what was measured, add what is missing
    missing = [s for s in steps if f"step{s}" not in res]
    if not missing and "alignment" in res:
        return res
    model, _ = load_model(ckpt, device)
    root = dataset_root(cfg, progress)
    vset = build_dataset(cfg.dataset, root, "val", "fine", eval_transform())

    def save():
        atomic_write_text(cache, json.dumps(res, indent=1))     # a reader never sees half a file

    if "alignment" not in res:
        n = min(align_images, len(vset))
        images = torch.stack([vset[i]["image"] for i in range(n)]).to(device)
        labels = torch.stack([vset[i]["label"] for i in range(n)])
        with torch.no_grad():
            feats = model(images)["features"].cpu()
        res["alignment"] = feature_alignment(feats, labels_at_output(labels))
    for s in missing:                  # each test saved as it finishes: an interrupted 64-step test keeps the others
        ev = evaluate(model, vset, cfg.num_classes, steps=s, device=device, limit=cfg.val_limit, progress=progress)
        res[f"step{s}"] = {k: ev[k] for k in ("miou", "mean_acc", "pixel_acc", "boundary_miou", "iou")}
        save()
    if not missing:                    # only the alignment score was added
        save()
    return res


def results_table(rows: list[dict]) -> str:
    lines = ["| run | λ | mIoU 1-step | mIoU 4-step | mAcc 4-step | boundary mIoU 4-step | feature alignment | paper (Cityscapes val mIoU) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        paper = PAPER.get(r["key"])
        lines.append(f"| {r['title']} | {r['lam']:g} | {100 * r['step1']['miou']:.1f} | {100 * r['step4']['miou']:.1f} | "
                     f"{100 * r['step4']['mean_acc']:.1f} | {100 * r['step4']['boundary_miou']:.1f} | "
                     f"{r['alignment']['score']:.3f} | {f'{paper[1]:.2f} ({paper[0]})' if paper else '—'} |")
    return "\n".join(lines)


def run_demo(out: str | Path = "runs/demo", size: str = "full", root: str | None = None, device: str = "auto",
             app: bool = True, port: int = 8501, progress: bool = True, extra: dict | None = None,
             all_runs: bool = False) -> dict:
    out = Path(out)
    with folder_lock(out):
        summary = _run_demo(out, size, root, device, progress, extra, all_runs)
    if app:
        start_dashboard(out, port)
    return summary


def _run_demo(out: Path, size: str, root, device: str, progress: bool, extra: dict | None, all_runs: bool) -> dict:
    runs = [r for r in demo_runs(size, root, {**(extra or {}), "device": device}) if all_runs or r.in_demo]
    dev = resolve_device(device)
    t0 = time.perf_counter()
    dataset_root(runs[0].cfg, progress)
    evals = train_and_evaluate(runs, out, dev, progress, desc="demo")
    train_s = time.perf_counter() - t0
    rows = []
    for run in runs:
        stage = run.key.split("/")[1] if "/" in run.key else ""
        lam = run.cfg.stage2_lam if stage == "stage2" else run.cfg.lam
        ev = evals[run.key]
        rows.append({"key": run.key, "title": run.title, "lam": lam, **{k: ev[k] for k in ("step1", "step4", "alignment")}})
    logged = sum(train_seconds(out / d) or 0.0 for d in sorted({r.train_dir for r in runs}))
    summary = {"size": size, "train_and_eval_seconds": round(train_s, 1), "logged_train_seconds": round(logged, 1),
               "total_seconds": round(time.perf_counter() - t0, 1),
               "device": str(dev), "threads": torch.get_num_threads(), "runs": rows,
               "lambda_runs": {str(k): v for k, v in lambda_runs(runs).items()}}
    atomic_write_text(out / "results.json", json.dumps(summary, indent=1))
    md = (f"# Demo results (SynthCity val, {size} size)\n\nTraining took {logged / 60:.1f} min on {dev} "
          f"({torch.get_num_threads()} threads), by the runs' logs; this call took {train_s / 60:.1f} min (finished "
          "runs and evaluations are reused). Metrics of the final checkpoints, in %.\n\n" + results_table(rows) + "\n")
    atomic_write_text(out / "results.md", md)
    print(md)
    return summary


def app_path() -> Path:
    return Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


def start_dashboard(runs_dir: Path, port: int = 8501, block: bool = True):
    path = app_path()
    if not path.is_file():
        print(f"dashboard not found at {path}; install from a source checkout (pip install -e '.[app]')")
        return None
    cmd = [sys.executable, "-m", "streamlit", "run", str(path), "--server.address", "127.0.0.1", "--server.port",
           str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false", "--", "--runs", str(runs_dir)]
    env = {**os.environ, "RELATIONNET_RUNS": str(runs_dir)}
    print(f"dashboard: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    proc = subprocess.Popen(cmd, env=env)
    if block:
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
    return proc
