"""The dashboard never crashes on a damaged runs folder (issue: reliability, item 4): every JSON and JSONL file it
reads is fuzzed (random bytes, truncations, wrong types and missing keys at every key of the first two levels); the
helpers hand the page only what it can draw, and the page renders every tab with a run of each kind of damage."""
import json
import random
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app" / "streamlit_app.py")
sys.path.insert(0, str(REPO / "app"))

import helpers  # noqa: E402

WRONG = [None, "x", [], {}, 1.5, True, -1, [1, "a"], {"a": None}]


def mutations(value, rng, n):
    """``n`` damaged versions of a JSON value, as text: wrong types and deletions at every key of the first two
    levels, truncations, random bytes."""
    paths = []
    if isinstance(value, dict):
        for k, v in value.items():
            paths.append((k,))
            if isinstance(v, dict):
                paths += [(k, k2) for k2 in v]
    text = json.dumps(value)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.15:
            out.append(rng.randbytes(rng.randint(0, 200)))
        elif kind < 0.3:
            out.append(text[: rng.randint(0, len(text))].encode())
        elif paths:
            v = json.loads(text)
            path = rng.choice(paths)
            parent = v
            for k in path[:-1]:
                parent = parent[k]
            if rng.random() < 0.3:
                del parent[path[-1]]
            else:
                parent[path[-1]] = rng.choice(WRONG)
            out.append(json.dumps(v).encode())
    return out


def lines_mutations(rows, rng, n):
    out = []
    for _ in range(n):
        texts = [m.decode(errors="replace") if isinstance(m, bytes) else m
                 for r in rows for m in mutations(r, rng, 1)]
        out.append(("\n".join(texts) + "\n").encode())
    return out


def typed_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def test_helpers_hand_the_page_only_what_it_can_draw(demo_runs, tmp_path):
    rng = random.Random(0)
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs, runs)
    run = runs / "baseline"
    good = {"last.json": json.loads((run / "last.json").read_text()),
            "eval.json": json.loads((run / "eval.json").read_text())}
    log_rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    study = json.loads((REPO / "docs" / "study" / "results.json").read_text())
    demo = json.loads((demo_runs / "results.json").read_text())
    for blob in mutations(good["last.json"], rng, 150):
        (run / "last.json").write_bytes(blob)
        found, _ = helpers.discover(runs)
        r = next(x for x in found if x.key == "baseline")
        assert (r.meta is None) == (r.error is not None)
        if r.meta is not None:
            assert helpers.meta_problem(r.meta) is None and r.label
    for blob in mutations(good["eval.json"], rng, 150):
        (run / "eval.json").write_bytes(blob)
        ev = helpers.read_eval(run / "eval.json")
        assert all(k[4:].isdigit() and all(typed_number(x) for x in v.values()) for k, v in ev.items())
    r0 = helpers.RunFolder("baseline", run / "last", None, None)
    for blob in lines_mutations(log_rows, rng, 80):
        (run / "metrics.jsonl").write_bytes(blob)
        for row in helpers.metrics_log(r0):
            assert isinstance(row["epoch"], int) and all(typed_number(v) for v in row.values())
    for blob in mutations(study, rng, 150) + [json.dumps({"claims": [{**c, "n": "5"} for c in study["claims"]]}).encode()]:
        (tmp_path / "results.json").write_bytes(blob)
        claims = helpers.study_claims(tmp_path)
        assert claims is None or all(helpers._claim_ok(c) for c in claims.values())
        if claims:
            [helpers.fmt_ci(c) for c in claims.values()]
            [helpers.fmt_mean_sd(c["arm_mean"], c["arm_sd"], c["n"]) for c in claims.values()]
    for blob in mutations(demo, rng, 150):
        (tmp_path / "demo.json").write_bytes(blob)
        lam, rows = helpers.demo_results(tmp_path / "demo.json")
        assert all(typed_number(r["step1"]["miou"]) for r in rows.values()) and all(float(k) == float(k) for k in lam)


@pytest.mark.slow
def test_the_page_renders_every_tab_over_a_damaged_runs_folder(demo_runs, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    rng = random.Random(1)
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs, runs)
    base = runs / "baseline"
    meta = json.loads((base / "last.json").read_text())
    # one copy of the baseline per kind of damage, each readable or not, all in one folder
    damage = {"wrongtype": {**meta, "lam": "x", "epoch": "1"}, "nomodel": {k: v for k, v in meta.items() if k != "model"},
              "modeltype": {**meta, "model": {**meta["model"], "width": "wide"}}, "stage": {**meta, "stage": 3}}
    for name, m in damage.items():
        shutil.copytree(base, runs / name)
        (runs / name / "last.json").write_text(json.dumps(m))
    shutil.copytree(base, runs / "evalbad")
    (runs / "evalbad" / "eval.json").write_text(json.dumps({"step4": {"boundary_miou": None}, "step1": "x"}))
    (runs / "evalbad" / "metrics.jsonl").write_text('{"epoch": "1"}\n{"epoch": 1, "val_miou": null}\n\x00\x01\n')
    (runs / "results.json").write_bytes(rng.randbytes(64))
    study = tmp_path / "study"
    study.mkdir()
    claims = json.loads((REPO / "docs" / "study" / "results.json").read_text())
    for c in claims["claims"][::3]:
        c["hi"] = None
        c.pop("verdict", None)
    (study / "results.json").write_text(json.dumps(claims))
    monkeypatch.setenv("RELATIONNET_RUNS", str(runs))
    monkeypatch.setenv("RELATIONNET_STUDY", str(study))
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    options = at.sidebar.selectbox(key="run_a").options
    for key in ("evalbad", "wrongtype", "nomodel"):
        at.sidebar.selectbox(key="run_a").set_value(next(o for o in options if o.startswith(key + " "))).run()
        assert not at.exception, (key, [e.value for e in at.exception])
    labels = " ".join(options)
    for bad in ("wrongtype", "nomodel", "modeltype", "stage"):
        assert f"{bad}  (unreadable)" in labels, labels
