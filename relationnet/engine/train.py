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
from torch.utils.data import ConcatDataset, DataLoader, DistributedSampler, Subset
from tqdm.auto import tqdm

from .. import config as config_mod
from ..config import Config
from ..data import build_dataset, class_names, eval_transform, palette, init_worker, train_transform
from ..data import synthcity
from ..losses import relationnet_loss
from ..models import RelationNet
from . import distributed, mechanism
from .checkpoint import atomic_write_text, finish_interrupted_saves, read_meta, restore, save_checkpoint
from .evaluate import evaluate
from ..storage import folder_lock
from .schedule import lr_at, stage_const_epochs


@dataclass(frozen=True)
class Stage:
    name: str          # "" for a single-stage run
    annotation: str    # fine | coarse | mixed
    lam: float
    epochs: int
    index: int = 0


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) of this process and of its finished child processes (the data
    loader's workers, joined at the end of each epoch)."""
    try:
        import resource
    except ImportError:                                   # not on POSIX: this process only
        return time.process_time()
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def train_seconds(folder: Path, key: str = "sec") -> float | None:
    """Seconds of training logged in a run folder's metrics.jsonl files (all stages), as this module writes them:
    wall time (``key="sec"``) or CPU time (``"cpu_sec"``); None when an epoch was logged without that key (a log
    written before ``cpu_sec`` existed) or a line is not JSON, never a partial sum."""
    total = 0.0
    for log in [folder / "metrics.jsonl", *sorted(folder.glob("stage*/metrics.jsonl"))]:
        try:
            rows = _read_jsonl(log)
        except ValueError:                # a line that is not JSON (written by hand?): no sum rather than a wrong one
            return None
        for row in rows:
            if key not in row:
                return None
            total += float(row[key])
    return round(total, 1)


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


def dataset_root(cfg: Config, progress: bool = True) -> Path:
    """The dataset folder; SynthCity is generated there (default size) when missing."""
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


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_log(path: Path) -> tuple[list[dict], list[str]]:
    """The epoch lines of a run's ``metrics.jsonl`` that can be read (JSON objects with an integer ``epoch``), and
    one message per line that cannot (naming the file and the line): a resume keeps what it can."""
    if not path.is_file():
        return [], []
    rows, bad = [], []
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return [], [f"{path}: cannot be read ({e})"]
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError:
            bad.append(f"{path} line {n}: not JSON (a write cut short?): dropped")
            continue
        if not isinstance(r, dict) or not isinstance(r.get("epoch"), int) or isinstance(r.get("epoch"), bool):
            bad.append(f"{path} line {n}: no integer 'epoch': dropped")
            continue
        rows.append(r)
    return rows, bad


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


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


def train_stage(cfg: Config, st: Stage, sdir: Path, init_from: Path | None, progress: bool,
                dist_info: distributed.DistInfo) -> dict:
    device = resolve_device(cfg.device)
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
    sdir.mkdir(parents=True, exist_ok=True)
    root = dataset_root(cfg, progress and dist_info.is_main)
    stage_seed = cfg.seed * 1000 + st.index * 100
    seed_all(stage_seed)
    model = RelationNet(**cfg.model_kwargs(), pretrained=None if init_from else cfg.pretrained).to(device)
    if cfg.sync_bn and dist_info.enabled:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = build_optimizer(cfg, model)
    last, metrics_path = sdir / "last", sdir / "metrics.jsonl"
    start_epoch, best, step = 0, -1.0, 0
    if dist_info.is_main:              # a kill inside a save: finish or drop it before reading (this process holds the lock)
        for done in finish_interrupted_saves(sdir, ("last", "best")):
            tqdm.write(f"{sdir}: {done} (left by an interrupted run)", file=sys.stderr)
    distributed.barrier(dist_info)
    if (sdir / "last.json").is_file():
        old_cfg = read_meta(last).get("config") or {}
        changed = config_mod.differences(old_cfg, cfg) if old_cfg else []
        if changed:
            raise config_mod.ConfigError(
                f"{sdir} holds a run of another configuration (differs in {', '.join(changed)}); rerun it with the "
                f"same configuration to resume, or train into another folder (--out), or delete it")
        meta = restore(last, model, optimizer)
        start_epoch, best, step = meta["epoch"], meta.get("best_miou", -1.0), meta["step"]
        if dist_info.is_main:          # drop log lines of epochs after the checkpoint, and lines that cannot be read
            rows, bad = read_log(metrics_path)
            for b in bad:
                tqdm.write(f"resume: {b}", file=sys.stderr)
            _write_jsonl(metrics_path, [r for r in rows if r["epoch"] <= start_epoch])
        if start_epoch >= st.epochs:
            return json.loads((sdir / "results.json").read_text()) if (sdir / "results.json").is_file() else meta
    else:
        if init_from is not None:
            restore(init_from, model, rng=False)
        if dist_info.is_main:
            metrics_path.unlink(missing_ok=True)
    if dist_info.is_main:
        config_mod.save(cfg, sdir / "config.yaml")
    net = model
    if dist_info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=cfg.similarity and (st.lam == 0 or bool(cfg.coarse_epochs and cfg.stage2_lam == 0)))
    if cfg.compile:
        net = torch.compile(net)
    if cfg.batch_size % dist_info.world_size:
        raise config_mod.ConfigError(f"batch_size {cfg.batch_size} must divide among {dist_info.world_size} processes")
    per_rank = cfg.batch_size // dist_info.world_size
    transform = train_transform(tuple(cfg.crop), tuple(cfg.scale), cfg.flip)
    tsets = {a: train_set(cfg, root, a, transform) for a in {epoch_data(cfg, st, e)[0] for e in range(st.epochs)}}
    vset = val_set(cfg, root)
    samplers = {a: DistributedSampler(t, num_replicas=dist_info.world_size, rank=dist_info.rank, shuffle=True,
                                      seed=stage_seed, drop_last=len(t) >= cfg.batch_size) for a, t in tsets.items()}
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    const = stage_const_epochs(st.epochs, cfg.epochs, cfg.const_epochs)
    writer = _tensorboard(sdir) if dist_info.is_main else None
    label = f"{st.name or cfg.name}"
    counts = distributed.CountReducer(dist_info) if dist_info.enabled else None
    result: dict = {}
    epoch_secs: list[float] = []
    for epoch in range(start_epoch, st.epochs):
        annotation, lam = epoch_data(cfg, st, epoch)
        tset, sampler = tsets[annotation], samplers[annotation]
        seed_all(stage_seed + epoch + 1)
        sampler.set_epoch(epoch)
        g = torch.Generator().manual_seed(stage_seed + epoch + 1 + 7919 * dist_info.rank)
        loader = DataLoader(tset, batch_size=per_rank, sampler=sampler, num_workers=cfg.workers,
                            worker_init_fn=init_worker, generator=g, pin_memory=device.type == "cuda",
                            drop_last=len(tset) >= cfg.batch_size)
        n_iter = len(loader) if not cfg.iters_per_epoch else min(len(loader), cfg.iters_per_epoch)
        net.train()
        if cfg.freeze_bn:
            _freeze_bn(net)
        sums = {"total": 0.0, "ohem": 0.0, "scl": 0.0}
        mech_counts, mech_grads = torch.zeros(6, dtype=torch.float64), {}
        t0, c0, seen = time.perf_counter(), cpu_seconds(), 0
        bar = tqdm(total=n_iter, desc=f"{label} epoch {epoch + 1}/{st.epochs}", leave=False,
                   disable=not (progress and dist_info.is_main))
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
            if lam > 0 and "similarity" in out and not dist_info.enabled:     # what SCL does (engine.mechanism)
                with torch.no_grad():
                    mech_counts += mechanism.pair_counts(out["similarity"].detach().float(), labels)
                if it == n_iter - 1:
                    mech_grads = mechanism.gradient_split(out, labels, lam, cfg.ohem_thresh if cfg.loss == "ohem"
                                                          else None, cfg.min_kept)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            step += 1
            seen += images.shape[0] * dist_info.world_size
            for k in sums:
                sums[k] += parts[k]
            bar.set_postfix(loss=f"{parts['total']:.3f}", scl=f"{parts['scl']:.3f}",
                            img_s=f"{seen / (time.perf_counter() - t0):.1f}")
            bar.update()
        bar.close()
        n_done = max(1, min(n_iter, len(loader)))
        rec = {"stage": st.name, "epoch": epoch + 1, "step": step, "lr": lr,
               **{f"loss_{k}": v / n_done for k, v in sums.items()}}
        if annotation != st.annotation:
            rec["annotation"] = annotation
        if mech_counts[1] + mech_counts[3] > 0:
            rec.update({**mechanism.summarise_counts(mech_counts), **mech_grads})
        last_epoch = epoch + 1 == st.epochs
        if (epoch + 1) % cfg.eval_every == 0 or last_epoch:
            ev = evaluate(model, vset, cfg.num_classes, steps=1, device=device, limit=cfg.val_limit,
                          progress=progress and dist_info.is_main, dist_info=dist_info)
            rec.update({f"val_{k}": ev[k] for k in ("miou", "mean_acc", "pixel_acc", "boundary_miou")})
        rec["sec"] = round(time.perf_counter() - t0, 3)
        rec["cpu_sec"] = round(cpu_seconds() - c0, 3)      # with `sec`: how much of the machine the epoch had
        if dist_info.is_main:
            epoch_secs.append(rec["sec"])
            _epoch_line(sdir, label, rec, st.epochs, epoch_secs)
        if dist_info.is_main:
            meta = {"model": cfg.model_kwargs(), "config": cfg.to_dict(), "stage": st.name, "lam": st.lam,
                    "annotation": st.annotation, "epoch": epoch + 1, "step": step, "dataset": cfg.dataset,
                    "classes": list(class_names(cfg.dataset)), "palette": palette(cfg.dataset).tolist(),
                    "metrics": {k: v for k, v in rec.items() if k.startswith("val_")}}
            if "val_miou" in rec and rec["val_miou"] > best:
                best = rec["val_miou"]
                save_checkpoint(sdir / "best", model, {**meta, "best_miou": best})
            with open(metrics_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            if writer is not None:
                for k, v in rec.items():
                    if isinstance(v, float):
                        writer.add_scalar(k, v, step)
            save_checkpoint(last, model, {**meta, "best_miou": best}, optimizer)
        distributed.barrier(dist_info)
        result = rec
    if cfg.eval_steps != 1:
        ev = evaluate(model, vset, cfg.num_classes, steps=cfg.eval_steps, device=device, limit=cfg.val_limit,
                      progress=progress and dist_info.is_main, dist_info=dist_info)
        result = {**result, **{f"val{cfg.eval_steps}_{k}": ev[k] for k in ("miou", "mean_acc", "boundary_miou")}}
    if dist_info.is_main:
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
        check_val(cfg, dataset_root(cfg, progress), progress)
    for st in stages(cfg):
        sdir = out_dir / st.name if st.name else out_dir
        results[st.name or "final"] = train_stage(cfg, st, sdir, prev, progress, dist_info)
        prev = sdir / "last"
    if dist_info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if cfg.alternating:
            config_mod.save(cfg, out_dir / "config.yaml")
            (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    return results
