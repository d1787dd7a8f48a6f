"""The top-level README's study passages: study 1's, written from its records (``relationnet study --tabulate
--readme``), nothing in it stronger than :func:`relationnet.experiments.study1.claim_table`; study 2's, written from
its ``results.json`` (``relationnet study --protocol 2 --tabulate --readme``), nothing in it stronger than that page's
table (a claim is named under a verdict only when every planned seed has landed: :func:`study2_page.is_final`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..storage import atomic_write_text
from .study1 import SEEDS, arms, claim_table, load_records, seeds_for
from .study2_page import is_final, is_pending


#: The top-level README's study passage lies between these lines (``relationnet study --tabulate --readme``).
README_BEGIN = "<!-- study-verdicts: written by `relationnet study --tabulate --readme README.md`; do not edit -->"

README_END = "<!-- /study-verdicts -->"

#: Study 2's passage lies between these lines (``relationnet study --protocol 2 --tabulate --readme``).
README2_BEGIN = ("<!-- study2-verdicts: written by `relationnet study --protocol 2 --tabulate --readme README.md`; "
                 "do not edit -->")

README2_END = "<!-- /study2-verdicts -->"

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
    return _rewrite(Path(readme), README_BEGIN, README_END,
                    lambda: readme_passage(load_records(Path(results), seeds), seeds, size))

def study2_passage(summary: dict) -> str:
    """The README's account of study 2 from its ``results.json`` (``summary``): records landed of planned, each claim
    with a verdict (and its equivalence verdict, where the protocol reads one) only once every planned seed has
    landed; the others listed as pending with their seeds, or as not run."""
    rows = summary.get("claims") or []
    final = [r for r in rows if is_final(r)]
    groups = {k: [r for r in final if r["verdict"].split(" ")[0] == k] for k in VERDICT_ORDER[:3]}
    pending = [r for r in rows if is_pending(r)]
    not_run = [r for r in rows
               if r.get("seeds_planned") == 0 or str(r.get("verdict", "")).startswith(("not run", "cut"))]
    head = "**Study 2, verdicts:**" if not pending else "**Study 2, so far:**"
    lines = [f"{head} {summary.get('records', 0)} of {summary.get('planned', 0)} planned records have landed"
             + ("; no claim has a verdict yet." if not final else "."), ""]
    for k, rs in groups.items():
        if rs:
            lines.append(f"- *{k}*: " + "; ".join(
                f"{r['claim']} ({r['title']}" + (f"; equivalence: *{r['equivalence']}*" if r.get("equivalence") else "")
                + ("; study 2's hypothesis, not a claim of the paper" if r.get("side") == "the hypothesis's" else "")
                + ")" for r in rs) + ".")
    if pending:
        lines.append("- *pending* until every planned seed of the claim has landed: "
                     + ", ".join(f"{r['claim']} ({r['n']} of {r['seeds_planned']} seeds)" for r in pending) + ".")
    if not_run:
        lines.append("- *not run*: " + ", ".join(r["claim"] for r in not_run)
                     + " (their arm was cut by the budget check: METHOD.md, Changes).")
    lines += ["", "The claims, their tests and intervals are in "
              "[docs/study/study2/README.md](docs/study/study2/README.md); this README quotes nothing stronger than "
              "that table."]
    return "\n".join(lines)

def update_readme2(readme: str | Path, results: str | Path = "docs/study/study2") -> bool:
    """Rewrite study 2's passage of ``readme`` (between :data:`README2_BEGIN` and :data:`README2_END`) from
    ``results``/results.json; returns whether the file changed. A README without both lines is an error."""
    return _rewrite(Path(readme), README2_BEGIN, README2_END,
                    lambda: study2_passage(json.loads((Path(results) / "results.json").read_text(encoding="utf-8"))))

def _rewrite(readme: Path, begin: str, end: str, passage) -> bool:
    text = readme.read_text(encoding="utf-8")
    span = _passage_span(text, begin, end)
    if span is None:
        raise ValueError(f"{readme} has no study passage: put the lines {begin!r} and {end!r} where it belongs")
    new = text[:span[0]] + "\n" + passage() + "\n" + text[span[1]:]
    if new != text:
        atomic_write_text(readme, new)
    return new != text

def readme_block(text: str, begin: str = README_BEGIN, end: str = README_END) -> str:
    """A study passage of a README's text (between the marker lines), stripped; '' when it has none."""
    span = _passage_span(text, begin, end)
    return text[span[0]:span[1]].strip() if span else ""

def _passage_span(text: str, begin: str = README_BEGIN, end: str = README_END) -> tuple[int, int] | None:
    """Where a study passage lies in a README's text: from the end of the first marker line to the start of the
    second; None without both in that order."""
    i, j = text.find(begin), text.find(end)
    return (i + len(begin), j) if 0 <= i < j else None
