"""The top-level README's study passage, written from study 1's records (``relationnet study --tabulate --readme``):
nothing in it is stronger than :func:`relationnet.experiments.study1.claim_table`."""
from __future__ import annotations

from pathlib import Path

from ..storage import atomic_write_text
from .study1 import SEEDS, arms, claim_table, load_records, seeds_for


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
