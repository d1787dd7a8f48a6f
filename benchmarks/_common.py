"""Shared helpers for the benchmark scripts: machine description, medians, a table, JSON."""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import torch


def machine() -> dict:
    from relationnet.machine import cpu_name
    info = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "cores": os.cpu_count(), "torch": torch.__version__}
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def median_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak on a GPU, peak RSS growth (VmHWM, reset through
    /proc/self/clear_refs) on the CPU.  ``.mib`` after the block; ``nan`` where it cannot be read."""

    def __init__(self, device: str):
        self.device, self.mib = device, float("nan")

    @staticmethod
    def _status(key: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return float(line.split()[1]) / 1024
        return float("nan")

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated() / 2**20
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
                self.base = self._status("VmRSS:")
            except OSError:
                self.base = float("nan")
        return self

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.mib = torch.cuda.max_memory_allocated() / 2**20 - self.base
        else:
            try:
                self.mib = self._status("VmHWM:") - self.base
            except OSError:
                self.mib = float("nan")
        return False


def matmul_flops(device: str, n: int = 4096, repeats: int = 5) -> float:
    """Measured FLOP/s of a large float32 matmul on this machine (the roofline the forward is held against)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    t = median_time(lambda: a @ b, repeats=repeats, warmup=2)
    return 2 * n ** 3 / t


def copy_bandwidth(device: str, mib: int = 256, repeats: int = 5) -> float:
    """Measured memory bandwidth in bytes/s: a ``mib``-MiB float32 tensor copied into another (read + write), far
    larger than the caches (the roofline a memory-bound layer is held against)."""
    a = torch.randn(mib * 2**20 // 4, device=device)
    b = torch.empty_like(a)
    t = median_time(lambda: b.copy_(a), repeats=repeats, warmup=2)
    return 2 * a.numel() * 4 / t


def count_flops(fn) -> float:
    """FLOPs of one call of a *forward* ``fn`` (matmuls and convolutions: torch's FlopCounterMode; the elementwise
    work it leaves out is memory-bound, and held against the bandwidth instead).  Count a training step as 3 × its
    forward (the input and the weight gradient each cost one forward): FlopCounterMode counts a grouped
    convolution's backward as if it were dense (torch 2.14: a 64-channel depthwise 3×3 layer's backward reads 65×
    its forward), which would make a depthwise network look 20× busier than it is."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def report(title: str, rows: list[dict], out: str | Path | None = None) -> None:
    """Print rows as a Markdown table (with the machine named) and write them as JSON."""
    m = machine()
    print(f"\n## {title}\n")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in m.items()) + "\n")
    if rows:
        cols = list(rows[0])
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for r in rows:
            print("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps({"title": title, "machine": m, "rows": rows}, indent=1))
