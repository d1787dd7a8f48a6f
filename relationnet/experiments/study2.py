"""Study 2 (``relationnet study --protocol 2``): what the first study could not decide, by the rule in
``docs/study/study2/METHOD.md``.

* **SCL with the power to see the paper's effect**: S3 (+ Relation) and S4 (+ Relation + SCL, λ = 0.1) on 20
  fresh seeds (100–119), every SCL run recording its mechanism per epoch (:mod:`relationnet.engine.mechanism`)
  and the similarity subnet probed after training (does it compare the pair, or read the anchor alone?).
* **Alternating training taken apart**, each arm against a matched control on seeds 0–4 of this
  machine: (a) E1, stage 2 on fine labels with the same restarts; (b) E2, one schedule with the coarse data in
  its middle segment and the optimizer state kept; (c) F1/F2, a fine-scarce set (200 fine images, all 1 500
  coarse) with stage lengths in the paper's 4 : 2 : 1 ratio of epochs, against fine-only at the same steps;
  (d) G1/G2, the fine-only learning curve at 1 000 and 2 000 steps (seeds 0–2).

The mechanism is study 1's (:func:`relationnet.experiments.runs.train_and_evaluate`), with each record saying what
produced it (:func:`provenance`), records checked before anything runs (:func:`check_records`: a damaged record,
one of another protocol or configuration, or one from a newer code revision is named and left alone, never
retrained over), and a second, equivalence verdict (:func:`equivalence`).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from tqdm.auto import tqdm

from .. import config as config_mod
from ..engine.train import train as s1_train
from ..engine.runlog import train_seconds
from ..storage import atomic_write_text, folder_lock
from . import stats
from .design import Claim, recipe
from .figures import alternating_figure, mechanism_figure
from .study1 import claim_formula
from .records import commit_record, device_name, is_ancestor, mechanism_rows, provenance
from .runs import Arm, arm_config, default_root, record_path, train_and_evaluate
from .study2_page import (ALT_CLAIMS, alternating_lines, coarse_lines, mechanism_lines, provenance_lines,
                          study1_claim)

PROTOCOL = "study2"
OUT = "runs/study2"
RESULTS = "docs/study/study2"
SCL_SEEDS = tuple(range(100, 120))
ALT_SEEDS = (0, 1, 2, 3, 4)
CURVE_SEEDS = (0, 1, 2)
#: The equivalence margin δ (points of %), fixed in METHOD.md before the runs.
DELTA = 0.5
#: Images the similarity probe reads (the first of SynthCity val).
PROBE_IMAGES = 40


def _seeds(size: str, seeds: tuple) -> tuple:
    return seeds if size == "full" else seeds[:2]


def arms(size: str = "full") -> list[Arm]:
    """Study 2's arms (METHOD.md), each with the seeds it runs."""
    r = recipe(size)
    n, base, e1, e2, e3, long_e, long_c, long, no_scl = (r.n, r.base, r.e1, r.e2, r.e3, r.long_e, r.long_c, r.long,
                                                          r.no_scl)
    scl, alt, curve = (_seeds(size, x) for x in (SCL_SEEDS, ALT_SEEDS, CURVE_SEEDS))
    if size == "full":   # fine-scarce: 200 fine images, 25-step epochs; stages 4 : 15 : 1 epochs = 4 : 2 : 1 passes
        scarce, sn, s_stages, s_long = 200, 25, [4, 15, 1], (20, 14)
    else:
        scarce, sn, s_stages, s_long = 8, 1, [2, 2, 1], (5, 3)
    return [
        Arm("S3", "+ Relation (λ = 0)", "synthcity_full", no_scl, scl, train_steps=base),
        Arm("S4", "+ Relation + SCL (λ = 0.1)", "synthcity_full", {}, scl, train_steps=base, probe=True,
            mechanism=True),
        Arm("D1", "alternating: fine → coarse (no SCL) → fine, restarted stages", "synthcity_full",
            {"alternating": True}, alt, ckpt="D1/stage3/last", train_steps=(e1 + e2 + e3) * n, mechanism=True),
        Arm("A4", "stage 1 of D1 (fine, SCL λ = 0.1)", "synthcity_full", {"alternating": True}, alt, train_dir="D1",
            ckpt="D1/stage1/last", probe=True),
        Arm("E1", "(a) D1 with stage 2 on fine labels, same restarts", "synthcity_full",
            {"alternating": True, "stage2_annotation": "fine", "start_stage": 2}, alt, ckpt="E1/stage3/last",
            init_from="D1/stage1/last", train_steps=(e2 + e3) * n, mechanism=True),
        Arm("D2", "fine only, one schedule, D1's steps", "synthcity_full", long, alt, train_steps=long_e * n,
            mechanism=True),
        Arm("E2", "(b) one schedule, optimizer kept, coarse (no SCL) in D1's stage-2 segment", "synthcity_full",
            {**long, "coarse_epochs": [e1, e1 + e2]}, alt, train_steps=long_e * n, mechanism=True),
        Arm("F1", "(c) fine-scarce alternating: 200 fine + all coarse, stages 4 : 2 : 1 in passes", "synthcity_full",
            {"alternating": True, "fine_limit": scarce, "iters_per_epoch": sn, "stage_epochs": s_stages}, alt,
            ckpt="F1/stage3/last", train_steps=sum(s_stages) * sn, mechanism=True),
        Arm("F2", "(c) fine-scarce, fine only at F1's steps", "synthcity_full",
            {"fine_limit": scarce, "iters_per_epoch": sn, "epochs": s_long[0], "const_epochs": s_long[1]}, alt,
            train_steps=s_long[0] * sn, mechanism=True),
        Arm("G1", "(d) fine only, 2× D1's steps", "synthcity_full", {"epochs": 2 * long_e, "const_epochs": 2 * long_c},
            curve, train_steps=2 * long_e * n, mechanism=True),
        Arm("G2", "(d) fine only, 4× D1's steps", "synthcity_full", {"epochs": 4 * long_e, "const_epochs": 4 * long_c},
            curve, train_steps=4 * long_e * n, mechanism=True),
        Arm("S5", "+ Relation + SCL (λ = 1), if the budget holds", "synthcity_full", {"lam": 1.0}, scl,
            train_steps=base, probe=True, mechanism=True, contingent=True),
    ]


#: Arms cut by the budget check of the full-size study (METHOD.md, Changes, 2026-11-30: the check after round 0):
#: arm -> the seeds it keeps (empty: none).
CUT: dict[str, tuple] = {"S5": ()}


def planned(size: str = "full", cut: bool = True) -> list[tuple[int, Arm]]:
    """Every (seed, arm) in the order the study runs them: rounds of four SCL seeds (S3, S4 each), then one
    seed of the alternating arms, then one seed of the curve; the contingent λ = 1 arm last. ``cut``: leave out
    what the budget check cut (:data:`CUT`, full size only); ``False`` gives the plan as the protocol wrote it."""
    by_id = {a.id: a for a in arms(size)}
    cuts = CUT if (cut and size == "full") else {}
    keep = lambda a, s: s in cuts.get(a.id, a.seeds) and s in a.seeds       # noqa: E731
    scl, alt, curve = (_seeds(size, x) for x in (SCL_SEEDS, ALT_SEEDS, CURVE_SEEDS))
    per = max(1, math.ceil(len(scl) / len(alt)))
    out = []
    for r, seed in enumerate(alt):
        for s in scl[r * per:(r + 1) * per]:
            out += [(s, by_id["S3"]), (s, by_id["S4"])]
        out += [(seed, by_id[a]) for a in ("D1", "A4", "E1", "D2", "E2", "F1", "F2")]
        if seed in curve:
            out += [(seed, by_id["G1"]), (seed, by_id["G2"])]
    out += [(s, by_id["S5"]) for s in scl]
    return [(s, a) for s, a in out if keep(a, s)]


CLAIMS = [
    Claim("T1-SCL", "SCL (λ = 0.1) helps on top of the relation module", "S4", "S3", "step1.miou",
          "+0.71 (79.17 → 79.88)", 0.71, equivalence=True),
    Claim("T1-SCL-mAcc", "SCL (λ = 0.1) helps, mean accuracy", "S4", "S3", "step1.mean_acc", "+0.84", 0.84,
          equivalence=True),
    Claim("SCL-Boundary", "SCL sharpens contours (its own share: boundary-band mIoU)", "S4", "S3",
          "step1.boundary_miou", "+ (Fig. 1)"),
    Claim("SCL-Align", "SCL aligns features (its own share: alignment score)", "S4", "S3", "alignment.score",
          "+ (Fig. 1)"),
    Claim("Probe-Anchor", "the subnet uses the neighbour: different-label accuracy falls when the neighbour is the "
          "anchor itself", "S4", "S4", "probe.acc_diff_real", "+ (Fig. 3: the pair is compared)",
          ref_metric="probe.acc_diff_anchor"),
    Claim("Probe-Random", "the subnet uses the neighbour: balanced accuracy falls with a random cell as neighbour",
          "S4", "S4", "probe.balanced_real", "+ (Fig. 3)", ref_metric="probe.balanced_random"),
    Claim("Alt2-Stage3", "stage 3 (500 steps) beats stage 1 (300 steps)", "D1", "A4", "step1.miou",
          "+0.84 (80.92 → 81.76, multi-step)", 0.84),
    Claim("Alt2-Budget", "alternating beats fine-only at the same steps (study 1's contradicted claim, again)", "D1",
          "D2", "step1.miou", "+ (not controlled in the paper)"),
    Claim("Alt2-Labels", "(a) coarse labels in stage 2 beat fine labels, same restarts", "D1", "E1", "step1.miou",
          "+ (coarse data help, Sec. III-C)"),
    Claim("Alt2-Restarts", "(a) restarted stages lose to one schedule (all fine)", "D2", "E1", "step1.miou",
          "hypothesis + (issue 22)", side="the hypothesis's"),
    Claim("Alt2-OneSchedule", "(b) one schedule with the optimizer kept beats restarted stages (same data)", "E2",
          "D1", "step1.miou", "hypothesis + (issue 22)", side="the hypothesis's"),
    Claim("Alt2-CoarseSegment", "(b) a coarse segment in one schedule beats fine labels there", "E2", "D2",
          "step1.miou", "+ (coarse data help, Sec. III-C)"),
    Claim("Alt2-Scarce", "(c) with scarce fine labels, alternating beats fine-only at the same steps", "F1", "F2",
          "step1.miou", "+ (Sec. III-C)"),
    Claim("Curve-500", "(d) fine only: 500 steps beat 300", "D2", "A4", "step1.miou", "hypothesis + (not converged)",
          side="the hypothesis's"),
    Claim("Curve-1000", "(d) fine only: 1 000 steps beat 500", "G1", "D2", "step1.miou", "hypothesis +",
          side="the hypothesis's"),
    Claim("Curve-2000", "(d) fine only: 2 000 steps beat 1 000", "G2", "G1", "step1.miou", "hypothesis +",
          side="the hypothesis's"),
    Claim("F6-λ1", "λ = 1 vs no SCL (contingent)", "S5", "S3", "step1.miou", "— (Fig. 6 only)"),
    Claim("F6-best-vs-λ1", "λ = 0.1 beats λ = 1 (contingent)", "S4", "S5", "step1.miou", "+ (λ = 0.1 is best)"),
]


# --------------------------------------------------------------------------- provenance and records


def check_records(results: Path, size: str = "full", extra: dict | None = None) -> tuple[dict, list[str]]:
    """Read every record under ``results/runs``: ``({(arm, seed): record}, problems)``.  A record that is not
    JSON (truncated), holds another protocol, another size, an arm or seed the protocol does not plan, a
    configuration other than the arm's, or comes from a code revision this checkout does not have (newer) is
    named in ``problems`` and left out; its (arm, seed) is not run again, so nothing is written over it."""
    records, problems = {}, []
    want = {(a.id, s): a for s, a in planned(size)} | {(a.id, s): a for a in arms(size) for s in a.seeds}
    for p in sorted(Path(results).glob("runs/seed*/*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            problems.append(f"{p}: not a readable record ({type(e).__name__}: truncated or damaged?)")
            continue
        if not isinstance(rec, dict) or rec.get("protocol") != PROTOCOL:
            problems.append(f"{p}: a record of another protocol ({rec.get('protocol') if isinstance(rec, dict) else '?'!r},"
                            f" not {PROTOCOL!r})")
            continue
        key = (rec.get("arm"), rec.get("seed"))
        if key not in want or p != record_path(results, *key):
            problems.append(f"{p}: arm {key[0]!r} seed {key[1]!r} is not planned by the protocol at this place")
            continue
        if rec.get("size") != size:
            problems.append(f"{p}: a {rec.get('size')!r}-size record in a {size!r}-size study")
            continue
        cfg = arm_config(want[key], key[1], size, extra=extra)
        if rec.get("fingerprint") != config_mod.fingerprint(cfg):
            problems.append(f"{p}: made with another configuration than arm {key[0]}'s (fingerprint differs)")
            continue
        rev = (rec.get("code") or {}).get("git")
        if rev and is_ancestor(rev) is False:
            problems.append(f"{p}: made by code revision {rev[:10]}, which this checkout does not have (newer code?)")
            continue
        if not isinstance(rec.get("metrics"), dict):
            problems.append(f"{p}: has no metrics")
            continue
        records[key] = rec
    return records, problems


# --------------------------------------------------------------------------- running

def run(out: str | Path = OUT, results: str | Path = RESULTS, size: str = "full", only: list[str] | None = None,
        device: str = "auto", progress: bool = True, extra: dict | None = None, log=print,
        root: str | None = None, commit: bool = False) -> dict:
    """Train and evaluate every pending (arm, seed) in the protocol's order, writing each record as it lands
    (``commit``: and committing it to git, that record alone, so a study spread over sessions loses nothing)."""
    out, results = Path(out), Path(results)
    with folder_lock(out), folder_lock(results):
        return _run(out, results, size, only, device, progress, extra, log, root, commit)


def _run(out: Path, results: Path, size: str, only, device: str, progress: bool, extra, log, root, commit) -> dict:
    ids = [a.id for a in arms(size)]
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; choose from {ids}")
    records, problems = check_records(results, size, extra)
    for p in problems:
        log(f"study 2: skipped {p}; nothing was written over it (move it away to run that arm and seed again)")
    blocked = set()
    for p in problems:
        f = Path(p.split(": ", 1)[0])
        blocked.add((f.stem, f.parent.name))
    root = str(root or default_root(size))
    todo = [(seed, a) for seed, a in planned(size)
            if (not only or a.id in only) and (a.id, seed) not in records and (a.id, f"seed{seed}") not in blocked]
    t0 = time.perf_counter()
    bar = tqdm(total=sum(a.train_steps for _, a in todo), desc=f"study 2: {len(todo)} runs pending", unit="step",
               disable=not progress)
    code = provenance()
    for seed, arm in todo:
        cfg = arm_config(arm, seed, size, root, {**(extra or {}), "device": device})
        run_ = arm.run(cfg)
        folder = out / f"seed{seed}"
        if arm.init_from and not (folder / f"{arm.init_from}.safetensors").is_file():
            # the run it starts from landed earlier but its folder is gone (another session or machine): train it
            # again into its folder (bit-identical on the same machine and thread count)
            dep = next(a for a in arms(size) if a.ckpt == arm.init_from or f"{a.id}/last" == arm.init_from
                       or arm.init_from.startswith(f"{a.train_dir or a.id}/"))
            log(f"study 2: {arm.id} seed {seed} starts from {arm.init_from}, which is not here: training {dep.id} first")
            s1_train(arm_config(dep, seed, size, root, {**(extra or {}), "device": device}),
                     folder / (dep.train_dir or dep.id), progress=False)

        def landed(r, ev, seconds, arm=arm, seed=seed, folder=folder):
            metrics = {k: v for k, v in ev.items() if k.startswith("step") or k == "alignment"}
            if arm.probe:
                metrics["probe"] = _probe(folder / r.checkpoint, r.cfg, device)
            tdir = folder / r.train_dir
            rec = {"protocol": PROTOCOL, "arm": arm.id, "title": arm.title, "seed": seed, "size": size,
                   "fingerprint": config_mod.fingerprint(r.cfg),
                   "config": {k: v for k, v in r.cfg.to_dict().items() if k != "root"}, "metrics": metrics,
                   "seconds": seconds, "train_steps": arm.train_steps,
                   "train_seconds": train_seconds(tdir) if arm.train_steps else 0.0,
                   "train_cpu_seconds": train_seconds(tdir, "cpu_sec") if arm.train_steps else 0.0,
                   "code": {**code, "device": device_name(device)}, "landed": time.strftime("%Y-%m-%dT%H:%M:%S")}
            if arm.mechanism:
                rec["mechanism"] = mechanism_rows(tdir)
            path = record_path(results, arm.id, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(rec, indent=1))
            if commit:
                commit_record(path, f"Study 2: landed seed{seed}/{arm.id}.json", log)
            miou = metrics.get("step1", {}).get("miou")
            log(f"study 2: landed {path.relative_to(results)}"
                + (f" ({100 * miou:.2f} % mIoU, {seconds / 60:.1f} min)" if miou is not None else ""))
            bar.update(arm.train_steps)

        train_and_evaluate([run_], folder, device=device, progress=False, desc=f"{arm.id} seed {seed}",
                           on_result=landed)
    bar.close()
    summary = tabulate(results, size, extra)
    summary["wall_seconds_this_call"] = round(time.perf_counter() - t0, 1)
    summary["problems"] = problems
    return summary


def _probe(ckpt: Path, cfg, device: str) -> dict:
    from ..data import build_dataset, eval_transform
    from ..engine.checkpoint import load_model
    from ..engine.train import ensure_dataset, resolve_device
    dev = resolve_device(device)
    model, _ = load_model(ckpt, dev)
    vset = build_dataset(cfg.dataset, ensure_dataset(cfg, False), "val", "fine", eval_transform())
    from ..engine.mechanism import similarity_probe
    return similarity_probe(model, vset, dev, limit=min(PROBE_IMAGES, cfg.val_limit or PROBE_IMAGES))


# --------------------------------------------------------------------------- statistics and the verdicts

def equivalence(diffs: list[float], paper_delta: float | None, delta: float = DELTA) -> str:
    """The second verdict (METHOD.md), at this study's δ (:func:`relationnet.experiments.stats.equivalence`)."""
    return stats.equivalence(diffs, paper_delta, delta)


def claim_table(records: dict, size: str = "full") -> list[dict]:
    by_id = {a.id: a for a in arms(size)}
    plan = {(a.id, s) for s, a in planned(size)}
    rows = []
    for c in CLAIMS:
        seeds = [s for s in by_id[c.arm].seeds if (c.arm, s) in plan and (c.ref, s) in plan]
        diffs, av, rv, used = [], [], [], []
        for s in seeds:
            if (c.arm, s) in records and (c.ref, s) in records:
                try:
                    a = stats.metric_value(records[(c.arm, s)], c.metric)
                    r = stats.metric_value(records[(c.ref, s)], c.ref_metric or c.metric)
                except (KeyError, TypeError, ValueError):
                    continue
                diffs.append(a - r)
                av.append(a)
                rv.append(r)
                used.append(s)
        ci = stats.paired_ci(diffs)
        v = stats.verdict(ci, 1, len(seeds)) if seeds else "cut by the budget (METHOD.md, Changes)"
        if not seeds and (by_id[c.arm].contingent or by_id[c.ref].contingent):
            v = "not run (contingent; cut by the budget check: METHOD.md, Changes)"
        eq = equivalence(diffs, c.paper_delta) if c.equivalence and len(diffs) == len(seeds) and seeds else ""
        rows.append({"claim": c.id, "title": c.title, "arm": c.arm, "ref": c.ref, "metric": c.metric,
                     "ref_metric": c.ref_metric or c.metric, "paper": c.paper, "paper_delta": c.paper_delta,
                     "side": c.side, "seeds_planned": len(seeds), "seeds": used, "diffs": diffs,
                     "arm_mean": stats.mean(av), "arm_sd": stats.sd(av), "ref_mean": stats.mean(rv), "ref_sd": stats.sd(rv),
                     **ci, "verdict": v, "equivalence": eq,
                     "ci90": stats.paired_ci(diffs, 0.90) if len(diffs) >= 2 else None})
    return rows


def tabulate(results: str | Path = RESULTS, size: str = "full", extra: dict | None = None) -> dict:
    """Write ``results.json`` and ``README.md`` of study 2 from its records (``extra``: the overrides they ran with)."""
    results = Path(results)
    records, problems = check_records(results, size, extra)
    rows = claim_table(records, size)
    plan = planned(size)
    cpu = sum(r.get("train_cpu_seconds") or 0.0 for r in records.values())
    wall = sum(max(r.get("seconds") or 0.0, r.get("train_seconds") or 0.0) for r in records.values())
    machines = sorted({(r.get("code") or {}).get("device", "?") for r in records.values()})
    revisions = sorted({((r.get("code") or {}).get("git") or "?")[:10] for r in records.values()})
    summary = {"protocol": PROTOCOL, "size": size, "records": len(records), "planned": len(plan),
               "train_cpu_hours": round(cpu / 3600, 2), "wall_hours": round(wall / 3600, 2), "machines": machines,
               "revisions": revisions, "claims": rows, "problems": problems}
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results / "results.json", json.dumps(summary, indent=1))
    lines = ["# Study 2: results", "",
             "Produced by `relationnet study --protocol 2` under the rule in [METHOD.md](METHOD.md), fixed before its "
             "first record. Differences in points of % (the alignment score in its own units); 95 % Student-t "
             "interval of the paired difference over the seeds; *reproduced* / *contradicted* when it excludes 0 on "
             "the stated side / the other; the equivalence verdict reads the 90 % interval (δ = "
             f"{DELTA} points). Until every planned seed of a claim has landed, its row says *pending*.", "",
             f"Records: {len(records)} of {len(plan)} planned; {cpu / 3600:.2f} core-hours of training "
             f"({wall / 3600:.2f} h of wall time) on {', '.join(machines) or '—'}; code revisions "
             f"{', '.join(revisions) or '—'}.", "", *provenance_lines(records), ""]
    if problems:
        lines += ["Records left out (named by `relationnet study --protocol 2`):", ""] + [f"- {p}" for p in problems] + [""]
    lines += ["| claim | test | paper | arm | reference | paired difference [95 % CI] | δ_min | n | verdict | "
              "equivalence (90 % CI) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d = 3 if r["metric"].startswith("alignment") else 1
        fmt = lambda m, s: ("—" if math.isnan(m) else f"{m:.{d}f}" + ("" if math.isnan(s) else f" ± {s:.{d}f}"))  # noqa
        ci90 = r["ci90"]
        eq = (f"{r['equivalence'] or '—'} [{stats.signed(ci90['lo'], d + 1)}, {stats.signed(ci90['hi'], d + 1)}]"
              if ci90 and r["paper_delta"] is not None and r["claim"] in {c.id for c in CLAIMS if c.equivalence} else "")
        test = claim_formula(r["arm"], r["ref"], r["metric"], r["ref_metric"])
        lines.append(f"| {r['claim']}: {r['title']} | {test} | {r['paper']} | {fmt(r['arm_mean'], r['arm_sd'])} | "
                     f"{fmt(r['ref_mean'], r['ref_sd'])} | {stats.format_ci(r, d + 1)} | "
                     f"{'—' if r['n'] < 2 else format(r['mde'], f'.{d + 1}f')} | {r['n']} of {r['seeds_planned']} | "
                     f"{r['verdict']} | {eq} |")
    lines += ["", "Arms (METHOD.md): " + "; ".join(f"**{a.id}** {a.title} (seeds {a.seeds[0]}–{a.seeds[-1]})"
                                                   for a in arms(size)) + "."]
    s1_budget = study1_claim(results.parent / "results.json", "Alt-Budget")      # read once, for text and figure
    curve = {"A4": recipe(size).base, **{a.id: a.train_steps for a in arms(size) if a.id in ("D2", "G1", "G2")}}
    fig = alternating_figure(rows, records, curve, results, ALT_CLAIMS, s1_budget)
    lines += alternating_lines(rows, s1_budget, fig)
    fig = mechanism_figure(records, "S4", results)
    if fig:
        lines += ["", "## What SCL does during training (S4)", "",
                  "The mechanism lines of METHOD.md over training and the similarity probe after it: descriptions, not "
                  "claims (the claims are the table's Probe-Anchor and Probe-Random rows).", "", f"![{fig}]({fig})"]
        lines += mechanism_lines(records, "S4")
    lines += coarse_lines(results)
    atomic_write_text(results / "README.md", "\n".join(lines) + "\n")
    if size == "full" and (results.parent / "results.json").is_file():     # study 1's page sets both side by side
        from .study1 import tabulate as study1_tabulate
        study1_tabulate(results.parent)
    return summary


def describe(size: str = "full", results: str | Path = RESULTS) -> str:
    records, problems = check_records(Path(results), size)
    lines = ["arm  training steps  seeds landed  title"]
    plan = planned(size)
    for a in arms(size):
        seeds = [s for s, b in plan if b.id == a.id]
        landed = sum((a.id, s) in records for s in seeds)
        lines.append(f"{a.id:4s} {a.train_steps:14d}  {landed:3d}/{len(seeds):<3d}      {a.title}"
                     + ("  [cut by the budget check: METHOD.md, Changes]" if not seeds else ""))
    steps = sum(a.train_steps for _, a in plan)
    landed = sum(r.get("train_steps") or 0 for r in records.values())
    epochs = epoch_occupancy()                                  # the epoch logs, read once for three lines
    lines += [f"planned: {len(plan)} runs, {steps} training steps; landed: {len(records)} records, {landed} training "
              f"steps, {sum(r.get('train_cpu_seconds') or 0 for r in records.values()) / 3600:.2f} core-hours",
              remaining_line(records, plan, epochs=epochs), budget_projection(size=size, epochs=epochs),
              occupancy_line(epochs=epochs), "", "claims:"]
    lines += [f"  {c.id}: {claim_formula(c.arm, c.ref, c.metric, c.ref_metric)}; paper {c.paper}" for c in CLAIMS]
    lines += [f"problem: {p}" for p in problems]
    return "\n".join(lines)


#: The budget (METHOD.md): 10 hours of the two cores.
BUDGET_CORE_HOURS = 20.0
#: An epoch "had the machine to itself" when at least this many of its 2 cores were busy (METHOD.md, Changes: 1.8
#: at first, 1.6 from the check after round 0, since with OMP_WAIT_POLICY=PASSIVE an epoch alone keeps 1.65–1.71 busy).
ALONE_CORES = 1.6


def epoch_occupancy(out: str | Path = OUT) -> list[tuple[float, float]]:
    """(cores busy = cpu_sec / sec, core-seconds per step) of every study-2 epoch logged in the run folders'
    ``metrics.jsonl`` with both times."""
    epochs = []
    for log in Path(out).glob("seed*/**/metrics.jsonl"):
        try:
            prev = 0
            for line in log.read_text().splitlines():
                r = json.loads(line)
                steps, prev = r["step"] - prev, r["step"]
                if r.get("sec") and r.get("cpu_sec") and steps > 0:
                    epochs.append((r["cpu_sec"] / r["sec"], r["cpu_sec"] / steps))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return epochs


def occupancy_line(out: str | Path = OUT, epochs: list | None = None) -> str:
    """How busy the study's logged epochs kept the 2 cores, split at :data:`ALONE_CORES` (METHOD.md, Changes);
    ``epochs``: :func:`epoch_occupancy`'s list when the caller has read it already."""
    busy = [b for b, _ in (epoch_occupancy(out) if epochs is None else epochs)]
    alone, shared = [b for b in busy if b >= ALONE_CORES], [b for b in busy if b < ALONE_CORES]
    span = lambda v: f"{min(v):.2f}–{max(v):.2f}" if v else "—"        # noqa: E731
    return (f"epochs logged: {len(busy)}; cores busy ≥ {ALONE_CORES:g} (alone): {len(alone)}, {span(alone)}; "
            f"below: {len(shared)}, {span(shared)}")


def alone_rate(out: str | Path = OUT, epochs: list | None = None) -> tuple[float | None, int]:
    """(median core-seconds per training step over the study's epochs that had the machine alone, how many such
    epochs), from the run folders' ``metrics.jsonl`` (METHOD.md, Changes: the budget check's rate); ``epochs``:
    :func:`epoch_occupancy`'s list when the caller has read it already."""
    import statistics
    rates = [rate for busy, rate in (epoch_occupancy(out) if epochs is None else epochs) if busy >= ALONE_CORES]
    return (statistics.median(rates) if rates else None), len(rates)


def budget_projection(out: str | Path = OUT, size: str = "full", eval_share: float = 0.08,
                      epochs: list | None = None) -> str:
    """The budget check's line: planned steps at the alone rate (plus evaluation, about 8 % of training in study 1),
    against :data:`BUDGET_CORE_HOURS`, with and without each arm of the cut order; ``epochs`` as :func:`alone_rate`."""
    rate, n = alone_rate(out, epochs)
    done = (f"budget check done (METHOD.md, Changes): {', '.join(sorted(CUT))} cut; "
            if CUT and size == "full" else "")
    if rate is None or n < 10:
        return f"{done}budget check: waits for 10 epochs that had the machine alone ({n} so far)"
    plan = planned(size, cut=False)                       # the protocol's plan: the check decides the cut
    steps = sum(a.train_steps for _, a in plan)
    contingent = sum(a.train_steps for _, a in plan if a.contingent)
    total = lambda st: st * rate * (1 + eval_share) / 3600        # noqa: E731
    g = {a.id: a.train_steps * len(a.seeds) for a in arms(size) if a.id in ("G1", "G2")}
    return (f"{done}{'the same projection today' if done else 'budget check'}: {rate:.2f} core-s per step alone (median of {n} epochs); planned {total(steps):.1f} "
            f"core-h, without S5 {total(steps - contingent):.1f}, without S5 and G2 "
            f"{total(steps - contingent - g.get('G2', 0)):.1f}, without S5, G2 and G1 "
            f"{total(steps - contingent - sum(g.values())):.1f}; budget {BUDGET_CORE_HOURS:g}")


def remaining_line(records: dict, plan: list, out: str | Path = OUT, eval_share: float = 0.08,
                   epochs: list | None = None) -> str:
    """What is left of the plan: runs not landed, their training steps (a run in progress counted whole) and, at
    the alone rate of :func:`alone_rate` (plus evaluation, as the budget projection), the core-hours and the hours
    of a machine left to the study; ``epochs`` as :func:`alone_rate`."""
    left = [(s, a) for s, a in plan if (a.id, s) not in records]
    steps = sum(a.train_steps for _, a in left)
    line = f"left: {len(left)} runs, {steps} training steps"
    import statistics
    epochs = epoch_occupancy(out) if epochs is None else epochs     # read once, for the rate and the cores busy
    rate, n = alone_rate(out, epochs)
    if rate is None or n < 10 or not steps:
        return line
    busy = statistics.median(b for b, _ in epochs if b >= ALONE_CORES)
    core_h = steps * rate * (1 + eval_share) / 3600
    return (f"{line}; at {rate:.2f} core-s per step alone about {core_h:.1f} core-hours, "
            f"{core_h / busy:.1f} h with the machine left to the study")


def budget_steps(size: str = "full") -> dict:
    """Training steps per block of the protocol's plan, before the budget check's cut (METHOD.md's budget table)."""
    plan = planned(size, cut=False)
    blocks = {"SCL (S3, S4)": ("S3", "S4"), "alternating (D1, A4, E1, D2, E2)": ("D1", "A4", "E1", "D2", "E2"),
              "fine-scarce (F1, F2)": ("F1", "F2"), "curve (G1, G2)": ("G1", "G2"), "contingent (S5)": ("S5",)}
    return {k: sum(a.train_steps for _, a in plan if a.id in ids) for k, ids in blocks.items()}
