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
import math
import os
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from tqdm.auto import tqdm

from ._io import atomic_write_text
from .cityscapes import IN_PROGRESS
from .cityscapes import SYNTHCITY_CITIES as CITIES
from .cityscapes import SYNTHCITY_MANIFEST as MANIFEST

FORMAT_VERSION = 1
#: The widest image the generator makes (twice Cityscapes' 2048): beyond it a render would need many GB.
MAX_SIDE = 4096
FRAME = "000019"

# official Cityscapes label ids
EGO, ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE = 1, 7, 8, 11, 12, 13, 17
LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER = 19, 20, 21, 22, 23, 24, 25
CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = 26, 27, 28, 31, 32, 33
THINGS = (PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE)


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
    if os.environ.get("RELATIONNET_DATA"):
        return Path(os.environ["RELATIONNET_DATA"]) / "synthcity"
    return project_dir() / "data" / "synthcity"


def project_dir() -> Path:
    """The source checkout holding this package (where ``data/`` and ``runs/`` live), or the working dir."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


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
    from ..storage import folder_lock
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
    from ._io import DatasetError
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


# --------------------------------------------------------------------------- rendering

class _Canvas:
    """An image, its label ids, instance ids and a depth buffer; shapes are painted nearest-wins."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.img = np.zeros((h, w, 3), np.float32)
        self.lab = np.zeros((h, w), np.uint8)
        self.inst = np.zeros((h, w), np.int32)
        self.depth = np.full((h, w), np.inf, np.float32)
        self.counts: dict[int, int] = {}

    def new_instance(self, label: int) -> int:
        self.counts[label] = self.counts.get(label, 0) + 1
        return label * 1000 + self.counts[label] - 1

    def grid(self, x0: float, y0: float, x1: float, y1: float):
        """Slices and pixel-centre coordinates of the clipped box, or None when it is off-image."""
        c0, c1 = max(0, int(math.floor(x0))), min(self.w, int(math.ceil(x1)) + 1)
        r0, r1 = max(0, int(math.floor(y0))), min(self.h, int(math.ceil(y1)) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32) + 0.5
        return (slice(r0, r1), slice(c0, c1)), xx, yy

    def paint(self, sl, mask: np.ndarray, label: int, color, depth, instance: int | None = None) -> None:
        d = np.broadcast_to(np.asarray(depth, np.float32), mask.shape)
        m = mask & (d <= self.depth[sl])
        if not m.any():
            return
        self.depth[sl][m] = d[m]
        self.lab[sl][m] = label
        self.inst[sl][m] = label if instance is None else instance
        col = np.asarray(color, np.float32)
        self.img[sl][m] = col[m] if col.ndim == 3 else col


def _smooth_noise(rng, h: int, w: int, cell: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = h // cell + 2, w // cell + 2
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return ndimage.zoom(g, (h / (gh - 1), w / (gw - 1)), order=1, mode="nearest", grid_mode=False)[:h, :w]


def _jitter(rng, base, spread: float = 25.0) -> np.ndarray:
    return np.clip(np.asarray(base, np.float32) + rng.normal(0, spread, 3), 0, 255)


_CAR_COLOURS = [(200, 200, 205), (30, 30, 35), (120, 120, 125), (150, 30, 30), (30, 50, 120), (230, 230, 225),
                (90, 100, 80), (170, 140, 60), (60, 60, 90), (140, 140, 150)]
_FACADES = [(180, 160, 130), (150, 150, 150), (140, 70, 50), (210, 200, 180), (110, 100, 95), (190, 180, 160),
            (120, 130, 140), (170, 120, 90)]
_CLOTHES = [(40, 40, 60), (150, 30, 30), (200, 200, 200), (30, 80, 40), (80, 60, 40), (20, 20, 20), (60, 90, 160)]


def render(width: int = 256, height: int = 128, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """One scene: ``{"image": (H, W, 3) uint8, "label": (H, W) label ids, "instance": (H, W) instance ids}``."""
    rng = rng if rng is not None else np.random.default_rng()
    h, w = height, width
    cv = _Canvas(h, w)
    f = w * rng.uniform(0.8, 1.05)                  # focal length in pixels
    hc = rng.uniform(1.3, 1.7)                      # camera height (m)
    yh = h * rng.uniform(0.36, 0.48)                # horizon row
    vx = w * rng.uniform(0.38, 0.62)                # vanishing point column
    road = rng.uniform(3.5, 7.5)                    # half width of the road (m)
    walk = rng.uniform(2.0, 4.5)                    # sidewalk width (m)
    side = road + walk
    zfar = rng.uniform(45, 90) if rng.random() < 0.5 else 400.0
    light = rng.uniform(0.65, 1.25)
    tint = rng.uniform(0.9, 1.1, 3).astype(np.float32)

    def ground_row(z):
        return yh + f * hc / z

    def column(x_m, z):
        return vx + f * x_m / z

    # sky: clear (blue), overcast (grey) or evening (orange), with clouds
    weather = rng.choice(3, p=[0.5, 0.35, 0.15])
    top, bottom = [((70, 130, 210), (170, 200, 235)), ((150, 155, 160), (200, 200, 205)),
                   ((90, 90, 140), (235, 170, 110))][weather]
    sl, xx, yy = cv.grid(0, 0, w - 1, h - 1)
    t = np.clip(yy / max(yh, 1), 0, 1)[..., None]
    sky = _jitter(rng, top, 15) * (1 - t) + _jitter(rng, bottom, 15) * t
    sky = sky + 35 * np.clip(_smooth_noise(rng, h, w, max(4, w // 16)), 0, None)[..., None]
    cv.paint(sl, yy < h + 1, SKY, sky, np.float32(1e9))

    # ground: road, sidewalks, terrain beyond them
    below = yy > yh
    zg = np.where(below, f * hc / np.maximum(yy - yh, 1e-3), 1e6).astype(np.float32)
    xm = (xx - vx) * zg / f
    asphalt = _jitter(rng, (95, 95, 100), 18)
    rtex = asphalt * (1 + 0.06 * rng.standard_normal((h, w, 1)).astype(np.float32))
    dash = (np.abs(xm) < 0.12) & ((zg / 6.0) % 1.0 < 0.45)
    if rng.random() < 0.4:                          # a zebra crossing
        zc = rng.uniform(8, 25)
        dash |= (np.abs(zg - zc) < 2.0) & ((xm / 0.9) % 1.0 < 0.5)
    rtex = np.where(dash[..., None], _jitter(rng, (225, 225, 215), 10), rtex)
    cv.paint(sl, below & (np.abs(xm) < road), ROAD, rtex, zg)
    pave = _jitter(rng, [(150, 145, 140), (170, 120, 110), (120, 120, 125), (185, 175, 150)][rng.integers(4)], 15)
    tiles = (((xm / 0.6) % 1.0 < 0.07) | ((zg / 0.6) % 1.0 < 0.07))[..., None]
    ptex = pave * np.where(tiles, 0.8, 1.0) * (1 + 0.05 * rng.standard_normal((h, w, 1)).astype(np.float32))
    cv.paint(sl, below & (np.abs(xm) >= road) & (np.abs(xm) < side), SIDEWALK, ptex, zg)
    grass = _jitter(rng, [(90, 130, 60), (120, 130, 70), (110, 100, 70)][rng.integers(3)], 15)
    gtex = grass * (1 + 0.15 * rng.standard_normal((h, w, 1)).astype(np.float32))
    cv.paint(sl, below & (np.abs(xm) >= side), TERRAIN, gtex, zg)

    # a facade across the far end of the street
    if zfar < 200:
        hb = rng.uniform(8, 25)
        x0, x1 = column(-3 * side, zfar), column(3 * side, zfar)
        _facade(cv, rng, x0, ground_row(zfar) - f * hb / zfar, x1, ground_row(zfar), zfar, f, hc, yh)

    # the two sides of the street: rows of buildings or parks, with walls/fences in front
    for sgn in (-1, 1):
        z = rng.uniform(1.0, 6.0)
        while z < min(zfar, 150):
            length = rng.uniform(8, 30)
            kind = rng.choice(3, p=[0.65, 0.2, 0.15])      # building, park, fenced/walled building
            if kind in (0, 2):
                _side_building(cv, rng, sgn, side + (0.0 if kind == 0 else 1.5), z, min(z + length, zfar),
                               f, hc, yh, vx)
            if kind == 2 or (kind == 1 and rng.random() < 0.5):
                label = WALL if rng.random() < 0.5 else FENCE
                _side_plane(cv, rng, sgn, side + 0.3, z, min(z + length, zfar), rng.uniform(1.0, 2.2), label,
                            f, hc, yh, vx)
            if kind == 1:
                for _ in range(rng.integers(1, 4)):
                    zt = rng.uniform(z, z + length)
                    _tree(cv, rng, column(sgn * (side + rng.uniform(1, 6)), zt), ground_row(zt), zt, f)
            z += length + (rng.uniform(2, 10) if rng.random() < 0.3 else 0.0)

    # objects placed in depth (the depth buffer sorts out occlusion)
    zmin = f * hc / (h - yh) + 1.0
    zmax = min(zfar - 1, 70.0)
    things = []
    for _ in range(rng.integers(2, 6)):
        things.append(("car", rng.uniform(zmin, zmax) if things else rng.uniform(zmin, zmin + 12),
                       rng.choice([-1, 1]) * rng.uniform(0.8, road - 1.0)))
    for _ in range(rng.poisson(0.6)):
        things.append((rng.choice(["truck", "bus", "tram"], p=[0.45, 0.4, 0.15]), rng.uniform(zmin + 4, zmax),
                       rng.choice([-1, 1]) * rng.uniform(1.5, max(1.6, road - 1.4))))
    for k in range(rng.integers(1, 6)):
        things.append(("person", rng.uniform(zmin, zmin + 10) if k == 0 else rng.uniform(zmin, zmax),
                       rng.choice([-1, 1]) * rng.uniform(road + 0.3, side - 0.3)))
    for _ in range(rng.poisson(0.8)):
        things.append(("cyclist", rng.uniform(zmin, zmax), rng.choice([-1, 1]) * rng.uniform(road - 1.5, road - 0.5)))
    for _ in range(rng.poisson(0.4)):
        things.append(("bicycle", rng.uniform(zmin, zmax), rng.choice([-1, 1]) * rng.uniform(road + 0.3, side - 0.3)))
    for k in range(rng.integers(2, 6)):
        things.append(("pole", rng.uniform(zmin, zmin + 8) if k == 0 else rng.uniform(zmin, zmax),
                       rng.choice([-1, 1]) * (road + rng.uniform(0.2, 0.6))))
    for _ in range(rng.integers(0, 4)):
        things.append(("tree", rng.uniform(zmin, zmax), rng.choice([-1, 1]) * (side - rng.uniform(0.3, 1.0))))
    for name, z, x in things:
        u, v = column(x, z), ground_row(z)
        {"car": _car, "truck": _truck, "bus": _bus, "tram": _tram, "person": _person, "cyclist": _cyclist,
         "bicycle": _bicycle_alone, "pole": _pole, "tree": _tree}[name](cv, rng, u, v, z, f)

    if rng.random() < 0.3:                          # the ego vehicle's bonnet (void, as in Cityscapes)
        g = cv.grid(0, h * 0.9, w - 1, h - 1)
        if g is not None:
            sl, xx, yy = g
            bonnet = yy > h * rng.uniform(0.9, 0.95) + 0.002 * (xx - w / 2) ** 2 / max(w / 256, 1)
            cv.paint(sl, bonnet, EGO, _jitter(rng, (40, 40, 45), 10), np.float32(0.1))

    # illumination: a global level and tint, soft cast shadows, sensor noise, slight blur
    img = cv.img * light * tint
    shadow = (_smooth_noise(rng, h, w, max(4, w // 12)) > 0.5) & (cv.lab != SKY)
    img *= (1 - 0.3 * shadow)[..., None]
    img = 0.6 * img + 0.1 * (np.roll(img, 1, 0) + np.roll(img, -1, 0) + np.roll(img, 1, 1) + np.roll(img, -1, 1))
    img += rng.normal(0, rng.uniform(2, 7), img.shape).astype(np.float32)
    return {"image": np.clip(img, 0, 255).astype(np.uint8), "label": cv.lab, "instance": cv.inst}


# ---- the street sides

def _side_grid(cv, sgn, dist, z0, z1, top, f, hc, yh, vx):
    """Pixels of the vertical plane x = sgn·dist between depths z0 and z1, up to ``top`` metres:
    ``(slices, depth, metres above the ground, inside mask)``, or None when it is off-image."""
    xa, xb = vx + f * sgn * dist / z0, vx + f * sgn * dist / z1
    g = cv.grid(min(xa, xb), yh - f * (top - hc) / z0, max(xa, xb), yh + f * hc / z0)
    if g is None:
        return None
    sl, xx, yy = g
    with np.errstate(divide="ignore", invalid="ignore"):
        zw = (f * dist / np.abs(xx - vx)).astype(np.float32)
    zw = np.where(np.sign(xx - vx) == sgn, zw, np.inf)
    height = hc - (yy - yh) * zw / f                # metres above the ground at this pixel
    inside = (zw >= z0) & (zw <= z1) & (height >= 0) & (height <= top)
    return sl, zw, height, inside


def _side_building(cv, rng, sgn, dist, z0, z1, f, hc, yh, vx):
    """A facade in the plane x = sgn·dist between depths z0 and z1 (perspective, windows per floor)."""
    hb = rng.uniform(6, 30)
    g = _side_grid(cv, sgn, dist, z0, z1, hb, f, hc, yh, vx)
    if g is None:
        return
    sl, zw, height, inside = g
    cv.paint(sl, inside, BUILDING, _facade_texture(rng, zw, height, hb), zw)


def _facade(cv, rng, x0, y0, x1, y1, z, f, hc, yh):
    """A facade facing the camera at depth ``z`` (the far end of the street)."""
    g = cv.grid(x0, y0, x1, y1)
    if g is None:
        return
    sl, xx, yy = g
    height = hc - (yy - yh) * z / f
    along = xx * z / f
    tex = _facade_texture(rng, along, height, (y1 - y0) * z / f)
    cv.paint(sl, np.ones_like(xx, bool), BUILDING, tex, np.float32(z))


def _facade_texture(rng, along, height, hb):
    base = _jitter(rng, _FACADES[rng.integers(len(_FACADES))], 20)
    floor = rng.uniform(2.8, 3.6)
    spacing = rng.uniform(2.0, 4.0)
    wfrac, hfrac = rng.uniform(0.35, 0.7), rng.uniform(0.4, 0.65)
    glass = _jitter(rng, [(40, 50, 70), (90, 110, 140), (25, 25, 30), (150, 170, 190)][rng.integers(4)], 15)
    u = (along / spacing) % 1.0
    v = (height / floor) % 1.0
    win = (u < wfrac) & (v > 0.3) & (v < 0.3 + hfrac) & (height > floor) & (height < hb - 0.5)
    shop = (height < floor * 0.8) & (height > 0.3) & (u < 0.8) & (rng.random() < 0.6)
    stripes = 1 + 0.05 * np.sin(height * rng.uniform(3, 9))
    tex = base * stripes[..., None]
    tex = np.where((win | shop)[..., None], glass, tex)
    return tex.astype(np.float32)


def _side_plane(cv, rng, sgn, dist, z0, z1, hp, label, f, hc, yh, vx):
    """A low wall or fence along the street (x = sgn·dist), ``hp`` metres high."""
    g = _side_grid(cv, sgn, dist, z0, z1, hp, f, hc, yh, vx)
    if g is None:
        return
    sl, zw, height, inside = g
    if label == WALL:
        tex = _jitter(rng, [(160, 155, 145), (120, 110, 100), (180, 170, 150)][rng.integers(3)], 20)
        tex = tex * (1 - 0.12 * (((height / 0.4) % 1.0) < 0.1))[..., None]
    else:                                           # bars with the darker gaps between them
        bars = ((zw / rng.uniform(0.15, 0.4)) % 1.0 < 0.4) | (np.abs(height - hp * 0.9) < 0.08)
        tex = np.where(bars[..., None], _jitter(rng, (110, 105, 95), 25), _jitter(rng, (70, 75, 60), 20))
    cv.paint(sl, inside, label, tex.astype(np.float32), zw - 0.5)


# ---- objects (u, v: image column of the centre and row of the ground point; z: depth in metres)

def _box(cv, u, v, z, f, x0, x1, h0, h1):
    """Grid of a box spanning x0..x1 metres across and h0..h1 metres above the ground."""
    return cv.grid(u + f * x0 / z, v - f * h1 / z, u + f * x1 / z, v - f * h0 / z)


def _metric(xx, yy, u, v, z, f):
    return (xx - u) * z / f, (v - yy) * z / f      # metres across, metres up


def _vehicle(cv, rng, u, v, z, f, label, width, height, colour, windows):
    inst = cv.new_instance(label)
    g = _box(cv, u, v, z, f, -width / 2, width / 2, 0, height)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    body = (np.abs(a) <= width / 2) & (b >= 0.25) & (b <= height * 0.55)
    cabin_w = width / 2 * (1 - 0.25 * (b - height * 0.55) / (height * 0.45))
    cabin = (np.abs(a) <= cabin_w) & (b > height * 0.55) & (b <= height)
    wheels = (b < 0.45) & (np.abs(np.abs(a) - width * 0.33) < width * 0.14)
    tex = np.broadcast_to(colour, xx.shape + (3,)).copy()
    tex *= (1 + 0.15 * (b / height - 0.5))[..., None]
    glass = cabin & (b > height * 0.62) & (b < height * 0.93) & (np.abs(a) < cabin_w - 0.1)
    tex[glass] = windows
    tex[wheels] = (25, 25, 25)
    lamps = body & (b > height * 0.38) & (b < height * 0.5) & (np.abs(a) > width / 2 - 0.35)
    tex[lamps] = (200, 40, 30) if rng.random() < 0.6 else (230, 220, 180)
    cv.paint(sl, body | cabin | wheels, label, tex, np.float32(z), inst)


def _car(cv, rng, u, v, z, f):
    _vehicle(cv, rng, u, v, z, f, CAR, rng.uniform(1.6, 2.0), rng.uniform(1.35, 1.7),
             _jitter(rng, _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))], 12), _jitter(rng, (45, 55, 70), 15))


def _truck(cv, rng, u, v, z, f):
    _vehicle(cv, rng, u, v, z, f, TRUCK, rng.uniform(2.2, 2.6), rng.uniform(2.8, 3.6),
             _jitter(rng, _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))], 20), _jitter(rng, (50, 55, 60), 15))


def _long_vehicle(cv, rng, u, v, z, f, label, colour, height):
    inst = cv.new_instance(label)
    width = rng.uniform(2.4, 2.6)
    g = _box(cv, u, v, z, f, -width / 2, width / 2, 0, height + 0.6)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    body = (np.abs(a) <= width / 2) & (b >= 0.3) & (b <= height)
    wheels = (b < 0.5) & (np.abs(np.abs(a) - width * 0.33) < width * 0.12)
    tex = np.broadcast_to(colour, xx.shape + (3,)).copy()
    band = body & (b > height * 0.5) & (b < height * 0.85) & (np.abs(a) < width / 2 - 0.15)
    tex[band] = _jitter(rng, (40, 50, 60), 10)
    tex[wheels] = (25, 25, 25)
    mask = body | wheels
    if label == TRAIN:                              # the pantograph: thin lines above the roof
        panto = (b > height) & (b < height + 0.6) & (np.abs(np.abs(a) - (b - height) * 0.6) < 0.05)
        tex[panto] = (40, 40, 40)
        mask |= panto
    cv.paint(sl, mask, label, tex, np.float32(z), inst)


def _bus(cv, rng, u, v, z, f):
    colour = _jitter(rng, [(200, 40, 40), (230, 200, 40), (240, 240, 240), (40, 90, 170)][rng.integers(4)], 15)
    _long_vehicle(cv, rng, u, v, z, f, BUS, colour, rng.uniform(2.9, 3.3))


def _tram(cv, rng, u, v, z, f):
    colour = _jitter(rng, [(220, 220, 210), (200, 40, 40), (60, 120, 70)][rng.integers(3)], 15)
    _long_vehicle(cv, rng, u, v, z, f, TRAIN, colour, rng.uniform(3.2, 3.6))


def _person_shape(cv, rng, u, v, z, f, label, base=0.0, legs=True):
    """Head, torso, arms and (optionally) legs; ``base`` lifts the figure (a rider on a saddle)."""
    inst = cv.new_instance(label)
    tall = rng.uniform(1.55, 1.9)
    g = _box(cv, u, v, z, f, -0.35, 0.35, base, base + tall)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    b = b - base
    head = (a / 0.11) ** 2 + ((b - tall + 0.12) / 0.13) ** 2 <= 1
    torso = (np.abs(a) < 0.2) & (b > tall * 0.5) & (b <= tall - 0.22)
    arms = (np.abs(np.abs(a) - 0.24) < 0.05) & (b > tall * 0.45) & (b <= tall - 0.28)
    stride = rng.uniform(0.0, 0.15)
    leg = legs & (b >= 0) & (b <= tall * 0.5) & (np.abs(np.abs(a) - 0.08 - stride * (1 - b / (tall * 0.5))) < 0.07)
    tex = np.broadcast_to(_jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 20), xx.shape + (3,)).copy()
    tex[leg] = _jitter(rng, _CLOTHES[rng.integers(len(_CLOTHES))], 20)
    tex[head] = _jitter(rng, [(220, 180, 150), (150, 100, 70), (90, 60, 40)][rng.integers(3)], 10)
    cv.paint(sl, head | torso | arms | leg, label, tex, np.float32(z), inst)


def _person(cv, rng, u, v, z, f):
    _person_shape(cv, rng, u, v, z, f, PERSON)


def _two_wheeler(cv, rng, u, v, z, f, label):
    inst = cv.new_instance(label)
    length = 1.7 if label == BICYCLE else 2.0
    r = 0.34 if label == BICYCLE else 0.32
    g = _box(cv, u, v, z, f, -length / 2, length / 2, 0, 1.1)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    thick = max(0.045, 0.6 * z / f)                 # at least about half a pixel wide
    mask = np.zeros_like(a, bool)
    for c in (-length / 2 + r, length / 2 - r):
        d = np.hypot(a - c, b - r)
        mask |= np.abs(d - r) < thick
    frame = [(-length / 2 + r, r, 0.0, 0.9), (0.0, 0.9, length / 2 - r, r), (-0.1, r, 0.0, 0.9),
             (0.05, 0.95, length / 2 - r - 0.1, 1.0)]
    for x0, y0, x1, y1 in frame:
        mask |= _segment_distance(a, b, x0, y0, x1, y1) < thick
    colour = _jitter(rng, [(30, 30, 30), (160, 30, 30), (40, 60, 140), (200, 200, 200)][rng.integers(4)], 15)
    if label == MOTORCYCLE:
        mask |= ((a / 0.5) ** 2 + ((b - 0.65) / 0.22) ** 2) <= 1
    cv.paint(sl, mask, label, colour, np.float32(z), inst)


def _segment_distance(a, b, x0, y0, x1, y1):
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((a - x0) * dx + (b - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
    return np.hypot(a - x0 - t * dx, b - y0 - t * dy)


def _cyclist(cv, rng, u, v, z, f):
    _two_wheeler(cv, rng, u, v, z, f, MOTORCYCLE if rng.random() < 0.35 else BICYCLE)
    _person_shape(cv, rng, u, v, z - 0.05, f, RIDER, base=0.55, legs=True)


def _bicycle_alone(cv, rng, u, v, z, f):
    _two_wheeler(cv, rng, u, v, z, f, BICYCLE)


def _pole(cv, rng, u, v, z, f):
    tall = rng.uniform(3.5, 7.0)
    width = max(rng.uniform(0.1, 0.2), 0.9 * z / f)     # never thinner than about one pixel
    g = _box(cv, u, v, z, f, -width / 2, width / 2, 0, tall)
    if g is not None:
        sl, xx, yy = g
        a, b = _metric(xx, yy, u, v, z, f)
        tex = _jitter(rng, [(120, 120, 120), (70, 75, 70), (160, 160, 150)][rng.integers(3)], 20)
        cv.paint(sl, (np.abs(a) <= width / 2) & (b >= 0) & (b <= tall), POLE, tex, np.float32(z))
    kind = rng.choice(3, p=[0.45, 0.35, 0.2])       # sign, traffic light, bare pole
    if kind == 0:
        s = rng.uniform(0.6, 0.9)
        g = _box(cv, u, v, z, f, -s, s, tall - 2 * s, tall + 0.05)
        if g is None:
            return
        sl, xx, yy = g
        a, b = _metric(xx, yy, u, v, z, f)
        shape = rng.integers(3)
        c = tall - s
        if shape == 0:
            mask = (a / (s / 2)) ** 2 + ((b - c) / (s / 2)) ** 2 <= 1
        elif shape == 1:
            mask = (np.abs(a) <= s / 2) & (np.abs(b - c) <= s / 2)
        else:                                       # a triangle
            mask = (b <= c + s / 2) & (b >= c - s / 2) & (np.abs(a) <= (c + s / 2 - b) * 0.58)
        face = _jitter(rng, [(200, 30, 30), (30, 70, 170), (230, 200, 30), (230, 230, 230)][rng.integers(4)], 15)
        rim = _jitter(rng, (230, 230, 230), 10)
        tex = np.where(((a / (s / 3)) ** 2 + ((b - c) / (s / 3)) ** 2 <= 1)[..., None], face, rim)
        cv.paint(sl, mask, SIGN, tex.astype(np.float32), np.float32(z - 0.05))
    elif kind == 1:
        bw, bh = rng.uniform(0.3, 0.4), rng.uniform(0.9, 1.1)
        g = _box(cv, u, v, z, f, -bw / 2, bw / 2, tall - bh, tall)
        if g is None:
            return
        sl, xx, yy = g
        a, b = _metric(xx, yy, u, v, z, f)
        box = (np.abs(a) <= bw / 2) & (b >= tall - bh) & (b <= tall)
        tex = np.broadcast_to(_jitter(rng, (35, 35, 35), 10), xx.shape + (3,)).copy()
        lit = rng.integers(3)
        for k, col in enumerate([(230, 40, 30), (240, 180, 30), (40, 220, 90)]):
            c = tall - bh / 6 - k * bh / 3
            lamp = (a / (bw / 3)) ** 2 + ((b - c) / (bw / 3)) ** 2 <= 1
            tex[lamp] = col if k == lit else (60, 60, 55)
        cv.paint(sl, box, LIGHT, tex, np.float32(z - 0.05))


def _tree(cv, rng, u, v, z, f):
    tall = rng.uniform(4, 9)
    crown = rng.uniform(1.5, 3.0)
    g = _box(cv, u, v, z, f, -crown * 1.2, crown * 1.2, 0, tall + crown)
    if g is None:
        return
    sl, xx, yy = g
    a, b = _metric(xx, yy, u, v, z, f)
    trunk = (np.abs(a) < max(0.15, 0.6 * z / f)) & (b >= 0) & (b <= tall)
    blob = np.zeros_like(a, bool)
    for _ in range(rng.integers(3, 7)):
        cx, cy, r = rng.normal(0, crown * 0.4), tall + rng.normal(0, crown * 0.3), crown * rng.uniform(0.5, 0.9)
        blob |= (a - cx) ** 2 + (b - cy) ** 2 <= r * r
    leaves = _jitter(rng, [(50, 100, 40), (80, 120, 50), (120, 110, 40), (40, 70, 40)][rng.integers(4)], 15)
    tex = np.broadcast_to(leaves, xx.shape + (3,)) * (0.7 + 0.5 * rng.random(xx.shape + (1,)).astype(np.float32))
    tex = np.where(trunk[..., None] & ~blob[..., None], _jitter(rng, (80, 60, 40), 10), tex)
    cv.paint(sl, blob | trunk, VEGETATION, tex.astype(np.float32), np.float32(z))


# --------------------------------------------------------------------------- coarse labels

def coarsen(label: np.ndarray, instance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coarse label ids from fine ones, the way people draw them (0, *unlabeled*, elsewhere).

    Stuff regions are shrunk away from every border by 2–5 px (scaled with the image); each
    object becomes a star-shaped polygon inside its shrunk mask; objects whose shrunk mask is
    smaller than a few dozen pixels, and a fifth of the others, are left unlabelled.
    """
    h, w = label.shape
    scale = max(h / 128, 0.5)
    r = max(1, int(round(rng.uniform(2, 5) * scale)))
    seg = instance.astype(np.int64)
    size = 2 * r + 1
    interior = ndimage.maximum_filter(seg, size=size, mode="nearest") == ndimage.minimum_filter(seg, size=size,
                                                                                               mode="nearest")
    out = np.where(interior & (label != EGO), label, 0).astype(np.uint8)
    min_area = int(40 * scale * scale)
    for inst in np.unique(seg[seg >= 1000]):
        obj = seg == inst
        m = interior & obj
        if int(m.sum()) < min_area or rng.random() < 0.2:
            out[obj] = 0
            continue
        out[obj & ~_star_polygon(m, rng)] = 0
    return out


def _star_polygon(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A polygon with 6–10 vertices cast from the mask's centroid to its edge, filled, within the mask."""
    from matplotlib.path import Path as MplPath
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sub = mask[y0:y1, x0:x1]
    cy, cx = ys.mean() - y0, xs.mean() - x0
    n = int(rng.integers(6, 11))
    ang = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * (2 * np.pi / n) + rng.uniform(0, 2 * np.pi)
    steps = np.arange(0, max(sub.shape) + 1, 0.5)
    py = cy + np.sin(ang)[:, None] * steps[None]
    px = cx + np.cos(ang)[:, None] * steps[None]
    iy, ix = np.round(py).astype(int), np.round(px).astype(int)
    ok = (iy >= 0) & (iy < sub.shape[0]) & (ix >= 0) & (ix < sub.shape[1])
    hit = np.zeros_like(ok)
    hit[ok] = sub[iy[ok], ix[ok]]
    first_out = np.argmin(np.concatenate([hit, np.zeros((n, 1), bool)], axis=1), axis=1)
    reach = steps[np.maximum(first_out - 1, 0)] * rng.uniform(0.85, 1.0, n)
    verts = np.stack([cx + np.cos(ang) * reach, cy + np.sin(ang) * reach], 1)
    gy, gx = np.mgrid[0:sub.shape[0], 0:sub.shape[1]]
    inside = MplPath(verts).contains_points(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(sub.shape)
    full = np.zeros_like(mask)
    full[y0:y1, x0:x1] = inside & sub
    return full
