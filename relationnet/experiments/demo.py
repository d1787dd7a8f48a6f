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
from pathlib import Path

import torch

from .. import config as config_mod
from ..engine.runlog import train_seconds
from ..engine.train import ensure_dataset, resolve_device
from ..paths import app_path
from ..storage import atomic_write_text, folder_lock
from .design import LAMBDAS, PAPER, demo_overrides
from .runs import Run, train_and_evaluate


def demo_runs(size: str = "full", root: str | None = None, extra: dict | None = None) -> list[Run]:
    o = {**demo_overrides(size), **({"root": str(root)} if root else {}), **(extra or {})}
    runs = [Run("baseline", "OHEM baseline", config_mod.load("synthcity_baseline", {**o, "name": "baseline"}),
                    "baseline"),
            Run("relation", "+ Relation (λ = 0)",
                    config_mod.load("synthcity_full", {**o, "name": "relation", "similarity": False, "lam": 0.0}),
                    "relation", in_demo=False)]
    alt = config_mod.load("synthcity_full", {**o, "name": "alternating", "alternating": True})
    for i, title in enumerate(("Stage 1: full model, fine, OHEM + SCL (λ = 0.1)", "Stage 2: coarse, OHEM, no SCL",
                               "Stage 3: fine, OHEM + SCL")):
        runs.append(Run(f"alternating/stage{i + 1}", title, alt, "alternating"))
    for lam in LAMBDAS:
        if lam in (0.0, 0.1):
            continue
        runs.append(Run(f"lambda_{lam:g}", f"full model, λ = {lam:g}",
                            config_mod.load("synthcity_full", {**o, "name": f"lambda_{lam:g}", "lam": lam}),
                            f"lambda_{lam:g}", in_demo=False))
    return runs

def lambda_runs(runs: list[Run]) -> dict[float, str]:
    """λ -> run key of the sweep (0 is +Relation, 0.1 is stage 1), for the runs given."""
    keys = {r.key for r in runs}
    out = {lam: k for lam, k in ((0.0, "relation"), (0.1, "alternating/stage1")) if k in keys}
    out.update({r.cfg.lam: r.key for r in runs if r.key.startswith("lambda_")})
    return dict(sorted(out.items()))

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
    ensure_dataset(runs[0].cfg, progress)
    evals = train_and_evaluate(runs, out, dev, progress, desc="demo", fold_bn=True)
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


def dashboard_command(runs_dir: str | Path, port: int = 8501) -> tuple[list[str], dict]:
    """The command line and environment that serve the dashboard on 127.0.0.1:``port`` for a folder of runs (given
    both as ``--runs`` and ``RELATIONNET_RUNS``); the one start-up of ``relationnet demo``/``dashboard`` and of the
    browser harness (app/browser.py)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.address", "127.0.0.1", "--server.port",
           str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false", "--", "--runs", str(runs_dir)]
    return cmd, {**os.environ, "RELATIONNET_RUNS": str(runs_dir)}


def start_dashboard(runs_dir: Path, port: int = 8501, block: bool = True):
    path = app_path()
    if not path.is_file():
        print(f"dashboard not found at {path}; install from a source checkout (pip install -e '.[app]')")
        return None
    cmd, env = dashboard_command(runs_dir, port)
    print(f"dashboard: http://127.0.0.1:{port}  (Ctrl-C to stop)")
    proc = subprocess.Popen(cmd, env=env)
    if block:
        try:
            proc.wait()
        except KeyboardInterrupt:                  # stop the server too, and wait for it to let go of the port
            stop_process(proc, 15)
    return proc


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """Terminate ``proc`` and wait for it; kill it when it has not gone within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
