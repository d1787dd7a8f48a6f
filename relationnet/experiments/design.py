"""The experiments' design, each fact written once: the sizes runs are trained at, the seeds, the λ grid, the
CI-size data and the paper's numbers that the demo, the studies, the notebooks and the dashboard quote."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from ..data.synthcity import SynthCityConfig

#: The λ grid of Fig. 6 (the paper's λ is 0.1): the demo's runs and study 1's arms.
LAMBDAS = (0.0, 0.01, 0.1, 1.0, 10.0)
#: Study 1's arm for each λ of the grid (λ = 0 is the relation model without SCL, λ = 0.1 the full model).
LAMBDA_ARMS = {0.0: "A3", 0.01: "C1", 0.1: "A4", 1.0: "C2", 10.0: "C3"}

#: Steps per epoch and the epochs of the recipe at each size (full: METHOD.md; ci: a smoke test).
SIZES = {
    # full size validates only each stage's last epoch: the study evaluates the final checkpoint on its own
    # (METHOD.md), so a per-epoch validation curve would cost 10-15 s an epoch and change nothing (it is run-neutral)
    "full": {"iters_per_epoch": 50, "epochs": 6, "const_epochs": 4, "stage_epochs": [6, 2, 2], "long": (10, 7),
             "extra": {"eval_every": 1000}},
    "ci": {"iters_per_epoch": 2, "epochs": 2, "const_epochs": 1, "stage_epochs": [2, 1, 1], "long": (4, 3),
           "extra": {"val_limit": 8, "workers": 0, "eval_every": 2}},
}

#: Seeds per arm in study 1 (METHOD.md).
SEEDS = 5


#: The demo's runs at CI size (tests; the notebooks shrink them further with :data:`NOTEBOOK_CI`).
DEMO_CI = {"epochs": 2, "const_epochs": 1, "iters_per_epoch": 12, "stage_epochs": [2, 1, 1], "eval_every": 2,
           "val_limit": 24, "workers": 0}
#: Extra shrinking of the demo's CI size for notebooks (they train several models each): fewer steps per epoch.
NOTEBOOK_CI = {**DEMO_CI, "iters_per_epoch": 5}
#: The SynthCity of the CI size (``data/synthcity_ci``).
CI_DATA = SynthCityConfig(num_train=100, num_val=24, num_coarse=100)


def demo_overrides(size: str) -> dict:
    """The config overrides of the demo's runs at a size ("full": none)."""
    if size == "full":
        return {}
    if size == "ci":
        return dict(DEMO_CI)
    raise ValueError(f"size must be 'full' or 'ci', got {size!r}")


#: Table I (Cityscapes val, single scale) and Fig. 6 numbers quoted next to ours.
PAPER = {"baseline": ("ResNet38 + OHEM", 77.39), "relation": ("+ Relation", 78.43),
         "alternating/stage1": ("Stage 1 (full model, fine)", 79.88),
         "alternating/stage2": ("Stage 2† (coarse) + multi-step", 81.16),
         "alternating/stage3": ("Stage 3 + multi-step", 81.76)}

#: The paper's Table II, ResNet38-Relation, mIoU / mAcc (%).
PAPER_TABLE_II = {"cityscapes": (76.06, 83.32), "ImageNet": (78.43, 86.20)}


def recipe(size: str) -> SimpleNamespace:
    """The quantities both studies build their arms from, at a size: steps per epoch ``n``, the base run's steps
    ``base``, the alternating stages' epochs ``e1, e2, e3``, the long (fine-only, alternating's steps) run's epochs
    ``long`` as overrides, and the overrides that turn SCL off ``no_scl``."""
    z = SIZES[size]
    n, (long_e, long_c) = z["iters_per_epoch"], z["long"]
    e1, e2, e3 = z["stage_epochs"]
    return SimpleNamespace(n=n, base=z["epochs"] * n, e1=e1, e2=e2, e3=e3, long_e=long_e, long_c=long_c,
                           long={"epochs": long_e, "const_epochs": long_c}, no_scl={"similarity": False, "lam": 0.0})


@dataclass(frozen=True)
class Claim:
    """A claim of the paper as a study tests it: the paired difference ``arm − ref`` of ``metric`` over seeds."""
    id: str
    title: str
    arm: str
    ref: str
    metric: str                  # e.g. "step1.miou", "alignment.score"
    paper: str                   # the paper's number / direction, as text
    paper_delta: float | None = None
    ref_metric: str = ""         # metric of the reference (default: the same)
    arm2: str = ""               # an interaction: (arm − ref) − (arm2 − ref2)
    ref2: str = ""
    equivalence: bool = False    # also read the equivalence verdict (study 2's METHOD.md)
    side: str = "the paper's"    # whose direction the interval is read against (the paper's, or a hypothesis)
