"""Work ahead while the page is idle: the model outputs of the next validation images, so that stepping to the next
image shows it at once instead of after its model runs (about a second per forward of the demo's models at 256×512
on two cores, and the 4-step test is four).

One daemon thread per server process runs the jobs of the latest plan, one model run at a time. The page's own model
runs go first: they hold :meth:`Prefetcher.foreground` while they compute, and the thread starts no job while one is
waiting or running (a job already under way finishes first: at most one model run's wait). A plan replaces the one
before it, so only the images next to the one on screen are computed. Results are kept for the most recent
(checkpoint, image, steps) keys, at most ``max_entries`` of them and ``max_bytes`` of arrays (a Cityscapes image's
outputs are tens of MB).
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Callable, Hashable

Job = tuple[Hashable, Callable[[], dict]]


def nbytes(out: dict) -> int:
    """Bytes of the arrays and tensors in one result."""
    return sum(int(v.nbytes) if hasattr(v, "nbytes") else int(v.numel() * v.element_size()) if hasattr(v, "numel")
               else 0 for v in out.values())


class Prefetcher:
    def __init__(self, max_entries: int = 48, max_bytes: int = 512 * 2**20):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._done: collections.OrderedDict = collections.OrderedDict()
        self._bytes: dict = {}
        self._plan: list[Job] = []
        self._lock = threading.Lock()            # guards _done, _plan, _waiting
        self._compute = threading.Lock()         # one model run at a time, the page's or a job's
        self._waiting = 0                        # page runs waiting for or holding _compute
        self._busy = False                       # a job taken from the plan and not yet finished
        self._wake = threading.Event()
        self.errors: list[str] = []              # jobs that failed (the page computes those itself, with its message)
        self._thread = threading.Thread(target=self._loop, name="relationnet-prefetch", daemon=True)
        self._thread.start()

    def get(self, key: Hashable) -> dict | None:
        with self._lock:
            out = self._done.get(key)
            if out is not None:
                self._done.move_to_end(key)
            return out

    def put(self, key: Hashable, out: dict) -> None:
        with self._lock:
            self._done[key] = out
            self._done.move_to_end(key)
            self._bytes[key] = nbytes(out)
            while len(self._done) > 1 and (len(self._done) > self.max_entries or
                                           sum(self._bytes.values()) > self.max_bytes):
                old, _ = self._done.popitem(last=False)
                self._bytes.pop(old, None)

    def plan(self, jobs: list[Job]) -> None:
        """Compute these next, in this order (instead of what was planned before), skipping keys already done."""
        with self._lock:
            self._plan = [j for j in jobs if j[0] not in self._done]
        self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._plan)

    @contextlib.contextmanager
    def foreground(self):
        """Held by the page while it runs a model: no job starts meanwhile."""
        with self._lock:
            self._waiting += 1
        try:
            with self._compute:
                yield
        finally:
            with self._lock:
                self._waiting -= 1

    def wait_idle(self, timeout: float) -> bool:
        """Block until the plan is done (True) or ``timeout`` seconds pass (False): for tests and benchmarks."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if not self._plan and not self._busy:
                    return True
            time.sleep(0.02)
        return False

    def _next(self) -> Job | None:
        with self._lock:
            while self._plan and self._plan[0][0] in self._done:
                self._plan.pop(0)
            if not self._plan:
                self._wake.clear()
                return None
            if self._waiting:                  # the page is running a model: it goes first
                return None
            self._busy = True
            return self._plan.pop(0)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            job = self._next()
            if job is None:
                time.sleep(0.05)
                continue
            key, fn = job
            try:
                with self._compute:
                    if self.get(key) is None:
                        self.put(key, fn())
            except Exception as e:               # noqa: BLE001 (a broken file: the page names it when it is shown)
                self.errors.append(f"{key}: {e}")
                del self.errors[:-20]
            finally:
                with self._lock:
                    self._busy = False
