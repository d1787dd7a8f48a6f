"""The statistics of both studies: the paired Student-t interval, the verdict rule, the equivalence verdict, one
arm over its seeds, and the one way a difference and its interval are written."""
from __future__ import annotations

import math
import statistics


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

def leave_one_out(row: dict) -> list[tuple[int, str, dict]]:
    """For a claim row: ``(seed left out, verdict, interval)`` for each seed it pairs, by the same rule on the
    other seeds: how much one seed carries a verdict."""
    out = []
    for i, seed in enumerate(row["seeds"]):
        ci = paired_ci(row["diffs"][:i] + row["diffs"][i + 1:])
        out.append((seed, verdict(ci, 1, len(row["seeds"]) - 1), ci))
    return out


def equivalence(diffs: list[float], paper_delta: float | None, delta: float) -> str:
    """The equivalence verdict (study 2's METHOD.md): from the 90 % interval, *smaller than the paper's* when it lies
    wholly below the paper's effect, *absent* when it also lies within ±δ of 0; '' otherwise (or without a paper
    number)."""
    if paper_delta is None or len(diffs) < 2:
        return ""
    ci = paired_ci(diffs, level=0.90)
    if ci["hi"] < paper_delta:
        return "absent" if -delta < ci["lo"] and ci["hi"] < delta else "smaller than the paper's"
    return ""


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
    return {"arm": arm, "n": len(v), "mean": mean(v), "sd": sd(v), "values": v}


def mean(v):
    """The mean of ``v``; NaN for none."""
    return statistics.fmean(v) if v else float("nan")


def sd(v):
    """The sample standard deviation of ``v``; NaN for fewer than two."""
    return statistics.stdev(v) if len(v) >= 2 else float("nan")


def mean_sd(s: dict, d: int = 1) -> str:
    """An :func:`arm_summary` as "mean ± sd" (the mean alone for one seed, "—" for none)."""
    if s["n"] == 0:
        return "—"
    return f"{s['mean']:.{d}f} ± {s['sd']:.{d}f}" if s["n"] >= 2 else f"{s['mean']:.{d}f}"


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
