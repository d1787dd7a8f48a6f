"""The prose of study 2's results page, written from its claim rows and records (never from anything else):
where study 1's Alt-Budget came from, told through the (a)–(d) arms; what SCL does during training, from the
mechanism lines and the probe; SynthCity's coarse labels against Cityscapes' gtCoarse.

Each function returns Markdown lines.  A sentence that reads a verdict is written only when that claim's every
planned seed has landed; before that the page gives the seeds so far and says they are not a verdict.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import stats
from .figures import arm_probes, mechanism_runs

#: The classes whose share of study 1's Alt-Budget difference the results page adds up (issue 22).
ALT_BUDGET_CLASSES = ("person", "rider", "bicycle", "train")

#: The claims the alternating account reads, in the order it tells them.
ALT_CLAIMS = ("Alt2-Budget", "Alt2-Labels", "Alt2-Restarts", "Alt2-CoarseSegment", "Alt2-OneSchedule", "Alt2-Scarce",
              "Curve-500", "Curve-1000", "Curve-2000")


def is_final(r: dict) -> bool:
    """Whether a study-2 claim row carries a verdict: every planned seed landed (not pending, not run, not cut)."""
    return bool(r.get("seeds_planned")) and not str(r.get("verdict", "")).startswith(("pending", "not run", "cut"))


def is_pending(r: dict) -> bool:
    """Whether a study-2 claim row waits for seeds (its verdict reads *pending*; not run or cut rows do not wait)."""
    return str(r.get("verdict", "")).startswith("pending")


def said(r: dict) -> str:
    """A claim's difference with what it is: '-3.92 (1 seed; pending, 1 of 5 seeds)' or
    '-4.10 [-5.00, -3.20]: contradicted (δ_min 1.05)'."""
    text = f"{r['arm']} − {r['ref']} = {stats.format_ci(r, 2)}"
    if not r.get("n"):
        return f"{r['arm']} − {r['ref']}: no seed yet"
    if is_final(r):
        return f"{text}: *{r['verdict']}* (δ_min {r['mde']:.2f})"
    return f"{text}; pending, {r['n']} of {r['seeds_planned']} seeds: not a verdict"


def _effect(r: dict, good: str, bad: str, none: str) -> str:
    """One of three phrases by a final verdict on the claim's + side: reproduced → good, contradicted → bad."""
    return {"reproduced": good, "contradicted": bad}.get(r["verdict"], none).format(d=abs(r["mean"]), mde=r["mde"])


def study1_claim(study1_results: Path, claim: str) -> dict | None:
    """Study 1's row for ``claim`` from its ``results.json``; None when the file or the claim is missing or damaged."""
    try:
        return next((c for c in json.loads(Path(study1_results).read_text())["claims"] if c["claim"] == claim), None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def alternating_lines(rows: list[dict], s1: dict | None = None, figure: str | None = None) -> list[str]:
    """The page's account of study 1's Alt-Budget (``s1``: its row, :func:`study1_claim`) from the (a)–(d) arms
    (METHOD.md: D1 − D2 = (D1 − E1) − (D2 − E1), E2 separating restarts from labels with one schedule, F1/F2 with
    scarce fine labels, the fine-only curve)."""
    by = {r["claim"]: r for r in rows}
    if not all(c in by for c in ALT_CLAIMS):
        return []
    b, lab, rst, seg, one, scarce = (by[c] for c in ALT_CLAIMS[:6])
    curve = [by[c] for c in ALT_CLAIMS[6:]]
    out = ["", "## Where study 1's Alt-Budget came from: (a)–(d)", ""]
    if s1:
        out.append(f"Study 1 found alternating training (D1: fine → coarse → fine, each stage restarted) "
                   f"{stats.format_ci(s1, 2)} points of mIoU against fine-only training at the same 500 steps (D2): "
                   f"*{s1['verdict']}*, on another machine (METHOD.md, *Machine*). Study 2 reruns the pair here and takes "
                   "it apart:")
    else:
        out.append("Study 1's Alt-Budget (D1 − D2) is rerun here and taken apart:")
    out += ["",
            f"- **Again on this machine** (Alt2-Budget): {said(b)}.",
            f"- **(a) labels or restarts?** D1 − D2 = (D1 − E1) − (D2 − E1), seed by seed. The labels part, coarse "
            f"instead of fine labels in stage 2 with the same restarts (Alt2-Labels): {said(lab)}. The restarts "
            f"part, one schedule instead of three restarted stages, all on fine labels (Alt2-Restarts): {said(rst)}.",
            f"- **(b) one schedule, optimizer kept**: coarse labels in the middle segment against fine labels there "
            f"(Alt2-CoarseSegment): {said(seg)}; one schedule against restarted stages on the same data "
            f"(Alt2-OneSchedule): {said(one)}.",
            f"- **(c) fine labels scarce** (200 fine images, all 1 500 coarse, stages 4 : 2 : 1 in passes), "
            f"alternating against fine-only at the same steps (Alt2-Scarce): {said(scarce)}.",
            "- **(d) fine only, steps doubled**: 300 → 500 (Curve-500): " + said(curve[0]) + "; 500 → 1 000 "
            "(Curve-1000): " + said(curve[1]) + "; 1 000 → 2 000 (Curve-2000): " + said(curve[2]) + "."]
    if figure:
        out += ["", f"![{figure}]({figure})"]
    needed = [b, lab, rst, seg, one, scarce, *curve]
    if not all(is_final(r) for r in needed):
        landed = sum(r["n"] for r in needed)
        out += ["", f"What study 1's *contradicted* came from is written here from these rows' verdicts once every "
                f"seed of them has landed ({landed} of {sum(r['seeds_planned'] for r in needed)} paired differences "
                "so far); until then the numbers above are the seeds so far, not verdicts."]
        return out
    labels = _effect(lab, "coarse labels in stage 2 gained {d:.2f} points over fine ones",
                     "coarse labels in stage 2 cost {d:.2f} points against fine ones",
                     "coarse against fine labels in stage 2 made no difference this study can detect (δ_min {mde:.2f})")
    restarts = _effect(rst, "restarting the schedule at each stage cost {d:.2f} points against one schedule",
                       "restarting the schedule at each stage gained {d:.2f} points over one schedule",
                       "restarting the schedule made no difference this study can detect (δ_min {mde:.2f})")
    parts = [(name, r["verdict"] == side, r["verdict"] == "inconclusive")
             for name, r, side in (("the coarse labels", lab, "contradicted"), ("the restarts", rst, "reproduced"))]
    loss = [name for name, cost, _ in parts if cost]
    other = "".join(f"; {name} pulled the other way" for name, cost, undecided in parts if not cost and not undecided)
    if loss:
        where = (f"has a detectable part in {' and in '.join(loss)}"
                 + "".join(f"; the part of {name} cannot be told from 0 here" for name, _, undecided in parts
                           if undecided) + other)
    else:
        where = "has no part that this study detects on its own" + other
    again = (f"Split this way, study 1's loss, seen again here, {where}." if b["verdict"] == "contradicted" else
             f"Study 1's loss is not detectably seen again on this machine (Alt2-Budget: *{b['verdict']}*), so these "
             "parts do not explain it; they say what each change does here.")
    out += ["", f"**What it came from.** Split by (a), D1 − D2 = (D1 − E1) − (D2 − E1): with the same restarts, "
            f"{labels}; with fine labels throughout, {restarts} (D2 keeps SCL in those 200 steps, which E1's stage 2, "
            "like D1's, trains without). " + again]
    seg_s = _effect(seg, "coarse labels in its middle segment gained {d:.2f} points",
                    "coarse labels in its middle segment cost {d:.2f} points",
                    "coarse labels in its middle segment made no detectable difference (δ_min {mde:.2f})")
    one_s = _effect(one, "beat the restarted stages by {d:.2f} points on the same data",
                    "lost {d:.2f} points to the restarted stages on the same data",
                    "did not detectably differ from the restarted stages on the same data (δ_min {mde:.2f})")
    scarce_s = _effect(scarce, "alternating beat fine-only training by {d:.2f} points",
                       "alternating lost {d:.2f} points to fine-only training",
                       "alternating and fine-only training did not detectably differ (δ_min {mde:.2f})")
    flip = {("reproduced", "contradicted"): ("cost", "gained"),
            ("contradicted", "reproduced"): ("gained", "cost")}.get((rst["verdict"], one["verdict"]))
    both = "; the coarse labels cost on both splits" if lab["verdict"] == seg["verdict"] == "contradicted" else ""
    disagree = (f" The two splits disagree on the restarts: with fine labels in the middle segment restarting {flip[0]} "
                f"{abs(rst['mean']):.2f} points, with coarse labels there it {flip[1]} {abs(one['mean']):.2f}; the loss "
                f"does not divide into one labels part and one restarts part{both}." if flip else "")
    out.append(f"Split by (b), D1 − D2 = (D1 − E2) + (E2 − D2): with one schedule and the optimizer kept, {seg_s}, and "
               f"that schedule {one_s} (E2's coarse segment, like D1's stage 2, trains without SCL; D2 keeps it there)."
               f"{disagree} When fine labels are scarce (c), {scarce_s}.")
    gains = "; ".join(f"{c['arm']} − {c['ref']} {c['mean']:+.2f} (*{c['verdict']}*)" for c in curve)
    last = _effect(curve[2], "still gain {d:.2f} points from 1 000 to 2 000 steps: they had not stopped improving by "
                   "1 000 steps, twice study 1's 500", "lose {d:.2f} points from 1 000 to 2 000 steps",
                   "show no gain from 1 000 to 2 000 steps that this study can detect (δ_min {mde:.2f})")
    out.append(f"Fine-only models (d: {gains}) {last}.")
    return out


def account_markdown(rows, s1: dict | None = None, heading: str = "####") -> str:
    """The page's (a)–(d) section (:func:`alternating_lines`, without its figure) as one Markdown text for a notebook or
    the dashboard, its heading at ``heading``'s level; "" when the results lack any of its claims."""
    lines = alternating_lines(list(rows), s1)
    return "\n".join(heading + line[2:] if line.startswith("## ") else line for line in lines).strip()


def mechanism_lines(records: dict, arm: str = "S4") -> list[str]:
    """The mechanism lines and probe of ``arm``'s records in words: first and last epoch, means over seeds."""
    runs = list(mechanism_runs(records, arm).values())
    if not runs:
        return []

    def at(key, pick):
        return stats.mean([pick([m for m in rs if key in m])[key] for rs in runs if any(key in m for m in rs)])
    first, last = (lambda rs: rs[0]), (lambda rs: rs[-1])
    steps = max(rs[-1]["step"] for rs in runs)
    n = len(runs)
    out = ["", f"Over {arm}'s {steps} steps ({n} seed{'s' * (n != 1)}, means over seeds, first to last epoch): the SCL "
           f"loss falls from {at('loss_scl', first):.3f} to {at('loss_scl', last):.3f}; the similarity subnet calls "
           f"{100 * at('mech_acc_same', first):.0f} → {100 * at('mech_acc_same', last):.0f} % of same-label pairs and "
           f"{100 * at('mech_acc_diff', first):.0f} → {100 * at('mech_acc_diff', last):.0f} % of different-label "
           f"pairs of the training batches right; at the shared features, λ·L_scl's gradient is "
           f"{at('mech_grad_ratio', first):.3f} → {at('mech_grad_ratio', last):.3f} times L_ohem's in size, at a cosine "
           f"of {at('mech_grad_cos', first):+.2f} → {at('mech_grad_cos', last):+.2f} with it."]
    probes = arm_probes(records, arm)
    if probes:
        p = {k: 100 * stats.mean([q[k] for q in probes if k in q]) for k in probes[0] if k != "images"}
        out += ["", f"After training, on the first {probes[0].get('images', '?')} val images ({len(probes)} seeds): "
                   f"balanced accuracy {p['balanced_real']:.1f} % with the real neighbour, "
                   f"{p['balanced_anchor']:.1f} % with the neighbour replaced by the anchor's own feature, "
                   f"{p['balanced_random']:.1f} % with a random cell of the image as neighbour (chance 50 %); "
                   f"with the anchor as its own neighbour, different-label pairs are called right "
                   f"{p['acc_diff_anchor']:.1f} % of the time ({p['acc_diff_real']:.1f} % with the real one). The "
                   f"self-pair (always the same label) gets probability {p['self_p_interior'] / 100:.2f} on interior "
                   f"cells and {p['self_p_contour'] / 100:.2f} on cells next to a contour. What the intervals say is "
                   "the table's Probe-Anchor and Probe-Random rows."]
    return out


def coarse_lines(results: Path) -> list[str]:
    """The results page's account of SynthCity's coarse labels (METHOD.md): from ``coarse_coverage.md`` (made by
    ``scripts/synthcity_stats.py --coverage``) the classes they keep and leave out, and from study 1's records how
    much of Alt-Budget's difference those classes carry.  Nothing when the table is missing."""
    table = Path(results) / "coarse_coverage.md"
    if not table.is_file():
        return []
    rows = {}
    for line in table.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("class", "---"):
            rows[cells[0]] = cells
    if not rows:
        return []
    num = lambda v: float(v) if v not in ("—", "") else None          # noqa: E731
    left = [(k, num(r[4])) for k, r in rows.items() if num(r[4]) is not None and num(r[4]) >= 90]
    keep = {k: num(r[2]) for k, r in rows.items()}
    out = ["", "## SynthCity's coarse labels against Cityscapes' gtCoarse", "",
           f"Measured on SynthCity ([coarse_coverage.md](coarse_coverage.md)): its coarse labels keep "
           f"{keep.get('road')} % of the road's fine pixels, {keep.get('building')} % of buildings', "
           f"{keep.get('car')} % of cars' and {keep.get('pole')} % of poles'; they leave out "
           + ", ".join(f"{k} ({v:g} % of objects)" for k, v in left)
           + " almost entirely. Cityscapes' gtCoarse are polygons drawn by hand; they "
           "too leave contours unlabelled and skip small and distant objects, but their per-class coverage is not "
           "measured here (no Cityscapes copy on this machine: `python scripts/synthcity_stats.py --coverage --root "
           "CITYSCAPES` measures it on one)."]
    from ..data import CITYSCAPES_CLASSES

    def by_class(runs: Path) -> tuple[list[float], int]:
        """D1 − D2 per class over the seeds of ``runs`` (each class's IoU difference / 19, mean over the seeds)."""
        diffs = []
        for seed_dir in sorted(runs.glob("seed*")):
            if (seed_dir / "D1.json").is_file() and (seed_dir / "D2.json").is_file():
                a, b = (json.loads((seed_dir / f"{arm}.json").read_text())["metrics"]["step1"]["iou"]
                        for arm in ("D1", "D2"))
                diffs.append([100 * (x - y) / len(a) for x, y in zip(a, b)])
        return [sum(col) / len(col) for col in zip(*diffs)], len(diffs)

    try:                                   # Alt-Budget class by class, from each study's committed records
        per_class, n = by_class(Path(results).parent / "runs")
        part = sum(per_class[CITYSCAPES_CLASSES.index(c)] for c in ALT_BUDGET_CLASSES)
        top = sorted(range(len(per_class)), key=lambda i: per_class[i])[:5]
        hidden = [c for c in ALT_BUDGET_CLASSES if c in dict(left)]
        out += ["", f"In study 1, Alt-Budget's D1 − D2 ({sum(per_class):+.2f} points over {n} seeds) has "
                f"{part:+.2f} points from {', '.join(ALT_BUDGET_CLASSES)} (each class's IoU difference / 19, mean over "
                f"the seeds), the four classes issue 22 named: {100 * part / sum(per_class):.0f} % of it; SynthCity's "
                f"coarse labels almost never show {', '.join(hidden) or 'none of them'}. Its largest losses by class are "
                + ", ".join(f"{CITYSCAPES_CLASSES[i]} ({per_class[i]:+.2f})" for i in top if per_class[i] < 0) + "."]
        per2, n2 = by_class(Path(results) / "runs")
        if n2:
            part2 = sum(per2[CITYSCAPES_CLASSES.index(c)] for c in ALT_BUDGET_CLASSES)
            out[-1] += (f" In study 2 (Alt2-Budget, {n2} seed{'s' * (n2 != 1)}) the same four classes carry {part2:+.2f} of "
                        f"{sum(per2):+.2f} points.")
    except (OSError, ValueError, KeyError, TypeError, StopIteration, ZeroDivisionError):
        pass
    return out


#: The questions both studies ask: (what, study-1 claim, study-2 claim).
BOTH = (("SCL on top of the relation module, mIoU", "T1-SCL", "T1-SCL"),
        ("SCL on top of the relation module, mean accuracy", "T1-SCL-mAcc", "T1-SCL-mAcc"),
        ("SCL's own share of sharper contours (boundary-band mIoU)", "Fig1-Boundary-SCL", "SCL-Boundary"),
        ("feature alignment (study 1: relation module and SCL together; study 2: SCL alone)", "Fig1-Align", "SCL-Align"),
        ("λ = 1 against no SCL", "F6-λ1", "F6-λ1"),
        ("λ = 0.1 beats λ = 1", "F6-best-vs-λ1", "F6-best-vs-λ1"),
        ("stage 3 beats stage 1 (500 against 300 steps)", "Alt-Stage3", "Alt2-Stage3"),
        ("alternating beats fine-only at the same steps", "Alt-Budget", "Alt2-Budget"))


def side_by_side_lines(rows1: list[dict], study2_results: Path) -> list[str]:
    """Study 1's page section that sets its answer to each question study 2 asks again beside study 2's, each under
    its own study's rule and never pooled.  Nothing when study 2 has no results file."""
    try:
        rows2 = {r["claim"]: r for r in json.loads(Path(study2_results).read_text())["claims"]}
    except (OSError, ValueError, KeyError, TypeError):
        return []
    by1 = {r["claim"]: r for r in rows1}

    def cell(r, study2):
        if r is None:
            return "—", "—"
        d = 4 if r["metric"].startswith("alignment") else 2
        if not r.get("n"):
            return f"{r['arm']} − {r['ref']}", f"*{r['verdict']}*"
        if study2 and not is_final(r):
            so_far = stats.format_ci(r, d) if r["n"] >= 2 else stats.signed(r["mean"], d)
            return f"{r['arm']} − {r['ref']}", f"{so_far} ({r['n']} of {r['seeds_planned']} seeds so far): *pending*"
        return f"{r['arm']} − {r['ref']}", f"{stats.format_ci(r, d)}, {r['n']} seeds: *{r['verdict']}*"
    out = ["## Study 1 beside study 2", "",
           "The questions study 2 ([study2/README.md](study2/README.md), protocol [study2/METHOD.md](study2/METHOD.md)) "
           "asks again, with each study's answer under its own rule. The two are apart: other seeds (study 2's SCL arms "
           "20 fresh ones), another machine, and for the alternating arms reruns of D1 and D2; a row's two answers are "
           "read side by side, never pooled. A study-2 answer reads *pending* until every seed of its claim has landed.",
           "", "| question | study 1: test | study 1: difference [95 % CI] | study 2: test | study 2: difference "
           "[95 % CI] |", "|---|---|---|---|---|"]
    for what, c1, c2 in BOTH:
        t1, v1 = cell(by1.get(c1), False)
        t2, v2 = cell(rows2.get(c2), True)
        out.append(f"| {what} | {t1} | {v1} | {t2} | {v2} |")
    return out


def provenance_lines(records: dict) -> list[str]:
    """Each arm whose records came from more than one code revision or machine, named with them (METHOD.md,
    *Records*; the revisions' differences are in METHOD.md's *Changes*)."""
    by_arm: dict[str, dict[str, set]] = {}
    for (arm, _), r in sorted(records.items()):
        code = r.get("code") or {}
        d = by_arm.setdefault(arm, {"git": set(), "device": set()})
        d["git"].add((code.get("git") or "?")[:7] + (" (uncommitted changes)" if code.get("dirty") else ""))
        d["device"].add(f"{code.get('device', '?')}, {code.get('threads', '?')} threads")
    mixed = [f"{arm}: " + "; ".join(f"{len(v)} {what} ({', '.join(sorted(v))})" for what, v in
                                    (("code revisions", d["git"]), ("machines", d["device"])) if len(v) > 1)
             for arm, d in by_arm.items() if len(d["git"]) > 1 or len(d["device"]) > 1]
    if not mixed:
        return ["Every arm's records came from one code revision and one machine."]
    return ["Arms whose records came from more than one code revision or machine (what changed between the "
            "revisions, and why no run's numbers did, is in METHOD.md, *Changes*): " + "; ".join(mixed) + "."]
