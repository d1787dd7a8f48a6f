"""Storage, the ground floor of the package (it imports nothing of it): whole files or none, one writer per folder.

:func:`atomic_write_text` writes through a temporary name and renames it, so a reader, or a process killed
mid-write, sees the old file or the new, never half of one.  One writer per folder: an exclusive OS file lock
on ``FOLDER/.lock``.

Training, the demo, the study and SynthCity generation write into a folder for minutes or hours; a
second process writing the same folder at once (seen: a second notebook render trained the same run
and duplicated lines of its ``metrics.jsonl``) corrupts it.  :func:`folder_lock` takes
``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``FOLDER/.lock``: the kernel releases it when the process dies,
so a killed run never leaves a stale lock; a second writer gets :class:`FolderBusy` naming the folder
and the process that holds it.  The lock is re-entrant within a process (the demo locks its folder
and then trains into sub-folders, which lock themselves).  Readers (the dashboard, ``eval`` of a
finished checkpoint) never take it.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:           # Windows: no advisory locks here; writers are not guarded
    fcntl = None

def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file so that a reader (or a process killed mid-write) sees the old file or the new, never half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


_held: dict[Path, int] = {}
_guard = threading.Lock()


class FolderBusy(RuntimeError):
    """Another process is writing this folder."""


@contextlib.contextmanager
def folder_lock(folder: str | Path):
    folder = Path(folder).resolve()
    with _guard:
        if folder in _held:                      # re-entrant in this process
            _held[folder] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield folder
        finally:
            with _guard:
                _held[folder] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                raise FolderBusy(f"{folder} is being written by {holder}; wait for it to finish (or stop it) "
                                 f"before writing there, or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()}".encode(), 0)
        with _guard:
            _held[folder] = 1
        try:
            yield folder
        finally:
            with _guard:
                _held.pop(folder, None)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)                             # closing the descriptor releases the lock
