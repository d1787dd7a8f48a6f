"""Two training jobs on one machine's cores, with libgomp's default wait policy, with ``OMP_WAIT_POLICY=PASSIVE`` and
with a short spin (``GOMP_SPINCOUNT``).

PyTorch's CPU wheels run their parallel regions on GNU OpenMP (libgomp). By default an OpenMP thread that waits for
the others spins for a while before it sleeps; two processes that each start one thread per core then take each
other's cores with spinning. The demo's training step (EfficientNet-Lite0 at output stride 8, the whole RelationNet
with OHEM + λ·SCL, backward and AdamW; the model of ``backbone_speed.py``) is timed in child processes: one alone,
then two at once, under each setting, the conditions interleaved over ``--rounds``. Jobs run together start their
timed steps together, and each keeps training until all have finished theirs, so that no job's timed steps run alone.
Each job prints its median seconds per step; the table gives the medians over rounds, the slowdown of two at once
against one alone, and each job's thread count (torch's default unless ``OMP_NUM_THREADS`` or the like is set).

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
    """One training job: build the demo's model and take one warm-up step; say "ready" and wait for "go" on stdin (so
    that jobs run together start their timed steps together); time ``a.steps`` steps and print them as JSON; then go
    on stepping, untimed, until stdin says "stop" (so that a job that finishes first still contends with the others
    until every one has finished its timed steps)."""
    import select

    import torch

    import relationnet as rn
    from backbone_speed import K, build
    torch.manual_seed(0)
    h, w = (int(v) for v in a.input_size.lower().split("x"))
    x, y = torch.randn(a.batch, 3, h, w), torch.randint(0, K, (a.batch, h, w))
    model = build("lite0_os8", 0.25).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        loss, _ = rn.losses.relationnet_loss(model(x, return_similarity=True), y, lam=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    print("ready", flush=True)
    sys.stdin.readline()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(json.dumps({"s_per_step": statistics.median(times), "threads": torch.get_num_threads()}), flush=True)
    while not select.select([sys.stdin], [], [], 0)[0]:
        step()


def jobs(setting: dict, n: int, a) -> list[dict]:
    """``n`` children run together with ``setting`` in their environment (the two libgomp variables replaced, the
    rest inherited); each one's median seconds per step and thread count."""
    import tempfile
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | setting
    cmd = [sys.executable, __file__, "--child", "--input-size", a.input_size, "--batch", str(a.batch),
           "--steps", str(a.steps)]
    errs = [tempfile.TemporaryFile("w+") for _ in range(n)]
    procs = [subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
             for err in errs]

    def failed(p, err):
        p.kill()
        p.wait()
        err.seek(0)
        return SystemExit(f"a training child failed (exit {p.returncode}):\n{err.read()[-2000:]}")

    try:
        for p, err in zip(procs, errs):
            if p.stdout.readline().strip() != "ready":
                raise failed(p, err)
        for p in procs:                                   # all built and warm: start the timed steps together
            p.stdin.write("go\n")
            p.stdin.flush()
        out = []
        for p, err in zip(procs, errs):
            line = p.stdout.readline()
            if not line.strip():
                raise failed(p, err)
            out.append(json.loads(line))
        for p in procs:                                   # every child has its times: stop the untimed steps
            p.stdin.write("stop\n")
            p.stdin.flush()
        for p in procs:
            p.wait(timeout=600)
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


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
    threads = set()
    for _ in range(a.rounds):
        for name, setting in POLICIES.items():
            for store, n in ((alone, 1), (pair, 2)):
                res = jobs(setting, n, a)
                store[name] += [r["s_per_step"] for r in res]
                threads |= {r["threads"] for r in res}
    rows = []
    for name in POLICIES:
        one, two = statistics.median(alone[name]), statistics.median(pair[name])
        rows.append({"libgomp setting": name, "threads per job": "/".join(map(str, sorted(threads))),
                     "alone s/step": round(one, 3), "two at once s/step": round(two, 3),
                     "two at once ÷ alone": round(two / one, 2),
                     "work done by two ÷ by one alone": round(2 * one / two, 2)})
    base = rows[0]
    for r in rows:
        r["alone ÷ default"] = round(r["alone s/step"] / base["alone s/step"], 2)
        r["two at once ÷ default"] = round(r["two at once s/step"] / base["two at once s/step"], 2)
    report(f"Two training jobs on the same cores: the demo's training step, batch {a.batch}, {a.input_size} "
           f"(medians of {a.steps} steps per job and over {a.rounds} round{'s' * (a.rounds != 1)}; the two jobs start "
           "their timed steps together and both keep training until both have finished them)", rows, a.json)


if __name__ == "__main__":
    main()
