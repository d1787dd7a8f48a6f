"""Two training jobs on one machine's cores, with libgomp's default wait policy, with ``OMP_WAIT_POLICY=PASSIVE`` and
with a short spin (``GOMP_SPINCOUNT``).

PyTorch's CPU wheels run their parallel regions on GNU OpenMP (libgomp). By default an OpenMP thread that waits for
the others spins for a while before it sleeps; two processes that each start one thread per core then take each
other's cores with spinning. The demo's training step (EfficientNet-Lite0 at output stride 8, the whole RelationNet
with OHEM + λ·SCL, backward and AdamW; the model of ``backbone_speed.py``) is timed in child processes: one alone,
then two at once, under each setting, the conditions interleaved over ``--rounds``. Each child prints its median
seconds per step; the table gives the medians over rounds and the slowdown of two at once against one alone.

    python benchmarks/contention.py                      # 96×192, batch 8, 6 timed steps per child, 3 rounds
    python benchmarks/contention.py --steps 4 --rounds 1

Run it with nothing else busy on the machine: a third job is a third contender.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

#: The conditions: environment settings for libgomp (GOMP_SPINCOUNT: how many times a waiting thread spins before it
#: sleeps; libgomp's default is 300 000, 0 with PASSIVE).
POLICIES = {"default (unset)": {}, "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
            "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"}}


def child(a) -> None:
    """One training job: build the demo's model, one warm-up step, then ``a.steps`` timed steps; prints JSON."""
    import torch

    import relationnet as rn
    from backbone_speed import K, build
    torch.manual_seed(0)
    h, w = (int(v) for v in a.input_size.lower().split("x"))
    x, y = torch.randn(a.batch, 3, h, w), torch.randint(0, K, (a.batch, h, w))
    model = build("lite0_os8", 0.25).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for i in range(a.steps + 1):
        t = time.perf_counter()
        loss, _ = rn.losses.relationnet_loss(model(x, return_similarity=True), y, lam=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t)
    print(json.dumps({"s_per_step": statistics.median(times), "threads": torch.get_num_threads()}))


def jobs(setting: dict, n: int, a) -> list[float]:
    """``n`` children started together with ``setting`` in their environment; each one's median seconds per step."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | setting
    cmd = [sys.executable, __file__, "--child", "--input-size", a.input_size, "--batch", str(a.batch),
           "--steps", str(a.steps)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise SystemExit(f"a training child failed (exit {p.returncode}):\n{stderr[-2000:]}")
        out.append(json.loads(stdout.strip().splitlines()[-1])["s_per_step"])
    return out


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", default="96x192", help="HEIGHTxWIDTH of the training crop (the demo's: 96x192)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=6, help="timed training steps per child (after one warm-up step)")
    p.add_argument("--rounds", type=int, default=3, help="times each condition runs, interleaved")
    p.add_argument("--json", default=None)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a)
    alone: dict[str, list[float]] = {k: [] for k in POLICIES}
    pair: dict[str, list[float]] = {k: [] for k in POLICIES}
    for _ in range(a.rounds):
        for name, policy in POLICIES.items():
            alone[name] += jobs(policy, 1, a)
            pair[name] += jobs(policy, 2, a)
    rows = []
    for name in POLICIES:
        one, two = statistics.median(alone[name]), statistics.median(pair[name])
        rows.append({"libgomp setting": name, "alone s/step": round(one, 3), "two at once s/step": round(two, 3),
                     "two at once ÷ alone": round(two / one, 2),
                     "work done by two ÷ by one alone": round(2 * one / two, 2)})
    base = rows[0]
    for r in rows:
        r["alone ÷ default"] = round(r["alone s/step"] / base["alone s/step"], 2)
        r["two at once ÷ default"] = round(r["two at once s/step"] / base["two at once s/step"], 2)
    report(f"Two training jobs on the same cores: the demo's training step, batch {a.batch}, {a.input_size} "
           f"(medians of {a.steps} steps per child and over {a.rounds} round{'s' * (a.rounds != 1)}; each child "
           "uses torch's default thread count)", rows, a.json)


if __name__ == "__main__":
    main()
