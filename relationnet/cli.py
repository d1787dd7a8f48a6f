"""The ``relationnet`` command line: ``data``, ``train``, ``eval``, ``predict``, ``demo``, ``info``.

Every subcommand has ``--help``.  Errors in input (a bad config key, a missing dataset folder,
a corrupt checkpoint) print one clear line and exit with status 2.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="relationnet", description="RelationNet workbench")
    p.add_argument("--version", action="version", version=f"relationnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="make or inspect datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    sc = dsub.add_parser("synthcity", help="generate the embedded SynthCity dataset (Cityscapes layout)")
    sc.add_argument("--out", default=None, help="output folder (default: $RELATIONNET_DATA/synthcity or data/synthcity)")
    sc.add_argument("--num-train", type=int, default=500)
    sc.add_argument("--num-val", type=int, default=100)
    sc.add_argument("--num-coarse", type=int, default=1000, help="coarse-only train_extra images")
    sc.add_argument("--image-size", default="256x128", help="WIDTHxHEIGHT of every image (default 256x128)")
    sc.add_argument("--size", dest="old_size", default=None, help=argparse.SUPPRESS)   # renamed: --image-size
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--workers", type=int, default=None)
    sc.add_argument("--overwrite", action="store_true", help="replace a set made with other arguments")
    ck = dsub.add_parser("check", help="read every image and label of a dataset folder once; list every bad file")
    ck.add_argument("root", help="the dataset folder")
    ck.add_argument("--dataset", choices=("cityscapes", "synthcity", "pascal_context"), default="cityscapes",
                    help="its layout (SynthCity is in the Cityscapes layout)")
    ck.add_argument("--workers", type=int, default=None, help="reader threads (default: the CPU count, at most 8)")
    ck.add_argument("--no-progress", action="store_true")

    tr = sub.add_parser("train", help="train a configuration (rerun the same command to resume)")
    tr.add_argument("config", help="a YAML file or a preset name (relationnet/configs/; a wrong name lists them)")
    tr.add_argument("overrides", nargs="*", help="key=value overrides, e.g. lam=1 crop=[96,192]")
    tr.add_argument("--out", default=None, help="run folder (default: runs/<name>)")
    tr.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    tr.add_argument("--init-from", default=None, help="start from this checkpoint's weights")
    tr.add_argument("--no-progress", action="store_true")

    ev = sub.add_parser("eval", help="evaluate a checkpoint on its dataset's validation split")
    ev.add_argument("checkpoint", help="a checkpoint (NAME, NAME.json or NAME.safetensors)")
    ev.add_argument("--steps", type=int, nargs="+", default=[1, 4], choices=(1, 4, 16, 64))
    ev.add_argument("--root", default=None, help="dataset folder (default: the one it was trained on)")
    ev.add_argument("--limit", type=int, default=0, help="evaluate the first N images only")
    ev.add_argument("--official", action="store_true", help="also run the official Cityscapes evaluation")
    ev.add_argument("--json", default=None, help="write the results here")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("--no-progress", action="store_true")

    co = sub.add_parser("compare", help="two checkpoints on the same validation images: per class, contours, "
                                        "and the images where they disagree most")
    co.add_argument("checkpoint_a")
    co.add_argument("checkpoint_b")
    co.add_argument("--steps", type=int, default=1, choices=(1, 4, 16, 64))
    co.add_argument("--root", default=None, help="dataset folder (default: the one A was trained on)")
    co.add_argument("--limit", type=int, default=0, help="the first N validation images only")
    co.add_argument("--top", type=int, default=5, help="how many most-disagreeing images to list")
    co.add_argument("--json", default=None, help="write the results here")
    co.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    co.add_argument("--no-progress", action="store_true")

    pr = sub.add_parser("predict", help="segment an image or a folder of images")
    pr.add_argument("checkpoint")
    pr.add_argument("input", help="an image file or a folder of images")
    pr.add_argument("--out", default="predictions")
    pr.add_argument("--steps", type=int, default=4, choices=(1, 4, 16, 64))
    pr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    pr.add_argument("--max-side", type=int, default=1024,
                    help="an image whose longer side exceeds this is segmented at that size and its labels scaled "
                         "back (memory stays bounded: a 12-megapixel photo at full size would need about 20 GB); "
                         "0: full size")
    pr.add_argument("--no-progress", action="store_true")

    de = sub.add_parser("demo", help="the main job: data, CPU presets, evaluation, results table, dashboard")
    de.add_argument("--out", default="runs/demo")
    de.add_argument("--size", choices=("full", "ci"), default=None,
                    help="ci: a much shorter run (default: $RELATIONNET_SIZE or full)")
    de.add_argument("--root", default=None, help="SynthCity folder (default: data/synthcity)")
    de.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    de.add_argument("--no-app", action="store_true", help="do not start the dashboard at the end")
    de.add_argument("--port", type=int, default=8501)
    de.add_argument("--all", action="store_true",
                    help="also train the runs trained on first use (+Relation at λ = 0, the λ sweep)")

    st = sub.add_parser("study", help="the reproduction study: every claim over seeds (docs/study/METHOD.md)")
    st.add_argument("--list", action="store_true", help="list the arms, how many seeds have landed, and the claims")
    st.add_argument("--only", default=None, help="comma-separated arm ids (e.g. A2,A3)")
    st.add_argument("--seeds", type=int, default=5)
    st.add_argument("--protocol", type=int, choices=(1, 2), default=1,
                    help="1: the first study (docs/study/METHOD.md); 2: study 2 (docs/study/study2/METHOD.md)")
    st.add_argument("--out", default=None, help="run folders (checkpoints; never committed; default runs/study, "
                                                "runs/study2)")
    st.add_argument("--results", default=None, help="records, tables, figures (default docs/study, docs/study/study2)")
    st.add_argument("--size", choices=("full", "ci"), default=None,
                    help="ci: two-step runs on the CI data (default: $RELATIONNET_SIZE or full)")
    st.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    st.add_argument("--tabulate", action="store_true", help="only rebuild the tables and figures from the records")
    st.add_argument("--readme", default=None, metavar="PATH",
                    help="with --tabulate: also rewrite the study's passage of this README (e.g. README.md)")
    st.add_argument("--no-progress", action="store_true")
    st.add_argument("--commit", action="store_true",
                    help="protocol 2: git-commit each record as it lands (that file only)")

    ex = sub.add_parser("export", help="write a trained run as TorchScript or torch.export (checked against PyTorch)")
    ex.add_argument("checkpoint", help="a checkpoint, a run folder, or a run under runs/demo/ by name")
    ex.add_argument("--format", choices=("torchscript", "pt2"), default="torchscript")
    ex.add_argument("--out", default=None, help="the file (default: NAME.pt or NAME.pt2 here)")
    ex.add_argument("--input-size", default="256x512", help="HEIGHTxWIDTH of the example input (multiples of 8)")

    db = sub.add_parser("dashboard", help="start the Streamlit dashboard on a folder of runs")
    db.add_argument("--runs", default="runs/demo", help="the folder of runs it shows (default: runs/demo)")
    db.add_argument("--port", type=int, default=8501)

    info = sub.add_parser("info", help="print the model summary for a configuration")
    info.add_argument("--backbone", default="resnet38")
    info.add_argument("--width", type=float, default=1.0)
    return p


def cmd_data(args) -> int:
    if args.data_command == "check":
        return _data_check(args)
    from .data import synthcity
    if args.old_size is not None:
        raise ValueError("--size is now --image-size WIDTHxHEIGHT (--size means full or ci in demo and study)")
    w, h = synthcity.parse_size(args.image_size)
    for name in ("num_train", "num_val", "num_coarse"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be ≥ 0")
    cfg = synthcity.SynthCityConfig(args.num_train, args.num_val, args.num_coarse, w, h, args.seed)
    out = args.out or synthcity.default_root()
    done = synthcity.is_complete(out, cfg)
    root = synthcity.generate(out, cfg, workers=args.workers, overwrite=args.overwrite)
    print(f"SynthCity {'already complete' if done else 'written'} at {root}")
    return 0


def _data_check(args) -> int:
    from .data.check import check_root
    found = check_root(args.dataset, args.root, args.workers, progress=not args.no_progress)
    bad = [(k, p) for k, ps in found.items() for p in ps]
    for k, ps in found.items():
        print(f"{k}: {'ok' if not ps else f'{len(ps)} bad'}")
    if not found:
        print(f"relationnet data check: error: {args.root} holds no {args.dataset} split", file=sys.stderr)
        return 2
    if bad:
        print(f"{len(bad)} bad file(s) in {args.root}:", file=sys.stderr)
        for k, p in bad:
            print(f"  [{k}] {p}", file=sys.stderr)
        return 2
    print(f"{args.root}: every image and label reads")
    return 0


def one_line(e: BaseException) -> str:
    """An error as one line: a data-loader worker's error (PyTorch re-raises it with the worker's traceback in its
    message) is reduced to the original message."""
    text = str(e)
    if "Original Traceback" in text:
        last = [ln for ln in text.splitlines() if ln.strip()][-1].strip()
        text = last.split(": ", 1)[1] if last.split(": ", 1)[0].rsplit(".", 1)[-1].endswith("Error") else last
    return " ".join(text.split())


def cmd_train(args) -> int:
    from . import config as config_mod
    from .engine import distributed
    from .engine.train import train
    cfg = config_mod.load(args.config, args.overrides + ([f"device={args.device}"] if args.device else []))
    out = args.out or f"runs/{cfg.name}"
    try:
        results = train(cfg, out, progress=not args.no_progress, init_from=args.init_from)
    finally:                # under torchrun: leave the process group (NCCL warns of a leak otherwise)
        distributed.cleanup()
    for stage, rec in results.items():
        if "val_miou" in rec:
            print(f"{stage}: val mIoU {100 * rec['val_miou']:.2f}  mAcc {100 * rec['val_mean_acc']:.2f}")
    print(f"run folder: {out}")
    return 0


def cmd_eval(args) -> int:
    import json

    from . import config as config_mod
    from .data import build_dataset, eval_transform
    from .engine.checkpoint import load_model
    from .engine.evaluate import cityscapes_official, evaluate
    from .engine.train import ensure_dataset, resolve_device
    device = resolve_device(args.device)
    model, meta = load_model(args.checkpoint, device)
    cfg = config_mod.from_dict({**meta.get("config", {}), **({"root": args.root} if args.root else {})})
    root = ensure_dataset(cfg)
    vset = build_dataset(cfg.dataset, root, "val", "fine", eval_transform())
    results = {}
    for steps in args.steps:
        preds = [] if args.official and steps == args.steps[-1] else None
        res = evaluate(model, vset, cfg.num_classes, steps=steps, device=device, limit=args.limit, predictions=preds,
                       progress=not args.no_progress)
        results[f"step{steps}"] = res
        print(f"{steps}-step: mIoU {100 * res['miou']:.2f}  mAcc {100 * res['mean_acc']:.2f}  "
              f"pixel acc {100 * res['pixel_acc']:.2f}  boundary mIoU {100 * res['boundary_miou']:.2f}")
        if preds is not None:
            if cfg.dataset not in ("cityscapes", "synthcity"):
                raise ValueError("--official is for Cityscapes-layout datasets")
            gts = [str(lbl) for _, lbl, _ in vset.items[: len(preds)]]
            off = cityscapes_official(preds, gts)
            results["official"] = off
            print(f"official ({steps}-step): IoU class {100 * off['iou_class']:.2f}  iIoU class "
                  f"{100 * off['iiou_class']:.2f}  IoU category {100 * off['iou_category']:.2f}  "
                  f"iIoU category {100 * off['iiou_category']:.2f}")
    if args.json:          # a kill never leaves half a file
        from .engine.checkpoint import atomic_write_text
        atomic_write_text(args.json, json.dumps(results, indent=1))
    return 0


def cmd_compare(args) -> int:
    """What the dashboard's per-class and side-by-side views show, as a command whose numbers anyone can rerun."""
    import json

    import numpy as np

    from . import config as config_mod
    from .data import build_dataset, class_names, eval_transform
    from .engine.checkpoint import load_model
    from .engine.evaluate import by_disagreement, compare
    from .engine.train import ensure_dataset, resolve_device
    from .metrics import ConfusionMatrix
    device = resolve_device(args.device)
    (model_a, meta_a), (model_b, meta_b) = (load_model(c, device) for c in (args.checkpoint_a, args.checkpoint_b))
    cfgs = [config_mod.from_dict({**m.get("config", {}), **({"root": args.root} if args.root else {})})
            for m in (meta_a, meta_b)]
    sets = [(c.dataset, int(m.get("model", {}).get("num_classes", c.num_classes))) for c, m in zip(cfgs, (meta_a, meta_b))]
    if sets[0] != sets[1]:
        raise ValueError(f"the two checkpoints predict different label sets ({sets[0][0]}, {sets[0][1]} classes vs "
                         f"{sets[1][0]}, {sets[1][1]})")
    cfg = cfgs[0]
    vset = build_dataset(cfg.dataset, ensure_dataset(cfg), "val", "fine", eval_transform())
    res = compare([model_a, model_b], vset, cfg.num_classes, steps=args.steps, limit=args.limit, device=device,
                  progress=not args.no_progress)
    names = class_names(cfg.dataset)
    scores = [ConfusionMatrix.from_matrix(m).compute() for m in res["confusion"]]
    bands = [ConfusionMatrix.from_matrix(m).compute()["miou"] for m in res["band_confusion"]]
    n = len(res["images"])
    print(f"{n} validation images, {args.steps}-step test (one checkpoint each: a demonstration, not evidence)")
    for tag, path, sc, band in zip("AB", (args.checkpoint_a, args.checkpoint_b), scores, bands):
        print(f"  {tag} {path}: mIoU {100 * sc['miou']:.1f}  boundary mIoU {100 * band:.1f}  "
              f"pixel acc {100 * sc['pixel_acc']:.1f}")
    iou = np.array([s["iou"] for s in scores], dtype=float) * 100
    rows = [(names[c], iou[0, c], iou[1, c]) for c in range(len(names)) if not np.isnan(iou[:, c]).all()]
    rows.sort(key=lambda r: -(np.nan_to_num(r[1]) - np.nan_to_num(r[2])))
    print(f"\n{'class':<16} {'A IoU':>6} {'B IoU':>6} {'A − B':>6}")
    for name, a, b in rows:
        print(f"{name:<16} {a:6.1f} {b:6.1f} {np.nan_to_num(a) - np.nan_to_num(b):+6.1f}")
    order = by_disagreement(res["images"])
    print("\nimages where they disagree most (% of scored pixels right in one only):")
    for im in order[:args.top]:
        a, b = (100 * v / max(im["scored"], 1) for v in im["only"])
        print(f"  val {im['index']:<4} {im['name']}: {a + b:.1f} % (only A {a:.1f} %, only B {b:.1f} %)")
    if args.json:
        from .engine.checkpoint import atomic_write_text
        out = {"checkpoints": [args.checkpoint_a, args.checkpoint_b], "steps": args.steps, "images": n,
               "miou": [s["miou"] for s in scores], "boundary_miou": bands, "classes": list(names),
               "iou": [s["iou"] for s in scores], "confusion": [m.tolist() for m in res["confusion"]],
               "per_image": order}
        atomic_write_text(args.json, json.dumps(out, indent=1))
    return 0


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def cmd_predict(args) -> int:
    from pathlib import Path

    import numpy as np
    import torch
    from PIL import Image

    from .data import colorize, normalize_image
    from .data._io import read_rgb
    from .engine.checkpoint import load_model
    from .engine.train import resolve_device
    from .inference import predict
    from .models.fold import fold_batchnorm
    device = resolve_device(args.device)
    model, meta = load_model(args.checkpoint, device)
    model = fold_batchnorm(model)            # inference only: batch norm folded into the convolutions
    pal = np.array(meta.get("palette"), dtype=np.uint8) if meta.get("palette") else None
    src = Path(args.input)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif src.is_file():
        files = [src]
    else:
        raise FileNotFoundError(f"input not found: {src}")
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {src}")
    if args.max_side < 0 or 0 < args.max_side < 64:
        raise ValueError(f"--max-side must be 0 (full size) or at least 64, got {args.max_side}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from collections import Counter

    from tqdm.auto import tqdm

    from .data import DatasetError
    stems = Counter(f.stem for f in files)
    skipped, written = [], 0
    for f in tqdm(files, desc="predict", unit="img", disable=args.no_progress):
        try:
            rgb = read_rgb(f)
        except DatasetError as e:              # one bad file does not stop the folder
            skipped.append(str(e))
            continue
        h, w = rgb.shape[:2]
        x = normalize_image(torch.from_numpy(rgb).permute(2, 0, 1)[None]).to(device)
        scale = args.max_side / max(h, w) if args.max_side and max(h, w) > args.max_side else 1.0
        if scale < 1.0:
            x = torch.nn.functional.interpolate(x, size=(max(8, round(h * scale)), max(8, round(w * scale))),
                                                mode="bilinear", align_corners=False, antialias=True)
        with torch.no_grad():
            pred = predict(model, x, steps=args.steps)[0].argmax(0).to(torch.uint8).cpu()
        if scale < 1.0:
            pred = torch.nn.functional.interpolate(pred[None, None].float(), size=(h, w), mode="nearest")[0, 0]
        pred = pred.to(torch.uint8).numpy()
        # a name shared by two inputs (a.png, a.jpg) keeps its suffix: outputs never overwrite each other
        stem = f.stem if stems[f.stem] == 1 else f"{f.stem}_{f.suffix.lstrip('.').lower()}"
        Image.fromarray(pred).save(out / f"{stem}_trainIds.png")
        Image.fromarray(colorize(pred, pal)).save(out / f"{stem}_color.png")
        written += 1
    print(f"{written} prediction(s) written to {out}")
    if skipped:
        print(f"relationnet predict: error: {len(skipped)} file(s) skipped: " + "; ".join(skipped), file=sys.stderr)
        return 2
    return 0


def cmd_demo(args) -> int:
    import os

    from .experiments.demo import run_demo
    size = args.size or os.environ.get("RELATIONNET_SIZE", "full")
    run_demo(args.out, size=size, root=args.root, device=args.device, app=not args.no_app, port=args.port,
             all_runs=args.all)
    return 0


def cmd_study(args) -> int:
    import os

    from .experiments import readme, study1 as study
    size = args.size or os.environ.get("RELATIONNET_SIZE", "full")
    if args.protocol == 2:
        return _study2(args, size)
    args.out, args.results = args.out or "runs/study", args.results or "docs/study"
    if args.seeds < 1:
        print("error: --seeds must be at least 1", file=sys.stderr)
        return 2
    if args.list:
        print(study.describe(size, args.results, args.seeds))
        return 0
    if args.tabulate:
        study.tabulate(args.results, args.seeds, size)
        print(f"wrote {args.results}/README.md and results.json")
        if args.readme:
            return _readme(lambda: readme.update_readme(args.readme, args.results, args.seeds, size),
                           f"the study passage of {args.readme}")
        return 0
    only = [a.strip() for a in args.only.split(",") if a.strip()] if args.only else None
    try:
        summary = study.run_study(args.out, args.results, args.seeds, only, size, device=args.device,
                                  progress=not args.no_progress)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print((Path(args.results) / "README.md").read_text())
    print(f"this call: {summary['wall_seconds_this_call'] / 60:.1f} min")
    return 0


def _readme(rewrite, what: str) -> int:
    """0 and what a README passage's rewrite did, or 2 and one line on a missing file or markers."""
    try:
        print(f"{'rewrote' if rewrite() else 'unchanged:'} {what}")
        return 0
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _study2(args, size: str) -> int:
    from .experiments import readme, study2
    results, out = args.results or study2.RESULTS, args.out or study2.OUT
    if args.list:
        print(study2.describe(size, results))
        return 0
    if args.tabulate:
        summary = study2.tabulate(results, size)
        for p in summary["problems"]:
            print(f"relationnet study: skipped {p}", file=sys.stderr)
        print(f"wrote {results}/README.md and results.json ({summary['records']} of {summary['planned']} records)")
        if args.readme and _readme(lambda: readme.update_readme2(args.readme, results),
                                   f"study 2's passage of {args.readme}"):
            return 2
        return 2 if summary["problems"] else 0
    only = [a.strip() for a in args.only.split(",") if a.strip()] if args.only else None
    summary = study2.run(out, results, size, only, device=args.device, progress=not args.no_progress,
                         log=lambda m: print(m, flush=True), commit=args.commit)
    print(f"study 2: {summary['records']} of {summary['planned']} records; this call: "
          f"{summary['wall_seconds_this_call'] / 60:.1f} min; results in {results}/README.md")
    return 2 if summary["problems"] else 0


def cmd_export(args) -> int:
    from .engine.checkpoint import find_run, load_model
    from .export import export
    try:
        h, w = (int(v) for v in args.input_size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--input-size must be HEIGHTxWIDTH, e.g. 256x512, got {args.input_size!r}") from None
    ckpt = find_run(args.checkpoint)
    model, _ = load_model(ckpt, "cpu")
    default = f"{Path(str(args.checkpoint)).name or 'model'}.{'pt' if args.format == 'torchscript' else 'pt2'}"
    res = export(model, args.out or default, args.format, (h, w))
    print(f"wrote {res['path']} ({res['format']}); largest difference from the PyTorch model on random inputs: "
          f"{res['max_abs_diff']:.2g}")
    return 0


def cmd_dashboard(args) -> int:
    from .experiments.demo import start_dashboard
    if not Path(args.runs).is_dir():
        raise FileNotFoundError(f"no runs folder {args.runs}; make one with `relationnet demo` or pass --runs DIR")
    start_dashboard(Path(args.runs), args.port)
    return 0


def cmd_info(args) -> int:
    import relationnet as rn
    m = rn.models.RelationNet(19, backbone=args.backbone, width=args.width)
    n = sum(p.numel() for p in m.parameters())
    print(f"RelationNet-{args.backbone} width {args.width}: {n / 1e6:.2f} M parameters")
    return 0


COMMANDS = {"data": cmd_data, "train": cmd_train, "eval": cmd_eval, "compare": cmd_compare, "predict": cmd_predict,
            "demo": cmd_demo, "study": cmd_study, "info": cmd_info, "dashboard": cmd_dashboard,
            "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:      # key=value overrides may follow options: `train CFG --out X lam=1`
        if args.command == "train" and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    previous = _stop_on_sigterm()
    try:
        try:
            return COMMANDS[args.command](args)
        except (ValueError, FileExistsError, FileNotFoundError, RuntimeError, OSError) as e:
            print(f"relationnet {args.command}: error: {one_line(e)}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:      # outside the inner handler too: a stop that lands while an error is being reported
        print("interrupted; rerun the same command to continue", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop_on_sigterm():
    """``kill PID`` (SIGTERM: a batch scheduler's stop, or the way to stop a job started with ``&``, which ignores
    Ctrl-C) stops a command as Ctrl-C does: the checkpoints on disk stay whole (a save cut short is finished or
    dropped by the rerun) and the message says how to continue.  Returns the handler it replaced (None off the
    main thread, where none can be set)."""
    try:
        return signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(main())
