"""A SIGKILL campaign over the package's long jobs: kill each at random moments, resume, compare.

For every job type (training, evaluation, SynthCity generation, the demo, the study) the script first runs the job
once without interruption (the reference), then runs it again in fresh folders, killing the whole process group with
SIGKILL at random moments (a seeded draw between 10 % and 100 % of the reference's wall time) and restarting the same
command, several kills per chain, until the job finishes. The end state must equal the reference:

* training: every tensor of ``last`` (weights, optimizer, RNG) bit-identical, ``metrics.jsonl`` with the same steps
  and values (no duplicated or missing line; the per-epoch ``sec`` timing aside);
* evaluation: the JSON written by ``relationnet eval --json`` identical;
* SynthCity: every file byte-identical to a clean generation;
* demo and study: their checkpoints bit-identical, their evaluation caches, ``results.json`` and study records
  identical (timings aside).

It also fills the disk in the middle of a training run (an injected ``OSError(ENOSPC)`` on the checkpoint write):
the run must stop with an error that says so, the previous checkpoint must load, and rerunning must finish identical
to the reference.

    python scripts/fault_injection.py                  # >= 20 kills per job type; writes docs/reliability.md
    python scripts/fault_injection.py --short          # 1 kill per job type (what CI runs); prints the table only
    python scripts/fault_injection.py --jobs train,synthcity --kills 5

Everything runs in a temporary folder on a tiny SynthCity; the repository's runs/ and data/ are not touched.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_DATA = {"num_train": 12, "num_val": 6, "num_coarse": 8, "width": 128, "height": 64, "seed": 3}
TINY_TRAIN = {"width": 0.25, "crop": [64, 128], "batch_size": 4, "epochs": 3, "const_epochs": 2,
              "iters_per_epoch": 3, "workers": 0, "eval_every": 1, "val_limit": 6, "device": "cpu"}
VOLATILE = {"sec", "cpu_sec", "cpu_hours", "threads"}     # and every key naming "seconds" (see _volatile)
DEMO_EXTRA = {**{k: v for k, v in TINY_TRAIN.items() if k not in ("epochs", "const_epochs")},
              "epochs": 2, "const_epochs": 1, "stage_epochs": [2, 1, 1]}
STUDY_EXTRA = {"width": 0.25, "crop": [64, 128], "batch_size": 4, "val_limit": 6}


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def train_cmd(root: Path, out: Path, **extra) -> list[str]:
    o = {**TINY_TRAIN, "root": str(root), **extra}
    return [sys.executable, "-m", "relationnet.cli", "train", "synthcity_full", "--out", str(out), "--no-progress",
            *[f"{k}={json.dumps(v)}" if isinstance(v, list) else f"{k}={v}" for k, v in o.items()]]


# --------------------------------------------------------------------------- end states

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _volatile(key: str) -> bool:
    """A timing field: a new key naming seconds is one without being listed here (a listed-only rule missed
    ``logged_train_seconds`` and failed the demo's chains on timing noise)."""
    return key in VOLATILE or "seconds" in key


def _strip(obj):
    """JSON without the timing fields, which differ between any two runs."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not _volatile(k)}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _tensors(path: Path) -> dict:
    import torch
    from safetensors.torch import load_file
    return {k: hashlib.sha256(v.contiguous().view(-1).view(torch.uint8).numpy().tobytes()).hexdigest()
            for k, v in load_file(str(path)).items()}


def run_state(folder: Path) -> dict:
    """What must match between an interrupted and an uninterrupted run under ``folder``."""
    state = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if not p.is_file() or p.name in (".lock",) or p.suffix == ".tmp" or "tensorboard" in rel:
            if p.suffix == ".tmp":
                state[rel] = "LEFT-OVER TEMPORARY FILE"
            continue
        if p.suffix == ".safetensors":
            state[rel] = _tensors(p)
        elif p.name == "metrics.jsonl":
            rows = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
            state[rel] = _strip(rows)
        elif p.suffix == ".json":
            meta = json.loads(p.read_text())
            if p.with_suffix(".safetensors").is_file():
                meta.pop("sha256", None)              # the tensors themselves are compared above
            state[rel] = _strip(meta)
        elif p.suffix in (".png", ".yaml", ".md", ".log"):
            # markdown tables and train.log quote timings (and a resumed run's log says so): present, not compared
            state[rel] = _digest(p) if p.suffix not in (".md", ".log") else "present"
        else:
            state[rel] = _digest(p)
    return state


def _first_difference(a, b, where: str = "") -> str:
    """Where two JSON values first differ (``.key`` / ``[i]``), and the two values there, shortened."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k, "<absent>") != b.get(k, "<absent>"):
                return _first_difference(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where or 'the top'}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where or 'the top'}: {str(a)[:60]} vs {str(b)[:60]}"


def differences(a: dict, b: dict, limit: int = 5) -> list[str]:
    out = [f"missing {k}" for k in sorted(set(a) - set(b))] + [f"extra {k}" for k in sorted(set(b) - set(a))]
    out += [f"differs {k}" + (f" (at {_first_difference(a[k], b[k])})" if not isinstance(a[k], str) else "")
            for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return out[:limit]


# --------------------------------------------------------------------------- jobs

@dataclass
class Job:
    name: str
    what: str
    command: callable            # (workdir) -> argv
    folder: callable             # (workdir) -> the folder whose state is compared
    prepare: callable = None     # (workdir) -> None, before the first attempt
    results: dict = field(default_factory=lambda: {"kills": 0, "chains": 0, "identical": 0, "failures": [],
                                                   "finished_before_kill": 0, "seconds": 0.0})


def make_jobs(base: Path, data: Path, ckpt: Path) -> dict[str, Job]:
    def copy_ckpt(w):
        w.mkdir(parents=True, exist_ok=True)
        for p in ckpt.parent.glob(ckpt.name + ".*"):
            shutil.copy(p, w / p.name)
    return {
        "train": Job("train", "`relationnet train` (3 epochs × 3 steps, checkpoint every epoch)",
                     lambda w: train_cmd(data, w / "run"), lambda w: w / "run"),
        "eval": Job("eval", "`relationnet eval --steps 1 4 --json` of a checkpoint",
                    lambda w: [sys.executable, "-m", "relationnet.cli", "eval", str(w / "last"), "--steps", "1", "4",
                               "--json", str(w / "out" / "eval.json")],
                    lambda w: w / "out", prepare=lambda w: (copy_ckpt(w), (w / "out").mkdir(exist_ok=True))),
        "synthcity": Job("synthcity", "`relationnet data synthcity` (12/6/8 images)",
                         lambda w: [sys.executable, "-m", "relationnet.cli", "data", "synthcity", "--out",
                                    str(w / "data"), "--num-train", "12", "--num-val", "6", "--num-coarse", "8",
                                    "--image-size", "128x64", "--seed", "3"],
                         lambda w: w / "data"),
        "demo": Job("demo", "`run_demo` at a tiny size (baseline + three alternating stages, evaluation, tables)",
                    lambda w: py(f"from relationnet.experiments.demo import run_demo; run_demo({str(w / 'demo')!r}, "
                                 f"size='ci', root={str(data)!r}, app=False, progress=False, extra={DEMO_EXTRA!r})"),
                    lambda w: w / "demo"),
        "study": Job("study", "`run_study` at a tiny size (arms A1, A2, 2 seeds: records, tables, figures)",
                     lambda w: py(f"from relationnet.experiments.study1 import run_study; run_study({str(w / 'out')!r}, "
                                  f"{str(w / 'results')!r}, seeds=2, only=['A1', 'A2'], size='ci', "
                                  f"root={str(data)!r}, progress=False, extra={STUDY_EXTRA!r})"),
                     lambda w: w),
    }


def attempt(cmd: list[str], env: dict, kill_after: float | None, log) -> tuple[int | None, float]:
    """Run ``cmd`` in its own process group; SIGKILL the group after ``kill_after`` s. Returns (rc or None, wall)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        proc.wait(timeout=kill_after)
        return proc.returncode, time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, time.perf_counter() - t0


def campaign(job: Job, base: Path, env: dict, kills: int, per_chain: int, rng: random.Random, log) -> None:
    ref = base / job.name / "reference"
    if job.prepare:
        job.prepare(ref)
    t0 = time.perf_counter()
    rc, wall = attempt(job.command(ref), env, None, log)
    if rc != 0:
        raise RuntimeError(f"{job.name}: the uninterrupted reference run failed (rc {rc}); see the log")
    reference = run_state(job.folder(ref))
    chain = 0
    while job.results["kills"] < kills:
        w = base / job.name / f"chain{chain}"
        if job.prepare:
            job.prepare(w)
        made = 0
        for _ in range(per_chain * 3):            # a kill drawn after the end does not count; try again
            if made >= per_chain or job.results["kills"] >= kills:
                break
            rc, _ = attempt(job.command(w), env, rng.uniform(0.1, 1.0) * wall, log)
            if rc is None:
                made += 1
                job.results["kills"] += 1
            elif rc == 0:
                job.results["finished_before_kill"] += 1
                break
            else:
                job.results["failures"].append(f"chain {chain}: a resumed attempt exited with rc {rc}")
                break
        rc, _ = attempt(job.command(w), env, None, log)          # the last resume runs to the end
        diff = differences(reference, run_state(job.folder(w))) if rc == 0 else [f"final resume exited with rc {rc}"]
        if diff:
            job.results["failures"].append(f"chain {chain} ({made} kills): " + "; ".join(diff))
        else:
            job.results["identical"] += 1
        job.results["chains"] += 1
        shutil.rmtree(w, ignore_errors=True)
        chain += 1
    job.results["seconds"] = round(time.perf_counter() - t0, 1)
    job.results["reference_seconds"] = round(wall, 1)


DISK_FULL = """
import errno, sys
from relationnet.engine import checkpoint
real, calls = checkpoint.save_file, [0]
def full(tensors, path, *a, **k):
    calls[0] += 1
    if calls[0] == {n}:
        open(path, "wb").write(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(tensors, path, *a, **k)
checkpoint.save_file = full
from relationnet.cli import main
sys.exit(main({argv!r}))
"""


def disk_full(base: Path, data: Path, env: dict, reference: dict, log) -> dict:
    """ENOSPC on the 3rd checkpoint write of a training run (in its 2nd epoch), after half a file was written."""
    w = base / "disk_full"
    argv = train_cmd(data, w / "run")[3:]
    proc = subprocess.run(py(DISK_FULL.format(n=3, argv=argv)), cwd=REPO, env=env, capture_output=True, text=True)
    err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    err = err.replace(str(base), "<tmp>")          # the report names no folder of this machine
    res = {"rc": proc.returncode, "message": err}
    from relationnet.engine import checkpoint as ck
    try:
        meta = ck.read_meta(w / "run" / "last")
        ck.load_checkpoint(w / "run" / "last")
        res["previous_checkpoint"] = f"loads, epoch {meta['epoch']}"
    except Exception as e:      # noqa: BLE001 - reported, not raised
        res["previous_checkpoint"] = f"BROKEN: {e}"
    res["temporary_files_left"] = len(list((w / "run").glob("*.tmp")))
    rc, _ = attempt(train_cmd(data, w / "run"), env, None, log)
    diff = differences(reference, run_state(w / "run")) if rc == 0 else [f"resume rc {rc}"]
    res["resume"] = "identical to the uninterrupted run" if not diff else "; ".join(diff)
    res["ok"] = (proc.returncode == 2 and "No space left on device" in err and "intact" in err
                 and res["previous_checkpoint"].startswith("loads") and not res["temporary_files_left"] and not diff)
    return res


def _git(*args: str) -> str:
    """git in this script's checkout, where the jobs run; '' on an error."""
    from relationnet.experiments.records import git
    return git(*args, root=REPO) or ""


def code_revision() -> tuple[str, bool]:
    """The checkout's revision and whether relationnet/ or scripts/ differ from it, taken when the campaign starts (each
    job starts new processes from the working tree, so the report also names what changed under it by the end)."""
    return _git("rev-parse", "--short", "HEAD") or "?", bool(_git("status", "--porcelain", "--", "relationnet", "scripts"))


def report(jobs: list[Job], full: dict | None, args, wall: float, start: tuple[str, bool]) -> str:
    import platform
    import torch
    rev, dirty = start
    end = _git("rev-parse", "--short", "HEAD") or "?"
    moved = ""
    if end != rev:
        changed = _git("diff", "--name-only", rev, end, "--", "relationnet", "scripts").split()
        moved = (f" (HEAD at the end: {end}; between the two, relationnet/ and scripts/ changed in "
                 f"{', '.join(changed) if changed else 'no file'})")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines = ["## The SIGKILL campaign", "",
             f"Code: revision {rev} at the start{' with uncommitted changes to relationnet/ or scripts/' if dirty else ''}"
             f"{moved}; "
             f"load average at the end {load} (1 / 5 / 15 min; above 2 means other work shared the 2 cores and the "
             "times below are longer than alone).", "",
             "Produced by `python scripts/fault_injection.py` (seed "
             f"{args.seed}, {args.kills} kills per job type, {args.per_chain} per chain). Each job ran once "
             "uninterrupted (the reference); then chains of runs were killed (SIGKILL to the whole process group) at "
             "random moments between 10 % and 100 % of the reference's wall time, restarted with the same command, and "
             "finally run to the end; the end state of each chain was compared with the reference (tensors bit for bit, "
             "JSON and JSON lines value for value with timing fields aside, every other file byte for byte).", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; campaign wall time {wall / 60:.1f} min.", "",
             "| job | what is killed | kills | chains ended identical | kills drawn after the end | failures | "
             "reference run (s) | campaign (s) |", "|---|---|---|---|---|---|---|---|"]
    for j in jobs:
        r = j.results
        lines.append(f"| {j.name} | {j.what} | {r['kills']} | {r['identical']} of {r['chains']} | "
                     f"{r['finished_before_kill']} | {len(r['failures'])} | {r.get('reference_seconds', '—')} | "
                     f"{r['seconds']} |")
    fails = [(j.name, f) for j in jobs for f in j.results["failures"]]
    lines += ["", "Failures:" if fails else "Failures: none."]
    lines += [f"- {n}: {f}" for n, f in fails]
    if full is not None:
        lines += ["", "## A full disk", "",
                  "Training with an injected `OSError(ENOSPC)` on the third checkpoint write (in epoch 2; the file is half "
                  "written when the error comes):", "",
                  f"- exit status {full['rc']}, message: `{full['message']}`",
                  f"- the previous checkpoint: {full['previous_checkpoint']}; temporary files left: "
                  f"{full['temporary_files_left']}",
                  f"- rerunning the command: {full['resume']}",
                  f"- verdict: {'as required' if full['ok'] else 'NOT as required'}"]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- campaign: written by scripts/fault_injection.py; do not edit -->", "<!-- /campaign -->"


def write_report(path: Path, text: str) -> None:
    """Put the campaign's section between the marker lines of ``path`` (the rest of the page is kept); a page
    without them gets the section appended."""
    page = path.read_text() if path.is_file() else "# Reliability\n"
    block = f"{BEGIN}\n{text.rstrip()}\n{END}"
    i, j = page.find(BEGIN), page.find(END)
    page = page[:i] + block + page[j + len(END):] if 0 <= i < j else page.rstrip() + "\n\n" + block + "\n"
    path.write_text(page)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", default="train,eval,synthcity,demo,study")
    p.add_argument("--kills", type=int, default=20, help="kills per job type")
    p.add_argument("--per-chain", type=int, default=4, help="kills before a chain is run to its end")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--short", action="store_true", help="1 kill per job type (CI)")
    p.add_argument("--report", default=None, help="markdown report (default: docs/reliability.md, none with --short)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args(argv)
    if args.short:
        args.kills, args.per_chain = 1, 1
    report_path = args.report or (None if args.short else str(REPO / "docs" / "reliability.md"))
    names = [n.strip() for n in args.jobs.split(",") if n.strip()]
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    start = code_revision()
    base = Path(tempfile.mkdtemp(prefix="relationnet_faults_"))
    t0 = time.perf_counter()
    try:
        from relationnet.data import synthcity
        data = synthcity.generate(base / "data", synthcity.SynthCityConfig(**TINY_DATA), progress=False)
        with open(base / "campaign.log", "ab") as log:
            rc, _ = attempt(train_cmd(data, base / "seed_ckpt", epochs=1, const_epochs=1), env, None, log)
            if rc != 0:
                raise RuntimeError(f"could not train the checkpoint the evaluation job reads (rc {rc})")
            jobs = make_jobs(base, data, base / "seed_ckpt" / "last")
            unknown = sorted(set(names) - set(jobs))
            if unknown:
                p.error(f"unknown job(s) {unknown}; choose from {sorted(jobs)}")
            chosen = [jobs[n] for n in names]
            for j in chosen:
                print(f"{j.name}: reference run, then {args.kills} kills ...", flush=True)
                campaign(j, base, env, args.kills, args.per_chain, rng, log)
                r = j.results
                print(f"  {r['kills']} kills, {r['identical']} of {r['chains']} chains identical, "
                      f"{len(r['failures'])} failures ({r['seconds']} s)", flush=True)
            full = None
            if "train" in names:
                full = disk_full(base, data, env, run_state(base / "train" / "reference" / "run"), log)
                print(f"disk full: {'as required' if full['ok'] else 'NOT as required'}: {full}", flush=True)
        text = report(chosen, full, args, time.perf_counter() - t0, start)
        print(text)
        if report_path:
            write_report(Path(report_path), text)
        bad = any(j.results["failures"] or j.results["identical"] < j.results["chains"] for j in chosen)
        return 1 if bad or (full is not None and not full["ok"]) else 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
