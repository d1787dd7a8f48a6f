"""What a study record carries beside its metrics, and how it lands: the provenance of the code and machine that
made it, the per-epoch mechanism lines of its training, and a commit of the record alone."""
from __future__ import annotations

import json
import platform
import subprocess
import time
from functools import lru_cache
from pathlib import Path

import torch


def git(*args: str, root: str | Path | None = None) -> str | None:
    """The output of ``git ARGS`` run in ``root`` (default: this package's checkout), stripped; None without git,
    outside a checkout or on a git error."""
    from ..paths import project_dir
    try:
        return subprocess.run(["git", "-C", str(root or project_dir()), *args], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


@lru_cache(maxsize=1)
def provenance() -> dict:
    """What produced a record: the code's git revision (taken once, when the study starts: the code in memory),
    whether ``relationnet/`` had uncommitted changes, torch, the processor or GPU, the thread count."""
    rev = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "relationnet")
    return {"git": rev, "dirty": bool(dirty) if dirty is not None else None, "torch": torch.__version__,
            "device": device_name(), "threads": torch.get_num_threads(), "python": platform.python_version()}

def device_name(device: str = "auto") -> str:
    from ..machine import device_name
    return device_name(device)

def is_ancestor(rev: str) -> bool | None:
    """Whether ``rev`` is in this checkout's history: False for a revision this checkout does not know (a newer or a
    foreign one); None when there is no git checkout to ask."""
    from ..paths import project_dir
    if git("rev-parse", "HEAD") is None:
        return None                                       # not a git checkout: nothing to compare with
    try:
        r = subprocess.run(["git", "-C", str(project_dir()), "merge-base", "--is-ancestor", rev, "HEAD"],
                           capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.returncode == 0                              # 1: not an ancestor; 128: a revision unknown here

def commit_record(path: Path, message: str, log=print, tries: int = 20) -> bool:
    """``git add`` and ``git commit`` of one record, nothing else of the working tree (retried while another git
    command holds the index)."""
    path = Path(path).resolve()          # git runs in the record's folder: an absolute path names it from there
    for i in range(tries):
        try:
            subprocess.run(["git", "add", "--", str(path)], cwd=path.parent, capture_output=True, check=True,
                           timeout=60)
            subprocess.run(["git", "commit", "-q", "-m", message, "--", str(path)], cwd=path.parent,
                           capture_output=True, check=True, timeout=60)
            return True
        except subprocess.CalledProcessError as e:
            err = (e.stderr or b"").decode(errors="replace")
            if "index.lock" not in err or i == tries - 1:
                log(f"could not commit {path.name}: {err.strip().splitlines()[-1] if err.strip() else e}")
                return False
            time.sleep(3)
        except (OSError, subprocess.SubprocessError) as e:
            log(f"could not commit {path.name}: {e}")
            return False
    return False

def mechanism_rows(folder: Path) -> list[dict]:
    rows = []
    for log in [folder / "metrics.jsonl", *sorted(folder.glob("stage*/metrics.jsonl"))]:
        try:
            lines = log.read_text().splitlines() if log.is_file() else []
        except OSError:
            continue
        for line in lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if isinstance(r, dict):
                rows.append({k: r[k] for k in ("stage", "epoch", "step", "lr", "loss_ohem", "loss_scl", "annotation")
                             if k in r} | {k: v for k, v in r.items() if k.startswith("mech_")})
    return rows
