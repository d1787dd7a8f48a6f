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
from .engine.demo import demo_runs, evaluate_run, size_overrides
from .engine.train import train

#: Extra shrinking of the demo's CI size for notebooks (they train several models each).
CI_TRAIN = {"epochs": 2, "const_epochs": 1, "iters_per_epoch": 5, "stage_epochs": [2, 1, 1], "eval_every": 2,
            "val_limit": 24, "workers": 0}
CI_DATA = synthcity.SynthCityConfig(num_train=100, num_val=24, num_coarse=100)


#: Overrides that turn the CPU presets back into the from-scratch ResNet38 width 0.125 (with DCN available),
#: for the notebooks whose subject is ResNet38 itself or its DCN ablation (EfficientNet-Lite has no DCN).
SCRATCH_RESNET38 = {"backbone": "resnet38", "width": 0.125, "pretrained": None, "lr": 2e-3, "lr_final": 2e-5}


def size() -> str:
    s = os.environ.get("RELATIONNET_SIZE", "full")
    if s not in ("ci", "full"):
        raise ValueError(f"RELATIONNET_SIZE must be 'ci' or 'full', got {s!r}")
    return s


project_dir = synthcity.project_dir


def data_root() -> Path:
    """SynthCity, generated on first use (default set at full size, a smaller one at CI size)."""
    if size() == "full":
        root = synthcity.default_root()
        cfg = synthcity.SynthCityConfig()
    else:
        root, cfg = project_dir() / "data" / "synthcity_ci", CI_DATA
    if not synthcity.is_complete(root, cfg):
        synthcity.generate(root, cfg, overwrite=True)
    return root


def runs_root() -> Path:
    return project_dir() / "runs" / ("demo" if size() == "full" else "notebooks_ci")


def _overrides(extra: dict | None = None) -> dict:
    o = {"root": str(data_root())}
    if size() == "ci":
        o.update(CI_TRAIN)
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
    res = train(cfg, out, progress=False, init_from=init_from)
    key = "stage3" if cfg.alternating else "final"
    return {**res[key], "checkpoint": out / ("stage3" if cfg.alternating else "") / "last", "config": cfg}


def evaluate(path: Path, steps=(1, 4)) -> dict:
    """Cached 1-/4-step evaluation of a checkpoint (see :func:`relationnet.engine.demo.evaluate_run`)."""
    from .engine.checkpoint import read_meta
    cfg = config_mod.from_dict(read_meta(path)["config"])
    return evaluate_run(Path(path), cfg, steps=steps, progress=False)


def study_result(claim: str) -> dict | None:
    """The study's row for a claim id of docs/study/METHOD.md (e.g. "MS-4", "T1-Rel"), from the committed
    ``docs/study/results.json``; None when the study has not been tabulated."""
    import json
    path = project_dir() / "docs" / "study" / "results.json"
    if not path.is_file():
        return None
    rows = {r["claim"]: r for r in json.loads(path.read_text()).get("claims", [])}
    if claim not in rows:
        raise KeyError(f"no claim {claim!r} in the study; claims: {sorted(rows)}")
    return rows[claim]


def study_line(claim: str) -> str:
    """One sentence with the study's verdict on a claim, or why there is none yet."""
    r = study_result(claim)
    if r is None:
        return f"The study (docs/study) has no results yet for {claim}: run `relationnet study`."
    if r["n"] < 2:
        return f"Study, {claim} ({r['title']}): {r['verdict']}."
    return (f"Study, {claim} ({r['title']}): paired difference {r['mean']:+.2f} "
            f"[95 % CI {r['lo']:+.2f}, {r['hi']:+.2f}] over {r['n']} seeds (paper: {r['paper']}) -> {r['verdict']}.")


def verdict(delta: float, spread: float = 0.0, higher_is_better: bool = True) -> str:
    """Our change vs the paper's direction: reproduced / not reproduced / inconclusive at this scale.

    ``delta`` is ours(variant) − ours(reference); ``spread`` the seed-to-seed std of that
    difference (0 with one seed).  Within one spread of zero the result is inconclusive.
    """
    d = delta if higher_is_better else -delta
    if abs(d) <= max(spread, 1e-9):
        return "inconclusive at this scale"
    return "reproduced (same direction as the paper)" if d > 0 else "not reproduced at this scale"


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


__all__ = ["interact", "study_result", "study_line", "verdict", "size", "data_root", "checkpoint", "train_variant", "evaluate", "size_overrides"]
