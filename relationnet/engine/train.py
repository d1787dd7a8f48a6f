"""The training loop, alternating training (Section III-C) and resumable runs.

``train(cfg, out_dir)`` runs one stage, or the three stages of alternating training
(``cfg.alternating``): stage 1 on fine labels with OHEM + λ·SCL, stage 2 on coarse labels
with OHEM and *no* SCL (coarse polygons leave contours unlabelled, so pairs across them
would teach wrong similarities; ``stage2_lam`` > 0 turns it on, for the study's control), stage 3 on
fine labels with OHEM + λ·SCL again, each stage starting from the previous stage's weights
(``start_stage`` 2 or 3 starts later, from ``init_from``).  Each stage writes into its folder:

    config.yaml      the full configuration
    metrics.jsonl    one line per epoch: losses (both parts of Eq. 2), lr, val metrics, seconds
    last.*, best.*   checkpoints (safetensors + JSON), ``best`` by validation mIoU
    results.json     the final evaluation

Resuming: the run checkpoints at the end of every epoch; rerunning the same command
continues from ``last`` and, on the CPU with the same seed, ends bit-identical to an
uninterrupted run (every epoch reseeds the RNGs and the data order from
``(seed, stage, epoch)``, and the optimizer state is restored).  A run interrupted inside
an epoch redoes that epoch.
"""
from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Subset
from tqdm.auto import tqdm

from .. import config as config_mod
from ..config import Config
from ..data import build_dataset, build_loader, class_names, eval_transform, palette, train_transform
from ..data import synthcity
from ..losses import relationnet_loss
from ..models import RelationNet
from . import distributed, mechanism
from .checkpoint import atomic_write_text, finish_interrupted_saves, read_meta, restore, save_checkpoint
from .evaluate import evaluate
from ..storage import folder_lock
from .runlog import cpu_seconds, is_our_log, read_log, write_jsonl
from .schedule import lr_at, stage_const_epochs


@dataclass(frozen=True)
class Stage:
    name: str          # "" for a single-stage run
    annotation: str    # fine | coarse | mixed
    lam: float
    epochs: int
    index: int = 0


def stages(cfg: Config) -> list[Stage]:
    if not cfg.alternating:
        return [Stage("", cfg.annotation, cfg.lam, cfg.epochs)]
    e1, e2, e3 = cfg.stage_epochs
    return [Stage("stage1", "fine", cfg.lam, e1, 0), Stage("stage2", cfg.stage2_annotation, cfg.stage2_lam, e2, 1),
            Stage("stage3", "fine", cfg.lam, e3, 2)][cfg.start_stage - 1:]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda was asked for but no CUDA device is available; use device=cpu or auto")
    return torch.device(name)


def ensure_dataset(cfg: Config, progress: bool = True) -> Path:
    """The dataset folder, made ready: the project's own SynthCity (``data/synthcity``, the default root) is
    generated when missing or finished when incomplete; another SynthCity root is only checked (an incomplete or
    missing one is a ``DatasetError`` naming what is missing: nothing is generated at a root the user gave); a
    Cityscapes or Pascal Context root is returned as given (its dataset class reads and checks it)."""
    if cfg.dataset == "synthcity":
        return synthcity.ensure(cfg.root or None, progress=progress)
    if not cfg.root:
        raise config_mod.ConfigError(f"dataset {cfg.dataset} needs root=/path/to/{cfg.dataset}")
    return Path(cfg.root)


def train_set(cfg: Config, root: Path, annotation: str, transform):
    if cfg.dataset == "pascal_context":
        if annotation != "fine":
            raise config_mod.ConfigError("Pascal Context has no coarse annotations; use annotation=fine")
        ds = build_dataset(cfg.dataset, root, "train", transform=transform)
    elif annotation == "fine":
        ds = _fine_part(cfg, build_dataset(cfg.dataset, root, "train", "fine", transform))
    elif annotation == "coarse":    # Cityscapes' coarse set: train_extra plus the coarse labels of train
        ds = ConcatDataset([build_dataset(cfg.dataset, root, "train_extra", "coarse", transform),
                            build_dataset(cfg.dataset, root, "train", "coarse", transform)])
    else:                           # mixed: fine train + coarse train_extra in one pool
        ds = ConcatDataset([_fine_part(cfg, build_dataset(cfg.dataset, root, "train", "fine", transform)),
                            build_dataset(cfg.dataset, root, "train_extra", "coarse", transform)])
    if cfg.train_limit:
        ds = Subset(ds, range(min(cfg.train_limit, len(ds))))
    return ds


def _fine_part(cfg: Config, ds):
    """The first ``fine_limit`` fine-labelled images (all when 0): the fine-scarce regime of study 2."""
    if cfg.fine_limit and cfg.fine_limit < len(ds):
        return Subset(ds, range(cfg.fine_limit))
    return ds


def epoch_data(cfg: Config, st: Stage, epoch: int) -> tuple[str, float]:
    """The labels and λ of one epoch: the stage's, except in the coarse segment of one schedule (``coarse_epochs``)."""
    if cfg.coarse_epochs and not st.name and cfg.coarse_epochs[0] <= epoch < cfg.coarse_epochs[1]:
        return "coarse", cfg.stage2_lam
    return st.annotation, st.lam


def val_set(cfg: Config, root: Path):
    return build_dataset(cfg.dataset, root, "val", "fine", eval_transform())


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(cfg: Config, model: torch.nn.Module) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _freeze_bn(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _tensorboard(sdir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter(str(sdir / "tb"))
    except Exception:        # tensorboard not installed: metrics.jsonl only
        return None


@dataclass
class _StageState:
    """One stage's training state, passed between the steps of :func:`train_stage`."""
    cfg: Config
    st: Stage
    sdir: Path
    device: torch.device
    dist_info: distributed.DistInfo
    progress: bool
    stage_seed: int
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    start_epoch: int = 0
    best: float = -1.0
    step: int = 0
    net: torch.nn.Module | None = None

    @property
    def main(self) -> bool:
        return self.dist_info.is_main

    @property
    def metrics_path(self) -> Path:
        return self.sdir / "metrics.jsonl"


def stage_device(cfg: Config, dist_info: distributed.DistInfo) -> torch.device:
    """The device of this process: ``cfg.device``, the local GPU under DDP."""
    device = resolve_device(cfg.device)
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
    return device


def _build(cfg: Config, st: Stage, sdir: Path, init_from: Path | None, progress: bool,
           dist_info: distributed.DistInfo) -> _StageState:
    """Seed the stage, build the model (ImageNet or scratch; weights from ``init_from`` come later) and optimizer."""
    device = stage_device(cfg, dist_info)
    sdir.mkdir(parents=True, exist_ok=True)
    stage_seed = cfg.seed * 1000 + st.index * 100
    seed_all(stage_seed)
    model = RelationNet(**cfg.model_kwargs(), pretrained=None if init_from else cfg.pretrained).to(device)
    if cfg.sync_bn and dist_info.enabled:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _StageState(cfg, st, sdir, device, dist_info, progress, stage_seed, model, build_optimizer(cfg, model))


def _resume_or_start(r: _StageState, init_from: Path | None) -> dict | None:
    """Continue from the folder's ``last`` checkpoint (same config only), or start (from ``init_from``'s weights);
    a stage that has already finished returns its result."""
    if r.main:              # a kill inside a save: finish or drop it before reading (this process holds the lock)
        for done in finish_interrupted_saves(r.sdir, ("last", "best")):
            tqdm.write(f"{r.sdir}: {done} (left by an interrupted run)", file=sys.stderr)
    distributed.barrier(r.dist_info)
    last = r.sdir / "last"
    if (r.sdir / "last.json").is_file():
        old_cfg = read_meta(last).get("config") or {}
        changed = config_mod.differences(old_cfg, r.cfg) if old_cfg else []
        if changed:
            raise config_mod.ConfigError(
                f"{r.sdir} holds a run of another configuration (differs in {', '.join(changed)}); rerun it with the "
                f"same configuration to resume, or train into another folder (--out), or delete it")
        meta = restore(last, r.model, r.optimizer)
        r.start_epoch, r.best, r.step = meta["epoch"], meta.get("best_miou", -1.0), meta["step"]
        if r.main:          # drop log lines of epochs after the checkpoint, and lines that cannot be read
            rows, bad = read_log(r.metrics_path)
            for b in bad:
                tqdm.write(f"resume: {b}", file=sys.stderr)
            write_jsonl(r.metrics_path, [x for x in rows if x["epoch"] <= r.start_epoch])
        if r.start_epoch >= r.st.epochs:
            results = r.sdir / "results.json"
            return json.loads(results.read_text()) if results.is_file() else meta
    else:
        if init_from is not None:
            restore(init_from, r.model, rng=False)
        if r.main and r.metrics_path.is_file():  # a first epoch cut short leaves our log; anything else is the user's
            if not is_our_log(r.metrics_path):
                raise config_mod.ConfigError(f"{r.metrics_path} was not written by this trainer (no checkpoint beside "
                                             "it); move it away or train into another folder (--out)")
            r.metrics_path.unlink()
    if r.main:
        config_mod.save(r.cfg, r.sdir / "config.yaml")
    return None


def _wrap(r: _StageState) -> torch.nn.Module:
    """The module the steps run: DDP around the model across processes, ``torch.compile`` when asked."""
    cfg, net = r.cfg, r.model
    if r.dist_info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[r.device.index] if r.device.type == "cuda" else None,
            find_unused_parameters=cfg.similarity and (r.st.lam == 0
                                                       or bool(cfg.coarse_epochs and cfg.stage2_lam == 0)))
    if cfg.compile:
        net = torch.compile(net)
    return net


def _train_epoch(r: _StageState, loader, n_iter: int, epoch: int, lam: float, scaler, counts, label: str) -> dict:
    """One epoch of steps (schedule, forward, OHEM + λ·SCL, backward, clip, step): the epoch's log line without
    its evaluation and times."""
    cfg, st, device, net, optimizer = r.cfg, r.st, r.device, r.net, r.optimizer
    const = stage_const_epochs(st.epochs, cfg.epochs, cfg.const_epochs)
    use_amp = scaler.is_enabled()
    net.train()
    if cfg.freeze_bn:
        _freeze_bn(net)
    sums = {"total": 0.0, "ohem": 0.0, "scl": 0.0}
    mech_counts, mech_grads = torch.zeros(6, dtype=torch.float64), {}
    t0, seen, lr = time.perf_counter(), 0, cfg.lr
    bar = tqdm(total=n_iter, desc=f"{label} epoch {epoch + 1}/{st.epochs}", leave=False,
               disable=not (r.progress and r.main))
    for it, batch in enumerate(loader):
        if it >= n_iter:
            break
        lr = lr_at(epoch + it / n_iter, st.epochs, const, cfg.lr, cfg.lr_final)
        for group in optimizer.param_groups:
            group["lr"] = lr
        images = batch["image"].to(device, non_blocking=True)
        labels = batch["label"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            out = net(images, return_similarity=lam > 0)
        total, parts = relationnet_loss({k: v.float() for k, v in out.items()}, labels, lam=lam,
                                        thresh=cfg.ohem_thresh if cfg.loss == "ohem" else None,
                                        min_kept=cfg.min_kept, counts=counts)
        if lam > 0 and "similarity" in out and not r.dist_info.enabled:     # what SCL does (engine.mechanism)
            with torch.no_grad():
                mech_counts += mechanism.pair_counts(out["similarity"].detach().float(), labels)
            if it == n_iter - 1:
                mech_grads = mechanism.gradient_split(out, labels, lam, cfg.ohem_thresh if cfg.loss == "ohem"
                                                      else None, cfg.min_kept)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        if cfg.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(r.model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        r.step += 1
        seen += images.shape[0] * r.dist_info.world_size
        for k in sums:
            sums[k] += parts[k]
        bar.set_postfix(loss=f"{parts['total']:.3f}", scl=f"{parts['scl']:.3f}",
                        img_s=f"{seen / (time.perf_counter() - t0):.1f}")
        bar.update()
    bar.close()
    n_done = max(1, min(n_iter, len(loader)))
    rec = {"stage": st.name, "epoch": epoch + 1, "step": r.step, "lr": lr,
           **{f"loss_{k}": v / n_done for k, v in sums.items()}}
    if mech_counts[1] + mech_counts[3] > 0:
        rec["_mechanism"] = {**mechanism.summarise_counts(mech_counts), **mech_grads}
    return rec


def _save_epoch(r: _StageState, rec: dict, writer) -> None:
    """The main process's end of an epoch: ``best`` when validation improved, the log line, ``last``."""
    cfg, st = r.cfg, r.st
    meta = {"model": cfg.model_kwargs(), "config": cfg.to_dict(), "stage": st.name, "lam": st.lam,
            "annotation": st.annotation, "epoch": rec["epoch"], "step": r.step, "dataset": cfg.dataset,
            "classes": list(class_names(cfg.dataset)), "palette": palette(cfg.dataset).tolist(),
            "metrics": {k: v for k, v in rec.items() if k.startswith("val_")}}
    if "val_miou" in rec and rec["val_miou"] > r.best:
        r.best = rec["val_miou"]
        save_checkpoint(r.sdir / "best", r.model, {**meta, "best_miou": r.best})
    with open(r.metrics_path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    if writer is not None:
        for k, v in rec.items():
            if isinstance(v, float):
                writer.add_scalar(k, v, r.step)
    save_checkpoint(r.sdir / "last", r.model, {**meta, "best_miou": r.best}, r.optimizer)


def train_stage(cfg: Config, st: Stage, sdir: Path, init_from: Path | None, progress: bool,
                dist_info: distributed.DistInfo) -> dict:
    """Train one stage into ``sdir`` (resuming when it holds a run of the same config); returns its last record."""
    root = ensure_dataset(cfg, progress and dist_info.is_main)
    r = _build(cfg, st, sdir, init_from, progress, dist_info)
    done = _resume_or_start(r, init_from)
    if done is not None:
        return done
    r.net = _wrap(r)
    if cfg.batch_size % dist_info.world_size:
        raise config_mod.ConfigError(f"batch_size {cfg.batch_size} must divide among {dist_info.world_size} processes")
    per_rank = cfg.batch_size // dist_info.world_size
    transform = train_transform(tuple(cfg.crop), tuple(cfg.scale), cfg.flip)
    tsets = {a: train_set(cfg, root, a, transform) for a in {epoch_data(cfg, st, e)[0] for e in range(st.epochs)}}
    vset = val_set(cfg, root)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and r.device.type == "cuda")
    writer = _tensorboard(sdir) if r.main else None
    label = f"{st.name or cfg.name}"
    counts = distributed.CountReducer(dist_info) if dist_info.enabled else None
    result: dict = {}
    epoch_secs: list[float] = []
    for epoch in range(r.start_epoch, st.epochs):
        annotation, lam = epoch_data(cfg, st, epoch)
        tset = tsets[annotation]
        seed_all(r.stage_seed + epoch + 1)
        loader = build_loader(tset, per_rank, shuffle=True, seed=r.stage_seed, epoch=epoch, workers=cfg.workers,
                              drop_last=len(tset) >= cfg.batch_size, pin_memory=r.device.type == "cuda",
                              rank=dist_info.rank, world_size=dist_info.world_size)
        n_iter = len(loader) if not cfg.iters_per_epoch else min(len(loader), cfg.iters_per_epoch)
        t0, c0 = time.perf_counter(), cpu_seconds()
        rec = _train_epoch(r, loader, n_iter, epoch, lam, scaler, counts, label)
        mech = rec.pop("_mechanism", None)
        if annotation != st.annotation:
            rec["annotation"] = annotation
        if mech:
            rec.update(mech)
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == st.epochs:
            ev = evaluate(r.model, vset, cfg.num_classes, steps=1, device=r.device, limit=cfg.val_limit,
                          progress=progress and r.main, dist_info=dist_info)
            rec.update({f"val_{k}": ev[k] for k in ("miou", "mean_acc", "pixel_acc", "boundary_miou")})
        rec["sec"] = round(time.perf_counter() - t0, 3)
        rec["cpu_sec"] = round(cpu_seconds() - c0, 3)      # with `sec`: how much of the machine the epoch had
        if r.main:
            epoch_secs.append(rec["sec"])
            _epoch_line(sdir, label, rec, st.epochs, epoch_secs)
            _save_epoch(r, rec, writer)
        distributed.barrier(dist_info)
        result = rec
    if cfg.eval_steps != 1:
        ev = evaluate(r.model, vset, cfg.num_classes, steps=cfg.eval_steps, device=r.device, limit=cfg.val_limit,
                      progress=progress and r.main, dist_info=dist_info)
        result = {**result, **{f"val{cfg.eval_steps}_{k}": ev[k] for k in ("miou", "mean_acc", "boundary_miou")}}
    if r.main:
        atomic_write_text(sdir / "results.json", json.dumps(result, indent=1))
    if writer is not None:
        writer.close()
    return result


def _epoch_line(sdir: Path, label: str, rec: dict, epochs: int, secs: list[float]) -> None:
    """One line per epoch, on stdout and appended to ``train.log`` in the run folder: a batch log is never silent."""
    left = (epochs - rec["epoch"]) * sum(secs) / len(secs)
    val = f"  val mIoU {100 * rec['val_miou']:.2f}" if "val_miou" in rec else ""
    scl = f" (OHEM {rec['loss_ohem']:.3f}, SCL {rec['loss_scl']:.3f})" if rec.get("loss_scl") else ""
    line = (f"{time.strftime('%H:%M:%S')} {label} epoch {rec['epoch']}/{epochs}: loss {rec['loss_total']:.3f}{scl}"
            f"{val}  {rec['sec']:.0f} s, about {left / 60:.1f} min left in this stage")
    tqdm.write(line, file=sys.stdout)
    try:
        with open(sdir / "train.log", "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def check_val(cfg: Config, root: Path, progress: bool = True) -> None:
    """Read every validation image and label (the ones training evaluates) before the first epoch: a bad file is
    an error naming all of them now, not a crash at the first evaluation with the epoch lost."""
    from ..data.check import check_split
    from ..data import DatasetError
    bad = check_split(val_set(cfg, root), progress=False, limit=cfg.val_limit)
    if bad:
        more = f" (and {len(bad) - 3} more; `relationnet data check {root}` lists them all)" if len(bad) > 3 else ""
        raise DatasetError(f"{len(bad)} validation file(s) cannot be read: " + "; ".join(bad[:3]) + more)


def train(cfg: Config, out_dir: str | Path, progress: bool = True, init_from: str | Path | None = None) -> dict:
    """Train (all stages of) ``cfg`` into ``out_dir``; rerunning resumes. Returns each stage's final record."""
    dist_info = distributed.init()
    out_dir = Path(out_dir)
    with folder_lock(out_dir) if dist_info.is_main else contextlib.nullcontext():
        return _train(cfg, out_dir, progress, init_from, dist_info)


def _train(cfg: Config, out_dir: Path, progress: bool, init_from, dist_info) -> dict:
    results, prev = {}, Path(init_from) if init_from else None
    if prev is not None:
        read_meta(prev)          # fail early on a bad starting checkpoint
    elif cfg.alternating and cfg.start_stage > 1:
        raise config_mod.ConfigError(f"start_stage={cfg.start_stage} needs init_from: the checkpoint of stage "
                                     f"{cfg.start_stage - 1} to start from")
    if dist_info.is_main:
        check_val(cfg, ensure_dataset(cfg, progress), progress)
    for st in stages(cfg):
        sdir = out_dir / st.name if st.name else out_dir
        results[st.name or "final"] = train_stage(cfg, st, sdir, prev, progress, dist_info)
        prev = sdir / "last"
    if dist_info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if cfg.alternating:
            config_mod.save(cfg, out_dir / "config.yaml")
            atomic_write_text(out_dir / "results.json", json.dumps(results, indent=1))
    return results
