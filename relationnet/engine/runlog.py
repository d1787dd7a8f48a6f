"""A run's ``metrics.jsonl``: reading it (what a resume keeps, whether a file is this trainer's), writing it, and the
seconds of training it logs (wall and CPU)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .checkpoint import atomic_write_text


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) of this process and of its finished child processes (the data
    loader's workers, joined at the end of each epoch)."""
    try:
        import resource
    except ImportError:                                   # not on POSIX: this process only
        return time.process_time()
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def train_seconds(folder: Path, key: str = "sec") -> float | None:
    """Seconds of training logged in a run folder's metrics.jsonl files (all stages), as this module writes them:
    wall time (``key="sec"``) or CPU time (``"cpu_sec"``); None when an epoch was logged without that key (a log
    written before ``cpu_sec`` existed) or a line is not JSON, never a partial sum."""
    total = 0.0
    for log in [folder / "metrics.jsonl", *sorted(folder.glob("stage*/metrics.jsonl"))]:
        try:
            rows = read_jsonl(log)
        except ValueError:                # a line that is not JSON (written by hand?): no sum rather than a wrong one
            return None
        for row in rows:
            if key not in row:
                return None
            total += float(row[key])
    return round(total, 1)


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_log(path: Path) -> tuple[list[dict], list[str]]:
    """The epoch lines of a run's ``metrics.jsonl`` that can be read (JSON objects with an integer ``epoch``), and
    one message per line that cannot (naming the file and the line): a resume keeps what it can."""
    if not path.is_file():
        return [], []
    rows, bad = [], []
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return [], [f"{path}: cannot be read ({e})"]
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError:
            bad.append(f"{path} line {n}: not JSON (a write cut short?): dropped")
            continue
        if not isinstance(r, dict) or not isinstance(r.get("epoch"), int) or isinstance(r.get("epoch"), bool):
            bad.append(f"{path} line {n}: no integer 'epoch': dropped")
            continue
        rows.append(r)
    return rows, bad


def is_our_log(path: Path) -> bool:
    """Whether ``path`` reads as this trainer's ``metrics.jsonl``: every line an epoch record (the last one may be cut
    short by a kill), so that starting afresh may remove it; a file of anyone else's is never removed."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return False
    for n, line in enumerate(lines):
        try:
            r = json.loads(line)
        except ValueError:
            if n == len(lines) - 1:
                continue                         # a write cut short
            return False
        if not isinstance(r, dict) or not {"epoch", "step", "loss_total"} <= set(r):
            return False
    return True


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
