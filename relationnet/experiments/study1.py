"""Study 1 (``relationnet study``): the paper's claims tested over seeds, by the rule in ``docs/study/METHOD.md``.

Its arms (:func:`arms`) are trained per seed into ``runs/study/seedS/`` by the one run mechanism
(:func:`relationnet.experiments.runs.train_and_evaluate`), evaluated (cached next to each checkpoint), and
tabulated.  Each finished run's metrics are written to ``docs/study/runs/seedS/ARM.json`` (small, committed;
checkpoints never are) with a fingerprint of everything in its configuration that changes the result; a rerun
anywhere skips a run whose record is there with the same fingerprint, so a study spread over sessions and machines
never repeats a finished run, and an interrupted run resumes from its last epoch.

Per claim (:func:`claim_table`): the paired differences over seeds, their 95 % Student-t interval, the verdict and
the smallest detectable effect (:mod:`relationnet.experiments.stats`); :func:`tabulate` writes
``docs/study/README.md``, ``results.json`` and the figures (:mod:`relationnet.experiments.figures`).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import config as config_mod
from ..engine.runlog import train_seconds
from ..storage import atomic_write_text, folder_lock
from .design import Claim, LAMBDA_ARMS, PAPER_TABLE_II, SEEDS, SIZES, recipe
from .figures import study1_figures
from .runs import Arm, arm_config, default_root, read_record, record_path, stale, train_and_evaluate
from .stats import arm_summary, format_ci, leave_one_out, mean, mean_sd, metric_value, paired_ci, sd, signed, verdict

__all__ = ["Arm", "CLAIMS", "CUT", "Claim", "SEEDS", "SIZES", "arm_config", "arms", "claim_formula", "claim_table",
           "describe", "fingerprint", "load_records", "record_path", "run_study", "seeds_for", "table_ii",
           "table_ii_lines", "tabulate"]

#: Arms cut by the budget check after seed 0 (METHOD.md, Changes): arm -> the number of seeds it runs (full size).
CUT = {"D4": 1}

def seeds_for(arm_id: str, seeds: int, size: str = "full") -> int:
    """How many of ``seeds`` an arm runs: all of them, unless the full-size study cut it (``CUT``)."""
    return min(seeds, CUT.get(arm_id, seeds)) if size == "full" else seeds


def arms(size: str = "full") -> list[Arm]:
    """The arms of METHOD.md, in the order a seed runs them."""
    r = recipe(size)
    n, base, e1, e2, e3, long_e, long, no_scl = r.n, r.base, r.e1, r.e2, r.e3, r.long_e, r.long, r.no_scl
    return [
        Arm("A2", "OHEM baseline", "synthcity_baseline", {}, test_steps=(1, 4), train_steps=base),
        Arm("A3", "+ Relation", "synthcity_full", no_scl, train_steps=base),
        Arm("D1", "alternating: stage 1 → 2 (coarse, no SCL) → 3", "synthcity_full", {"alternating": True},
            ckpt="D1/stage3/last", train_steps=(e1 + e2 + e3) * n),
        Arm("A4", "+ Relation + SCL (λ = 0.1) = stage 1", "synthcity_full", {"alternating": True}, train_dir="D1",
            ckpt="D1/stage1/last", test_steps=(1, 4, 16, 64)),
        Arm("A1", "cross-entropy", "synthcity_baseline", {"loss": "ce"}, train_steps=base),
        Arm("B1", "scratch, OHEM", "synthcity_baseline", {"pretrained": None}, train_steps=base),
        Arm("B2", "scratch, + Relation", "synthcity_full", {"pretrained": None, **no_scl}, train_steps=base),
        *[Arm(i, f"+ Relation + SCL, λ = {lam:g}", "synthcity_full", {"lam": lam}, train_steps=base)
          for lam, i in LAMBDA_ARMS.items() if i.startswith("C")],
        Arm("D2", "fine only, same total steps as D1", "synthcity_full", long, train_steps=long_e * n),
        Arm("D3", "fine + coarse mixed, same total steps as D1", "synthcity_full", {**long, "annotation": "mixed"},
            train_steps=long_e * n),
        Arm("D4", "alternating with SCL in stage 2", "synthcity_full",
            {"alternating": True, "stage2_lam": 0.1, "start_stage": 2}, ckpt="D4/stage3/last",
            init_from="D1/stage1/last", train_steps=(e2 + e3) * n),
    ]


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
      for lam, arm in LAMBDA_ARMS.items() if lam],
    *[Claim(f"F6-best-vs-λ{lam:g}", f"λ = 0.1 beats λ = {lam:g}", "A4", arm, "step1.miou", "+ (λ = 0.1 is best)")
      for lam, arm in LAMBDA_ARMS.items() if lam and arm != "A4"],
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

def claim_formula(arm: str, ref: str, metric: str, ref_metric: str = "", arm2: str = "", ref2: str = "") -> str:
    """The paired difference a claim tests, as the results page and ``study --list`` write it."""
    test = f"{arm} − {ref}"
    if arm2:                                            # an interaction: the difference of two differences
        test = f"({test}) − ({arm2} − {ref2})"
    return test + f" ({metric}{'' if not ref_metric or ref_metric == metric else ' vs ' + ref_metric})"

fingerprint = config_mod.fingerprint

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
            if any(stale(p, c) for p in [folder / "config.yaml", *folder.glob("stage*/config.yaml")]):
                shutil.rmtree(folder)
        # an arm evaluated from a folder another arm trains (A4 in D1) needs that arm's config
        runs = [a.run(c) for a, c in todo]
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


#: Table II in miniature: (initialisation, model) -> arm. The paper's Table II compares a Cityscapes-trained start
#: with ImageNet for the relation model only; the study adds the baseline, so the interaction can be read.
TABLE_II = {("ImageNet", "OHEM baseline"): "A2", ("ImageNet", "+ Relation"): "A3",
            ("scratch", "OHEM baseline"): "B1", ("scratch", "+ Relation"): "B2"}

def table_ii(records: dict, metrics: tuple = ("step1.miou", "step1.mean_acc")) -> list[dict]:
    """Table II in miniature from the study's records: one row per (initialisation, model) with its arm and
    :func:`arm_summary` of each metric (``row[metric]``)."""
    return [{"init": init, "model": model, "arm": arm, **{m: arm_summary(records, arm, m) for m in metrics}}
            for (init, model), arm in TABLE_II.items()]

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
        lines.append(f"| {init} ({base['arm']}, {rel['arm']}) | {mean_sd(base['step1.miou'])} | "
                     f"{mean_sd(base['step1.mean_acc'])} | {mean_sd(rel['step1.miou'])} | "
                     f"{mean_sd(rel['step1.mean_acc'])} | {'–'.join(map(str, n))} |")
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
                     "arm_mean": mean(arm_vals), "arm_sd": sd(arm_vals), "ref_mean": mean(ref_vals),
                     "ref_sd": sd(ref_vals), "diffs": diffs, "arm_values": arm_vals, "ref_values": ref_vals, "seeds": seeds_used,
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
              "- **What study 1 could not decide** (SCL at the paper's effect size, alternating training taken "
              "apart against matched controls) is study 2's: [study2/METHOD.md](study2/METHOD.md), results in "
              "[study2/README.md](study2/README.md), its answers beside study 1's below."]
    return lines

def load_records(results: Path, seeds: int) -> dict:
    recs = {}
    for s in range(seeds):
        for p in sorted((results / "runs" / f"seed{s}").glob("*.json")):
            rec = read_record(p)
            if rec and "metrics" in rec:
                recs[(rec["arm"], s)] = rec
    return recs

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
    figures = study1_figures(rows, records, seeds, results) if records else []
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
                     f"{'—' if r['n'] < 2 else format(r['mde'], f'.{e}f')} | {r['n']} | {r['verdict']} |")
    lines += ["", "Arms (METHOD.md): " + "; ".join(f"**{a.id}** {a.title}" for a in arms(size)) + "."]
    lines += ["", *corrections_lines(rows, records)]
    if size == "full":
        from .study2_page import side_by_side_lines
        lines += ["", *side_by_side_lines(rows, results / "study2" / "results.json")]
    lines += ["", "## Each arm over its seeds", "",
              "Mean ± standard deviation over the seeds that have landed (1-step test, final checkpoint, SynthCity "
              "val).",
              "", "| arm | what | seeds | mIoU | mean accuracy | boundary-band mIoU |", "|---|---|---|---|---|---|"]
    for a in arms(size):
        ss = [arm_summary(records, a.id, m) for m in ("step1.miou", "step1.mean_acc", "step1.boundary_miou")]
        lines.append(f"| {a.id} | {a.title} | {ss[0]['n']} of {seeds_for(a.id, seeds, size)} | "
                     + " | ".join(mean_sd(x) for x in ss) + " |")
    lines += ["", "## Table II in miniature", "", *table_ii_lines(records)]
    for f in figures:
        lines += ["", f"![{f}]({f})"]
    atomic_write_text(results / "README.md", "\n".join(lines) + "\n")
    return summary

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
