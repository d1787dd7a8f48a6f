"""Execute the notebook series at full size and render it to HTML in docs/notebooks/ (outputs never go
back into notebooks/). Prints the time each notebook took.

    RELATIONNET_SIZE=full python scripts/render_notebooks.py [--size ci] [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

REPO = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--size", default="full", choices=("full", "ci"))
    p.add_argument("--out", default=str(REPO / "docs" / "notebooks"))
    a = p.parse_args(argv)
    os.environ["RELATIONNET_SIZE"] = a.size
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(n) for n in a.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    for path in paths:
        for attempt in range(3):       # a kernel that fails to start is retried
            nb = nbformat.read(path, as_version=4)
            t = time.perf_counter()
            try:
                NotebookClient(nb, timeout=3600, startup_timeout=60, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
                break
            except (RuntimeError, AssertionError, TimeoutError) as e:
                if attempt == 2 or "CellExecutionError" in type(e).__name__:
                    raise
                print(f"{path.name}: kernel problem ({type(e).__name__}), retrying", flush=True)
        dt = time.perf_counter() - t
        html, _ = HTMLExporter().from_notebook_node(nb)
        (out / f"{path.stem}.html").write_text(html)
        print(f"{path.name:32s} {dt:7.1f} s  -> {out / (path.stem + '.html')}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
