"""Checkpoints as safetensors (tensors) + JSON (everything else), written atomically, never unpickled.

A checkpoint ``NAME`` is two files: ``NAME.safetensors`` holds the model weights
(``model.*``), the optimizer's tensors (``optim.*``) and the torch RNG state, and
``NAME.json`` holds the format tag, the config, class names and palette, epoch, step,
metrics, the optimizer's non-tensor state, the numpy/python RNG states and the SHA-256
of the tensor file.  Both are written to temporary files and renamed into place, the
JSON last, so a reader never sees a half-written checkpoint; the digest catches a
truncated or swapped tensor file.  A foreign, corrupt or truncated file raises
:class:`CheckpointError` naming it.  Nothing here calls ``torch.load`` or ``pickle``.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..storage import atomic_write_text  # noqa: F401  (engine modules import it from here)

FORMAT = "relationnet-checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file."""


def _stem(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".json", ".safetensors") else p


def paths(path: str | Path) -> tuple[Path, Path]:
    s = _stem(path)
    return s.with_name(s.name + ".safetensors"), s.with_name(s.name + ".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _optimizer_split(optimizer) -> tuple[dict, dict]:
    sd = optimizer.state_dict()
    tensors, state = {}, {}
    for idx, st in sd["state"].items():
        state[str(idx)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{idx}.{k}"] = v.detach().cpu().contiguous()
                state[str(idx)][k] = {"tensor": True}
            else:
                state[str(idx)][k] = v
    return tensors, {"state": state, "param_groups": sd["param_groups"]}


def _optimizer_join(tensors: dict, meta: dict) -> dict:
    state = {}
    for idx, st in meta["state"].items():
        state[int(idx)] = {k: tensors[f"optim.{idx}.{k}"] if isinstance(v, dict) and v.get("tensor") else v
                           for k, v in st.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state() -> tuple[dict, dict]:
    """(tensors, json) capturing the torch, numpy and python RNG states."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return ({"rng.torch": torch.get_rng_state()},
            {"numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
             "python": [py_state[0], list(py_state[1]), py_state[2]]})


def set_rng_state(tensors: dict, meta: dict) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if meta.get("numpy"):
        n = meta["numpy"]
        np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))
    if meta.get("python"):
        p = meta["python"]
        random.setstate((p[0], tuple(p[1]), p[2]))


def save_checkpoint(path: str | Path, model: torch.nn.Module, meta: dict, optimizer=None) -> Path:
    """Write ``path``.safetensors + ``path``.json atomically; returns the JSON path."""
    st_path, js_path = paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    module = model.module if hasattr(model, "module") else model
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    rng_t, rng_j = rng_state()
    tensors.update(rng_t)
    info = dict(meta)
    info["format"] = FORMAT
    info["rng"] = rng_j
    if optimizer is not None:
        opt_t, opt_j = _optimizer_split(optimizer)
        tensors.update(opt_t)
        info["optimizer"] = opt_j
    tmp_st = st_path.with_name(st_path.name + ".tmp")
    tmp_js = js_path.with_name(js_path.name + ".tmp")
    try:
        save_file(tensors, str(tmp_st))
        info["sha256"] = _sha256(tmp_st)
        tmp_js.write_text(json.dumps(info, indent=1, default=float))
    except OSError as e:               # e.g. a full disk: drop the partial files; the previous checkpoint stands
        tmp_st.unlink(missing_ok=True)
        tmp_js.unlink(missing_ok=True)
        kept = " is intact" if js_path.is_file() else " did not exist"
        raise CheckpointError(f"could not write checkpoint {st_path.with_suffix('')}: {e.strerror or e} "
                              f"(errno {e.errno}); nothing was replaced: the previous checkpoint{kept}") from e
    for t in (tmp_st, tmp_js):          # readable as any other file the user writes (safetensors makes them 0600)
        _plain_mode(t)
    os.replace(tmp_st, st_path)
    os.replace(tmp_js, js_path)
    return js_path


def _plain_mode(path: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:
        pass


def finish_interrupted_save(path: str | Path) -> str | None:
    """Bring a checkpoint interrupted by a kill inside :func:`save_checkpoint` to a consistent state.

    A save writes ``NAME.safetensors.tmp`` and ``NAME.json.tmp`` in full, then renames the tensors, then the JSON.
    Killed before the first rename: the temporary files are dropped and the previous checkpoint stands. Killed
    between the two renames: the new tensors are in place and their JSON is complete in ``NAME.json.tmp``, so the
    rename is completed (otherwise the old JSON's digest would not match the new tensors). Only the folder's writer
    may call this (it renames and removes files). Returns what was done, or None. A kill inside safetensors' own
    write leaves a file this does not know of: :func:`finish_interrupted_saves` removes those too.
    """
    return _finish_renames(*paths(path))


def finish_interrupted_saves(folder: str | Path, names: tuple = ("last", "best")) -> list[str]:
    """:func:`finish_interrupted_save` for each checkpoint ``names`` of a run folder, and one sweep of the folder
    for safetensors' own left-overs: it writes a ``.tmpXXXXXX`` file (six random letters and digits) next to the
    target and renames it at the end, so such a file is left over from a killed save and is removed. Only the
    folder's writer may call this. Returns what was done, one line per thing (empty when nothing was)."""
    folder = Path(folder)
    done = [f"{n}: {m}" for n in names if (m := finish_interrupted_save(folder / n))]
    orphans = [p for p in folder.glob(".tmp*") if _SAFETENSORS_TMP.fullmatch(p.name) and p.is_file()]
    for p in orphans:
        p.unlink(missing_ok=True)
    if orphans:
        done.append(f"removed {len(orphans)} temporary file(s) of a killed tensor write")
    return done


_SAFETENSORS_TMP = re.compile(r"\.tmp[0-9A-Za-z]{6}")


def _finish_renames(st_path: Path, js_path: Path) -> str | None:
    tmp_st, tmp_js = st_path.with_name(st_path.name + ".tmp"), js_path.with_name(js_path.name + ".tmp")
    if tmp_st.exists():
        tmp_st.unlink()
        tmp_js.unlink(missing_ok=True)
        return "dropped an unfinished save"
    if tmp_js.exists():
        try:
            complete = json.loads(tmp_js.read_text()).get("sha256") == _sha256(st_path)
        except (OSError, ValueError):
            complete = False
        if complete:
            os.replace(tmp_js, js_path)
            return "completed a save interrupted between its two renames"
        tmp_js.unlink()
        return "dropped an unfinished save"
    return None


def read_meta(path: str | Path) -> dict:
    """The JSON half of a checkpoint (cheap: no tensors read)."""
    _, js_path = paths(path)
    if not js_path.is_file():
        raise CheckpointError(f"checkpoint metadata not found: {js_path}")
    try:
        meta = json.loads(js_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{js_path} is not a readable checkpoint file: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{js_path} is not a relationnet checkpoint (format tag missing or foreign)")
    return meta


def load_checkpoint(path: str | Path, verify: bool = True) -> tuple[dict, dict]:
    """(tensors, meta) of a checkpoint; ``tensors`` keys keep their ``model.``/``optim.`` prefixes."""
    st_path, js_path = paths(path)
    meta = read_meta(path)
    if not st_path.is_file():
        raise CheckpointError(f"checkpoint weights not found: {st_path}")
    if verify and meta.get("sha256") and _sha256(st_path) != meta["sha256"]:
        raise CheckpointError(f"{st_path} does not match its metadata {js_path} (truncated, corrupt or replaced)")
    try:
        tensors = load_file(str(st_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{st_path} is not a readable safetensors file: {e}") from None
    return tensors, meta


def model_state(tensors: dict) -> dict:
    return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}


def restore(path: str | Path, model: torch.nn.Module, optimizer=None, rng: bool = True) -> dict:
    """Load weights (and optimizer and RNG state) into existing objects; returns the metadata."""
    tensors, meta = load_checkpoint(path)
    module = model.module if hasattr(model, "module") else model
    try:
        module.load_state_dict(model_state(tensors))
    except RuntimeError as e:
        raise CheckpointError(f"{paths(path)[0]} does not fit this model: {str(e).splitlines()[0]}") from None
    if optimizer is not None and "optimizer" in meta:
        optimizer.load_state_dict(_optimizer_join(tensors, meta["optimizer"]))
    if rng:
        set_rng_state(tensors, meta.get("rng", {}))
    return meta


def find_run(name: str | Path) -> Path:
    """The checkpoint of a trained run, by name or path: a checkpoint (``NAME``, ``NAME.json``), a run folder (its
    ``last``; alternating: its last stage's), or a run's name under the demo's folder (``runs/demo/NAME``)."""
    from ..data.synthcity import project_dir
    p = Path(name)
    tries = [p, project_dir() / "runs" / "demo" / str(name), Path("runs") / "demo" / str(name)]
    for t in tries:
        stages = [q.with_suffix("") for q in sorted(t.glob("stage*/last.json"))][-1:] if t.is_dir() else []
        for c in (t / "last", *stages) if t.is_dir() else (t,):
            if paths(c)[1].is_file():
                return paths(c)[0].with_suffix("")
    raise CheckpointError(f"no trained run {str(name)!r}: not a checkpoint, a run folder, or a run under runs/demo/ "
                          f"(train one with `relationnet demo` or `relationnet train`)")


def load_run(name: str | Path, device: str | torch.device = "cpu"):
    """``model, meta = rn.load("baseline")``: a trained run's model, ready for inference (see :func:`find_run`)."""
    return load_model(find_run(name), device)


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the model a checkpoint was trained as and load its weights: ``(model.eval(), meta)``."""
    from ..models import RelationNet
    tensors, meta = load_checkpoint(path)
    arch = meta.get("model")
    if not isinstance(arch, dict):
        raise CheckpointError(f"{paths(path)[1]} does not describe its model architecture")
    try:
        model = RelationNet(**arch)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{paths(path)[1]} describes an invalid model: {e}") from None
    try:
        model.load_state_dict(model_state(tensors))
    except RuntimeError as e:
        raise CheckpointError(f"{paths(path)[0]} does not fit the model it describes: {str(e).splitlines()[0]}") from None
    return model.to(device).eval(), meta
