"""Shared helpers for the notebooks: the size switch, the data, and named checkpoints.

``RELATIONNET_SIZE=ci`` (set by ``.ci/run``) picks the CI size: a smaller SynthCity and
seconds-long training runs, so the whole series runs in minutes.  At full size the
notebooks use the ``relationnet demo`` checkpoints (``runs/demo``) when they exist and
train them otherwise, with the very same configs.  Nothing here re-implements training:
it calls :func:`relationnet.engine.train.train`.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from . import config as config_mod
from .data import synthcity
from .engine.train import train
from .experiments.demo import demo_runs
from .experiments.design import NOTEBOOK_CI
from .experiments.runs import default_root, evaluate_run
from .experiments.stats import format_ci, signed  # noqa: F401 (format_ci: the notebooks write intervals with it)
from .experiments.study2_page import is_final
from .paths import project_dir


#: Overrides that turn the CPU presets back into the from-scratch ResNet38 width 0.125 (with DCN available),
#: for the notebooks whose subject is ResNet38 itself or its DCN ablation (EfficientNet-Lite has no DCN).
SCRATCH_RESNET38 = {"backbone": "resnet38", "width": 0.125, "pretrained": None, "lr": 2e-3, "lr_final": 2e-5}


def size() -> str:
    s = os.environ.get("RELATIONNET_SIZE", "full")
    if s not in ("ci", "full"):
        raise ValueError(f"RELATIONNET_SIZE must be 'ci' or 'full', got {s!r}")
    return s


def data_root() -> Path:
    """SynthCity, generated on first use (default set at full size, a smaller one at CI size)."""
    if size() == "ci":
        return default_root("ci")                 # the studies' CI-size set, made by the same function
    root = synthcity.default_root()
    if not synthcity.is_complete(root, synthcity.SynthCityConfig()):
        synthcity.generate(root, synthcity.SynthCityConfig(), overwrite=True)
    return root


def runs_root() -> Path:
    return project_dir() / "runs" / ("demo" if size() == "full" else "notebooks_ci")


def _overrides(extra: dict | None = None) -> dict:
    o = {"root": str(data_root())}
    if size() == "ci":
        o.update(NOTEBOOK_CI)
    return {**o, **(extra or {})}


def checkpoint(key: str) -> Path:
    """The ``last`` checkpoint of a demo run by key ("baseline", "relation", "alternating/stage1", "lambda_1", …),
    trained (or resumed) if it is not there yet."""
    runs = {r.key: r for r in demo_runs(size(), str(data_root()), _overrides())}
    if key not in runs:
        raise KeyError(f"unknown run {key!r}; choose one of {sorted(runs)}")
    run = runs[key]
    path = runs_root() / run.key / "last"
    if not (runs_root() / run.key / "results.json").is_file():     # written when a run has finished
        train(run.cfg, runs_root() / run.train_dir)
    return path


def train_variant(name: str, preset: str, overrides: dict | None = None, seed: int = 0,
                  init_from: Path | None = None) -> dict:
    """Train (or reuse) a named variant of a preset with a seed (optionally from a checkpoint's weights);
    returns its final record, its checkpoint and its config."""
    cfg = config_mod.load(preset, _overrides({**(overrides or {}), "seed": seed, "name": name}))
    out = runs_root() / "variants" / f"{name}_seed{seed}_{config_mod.fingerprint(cfg)[:8]}"   # a new config, a new folder
    res = train(cfg, out, progress=True, init_from=init_from)     # a bar per epoch with its estimate
    key = "stage3" if cfg.alternating else "final"
    return {**res[key], "checkpoint": out / ("stage3" if cfg.alternating else "") / "last", "config": cfg}


def evaluate_checkpoint(path: Path, steps=(1, 4)) -> dict:
    """Cached 1-/4-step evaluation of a checkpoint (see :func:`relationnet.experiments.runs.evaluate_run`)."""
    from .engine.checkpoint import read_meta
    cfg = config_mod.from_dict(read_meta(path)["config"])
    return evaluate_run(Path(path), cfg, steps=steps, progress=False)


def _claim_rows(results: Path) -> list[dict] | None:
    """The claim rows of a committed ``results.json``; None when it is not there (not tabulated yet)."""
    import json
    return json.loads(results.read_text()).get("claims", []) if results.is_file() else None


def _study2_results() -> Path:
    return project_dir() / "docs" / "study" / "study2" / "results.json"


def _claim_row(results: Path, claim: str, study: str) -> dict | None:
    """A claim's row from a committed ``results.json``; None when it is not there (not tabulated yet)."""
    found = _claim_rows(results)
    if found is None:
        return None
    rows = {r["claim"]: r for r in found}
    if claim not in rows:
        raise KeyError(f"no claim {claim!r} in {study}; claims: {sorted(rows)}")
    return rows[claim]


def study_result(claim: str) -> dict | None:
    """The study's row for a claim id of docs/study/METHOD.md (e.g. "MS-4", "T1-Rel"), from the committed
    ``docs/study/results.json``; None when the study has not been tabulated."""
    return _claim_row(project_dir() / "docs" / "study" / "results.json", claim, "the study")


def study_line(claim: str) -> str:
    """One sentence with the study's verdict on a claim, or why there is none yet."""
    r = study_result(claim)
    if r is None:
        return f"The study (docs/study) has no results yet for {claim}: run `relationnet study`."
    if r["n"] < 2:
        return f"Study, {claim} ({r['title']}): {r['verdict']}."
    return (f"Study, {claim} ({r['title']}): paired difference {signed(r['mean'], 2)} [95 % CI {signed(r['lo'], 2)}, "
            f"{signed(r['hi'], 2)}] over {r['n']} seeds (paper: {r['paper']}) -> {r['verdict']}.")


def study2_result(claim: str) -> dict | None:
    """Study 2's row for a claim id of docs/study/study2/METHOD.md (e.g. "T1-SCL", "Alt2-Budget"), from the committed
    ``docs/study/study2/results.json``; None when it has not been tabulated."""
    return _claim_row(_study2_results(), claim, "study 2")


def study2_line(claim: str) -> str:
    """One sentence with study 2's answer on a claim: its verdict (and equivalence verdict) once every planned seed
    has landed, before that the seeds so far, said to be no verdict."""
    r = study2_result(claim)
    if r is None:
        return f"Study 2 (docs/study/study2) has no results yet for {claim}: run `relationnet study --protocol 2`."
    head = f"Study 2, {claim} ({r['title']}; {r['arm']} − {r['ref']})"
    if not r["n"]:
        return f"{head}: {r['verdict']}."
    d = 4 if r["metric"].startswith("alignment") else 2
    diff = format_ci(r, d) if r["n"] >= 2 else signed(r["mean"], d)
    if not is_final(r):
        return (f"{head}: so far {diff} over {r['n']} of {r['seeds_planned']} seeds (paper: {r['paper']}) -> pending, "
                "not a verdict until every seed has landed.")
    eq = f"; equivalence: {r['equivalence']}" if r.get("equivalence") else ""
    mde = f", δ_min {r['mde']:.{d}f}" if isinstance(r.get("mde"), (int, float)) and r["n"] >= 2 else ""
    return f"{head}: {diff} over {r['n']} seeds{mde} (paper: {r['paper']}) -> {r['verdict']}{eq}."


def study2_account():
    """Study 2's results page's account of study 1's Alt-Budget from its (a)–(d) claims, as Markdown, written from the
    committed ``docs/study/study2/results.json`` by the page's own code (it says which rows are still pending)."""
    from IPython.display import Markdown

    from .experiments.study2_page import account_markdown, study1_claim
    rows = _claim_rows(_study2_results())
    if rows is None:
        return Markdown("Study 2 (docs/study/study2) has no results yet: run `relationnet study --protocol 2`.")
    text = account_markdown(rows, study1_claim(project_dir() / "docs" / "study" / "results.json", "Alt-Budget"))
    return Markdown(text or "Study 2's results lack the (a)–(d) claims: run `relationnet study --protocol 2 --tabulate`.")


def study2_figure(name: str):
    """A committed figure of study 2's results page (``alternating.png``, ``mechanism_S4.png``), for display; it
    shows the records that had landed when the page was last tabulated."""
    from IPython.display import Image
    path = _study2_results().parent / name
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is not in docs/study/study2: run `relationnet study --protocol 2 --tabulate`")
    return Image(filename=str(path))


def study_dir(only: list[str] | None = None) -> Path:
    """Where the study's per-seed records are.

    Full size: the committed ``docs/study`` (``relationnet study`` adds seeds as they land; nothing is trained
    here).  CI size: a tiny study of the arms ``only`` (2 seeds, a few steps each) is run first into
    ``runs/notebooks_ci``, so that CI exercises the very code the full study runs."""
    if size() == "full":
        return project_dir() / "docs" / "study"
    from .experiments import study1 as study
    results = runs_root() / "study_results"
    study.run_study(runs_root() / "study", results, seeds=2, only=only, size="ci", root=str(data_root()),
                    progress=True)        # a bar with its estimate: the first run trains for minutes
    return results


def study_table_ii():
    """Table II in miniature (scratch vs ImageNet, with and without the relation module, mean ± sd over seeds) from
    the committed study records, as Markdown for ``display``."""
    from IPython.display import Markdown
    from .experiments import study1 as study
    records = study.load_records(project_dir() / "docs" / "study", study.SEEDS)
    if not records:
        return Markdown("The study (docs/study) has no records yet: run `relationnet study`.")
    return Markdown("\n".join(study.table_ii_lines(records)))


def study_claims(results: Path, ids: list[str] | None = None) -> list[dict]:
    """The study's paired statistics per claim (see :func:`relationnet.experiments.study1.claim_table`) from the records
    under ``results``; ``ids`` picks claims, in that order."""
    from .experiments import study1 as study
    seeds = study.SEEDS if size() == "full" else 2
    rows = {r["claim"]: r for r in study.claim_table(study.load_records(Path(results), seeds), seeds, size())}
    return [rows[i] for i in (ids or list(rows))]


def study_checkpoint(arm: str, seed: int = 0) -> Path | None:
    """The checkpoint an arm of the study evaluated for a seed, when its run folder is on this machine
    (checkpoints are never committed); None otherwise."""
    from .experiments import study1 as study
    a = {x.id: x for x in study.arms(size())}
    if arm not in a:
        raise KeyError(f"unknown arm {arm!r}; choose one of {sorted(a)}")
    out = project_dir() / "runs" / "study" if size() == "full" else runs_root() / "study"
    path = out / f"seed{seed}" / (a[arm].ckpt or f"{arm}/last")
    return path if path.with_suffix(".json").is_file() else None


def plot_paired(row: dict, ax=None):
    """One claim as a reader should see it: each seed's reference and arm joined by a line (the pairing), and the
    mean paired difference with its 95 % interval against zero."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [2, 1]})
    a, r = row["arm_values"], row["ref_values"]
    for s, x, y in zip(row.get("seeds", range(len(a))), r, a):
        ax[0].plot([0, 1], [x, y], "o-", color="tab:gray", alpha=0.7)
        ax[0].annotate(f"seed {s}", (1, y), xytext=(4, 0), textcoords="offset points", fontsize=8, va="center")
    ax[0].set_xticks([0, 1], [f"{row['ref']} ({row['ref_metric']})", f"{row['arm']} ({row['metric']})"])
    ax[0].set_xlim(-0.3, 1.4)
    ax[0].set_title(f"{row['claim']}: {row['title']}", fontsize=10)
    ax[1].axhline(0, color="k", lw=0.8)
    if row["n"] >= 2:
        ax[1].errorbar([0], [row["mean"]], yerr=[[row["mean"] - row["lo"]], [row["hi"] - row["mean"]]], fmt="o",
                       capsize=6, color="tab:blue")
    ax[1].scatter([0.15] * len(row["diffs"]), row["diffs"], s=12, color="tab:gray")
    ax[1].set_xticks([]); ax[1].set_xlim(-0.5, 0.5)
    ax[1].set_title(f"paired difference, n = {row['n']}\n{row['verdict']}", fontsize=10)
    return ax


def interact(fn, **controls):
    """Like ``ipywidgets.interact(fn, **controls)``, but safe for unattended runs (nbmake, nbconvert, papermill).

    ``fn(**values)`` draws with matplotlib (or returns something displayable) and may print.  The
    controls are shown, then ``fn``'s first result as an ordinary cell output (a display with an id);
    moving a control re-runs ``fn`` and replaces that output in place (``DisplayHandle.update``).

    Why not ``ipywidgets.interact``: it renders into an ``Output`` widget.  A headless runner
    (nbclient) mirrors every output captured by that widget back to the kernel as a ``comm_msg`` on
    the *shell* channel, from the coroutine that reads IOPub, while another coroutine waits on the
    same shell socket for the cell's ``execute_reply``.  The ZeroMQ socket signals readiness
    edge-triggered, and the concurrent send can swallow the edge: the reply sits unread until the
    wait's timeout (nbclient's cell timeout, 900 s under nbmake) and the cell then passes late.
    Measured with nbclient 0.11: a 3-image figure inside ``interact`` stalled 22 of 25 runs,
    0 of 15 with the mirroring switched off.  No ``Output`` widget here means no mirroring.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import Image, Pretty, display

    for name, c in controls.items():
        if not isinstance(c, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets control with a value, got {type(c).__name__}")
        if not c.description:
            c.description = name

    def render() -> list:
        """fn's new figures (closed, so nothing shows twice), its return value if displayable, its printed text."""
        text, before, show = io.StringIO(), set(plt.get_fignums()), plt.show
        plt.show = lambda *a, **k: None          # fn's plt.show() would display at once, outside the handles
        try:
            with contextlib.redirect_stdout(text):
                result = fn(**{k: c.value for k, c in controls.items()})
        finally:
            plt.show = show
        figs = [plt.figure(n) for n in plt.get_fignums() if n not in before]
        images = []
        for f in figs:                 # PNG bytes: the same output whatever matplotlib backend the kernel has
            buf = io.BytesIO()
            f.savefig(buf, format="png", bbox_inches="tight")
            images.append(Image(data=buf.getvalue(), format="png"))
            plt.close(f)
        returned = result is not None and not any(result is f for f in figs)     # identity: arrays compare elementwise
        items = images + ([result] if returned else [])
        return items + [Pretty(text.getvalue().rstrip())]

    display(widgets.HBox(list(controls.values())))
    handles = [display(item, display_id=True) for item in render()]

    def update(_change=None):
        items = render()
        for h, item in zip(handles, items):
            h.update(item)

    for c in controls.values():
        c.observe(update, names="value")
    return handles


__all__ = ["interact", "study_result", "study_line", "study2_result", "study2_line", "study2_figure", "study_dir", "study_claims", "study_checkpoint", "plot_paired", "size", "data_root", "checkpoint", "train_variant", "evaluate_checkpoint"]
