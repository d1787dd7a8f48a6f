"""Execute the notebook series at full size and render it to HTML in docs/notebooks/ (outputs never go
back into notebooks/). Prints the time each notebook took, and records in docs/notebooks/manifest.json what each
render was made from (the hash of the notebook's cells and of the study results it reads), so that
tests/test_notebooks.py can tell a stale render by content, not by file time.

    RELATIONNET_SIZE=full python scripts/render_notebooks.py [--size ci] [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

REPO = Path(__file__).resolve().parents[1]
#: The study results a notebook can read, and the words in its code that say it does.
STUDY_FILES = {"docs/study/results.json": ("study_", "study.", "docs/study"),
               "docs/study/study2/results.json": ("study2",)}


def source_hash(path: Path) -> str:
    """sha256 of a notebook's cells (type and source, in order): what its render shows, not its metadata."""
    nb = json.loads(Path(path).read_text())
    cells = [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def inputs(path: Path) -> dict[str, str]:
    """The study results files a notebook reads (by the words of its code cells), with their sha256."""
    nb = json.loads(Path(path).read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return {f: hashlib.sha256((REPO / f).read_bytes()).hexdigest() if (REPO / f).is_file() else "missing"
            for f, words in STUDY_FILES.items() if any(w in code for w in words)}


def record(manifest: Path, path: Path, seconds: float) -> None:
    data = json.loads(manifest.read_text()) if manifest.is_file() else {}
    data[path.stem] = {"source": source_hash(path), "inputs": inputs(path), "seconds": round(seconds, 1)}
    manifest.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")


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
        if a.size == "full":
            record(out / "manifest.json", path, dt)
        print(f"{path.name:32s} {dt:7.1f} s  -> {out / (path.stem + '.html')}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
