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
CI_TRAIN = {"epochs": 2, "const_epochs": 1, "iters_per_epoch": 10, "stage_epochs": [2, 1, 1], "eval_every": 2,
            "val_limit": 24, "workers": 0}
CI_DATA = synthcity.SynthCityConfig(num_train=100, num_val=24, num_coarse=100)


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
    out = runs_root() / "variants" / f"{name}_seed{seed}"
    res = train(cfg, out, progress=False, init_from=init_from)
    key = "stage3" if cfg.alternating else "final"
    return {**res[key], "checkpoint": out / ("stage3" if cfg.alternating else "") / "last", "config": cfg}


def evaluate(path: Path, steps=(1, 4)) -> dict:
    """Cached 1-/4-step evaluation of a checkpoint (see :func:`relationnet.engine.demo.evaluate_run`)."""
    from .engine.checkpoint import read_meta
    cfg = config_mod.from_dict(read_meta(path)["config"])
    return evaluate_run(Path(path), cfg, steps=steps, progress=False)


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
    from IPython.display import Pretty, display

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
        for f in figs:
            plt.close(f)
        items = figs + ([result] if result is not None and result not in figs else [])
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


__all__ = ["interact", "verdict", "size", "data_root", "checkpoint", "train_variant", "evaluate", "size_overrides"]
