"""The ``relationnet`` command line: ``data``, ``info`` (more subcommands join as they land)."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relationnet", description="RelationNet workbench")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="make or inspect datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    sc = dsub.add_parser("synthcity", help="generate the embedded SynthCity dataset (Cityscapes layout)")
    sc.add_argument("--out", default=None, help="output folder (default: $RELATIONNET_DATA/synthcity or data/synthcity)")
    sc.add_argument("--num-train", type=int, default=500)
    sc.add_argument("--num-val", type=int, default=100)
    sc.add_argument("--num-coarse", type=int, default=1000, help="coarse-only train_extra images")
    sc.add_argument("--size", default="256x128", help="WIDTHxHEIGHT")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--workers", type=int, default=None)
    sc.add_argument("--overwrite", action="store_true", help="replace a set made with other arguments")

    info = sub.add_parser("info", help="print the model summary for a configuration")
    info.add_argument("--backbone", default="resnet38")
    info.add_argument("--width", type=float, default=1.0)
    return p


def cmd_data(args) -> int:
    from .data import synthcity
    w, h = synthcity.parse_size(args.size)
    for name in ("num_train", "num_val", "num_coarse"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be ≥ 0")
    cfg = synthcity.SynthCityConfig(args.num_train, args.num_val, args.num_coarse, w, h, args.seed)
    out = args.out or synthcity.default_root()
    done = synthcity.is_complete(out, cfg)
    root = synthcity.generate(out, cfg, workers=args.workers, overwrite=args.overwrite)
    print(f"SynthCity {'already complete' if done else 'written'} at {root}")
    return 0


def cmd_info(args) -> int:
    import relationnet as rn
    m = rn.models.RelationNet(19, backbone=args.backbone, width=args.width)
    n = sum(p.numel() for p in m.parameters())
    print(f"RelationNet-{args.backbone} width {args.width}: {n / 1e6:.2f} M parameters")
    return 0


COMMANDS = {"data": cmd_data, "info": cmd_info}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError) as e:
        print(f"relationnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
