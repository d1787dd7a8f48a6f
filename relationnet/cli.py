"""The ``relationnet`` command line."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relationnet", description="RelationNet workbench")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print the model summary for a configuration")
    info.add_argument("--backbone", default="resnet38")
    info.add_argument("--width", type=float, default=1.0)
    return p


def cmd_info(args) -> int:
    import relationnet as rn
    m = rn.models.RelationNet(19, backbone=args.backbone, width=args.width)
    n = sum(p.numel() for p in m.parameters())
    print(f"RelationNet-{args.backbone} width {args.width}: {n / 1e6:.2f} M parameters")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"info": cmd_info}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
