"""``relationnet study``: the paper's claims tested over seeds, by the rule in ``docs/study/METHOD.md``.

The study is the demo's mechanism (:func:`relationnet.engine.demo.train_and_evaluate`) at another
size: a named set of runs (the *arms*, :func:`arms`), trained per seed into ``runs/study/seedS/``,
evaluated (cached next to each checkpoint), and tabulated.  Each finished run's metrics are written
to ``docs/study/runs/seedS/ARM.json`` (small, committed; checkpoints never are) with a fingerprint of
everything in its configuration that changes the result; a rerun anywhere skips a run whose
record is there with the same fingerprint, so a study spread over sessions and machines never
repeats a finished run, and an interrupted run resumes from its last epoch.

Statistics (:func:`paired_ci`): per claim, the paired differences over seeds, their mean, the 95 %
Student-t interval of the mean, the verdict (reproduced / contradicted / inconclusive) and the
smallest effect the study could detect (80 % power).  :func:`tabulate` writes
``docs/study/README.md``, ``results.json`` and figures.
"""
from __future__ import annotations

import json
import shutil
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import config as config_mod
from ..data import synthcity
from .checkpoint import atomic_write_text
from .demo import DemoRun, train_and_evaluate
from ..storage import folder_lock
from .train import train_seconds

#: Steps per epoch and the epochs of the recipe at each size (full: METHOD.md; ci: a smoke test).
SIZES = {
    # full size validates only each stage's last epoch: the study evaluates the final checkpoint on its own
    # (METHOD.md), so a per-epoch validation curve would cost 10-15 s an epoch and change nothing (it is run-neutral)
    "full": {"iters_per_epoch": 50, "epochs": 6, "const_epochs": 4, "stage_epochs": [6, 2, 2], "long": (10, 7),
             "extra": {"eval_every": 1000}},
    "ci": {"iters_per_epoch": 2, "epochs": 2, "const_epochs": 1, "stage_epochs": [2, 1, 1], "long": (4, 3),
           "extra": {"val_limit": 8, "workers": 0, "eval_every": 2}},
}
LAMBDAS = {"C1": 0.01, "C2": 1.0, "C3": 10.0}
#: Seeds per arm (METHOD.md).
SEEDS = 5


@dataclass(frozen=True)
class Arm:
    id: str
    title: str
    preset: str
    overrides: dict
    train_dir: str = ""          # folder trained (per seed); default: the id
    ckpt: str = ""               # checkpoint evaluated, relative to the seed folder; default: ID/last
    init_from: str = ""          # checkpoint (relative) training starts from
    steps: tuple = (1,)          # test steps evaluated
    train_steps: int = 0         # training steps this arm adds (for the progress bar and the budget)


#: Arms cut by the budget check after seed 0 (METHOD.md, Changes): arm -> the number of seeds it runs (full size).
CUT = {"D4": 1}


def seeds_for(arm_id: str, seeds: int, size: str = "full") -> int:
    """How many of ``seeds`` an arm runs: all of them, unless the full-size study cut it (``CUT``)."""
    return min(seeds, CUT.get(arm_id, seeds)) if size == "full" else seeds


def arms(size: str = "full") -> list[Arm]:
    """The arms of METHOD.md, in the order a seed runs them."""
    z = SIZES[size]
    n, (long_e, long_c) = z["iters_per_epoch"], z["long"]
    base = z["epochs"] * n
    e1, e2, e3 = z["stage_epochs"]
    no_scl = {"similarity": False, "lam": 0.0}
    long = {"epochs": long_e, "const_epochs": long_c}
    return [
        Arm("A2", "OHEM baseline", "synthcity_baseline", {}, steps=(1, 4), train_steps=base),
        Arm("A3", "+ Relation", "synthcity_full", no_scl, train_steps=base),
        Arm("D1", "alternating: stage 1 → 2 (coarse, no SCL) → 3", "synthcity_full", {"alternating": True},
            ckpt="D1/stage3/last", train_steps=(e1 + e2 + e3) * n),
        Arm("A4", "+ Relation + SCL (λ = 0.1) = stage 1", "synthcity_full", {"alternating": True}, train_dir="D1",
            ckpt="D1/stage1/last", steps=(1, 4, 16, 64)),
        Arm("A1", "cross-entropy", "synthcity_baseline", {"loss": "ce"}, train_steps=base),
        Arm("B1", "scratch, OHEM", "synthcity_baseline", {"pretrained": None}, train_steps=base),
        Arm("B2", "scratch, + Relation", "synthcity_full", {"pretrained": None, **no_scl}, train_steps=base),
        *[Arm(i, f"+ Relation + SCL, λ = {lam:g}", "synthcity_full", {"lam": lam}, train_steps=base)
          for i, lam in LAMBDAS.items()],
        Arm("D2", "fine only, same total steps as D1", "synthcity_full", long, train_steps=long_e * n),
        Arm("D3", "fine + coarse mixed, same total steps as D1", "synthcity_full", {**long, "annotation": "mixed"},
            train_steps=long_e * n),
        Arm("D4", "alternating with SCL in stage 2", "synthcity_full",
            {"alternating": True, "stage2_lam": 0.1, "start_stage": 2}, ckpt="D4/stage3/last",
            init_from="D1/stage1/last", train_steps=(e2 + e3) * n),
    ]


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    arm: str
    ref: str
    metric: str                  # e.g. "step1.miou", "alignment.score"
    paper: str                   # the paper's number / direction, as text
    paper_delta: float | None = None
    ref_metric: str = ""         # metric of the reference (default: the same)
    arm2: str = ""               # interaction: (arm − ref) − (arm2 − ref2)
    ref2: str = ""


CLAIMS = [
    Claim("T1-OHEM", "OHEM beats cross-entropy", "A2", "A1", "step1.miou", "+3.75 (73.64 → 77.39)", 3.75),
    Claim("T1-Rel", "the relation module helps", "A3", "A2", "step1.miou", "+1.04 (77.39 → 78.43)", 1.04),
    Claim("T1-SCL", "SCL (λ = 0.1) helps on top of the relation module", "A4", "A3", "step1.miou",
          "+0.71 (79.17 → 79.88)", 0.71),
    Claim("T1-SCL-mAcc", "SCL (λ = 0.1) helps, mean accuracy", "A4", "A3", "step1.mean_acc", "+0.84", 0.84),
    Claim("T2-Init", "ImageNet initialisation beats training from scratch, relation model (ours: scratch vs ImageNet; "
          "the paper's: a Cityscapes-trained start vs ImageNet)", "A3", "B2", "step1.miou",
          "+2.37 (76.06 → 78.43)", 2.37),
    Claim("T2-Interaction", "ImageNet matters more with the relation module", "A3", "B2", "step1.miou",
          "+ (hypothesis, no number)", arm2="A2", ref2="B1"),
    *[Claim(f"F6-λ{lam:g}", f"λ = {lam:g} vs no SCL", arm, "A3", "step1.miou",
            "+0.71 (λ = 0.1)" if lam == 0.1 else "— (Fig. 6 only)", 0.71 if lam == 0.1 else None)
      for arm, lam in (("C1", 0.01), ("A4", 0.1), ("C2", 1.0), ("C3", 10.0))],
    *[Claim(f"F6-best-vs-λ{lam:g}", f"λ = 0.1 beats λ = {lam:g}", "A4", arm, "step1.miou", "+ (λ = 0.1 is best)")
      for arm, lam in (("C1", 0.01), ("C2", 1.0), ("C3", 10.0))],
    Claim("Alt-Stage3", "stage 3 (500 steps in all) beats stage 1 (300 steps)", "D1", "A4", "step1.miou",
          "+0.84 (80.92 → 81.76, multi-step)", 0.84),
    Claim("Alt-Budget", "alternating beats fine-only at the same steps", "D1", "D2", "step1.miou",
          "+ (not controlled in the paper)"),
    Claim("Alt-Mixed", "alternating beats mixing coarse and fine", "D1", "D3", "step1.miou", "+ (Sec. III-C2)"),
    Claim("Alt-NoSCLcoarse", "no SCL on coarse labels is better", "D1", "D4", "step1.miou", "+ (Sec. III-C2)"),
    *[Claim(f"MS-{k}", f"{k}-step test beats 1-step", "A4", "A4", f"step{k}.miou",
            "+1.04 (79.88 → 80.92)" if k == 4 else "— (no number)", 1.04 if k == 4 else None, ref_metric="step1.miou")
      for k in (4, 16, 64)],
    *[Claim(f"MS-{k}-boundary", f"{k}-step test beats 1-step, boundary-band mIoU", "A4", "A4", f"step{k}.boundary_miou",
            "+ (Fig. 5)", ref_metric="step1.boundary_miou") for k in (4, 16, 64)],
    Claim("Fig1-Align", "RelationNet + SCL aligns features better than the baseline", "A4", "A2", "alignment.score",
          "+ (Fig. 1, qualitative)"),
    Claim("Fig1-Boundary", "relation module + SCL give sharper contours than the baseline (both at the 4-step test; "
          "boundary-band mIoU; not SCL alone)", "A4", "A2", "step4.boundary_miou", "+ (Fig. 1)"),
    Claim("Fig1-Boundary-SCL", "SCL's own share of the sharper contours (added after the results, issue 22)", "A4",
          "A3", "step1.boundary_miou", "+ (Fig. 1)"),
]

#: Study-1 records whose numbers were seen before METHOD.md was committed: seed 0's A2 and D1 (with A4, its
#: stage 1) are the demo's runs, whose results stood in the README before the protocol (issue 22).
SEEN_BEFORE_PROTOCOL = (("A2", 0), ("A4", 0), ("D1", 0))


def leave_one_out(row: dict) -> list[tuple[int, str, dict]]:
    """For a claim row: ``(seed left out, verdict, interval)`` for each seed it pairs, by the same rule on the
    other seeds: how much one seed carries a verdict."""
    out = []
    for i, seed in enumerate(row["seeds"]):
        ci = paired_ci(row["diffs"][:i] + row["diffs"][i + 1:])
        out.append((seed, verdict(ci, 1, len(row["seeds"]) - 1), ci))
    return out


def claim_formula(arm: str, ref: str, metric: str, ref_metric: str = "", arm2: str = "", ref2: str = "") -> str:
    """The paired difference a claim tests, as the results page and ``study --list`` write it."""
    test = f"{arm} − {ref}"
    if arm2:                                            # an interaction: the difference of two differences
        test = f"({test}) − ({arm2} − {ref2})"
    return test + f" ({metric}{'' if not ref_metric or ref_metric == metric else ' vs ' + ref_metric})"


fingerprint = config_mod.fingerprint


def arm_config(arm: Arm, seed: int, size: str = "full", root: str | None = None, extra: dict | None = None):
    z = SIZES[size]
    o = {"iters_per_epoch": z["iters_per_epoch"], "epochs": z["epochs"], "const_epochs": z["const_epochs"],
         "stage_epochs": z["stage_epochs"], **z["extra"], **arm.overrides, "seed": seed,
         "name": f"{arm.id}_seed{seed}", **({"root": str(root)} if root else {}), **(extra or {})}
    return config_mod.load(arm.preset, o)


def default_root(size: str) -> Path:
    if size == "full":
        return synthcity.default_root()
    from ..notebook import CI_DATA
    root = synthcity.project_dir() / "data" / "synthcity_ci"
    if not synthcity.is_complete(root, CI_DATA):
        synthcity.generate(root, CI_DATA, overwrite=True, progress=False)
    return root


def _stale(saved: Path, cfg) -> bool:
    if not saved.is_file():
        return False
    try:
        return bool(config_mod.differences(config_mod.load(saved), cfg))
    except config_mod.ConfigError:         # written by another version of the config
        return True


def record_path(results: Path, arm: str, seed: int) -> Path:
    return results / "runs" / f"seed{seed}" / f"{arm}.json"


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_study(out: str | Path = "runs/study", results: str | Path = "docs/study", seeds: int = SEEDS,
              only: list[str] | None = None, size: str = "full", root: str | None = None, device: str = "auto",
              progress: bool = True, extra: dict | None = None) -> dict:
    """Train and evaluate every pending (arm, seed), seed by seed; write each record as it lands; tabulate."""
    out, results = Path(out), Path(results)
    with folder_lock(out), folder_lock(results):
        return _run_study(out, results, seeds, only, size, root, device, progress, extra)


def _run_study(out: Path, results: Path, seeds: int, only, size: str, root, device: str, progress: bool,
               extra: dict | None) -> dict:
    all_arms = arms(size)
    ids = [a.id for a in all_arms]
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; choose from {ids}")
    chosen = [a for a in all_arms if not only or a.id in only]
    root = root or str(default_root(size))
    t_start = time.perf_counter()
    pending = []
    for seed in range(seeds):
        for arm in chosen:
            if seed >= seeds_for(arm.id, seeds, size):
                continue
            cfg = arm_config(arm, seed, size, root, {**(extra or {}), "device": device})
            rec = read_record(record_path(results, arm.id, seed))
            if rec is None or rec.get("fingerprint") != fingerprint(cfg):
                pending.append((seed, arm, cfg))
    total = sum(a.train_steps for _, a, _ in pending)
    bar = tqdm(total=total, desc=f"study: {len(pending)} runs pending", unit="step", disable=not progress)
    done = [0]
    for seed in range(seeds):
        todo = [(a, c) for s, a, c in pending if s == seed]
        if not todo:
            continue
        for a, c in todo:         # a folder left by another protocol (see METHOD.md, Changes) is trained anew
            folder = out / f"seed{seed}" / (a.train_dir or a.id)
            if any(_stale(p, c) for p in [folder / "config.yaml", *folder.glob("stage*/config.yaml")]):
                shutil.rmtree(folder)
        # an arm evaluated from a folder another arm trains (A4 in D1) needs that arm's config
        runs = [DemoRun(a.id, a.title, c, a.train_dir or a.id, ckpt=a.ckpt or f"{a.id}/last", init_from=a.init_from,
                        steps=a.steps) for a, c in todo]
        by_id = {a.id: a for a, _ in todo}

        def landed(run, ev, seconds, seed=seed, by_id=by_id):
            arm = by_id[run.key]
            rec = {"arm": arm.id, "title": arm.title, "seed": seed, "size": size, "fingerprint": fingerprint(run.cfg),
                   "config": {k: v for k, v in run.cfg.to_dict().items() if k not in ("root",)},
                   "metrics": {k: v for k, v in ev.items() if k.startswith("step") or k == "alignment"},
                   "seconds": seconds, "train_steps": arm.train_steps, "threads": torch.get_num_threads(),
                   # the epochs' own times from the log: right also when the folder was trained earlier
                   "train_seconds": train_seconds(out / f"seed{seed}" / run.train_dir) if arm.train_steps else 0.0,
                   "train_cpu_seconds": (train_seconds(out / f"seed{seed}" / run.train_dir, "cpu_sec")
                                         if arm.train_steps else 0.0)}
            path = record_path(results, arm.id, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(rec, indent=1))
            done[0] += 1
            miou = rec["metrics"].get("step1", {}).get("miou")
            bar.set_description(f"study: {done[0]} of {len(pending)} runs landed (last: {arm.id} seed {seed}"
                                + (f", {100 * miou:.1f} % mIoU)" if miou is not None else ")"), refresh=False)
            bar.update(arm.train_steps)

        train_and_evaluate(runs, out / f"seed{seed}", device=device, progress=False, desc=f"seed {seed}",
                           on_result=landed)
    bar.close()
    summary = tabulate(results, seeds, size)
    summary["wall_seconds_this_call"] = round(time.perf_counter() - t_start, 1)
    return summary


# --------------------------------------------------------------------------- statistics

def t_quantile(p: float, df: int) -> float:
    from scipy.stats import t
    return float(t.ppf(p, df))


def paired_ci(diffs: list[float], level: float = 0.95) -> dict:
    """Mean paired difference, its Student-t interval, and the smallest effect detectable at 80 % power."""
    n = len(diffs)
    mean = sum(diffs) / n if n else float("nan")
    if n < 2:
        return {"n": n, "mean": mean, "sd": float("nan"), "lo": float("nan"), "hi": float("nan"), "mde": float("nan")}
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    mde = (t_quantile(0.5 + level / 2, n - 1) + t_quantile(0.8, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "lo": mean - half, "hi": mean + half, "mde": mde}


def verdict(ci: dict, direction: int = 1, seeds_planned: int = 5) -> str:
    """METHOD.md's rule on the interval of all ``seeds_planned`` seeds; before they have all landed the row is
    *pending* (the interval of the seeds so far is shown beside it, never read as a verdict)."""
    if ci["n"] < max(2, seeds_planned) or math.isnan(ci["lo"]):
        return f"pending ({ci['n']} of {seeds_planned} seeds)"
    lo, hi = (ci["lo"], ci["hi"]) if direction > 0 else (-ci["hi"], -ci["lo"])
    if lo > 0:
        return "reproduced"
    if hi < 0:
        return "contradicted"
    return "inconclusive"


def metric_value(rec: dict, metric: str) -> float:
    group, key = metric.split(".")
    v = rec["metrics"][group][key]
    return float(v) if group == "alignment" else 100.0 * float(v)


def arm_values(records: dict, arm: str, metric: str = "step1.miou") -> list[float]:
    """One arm's ``metric`` (as :func:`metric_value`) for every seed it has, in seed order."""
    return [metric_value(r, metric) for (a, s), r in sorted(records.items()) if a == arm]


def arm_summary(records: dict, arm: str, metric: str = "step1.miou") -> dict:
    """One arm over the seeds it has: ``{"arm", "n", "mean", "sd", "values"}`` (sd needs 2 seeds, else NaN)."""
    v = arm_values(records, arm, metric)
    return {"arm": arm, "n": len(v), "mean": _mean(v), "sd": _sd(v), "values": v}


#: Table II in miniature: (initialisation, model) -> arm. The paper's Table II compares a Cityscapes-trained start
#: with ImageNet for the relation model only; the study adds the baseline, so the interaction can be read.
TABLE_II = {("ImageNet", "OHEM baseline"): "A2", ("ImageNet", "+ Relation"): "A3",
            ("scratch", "OHEM baseline"): "B1", ("scratch", "+ Relation"): "B2"}
#: The paper's Table II, ResNet38-Relation, mIoU / mAcc (%).
PAPER_TABLE_II = {"cityscapes": (76.06, 83.32), "ImageNet": (78.43, 86.20)}


def table_ii(records: dict, metrics: tuple = ("step1.miou", "step1.mean_acc")) -> list[dict]:
    """Table II in miniature from the study's records: one row per (initialisation, model) with its arm and
    :func:`arm_summary` of each metric (``row[metric]``)."""
    return [{"init": init, "model": model, "arm": arm, **{m: arm_summary(records, arm, m) for m in metrics}}
            for (init, model), arm in TABLE_II.items()]


def _mean_sd(s: dict, d: int = 1) -> str:
    if s["n"] == 0:
        return "—"
    return f"{s['mean']:.{d}f} ± {s['sd']:.{d}f}" if s["n"] >= 2 else f"{s['mean']:.{d}f}"


def table_ii_lines(records: dict) -> list[str]:
    """Table II in miniature as Markdown lines (a sentence and the 2×2 table), for the results page and notebook 03."""
    t2 = {(r["init"], r["model"]): r for r in table_ii(records)}
    cs, im = ("{:.2f} / {:.2f}".format(*PAPER_TABLE_II[k]) for k in ("cityscapes", "ImageNet"))
    lines = ["Scratch vs ImageNet initialisation of the backbone, with and without the relation module (mIoU / mean "
             "accuracy, %, mean ± sd over the seeds shown). The paper's Table II (ResNet38-Relation on Cityscapes "
             f"val) starts from a Cityscapes-trained model ({cs}) or from ImageNet ({im}); ours starts from scratch, "
             "and its verdicts are the claims T2-Init and T2-Interaction.", "",
             "| initialisation | OHEM baseline: mIoU | mean accuracy | + Relation: mIoU | mean accuracy | seeds |",
             "|---|---|---|---|---|---|"]
    for init in ("ImageNet", "scratch"):
        base, rel = t2[(init, "OHEM baseline")], t2[(init, "+ Relation")]
        n = sorted({base["step1.miou"]["n"], rel["step1.miou"]["n"]})
        lines.append(f"| {init} ({base['arm']}, {rel['arm']}) | {_mean_sd(base['step1.miou'])} | "
                     f"{_mean_sd(base['step1.mean_acc'])} | {_mean_sd(rel['step1.miou'])} | "
                     f"{_mean_sd(rel['step1.mean_acc'])} | {'–'.join(map(str, n))} |")
    return lines


def claim_table(records: dict, seeds: int, size: str = "full") -> list[dict]:
    """``records[(arm, seed)] -> record``: one row per claim with the paired statistics; a claim on an arm the
    budget cut (``CUT``) reads *cut* (the seeds it has are shown, never a verdict)."""
    rows = []
    for c in CLAIMS:
        diffs, arm_vals, ref_vals, seeds_used = [], [], [], []
        for s in range(seeds):
            need = [c.arm, c.ref] + ([c.arm2, c.ref2] if c.arm2 else [])
            if not all((a, s) in records for a in need):
                continue
            a, r = metric_value(records[(c.arm, s)], c.metric), metric_value(records[(c.ref, s)], c.ref_metric or c.metric)
            d = a - r
            if c.arm2:
                d -= metric_value(records[(c.arm2, s)], c.metric) - metric_value(records[(c.ref2, s)], c.metric)
            diffs.append(d)
            seeds_used.append(s)
            arm_vals.append(a)
            ref_vals.append(r)
        ci = paired_ci(diffs)
        rows.append({"claim": c.id, "title": c.title, "arm": c.arm, "ref": c.ref, "arm2": c.arm2, "ref2": c.ref2,
                     "metric": c.metric,
                     "ref_metric": c.ref_metric or c.metric, "paper": c.paper, "paper_delta": c.paper_delta,
                     "arm_mean": _mean(arm_vals), "arm_sd": _sd(arm_vals), "ref_mean": _mean(ref_vals),
                     "ref_sd": _sd(ref_vals), "diffs": diffs, "arm_values": arm_vals, "ref_values": ref_vals, "seeds": seeds_used,
                     **ci, "verdict": verdict(ci, 1, seeds)})
        cut = [a for a in (c.arm, c.ref, c.arm2, c.ref2) if a and seeds_for(a, seeds, size) < seeds]
        if cut:
            rows[-1]["verdict"] = f"cut by the budget ({', '.join(cut)}: METHOD.md, Changes)"
    return rows


def corrections_lines(rows: list[dict], records: dict) -> list[str]:
    """What the table above cannot say by itself (issue 22): records seen before the protocol, how much one seed
    carries each verdict, and what some claims measure."""
    seen = [f"{a} seed {s}" for a, s in SEEN_BEFORE_PROTOCOL if (a, s) in records]
    lines = ["## Read with the table (corrections after the results)", "",
             f"- **Seen before the protocol.** {', '.join(seen)} are the demo's runs, whose numbers stood in the README "
             "before METHOD.md was committed (METHOD.md says \"before any full run\": these three were). Every claim on "
             "them pairs them with records made after the protocol.",
             "- **One seed's weight.** Each reproduced or contradicted claim, read again with one seed left out (the "
             "same rule on the other four):"]
    for r in rows:
        if r["verdict"] not in ("reproduced", "contradicted") or len(r["seeds"]) < 3:
            continue
        loo = leave_one_out(r)
        kept = sum(v == r["verdict"] for _, v, _ in loo)
        flips = "; ".join(f"without seed {s}: {format_ci(ci, 2)}, {v}" for s, v, ci in loo if v != r["verdict"])
        lines.append(f"  - {r['claim']}: {kept} of {len(loo)} keep *{r['verdict']}*" + (f" ({flips})" if flips else ""))
    by = {r["claim"]: r for r in rows}
    init = format_ci(by["T2-Init"], 1) if by.get("T2-Init", {}).get("n") else "—"
    floor = [arm_summary(records, a) for a in ("B1", "B2")]
    floor_text = " and ".join(f"{f['mean']:.1f} %" for f in floor if f["n"]) or "—"
    lines += [f"- **What some claims measure.** T2-Init compares training from scratch with ImageNet weights ({init}); "
              "the paper's Table II compares a Cityscapes-trained start with ImageNet (+2.37): only the direction "
              f"compares, and T2-Interaction means little at a scratch floor of {floor_text} mIoU (B1, B2). "
              "Alt-Stage3 compares 500 "
              "steps with 300 (Alt-Budget controls the steps). Fig1-Boundary's gain (A4 − A2, both at 4 steps) comes from "
              "the relation module and SCL together; SCL's own share is Fig1-Boundary-SCL (A4 − A3, at 1 step: A3 was "
              "not evaluated at 4). About 25 intervals are read "
              "without a multiple-comparison correction: about one may exclude 0 by chance.",
              "- **What study 1 could not decide** (SCL at the paper's effect size, alternating training in the "
              "paper's regime) is study 2's: [study2/METHOD.md](study2/METHOD.md), results in "
              "[study2/README.md](study2/README.md)."]
    return lines


def _mean(v):
    return statistics.fmean(v) if v else float("nan")


def _sd(v):
    return statistics.stdev(v) if len(v) >= 2 else float("nan")


def load_records(results: Path, seeds: int) -> dict:
    recs = {}
    for s in range(seeds):
        for p in sorted((results / "runs" / f"seed{s}").glob("*.json")):
            rec = read_record(p)
            if rec and "metrics" in rec:
                recs[(rec["arm"], s)] = rec
    return recs


def signed(x: float, decimals: int) -> str:
    """``x`` with its sign and ``decimals`` decimals, or more where those would round a non-zero value to 0: a bound
    of the interval that only just excludes 0 must not read "+0.00" beside a verdict that rests on its sign."""
    text = f"{x:+.{decimals}f}"
    if x != 0 and math.isfinite(x) and float(text) == 0:
        text = f"{x:+.{max(decimals, math.ceil(-math.log10(abs(x))))}f}"
    return text


def format_ci(r: dict, decimals: int = 2) -> str:
    """A claim row's paired difference as '+0.83 [+0.0003, +1.67]' (bounds through :func:`signed`), the mean alone
    with "(1 seed)" for one seed, "—" for none: the one way the results page, notebooks and dashboard write it."""
    if not r.get("n"):
        return "—"
    if r["n"] < 2:
        return f"{signed(r['mean'], decimals)} (1 seed)"
    return f"{signed(r['mean'], decimals)} [{signed(r['lo'], decimals)}, {signed(r['hi'], decimals)}]"


def tabulate(results: str | Path = "docs/study", seeds: int = SEEDS, size: str = "full") -> dict:
    """Write ``results.json`` and ``README.md`` (and figures, when records exist) from the committed records."""
    results = Path(results)
    records = load_records(results, seeds)
    rows = claim_table(records, seeds, size)
    # training time from the logs plus this call's evaluation; a run reused from an earlier folder counts its training
    total_s = sum(max(r.get("seconds") or 0.0, r.get("train_seconds") or 0.0) for r in records.values())
    summary = {"seeds_planned": seeds, "size": size, "records": len(records), "run_seconds_total": round(total_s, 1),
               "claims": rows,
               "arms": {a.id: a.title for a in arms(size)}}
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results / "results.json", json.dumps(summary, indent=1))
    figures = _figures(rows, records, seeds, results) if records else []
    lines = ["# The reproduction study: results", "",
             "Produced by `relationnet study` under the rule in [METHOD.md](METHOD.md) (5 seeds per arm, 95 % Student-t "
             "interval of the paired difference; *reproduced* / *contradicted* when it excludes 0 on the paper's / the "
             "other side, *inconclusive* otherwise). Differences in points of % (the alignment score in its own units); "
             "δ_min is the smallest effect these seeds could detect (80 % power). Until every seed has landed a row says "
             "*pending* and shows what has.", "",
             f"Records: {len(records)} of {sum(seeds_for(a.id, seeds, size) for a in arms(size))} planned runs; their measured time (training from "
             f"the runs' logs, or training and evaluation when they ran in one call): {total_s / 3600:.2f} h on the "
             f"machines that ran them.", *_cpu_line(records), "",
             "| claim | test | paper | ours: arm | ours: reference | paired difference [95 % CI] | δ_min | n | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = 3 if r["metric"].startswith("alignment") else 1          # the alignment score lives in [−2, 2]
        arm = f"{r['arm_mean']:.{d}f} ± {r['arm_sd']:.{d}f}" if r["n"] >= 2 else (f"{r['arm_mean']:.{d}f}" if r["n"] else "—")
        ref = f"{r['ref_mean']:.{d}f} ± {r['ref_sd']:.{d}f}" if r["n"] >= 2 else (f"{r['ref_mean']:.{d}f}" if r["n"] else "—")
        e = d + 1
        ci = format_ci(r, e) if r["n"] != 1 else signed(r["mean"], e)
        test = claim_formula(r["arm"], r["ref"], r["metric"], r["ref_metric"], r.get("arm2", ""), r.get("ref2", ""))
        lines.append(f"| {r['claim']}: {r['title']} | {test} | {r['paper']} | {arm} | {ref} | {ci} | "
                     f"{'—' if r['n'] < 2 else format(r['mde'], '.2f')} | {r['n']} | {r['verdict']} |")
    lines += ["", "Arms (METHOD.md): " + "; ".join(f"**{a.id}** {a.title}" for a in arms(size)) + "."]
    lines += ["", *corrections_lines(rows, records)]
    lines += ["", "## Each arm over its seeds", "",
              "Mean ± standard deviation over the seeds that have landed (1-step test, final checkpoint, SynthCity "
              "val).",
              "", "| arm | what | seeds | mIoU | mean accuracy | boundary-band mIoU |", "|---|---|---|---|---|---|"]
    for a in arms(size):
        ss = [arm_summary(records, a.id, m) for m in ("step1.miou", "step1.mean_acc", "step1.boundary_miou")]
        lines.append(f"| {a.id} | {a.title} | {ss[0]['n']} of {seeds_for(a.id, seeds, size)} | "
                     + " | ".join(_mean_sd(x) for x in ss) + " |")
    lines += ["", "## Table II in miniature", "", *table_ii_lines(records)]
    for f in figures:
        lines += ["", f"![{f}]({f})"]
    atomic_write_text(results / "README.md", "\n".join(lines) + "\n")
    return summary


#: The top-level README's study passage lies between these lines (``relationnet study --tabulate --readme``).
README_BEGIN = "<!-- study-verdicts: written by `relationnet study --tabulate --readme README.md`; do not edit -->"
README_END = "<!-- /study-verdicts -->"
#: The order in which the README groups the claims by verdict.
VERDICT_ORDER = ("reproduced", "contradicted", "inconclusive", "pending", "cut")


def readme_passage(records: dict, seeds: int = SEEDS, size: str = "full") -> str:
    """The README's account of the study as its records stand: how many runs have landed per seed, and each claim
    under its verdict (METHOD.md's rule; a claim whose seeds have not all landed is listed as *pending*, never
    read). Nothing in it is stronger than :func:`claim_table`."""
    rows = claim_table(records, seeds, size)
    groups: dict[str, list[str]] = {k: [] for k in VERDICT_ORDER}
    for r in rows:
        groups[r["verdict"].split(" ")[0]].append(r["claim"])
    planned = [sum(seeds_for(a.id, seeds, size) > s for a in arms(size)) for s in range(seeds)]
    landed = [sum(1 for (_, s2) in records if s2 == s) for s in range(seeds)]
    per_seed = "; ".join(f"seed {s}: {landed[s]} of {planned[s]}" for s in range(seeds))
    titles = {r["claim"]: r["title"] for r in rows}
    final = [k for k in VERDICT_ORDER[:3] if groups[k]]
    head = "**Verdicts:**" if not groups["pending"] else "**Verdicts so far:**"
    lines = [f"{head} {len(records)} of {sum(planned)} planned runs have landed ({per_seed})"
             + ("; no claim has a verdict yet." if not final else "."), ""]
    lines += [f"- *{k}*: " + "; ".join(f"{c} ({titles[c]})" for c in groups[k]) + "." for k in final]
    if groups["pending"]:
        lines.append(f"- *pending* until all {seeds} seeds of their arms have landed: "
                     + ", ".join(groups["pending"]) + ".")
    cut = {a.id: seeds_for(a.id, seeds, size) for a in arms(size) if seeds_for(a.id, seeds, size) < seeds}
    if cut:
        ran = ", ".join(f"{a} on {n} seed{'s' * (n != 1)}" for a, n in cut.items())
        lines.append(f"- *cut by the budget*: {', '.join(groups['cut'])} (METHOD.md, Changes: the budget check ran "
                     f"{ran}, so no verdict is read from it).")
    lines += ["", "The claims, their tests and intervals are in [docs/study/README.md](docs/study/README.md); this "
              "README quotes nothing stronger than that table."]
    return "\n".join(lines)


def update_readme(readme: str | Path, results: str | Path = "docs/study", seeds: int = SEEDS,
                  size: str = "full") -> bool:
    """Rewrite the study passage of ``readme`` (between :data:`README_BEGIN` and :data:`README_END`) from the
    records under ``results``; returns whether the file changed. A README without both lines is an error."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    span = _passage_span(text)
    if span is None:
        raise ValueError(f"{readme} has no study passage: put the lines {README_BEGIN!r} and {README_END!r} "
                         "where it belongs")
    new = (text[:span[0]] + "\n" + readme_passage(load_records(Path(results), seeds), seeds, size)
           + "\n" + text[span[1]:])
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def readme_block(text: str) -> str:
    """The study passage of a README's text (between the marker lines), stripped; '' when it has none."""
    span = _passage_span(text)
    return text[span[0]:span[1]].strip() if span else ""


def _passage_span(text: str) -> tuple[int, int] | None:
    """Where the study passage lies in a README's text: from the end of the first marker line to the start of the
    second; None without both in that order."""
    i, j = text.find(README_BEGIN), text.find(README_END)
    return (i + len(README_BEGIN), j) if 0 <= i < j else None


def _cpu_line(records: dict) -> list[str]:
    """How much of the machine the runs had: their training's CPU time against its wall time (records that carry
    it: from 2026-11-29; the rest of the study ran beside test suites and renders on the same two cores)."""
    have = [r for r in records.values() if r.get("train_cpu_seconds") and r.get("train_seconds")]
    if not have:
        return []
    cpu, wall = sum(r["train_cpu_seconds"] for r in have), sum(r["train_seconds"] for r in have)
    return [f"{len(have)} of the records carry their training's CPU time: {cpu / 3600:.2f} core-hours in "
            f"{wall / 3600:.2f} h of wall time, {cpu / wall:.2f} cores busy on average (of "
            f"{max(r.get('threads', 0) for r in have)} threads; fewer when other work shared the machine)."]


def _figures(rows: list[dict], records: dict, seeds: int, results: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = []
    shown = [r for r in rows if r["n"] >= 1 and not r["metric"].startswith("alignment")]
    if shown:
        fig, ax = plt.subplots(figsize=(9, 0.38 * len(shown) + 1.2))
        y = list(range(len(shown)))[::-1]
        for yi, r in zip(y, shown):
            color = {"reproduced": "tab:green", "contradicted": "tab:red"}.get(r["verdict"], "tab:gray")
            if r["n"] >= 2:
                ax.errorbar(r["mean"], yi, xerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]], fmt="o", color=color, capsize=3)
            else:
                ax.plot(r["mean"], yi, "o", mfc="none", color=color)
            if r["paper_delta"] is not None:
                ax.plot(r["paper_delta"], yi, "k*", ms=8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, [r["claim"] for r in shown])
        ax.set_xlabel("paired difference, points (dot: ours with 95 % CI; star: the paper's)")
        ax.set_title("Claims of the paper, tested over seeds")
        fig.tight_layout()
        fig.savefig(results / "claims.png", dpi=110)
        plt.close(fig)
        names.append("claims.png")
    lam = {0.0: "A3", 0.01: "C1", 0.1: "A4", 1.0: "C2", 10.0: "C3"}
    pts = {k: arm_values({key: r for key, r in records.items() if key[1] < seeds}, a) for k, a in lam.items()}
    if all(pts.values()):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        xs = [k for k in lam if k > 0]
        m = [_mean(pts[k]) for k in xs]
        sd = [_sd(pts[k]) if len(pts[k]) > 1 else 0.0 for k in xs]
        ax.plot(xs, m, "o-", label="mIoU with SCL (mean over seeds)")
        ax.fill_between(xs, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)], alpha=0.2, label="± 1 sd")
        ax.axhline(_mean(pts[0.0]), ls="--", color="k", label="λ = 0 (no SCL)")
        ax.set_xscale("log")
        ax.set_xlabel("λ")
        ax.set_ylabel("val mIoU, %")
        ax.legend(fontsize=8)
        ax.set_title("Fig. 6 on SynthCity")
        fig.tight_layout()
        fig.savefig(results / "lambda.png", dpi=110)
        plt.close(fig)
        names.append("lambda.png")
    ms = {k: [100 * records[("A4", s)]["metrics"][f"step{k}"]["miou"] for s in range(seeds)
              if ("A4", s) in records and f"step{k}" in records[("A4", s)]["metrics"]] for k in (1, 4, 16, 64)}
    if all(ms.values()):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for s in range(seeds):
            if ("A4", s) in records:
                ax.plot([1, 4, 16, 64], [100 * records[("A4", s)]["metrics"][f"step{k}"]["miou"] for k in (1, 4, 16, 64)],
                        "o-", alpha=0.5, label=f"seed {s}")
        ax.set_xscale("log", base=4)
        ax.set_xlabel("test steps")
        ax.set_ylabel("val mIoU, %")
        ax.set_title("Fig. 5: multi-step test (A4)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(results / "multistep.png", dpi=110)
        plt.close(fig)
        names.append("multistep.png")
    return names


def describe(size: str = "full", results: str | Path = "docs/study", seeds: int = SEEDS) -> str:
    """The arms with their training steps and how many seeds have landed, then the claims."""
    results = Path(results)
    lines = ["arm  new training steps  seeds landed  title"]
    for a in arms(size):
        landed = sum(1 for s in range(seeds) if record_path(results, a.id, s).is_file())
        planned = seeds_for(a.id, seeds, size)
        lines.append(f"{a.id:4s} {a.train_steps:18d}  {landed}/{planned}          {a.title}"
                     + (" (cut by the budget: METHOD.md, Changes)" if planned < seeds else ""))
    lines += ["", "claims:"] + [
        f"  {c.id}: {claim_formula(c.arm, c.ref, c.metric, c.ref_metric, c.arm2, c.ref2)}; paper {c.paper}"
        for c in CLAIMS]
    return "\n".join(lines)
