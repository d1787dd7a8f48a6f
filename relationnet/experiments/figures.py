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
