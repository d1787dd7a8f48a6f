"""SynthCity: procedural street scenes written in the official Cityscapes layout.

Every image is a small 3-D street rendered with a pinhole camera and a depth buffer: a road
with lane marks and crossings, sidewalks with paving, rows of buildings (with windows, doors,
walls and fences in front) or parks (terrain and trees) on each side, and objects placed in
depth — cars, trucks, buses, trams, people, riders on bicycles or motorcycles, parked bicycles,
poles carrying traffic signs and lights, trees.  Objects shrink with distance (several scales),
occlude each other, and poles are a pixel or two wide.  Colours are drawn per object from wide,
overlapping ranges (a grey car, a grey road, a grey facade, an overcast sky) under a random
illumination, cast shadows and sensor noise, so that no class is one flat colour.

Written per image (``<city>_<index:06d>_000019``):

* ``leftImg8bit/<split>/<city>/…_leftImg8bit.png`` — the RGB image;
* ``gtFine/<split>/<city>/…_gtFine_labelIds.png`` and ``…_gtFine_instanceIds.png`` (train, val)
  — exact labels in **official label ids** (and ``id*1000 + k`` instance ids, as Cityscapes);
* ``gtCoarse/<split>/<city>/…_gtCoarse_labelIds.png`` (train, train_extra) — coarse labels made
  like the real ones: a star-shaped polygon drawn inside each object and stuff regions shrunk
  away from their borders, so contours stay unlabelled; small objects, and a share of the
  others, are left out entirely.  Coarse labels never contradict the fine ones.

Splits and cities: ``train`` (synthburg, fine + coarse), ``val`` (valdorf, fine) and
``train_extra`` (extraheim, coarse only).  Each image depends only on ``(seed, split, index)``,
so the output is byte-identical for any number of worker processes.  A manifest written last
marks a complete folder; files are written through a temporary name and renamed, so an
interrupted run leaves no half-written PNG and is finished (or rebuilt) by the next run.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .._io import atomic_write_text
from ...paths import data_dir, project_dir  # noqa: F401 (project_dir: callers locate the checkout here)
from ..cityscapes import IN_PROGRESS
from ..cityscapes import SYNTHCITY_CITIES as CITIES
from ..cityscapes import SYNTHCITY_MANIFEST as MANIFEST
from .coarse import coarsen
from .paint import (BICYCLE, BUILDING, BUS, CAR, EGO, FENCE, LIGHT, MOTORCYCLE, PERSON, POLE, RIDER, ROAD,  # noqa: F401
                    SIDEWALK, SIGN, SKY, TERRAIN, THINGS, TRAIN, TRUCK, VEGETATION, WALL)
from .scene import render

FORMAT_VERSION = 1
#: The widest image the generator makes (twice Cityscapes' 2048): beyond it a render would need many GB.
MAX_SIDE = 4096
FRAME = "000019"


@dataclass(frozen=True)
class SynthCityConfig:
    """What to generate; the defaults are the embedded default set."""

    num_train: int = 500
    num_val: int = 100
    num_coarse: int = 1000
    width: int = 256
    height: int = 128
    seed: int = 0

    def __post_init__(self):
        for k in ("num_train", "num_val", "num_coarse"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k} must be ≥ 0, got {getattr(self, k)}")
        if self.width < 64 or self.height < 32:
            raise ValueError(f"SynthCity images must be at least 64×32, got {self.width}×{self.height}")
        if self.width > MAX_SIDE or self.height > MAX_SIDE // 2:
            raise ValueError(f"SynthCity images must be at most {MAX_SIDE}×{MAX_SIDE // 2}, got {self.width}×{self.height}")


def parse_size(text: str) -> tuple[int, int]:
    """``"256x128"`` -> ``(256, 128)`` (width, height)."""
    try:
        w, h = (int(v) for v in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise ValueError(f"size must be WIDTHxHEIGHT, e.g. 256x128, got {text!r}") from None
    if w < 64 or h < 32:
        raise ValueError(f"size must be at least 64x32, got {text!r}")
    if w > MAX_SIDE or h > MAX_SIDE // 2:
        raise ValueError(f"size must be at most {MAX_SIDE}x{MAX_SIDE // 2} (Cityscapes is 2048x1024), got {text!r}")
    return w, h


def default_root() -> Path:
    """``$RELATIONNET_DATA/synthcity``, else ``data/synthcity`` in the source checkout (or the working dir)."""
    return data_dir() / "synthcity"


# --------------------------------------------------------------------------- the plan of a folder

def _jobs(cfg: SynthCityConfig) -> list[tuple[str, int, bool, bool]]:
    """``(split, index, fine, coarse)`` for every image."""
    return ([("train", i, True, True) for i in range(cfg.num_train)]
            + [("val", i, True, False) for i in range(cfg.num_val)]
            + [("train_extra", i, False, True) for i in range(cfg.num_coarse)])


def _paths(root: Path, split: str, index: int, fine: bool, coarse: bool) -> dict[str, Path]:
    city = CITIES[split]
    stem = f"{city}_{index:06d}_{FRAME}"
    p = {"image": root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"}
    if fine:
        p["fine"] = root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"
        p["instance"] = root / "gtFine" / split / city / f"{stem}_gtFine_instanceIds.png"
    if coarse:
        p["coarse"] = root / "gtCoarse" / split / city / f"{stem}_gtCoarse_labelIds.png"
    return p


def _manifest(cfg: SynthCityConfig) -> dict:
    return {"format": FORMAT_VERSION, "config": asdict(cfg), "files": sum(len(_paths(Path(), *j)) for j in _jobs(cfg))}


def is_complete(root: str | Path, cfg: SynthCityConfig | None = None) -> bool:
    """True when ``root`` holds a finished SynthCity (made with ``cfg``, when given)."""
    return not missing(root, cfg)


def _made_with(root: Path) -> SynthCityConfig | None:
    """The arguments recorded by the manifest of a finished folder (``None``: no readable manifest)."""
    man = _read_marker(root / MANIFEST)
    if not isinstance(man, dict) or man.get("format") != FORMAT_VERSION:
        return None
    try:
        return SynthCityConfig(**man["config"])
    except (TypeError, KeyError, ValueError):
        return None


def missing(root: str | Path, cfg: SynthCityConfig | None = None) -> list[str]:
    """Why ``root`` is not a finished SynthCity (made with ``cfg``, when given): ``[]`` when it is, else
    one line per problem (no folder, no manifest, an unfinished run, other arguments, each missing file)."""
    root = Path(root)
    if not root.is_dir():
        return [f"{root} does not exist"]
    if (root / IN_PROGRESS).exists():
        return [f"{root} holds a SynthCity generation that did not finish ({IN_PROGRESS})"]
    made = _made_with(root)
    if made is None:
        return [f"{root} has no SynthCity manifest ({MANIFEST}): it was not written by `relationnet data synthcity`"]
    if cfg is not None and made != cfg:
        return [f"{root} holds a SynthCity made with other arguments ({asdict(made)})"]
    return [f"missing {p.relative_to(root)}" for j in _jobs(made) for p in _paths(root, *j).values()
            if not p.is_file()]


def _planned(root: Path, cfg: SynthCityConfig) -> set[Path]:
    return {p for j in _jobs(cfg) for p in _paths(root, *j).values()}


def _foreign(root: Path, cfg: SynthCityConfig | None) -> list[Path]:
    """Files under ``root`` that a SynthCity made with ``cfg`` would not have written (``cfg`` None: the folder must be
    empty, and its top-level entries are returned without walking it: a user may point at a huge tree)."""
    if not root.is_dir():
        return []
    keep = {root / MANIFEST, root / IN_PROGRESS, root / ".lock"}
    if cfg is None:                 # nothing of ours here: the folder must be empty; its top level says whether it is
        return sorted(p for p in root.iterdir() if p not in keep)
    ours = _planned(root, cfg)
    return sorted(p for p in root.rglob("*") if not p.is_dir() and p not in ours and p not in keep
                  and not (p.name.endswith(".png.tmp") and p.with_name(p.name[:-4]) in ours))


def _refuse(root: Path, foreign: list[Path], why: str) -> FileExistsError:
    shown = ", ".join(str(p.relative_to(root)) + ("/" if p.is_dir() else "") for p in foreign[:3])
    more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
    return FileExistsError(f"{root} {why}: it holds {len(foreign)} entries SynthCity did not write ({shown}{more}); "
                           f"nothing was changed; choose another --out")


def generate(root: str | Path | None = None, cfg: SynthCityConfig | None = None, workers: int | None = None,
             progress: bool = True, overwrite: bool = False) -> Path:
    """Write SynthCity to ``root``; returns ``root``.

    Never deletes or replaces a file it did not write itself: the manifest of a finished folder (and
    the marker of an unfinished one) records the arguments, which name every file written.  A
    complete folder made with the same ``cfg`` is left alone; a folder made with the same ``cfg`` that
    lacks files (an interrupted run, or files removed since) gets only the missing files; one made
    with other arguments is an error unless ``overwrite``, which removes only the files that those
    arguments wrote.  A folder holding any file SynthCity did not write is refused, untouched.
    """
    root = Path(root) if root is not None else default_root()
    cfg = cfg or SynthCityConfig()
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder")
    if is_complete(root, cfg):
        return root
    from ...storage import folder_lock
    with folder_lock(root):                       # one writer per folder
        return _generate(root, cfg, workers, progress, overwrite)


def _generate(root: Path, cfg: SynthCityConfig, workers: int | None, progress: bool, overwrite: bool) -> Path:
    if is_complete(root, cfg):                    # made by another process while this one waited
        return root
    started = _read_marker(root / IN_PROGRESS)
    try:
        before = SynthCityConfig(**started) if isinstance(started, dict) else _made_with(root)
    except (TypeError, ValueError):
        before = None
    if before is None:                            # no record of ours: only an empty folder may be written
        foreign = _foreign(root, None)
        if foreign:
            raise _refuse(root, foreign, "is not empty and not a SynthCity folder")
    else:
        foreign = _foreign(root, before)
        if foreign:
            raise _refuse(root, foreign, "is a SynthCity folder with other files added")
        if before != cfg:
            if not overwrite:
                raise FileExistsError(f"{root} holds a SynthCity made with other arguments ({asdict(before)}); pass "
                                      f"--overwrite (overwrite=True) to replace it or choose another --out")
            (root / MANIFEST).unlink(missing_ok=True)
            atomic_write_text(root / IN_PROGRESS, json.dumps(asdict(before)))   # a cut removal is finished next time
            for p in _planned(root, before):      # only the files those arguments wrote
                p.unlink(missing_ok=True)
                p.with_name(p.name + ".tmp").unlink(missing_ok=True)
            for d in sorted({p.parent for p in _planned(root, before)}, key=lambda d: -len(d.parts)):
                for sub in (d, d.parent, d.parent.parent):
                    if sub != root and sub.is_dir() and not any(sub.iterdir()):
                        sub.rmdir()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / IN_PROGRESS
    (root / MANIFEST).unlink(missing_ok=True)
    atomic_write_text(marker, json.dumps(asdict(cfg)))
    planned = _planned(root, cfg)
    for p in planned:                             # half-written files of our own interrupted run
        p.with_name(p.name + ".tmp").unlink(missing_ok=True)
    jobs = [j for j in _jobs(cfg) if not all(p.is_file() for p in _paths(root, *j).values())]
    for d in {p.parent for p in planned}:
        d.mkdir(parents=True, exist_ok=True)
    tasks = [(str(root), cfg, *j) for j in jobs]
    workers = min(os.cpu_count() or 1, 8) if workers is None else max(1, int(workers))
    bar = tqdm(total=len(tasks), desc=f"SynthCity → {root}", unit="img", disable=not progress)
    if workers == 1 or len(tasks) < 8:
        for t in tasks:
            _write_item(t)
            bar.update()
    else:
        with get_context("spawn" if os.name == "nt" else "fork").Pool(workers, initializer=_worker_init) as pool:
            for _ in pool.imap_unordered(_write_item, tasks, chunksize=8):
                bar.update()
    bar.close()
    atomic_write_text(root / MANIFEST, json.dumps(_manifest(cfg), indent=1))
    marker.unlink()
    return root


def _worker_init() -> None:
    """A pool worker takes the default signal handlers, not the CLI's: the pool stops its workers with
    SIGTERM, and a worker that inherited the CLI's handler printed a KeyboardInterrupt traceback."""
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def is_project_folder(root: str | Path | None) -> bool:
    """True for the project's own SynthCity folders (the default set, the CI-size set), the only folders
    a command other than ``relationnet data`` may generate into."""
    if root is None or str(root) == "":
        return True
    own = {default_root(), project_dir() / "data" / "synthcity_ci"}
    return Path(root).expanduser().resolve() in {p.resolve() for p in own}


def ensure(root: str | Path | None = None, progress: bool = True) -> Path:
    """``root`` (default :func:`default_root`) as it is when it holds a complete SynthCity made with any
    arguments.  The project's own default folder is generated (or finished) when it is not; any other
    folder is never written here: an incomplete or missing one is a :class:`DatasetError` naming what is
    missing and the command that makes it."""
    root = Path(root).expanduser() if root is not None and str(root) != "" else default_root()
    problems = missing(root)
    if not problems:
        return root
    if is_project_folder(root):
        return generate(root, progress=progress)
    from .._io import DatasetError
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    raise DatasetError(f"SynthCity root {root} cannot be used: {shown}. Nothing was written there; make or finish it "
                       f"with `relationnet data synthcity --out {root}` (add the arguments it was made with), "
                       f"or leave root unset for the default set")


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _save_png(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(array).save(tmp, format="PNG", compress_level=1)
    os.replace(tmp, path)


def _write_item(task) -> None:
    root, cfg, split, index, fine, coarse = task
    split_code = {"train": 1, "val": 2, "train_extra": 3}[split]
    rng = np.random.default_rng([cfg.seed, split_code, index])
    scene = render(cfg.width, cfg.height, rng)
    paths = _paths(Path(root), split, index, fine, coarse)
    coarse_label = coarsen(scene["label"], scene["instance"], rng) if coarse else None
    arrays = {"fine": scene["label"], "instance": scene["instance"].astype(np.uint16), "coarse": coarse_label,
              "image": scene["image"]}
    # labels first, the image last: a folder is only read when its images have their labels; a file already there
    # (an interrupted or damaged folder being finished) is never rewritten
    for key in ("fine", "instance", "coarse", "image"):
        if key in paths and not paths[key].is_file():
            _save_png(paths[key], arrays[key])
