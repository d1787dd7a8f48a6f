"""What machine this is, in words: for records, benchmark tables and the bit-identity check."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str = "auto") -> str:
    """``"cuda: <GPU>"`` when ``device`` would run on a GPU, else ``"cpu: <processor>"``."""
    import torch
    if device != "cpu" and torch.cuda.is_available():
        return "cuda: " + torch.cuda.get_device_name(0)
    return "cpu: " + cpu_name()
