"""The GPU check: everything that runs only on CUDA, in one command, in under 8 minutes on one GPU.

    python scripts/gpu_check.py            # on a GPU: run every check, write benchmarks/results/gpu_check.{md,json}
    python scripts/gpu_check.py --list     # (also what happens on a machine without CUDA) list the checks, exit 0

Each check is a command with a time limit; the table says which passed, failed or were skipped (and why), with
their times, and the exit status is 1 when any failed.  The model-speed and multi-step tables are written beside
it (``benchmarks/results/*_cuda.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    cmd: tuple
    limit_s: int
    needs_gpus: int = 1


def checks(tmp: str) -> list[Check]:
    res = "benchmarks/results"
    return [
        Check("cuda-tests", "the suite's CUDA tests: forward, DCN, phase-split depthwise, multi-step test and "
              "evaluation against the CPU", (PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cuda.py",
                                            "-m", "cuda", "-k", "not amp"), 120),
        Check("amp-step", "an AMP training step of each backbone against float32 (relative update difference < 5 %)",
              (PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cuda.py", "-k", "amp"), 60),
        Check("model-speed", "RelationNet-R101 vs DeepLabV3-R101 and the others at 512x1024, batch 8: the "
              "model_speed table on CUDA", (PY, "benchmarks/model_speed.py", "--input-size", "512x1024", "--batch", "8",
                                            "--repeats", "3", "--json", f"{res}/model_speed_cuda.json"), 90),
        Check("multistep", "the 1/4/16/64-step test's cost on CUDA",
              (PY, "benchmarks/multistep.py", "--input-size", "512x1024", "--json", f"{res}/multistep_cuda.json"), 45),
        Check("ddp-2", "a two-process DDP training run over NCCL (tiny SynthCity)",
              (PY, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "relationnet", "train",
               "synthcity_full", f"root={tmp}/data", "epochs=1", "const_epochs=0", "iters_per_epoch=4", "val_limit=8",
               "amp=true", "--out", f"{tmp}/ddp", "--device", "cuda", "--no-progress"), 75, needs_gpus=2),
        Check("study-arm", "one short study-2 arm (S4, CI size) trained and evaluated on CUDA",
              (PY, "-m", "relationnet", "study", "--protocol", "2", "--size", "ci", "--only", "S4", "--device", "cuda",
               "--no-progress", "--out", f"{tmp}/study", "--results", f"{tmp}/results"), 90),
    ]


def gpus() -> int:
    try:
        import torch
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def listing(cs: list[Check], why: str) -> str:
    lines = [f"GPU check: {why}; it would run ({sum(c.limit_s for c in cs)} s at most in all):"]
    lines += [f"  {c.name:12s} {c.limit_s:4d} s  {c.what}" + (f" (needs {c.needs_gpus} GPUs)" if c.needs_gpus > 1 else "")
              + f"\n  {'':12s}         $ {' '.join(Path(a).name if a == PY else a for a in c.cmd)}" for c in cs]
    return "\n".join(lines)


def run(cs: list[Check], n_gpu: int, out: Path, tmp: str) -> int:
    from relationnet.data import synthcity
    synthcity.generate(f"{tmp}/data", synthcity.SynthCityConfig(num_train=16, num_val=8, num_coarse=8), progress=False)
    rows, env = [], {**os.environ, "PYTHONPATH": str(REPO)}
    for c in cs:
        if n_gpu < c.needs_gpus:
            rows.append({"check": c.name, "result": f"skipped ({n_gpu} GPU, needs {c.needs_gpus})", "seconds": 0.0,
                         "what": c.what})
            continue
        t = time.perf_counter()
        try:
            p = subprocess.run(c.cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=c.limit_s)
            result, tail = ("passed" if p.returncode == 0 else f"FAILED (exit {p.returncode})"), p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            result, tail = f"FAILED (over {c.limit_s} s)", str(e.stdout or "") + str(e.stderr or "")
        rows.append({"check": c.name, "result": result, "seconds": round(time.perf_counter() - t, 1), "what": c.what,
                     "tail": tail[-2000:]})
        print(f"{c.name:12s} {rows[-1]['result']:28s} {rows[-1]['seconds']:6.1f} s", flush=True)
    import torch
    head = {"gpu": torch.cuda.get_device_name(0), "gpus": n_gpu, "torch": torch.__version__,
            "when": time.strftime("%Y-%m-%d %H:%M")}
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps({**head, "rows": rows}, indent=1))
    md = [f"# GPU check ({head['gpu']} × {n_gpu}, torch {head['torch']}, {head['when']})", "",
          "| check | result | seconds | what |", "|---|---|---|---|"]
    md += [f"| {r['check']} | {r['result']} | {r['seconds']} | {r['what']} |" for r in rows]
    failed = [r["check"] for r in rows if r["result"].startswith("FAILED")]
    md += ["", f"Failed: {', '.join(failed)}." if failed else "Every check that ran passed."]
    (out / "gpu_check.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 1 if failed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", action="store_true", help="list the checks and exit 0 (also without CUDA)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        cs, n = checks(tmp), gpus()
        if a.list or n == 0:
            print(listing(cs, "listing only (--list)" if a.list else "no CUDA device here"))
            return 0
        return run(cs, n, Path(a.out), tmp)


if __name__ == "__main__":
    sys.exit(main())
