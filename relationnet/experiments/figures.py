"""The studies' figures (matplotlib, written next to their results pages)."""
from __future__ import annotations

from pathlib import Path

from .design import LAMBDA_ARMS
from .stats import arm_values, mean, sd


def study1_figures(rows: list[dict], records: dict, seeds: int, results: Path) -> list[str]:
    from matplotlib.figure import Figure      # not pyplot: a notebook's own figures keep their backend

    def subplots(figsize):
        fig = Figure(figsize=figsize)
        return fig, fig.subplots()
    names = []
    shown = [r for r in rows if r["n"] >= 1 and not r["metric"].startswith("alignment")]
    if shown:
        fig, ax = subplots((9, 0.38 * len(shown) + 1.2))
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
        names.append("claims.png")
    lam = LAMBDA_ARMS
    pts = {k: arm_values({key: r for key, r in records.items() if key[1] < seeds}, a) for k, a in lam.items()}
    if all(pts.values()):
        fig, ax = subplots((6, 3.6))
        xs = [k for k in lam if k > 0]
        m = [mean(pts[k]) for k in xs]
        sds = [sd(pts[k]) if len(pts[k]) > 1 else 0.0 for k in xs]
        ax.plot(xs, m, "o-", label="mIoU with SCL (mean over seeds)")
        ax.fill_between(xs, [a - b for a, b in zip(m, sds)], [a + b for a, b in zip(m, sds)], alpha=0.2, label="± 1 sd")
        ax.axhline(mean(pts[0.0]), ls="--", color="k", label="λ = 0 (no SCL)")
        ax.set_xscale("log")
        ax.set_xlabel("λ")
        ax.set_ylabel("val mIoU, %")
        ax.legend(fontsize=8)
        ax.set_title("Fig. 6 on SynthCity")
        fig.tight_layout()
        fig.savefig(results / "lambda.png", dpi=110)
        names.append("lambda.png")
    ms = {k: [100 * records[("A4", s)]["metrics"][f"step{k}"]["miou"] for s in range(seeds)
              if ("A4", s) in records and f"step{k}" in records[("A4", s)]["metrics"]] for k in (1, 4, 16, 64)}
    if all(ms.values()):
        fig, ax = subplots((6, 3.6))
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
        names.append("multistep.png")
    return names


#: The mechanism lines a study-2 figure draws (METHOD.md, "Mechanism records"): key -> panel title.
MECHANISM_PANELS = {"loss_scl": "SCL loss (Eqs. 4–6)",
                    "mech_acc_same": "subnet accuracy, same-label pairs", "mech_acc_diff": "…, different-label pairs",
                    "mech_grad_ratio": "‖∇ λ·L_scl‖ / ‖∇ L_ohem‖ at the features",
                    "mech_grad_cos": "cosine of the two gradients"}


def mechanism_runs(records: dict, arm: str) -> dict[int, list[dict]]:
    """seed -> the mechanism lines (with a ``step``) of ``arm``'s records that have any, in seed order."""
    runs = {s: [m for m in r.get("mechanism") or [] if isinstance(m, dict) and "step" in m]
            for (a, s), r in sorted(records.items()) if a == arm}
    return {s: rows for s, rows in runs.items() if rows}


def arm_probes(records: dict, arm: str) -> list[dict]:
    """The similarity probes of ``arm``'s records that carry one, in seed order."""
    return [r["metrics"]["probe"] for (a, _), r in sorted(records.items()) if a == arm
            and isinstance(r.get("metrics", {}).get("probe"), dict)]


def mechanism_figure(records: dict, arm: str, results: Path) -> str | None:
    """Study 2's mechanism lines of one arm over training: one thin line per seed and the mean over seeds, per
    quantity; written as ``mechanism_ARM.png`` next to the results page.  None when no record of ``arm`` has them."""
    from matplotlib.figure import Figure
    runs = mechanism_runs(records, arm)
    if not runs:
        return None
    fig = Figure(figsize=(11, 5.6))
    axes = fig.subplots(2, 3).ravel()
    panels = [("loss_scl",), ("mech_acc_same", "mech_acc_diff"), ("mech_grad_ratio",), ("mech_grad_cos",)]
    for ax, keys in zip(axes, panels):
        for key, colour in zip(keys, ("tab:blue", "tab:orange")):
            by_step: dict[int, list[float]] = {}
            for rows in runs.values():
                xs = [m["step"] for m in rows if key in m]
                ys = [m[key] for m in rows if key in m]
                ax.plot(xs, ys, color=colour, alpha=0.25, lw=0.8)
                for x, y in zip(xs, ys):
                    by_step.setdefault(x, []).append(y)
            steps = sorted(by_step)
            ax.plot(steps, [mean(by_step[x]) for x in steps], "o-", color=colour, ms=3,
                    label=MECHANISM_PANELS[key])
        ax.set_title(" / ".join(MECHANISM_PANELS[k] for k in keys) if len(keys) == 1 else "subnet accuracy on pairs",
                     fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        if len(keys) > 1:
            ax.legend(fontsize=7)
    probes = arm_probes(records, arm)
    ax = axes[4]
    if probes:
        names = [("balanced_real", "real\nneighbour"), ("balanced_anchor", "neighbour\n:= anchor"),
                 ("balanced_random", "random\nneighbour")]
        vals = [[p[k] for p in probes if k in p] for k, _ in names]
        ax.bar(range(3), [mean(v) for v in vals], color="tab:gray")
        for i, v in enumerate(vals):
            ax.plot([i] * len(v), v, "k.", ms=4)
        ax.set_xticks(range(3), [n for _, n in names], fontsize=7)
        ax.axhline(0.5, color="k", lw=0.6, ls="--")
        ax.set_title(f"probe after training: balanced accuracy ({len(probes)} seeds)", fontsize=9)
    else:
        ax.axis("off")
    axes[5].axis("off")
    axes[5].text(0, 0.5, f"{arm}, {len(runs)} seed{'s' * (len(runs) != 1)}: thin lines one seed each, dots the mean.\n"
                 "Descriptions of what SCL does during training,\nnot claims (METHOD.md).", fontsize=9, va="center")
    fig.tight_layout()
    name = f"mechanism_{arm}.png"
    fig.savefig(Path(results) / name, dpi=100)
    return name


#: The alternating figure's arms at 500 steps beside the fine-only curve: arm -> (marker, colour, label).
ALT_MARKERS = {"D1": ("v", "tab:red", "D1 alternating, restarted stages"),
               "E1": ("s", "tab:purple", "E1 (a) D1's stages, all fine"),
               "E2": ("D", "tab:green", "E2 (b) one schedule, coarse segment"),
               "F1": ("^", "tab:brown", "F1 (c) scarce fine, alternating"),
               "F2": ("o", "tab:olive", "F2 (c) scarce fine, fine only")}


def alternating_figure(rows: list[dict], records: dict, steps: dict, results: Path, claims: tuple,
                       study1: dict | None = None) -> str | None:
    """Study 2's alternating-training figure, ``alternating.png``: left, val mIoU against training steps, the
    fine-only curve (``steps``: arm -> its steps, e.g. A4 300, D2 500, G1 1 000, G2 2 000; a dot per seed, a line
    through the means) with the 500-step arms of (a)–(c) beside it; right, the paired differences of ``claims``
    (95 % interval for two or more seeds, a hollow dot per seed before that; study 1's Alt-Budget coloured by its own verdict, like the others).
    None when no record of any of these arms has landed."""
    from matplotlib.figure import Figure

    def values(arm):
        return arm_values(records, arm, "step1.miou")
    curve = [(steps[a], values(a)) for a in steps]
    if not any(v for _, v in curve) and not any(values(a) for a in ALT_MARKERS):
        return None
    fig = Figure(figsize=(12, 4.6))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.15]})
    pts = [(x, v) for x, v in curve if v]
    for x, v in pts:
        left.plot([x] * len(v), v, ".", color="tab:blue", alpha=0.45)
    left.plot([x for x, _ in pts], [mean(v) for _, v in pts], "o-", color="tab:blue",
              label="fine only: " + ", ".join(f"{a} {s}" for a, s in steps.items()))
    at = steps.get("D2", 500)
    for i, (arm, (m, colour, label)) in enumerate(ALT_MARKERS.items()):
        v = values(arm)
        if v:
            x = at * (1.05 + 0.05 * i)
            left.plot([x] * len(v), v, m, color=colour, ms=4, alpha=0.45)
            left.plot(x, mean(v), m, color=colour, ms=8, mfc="none", mew=1.6, label=f"{label} ({len(v)})")
    left.set_xscale("log", base=2)
    left.set_xticks(sorted(steps.values()), [str(s) for s in sorted(steps.values())])
    left.set_xlabel("training steps (batch 8)", fontsize=8)
    left.set_ylabel("val mIoU, %", fontsize=8)
    left.set_title("fine-only curve (d) and the 500-step arms of (a)–(c)", fontsize=9)
    left.legend(fontsize=6.5, loc="lower right")
    shown = [r for r in rows if r["claim"] in claims]
    if study1:
        shown = [{**study1, "claim": "study 1: Alt-Budget"}] + shown
    y = list(range(len(shown)))[::-1]
    for yi, r in zip(y, shown):
        colour = {"reproduced": "tab:green", "contradicted": "tab:red"}.get(r.get("verdict"), "tab:gray")
        if r.get("n", 0) >= 2:
            right.errorbar(r["mean"], yi, xerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]], fmt="o", color=colour,
                           capsize=3)
        for d in r.get("diffs") or []:
            right.plot(d, yi, "o", mfc="none", color=colour, ms=4, alpha=0.6)
    right.axvline(0, color="k", lw=0.8)
    right.set_yticks(y, [f"{r['claim']}: {r['arm']} − {r['ref']} ({r.get('n', 0)}/{r.get('seeds_planned', r.get('n', 0))})"
                         for r in shown], fontsize=7)
    right.set_xlabel("paired difference, points of mIoU (95 % interval; hollow dots: one seed each)", fontsize=8)
    right.set_title("green reproduced, red contradicted, grey inconclusive or pending", fontsize=9)
    fig.tight_layout()
    fig.savefig(Path(results) / "alternating.png", dpi=100)
    return "alternating.png"
