"""Study 2 (docs/study/study2/METHOD.md): its plan, its statistics against hand-worked numbers and scipy, a tiny
end-to-end run, and the bad records it must name without writing over them."""
import json
import math
from pathlib import Path

import pytest
from scipy import stats

from relationnet import config as config_mod
from relationnet.experiments import study1 as s1
from relationnet.experiments import study2

from conftest import tiny_overrides


def test_the_plan_is_the_protocols():
    plan = study2.planned("full", cut=False)
    ids = [(a.id, s) for s, a in plan]
    assert len(set(ids)) == len(ids)
    scl = sorted(s for a, s in ids if a == "S4")
    assert scl == list(range(100, 120)) and sorted(s for a, s in ids if a == "S3") == scl
    assert not set(scl) & set(range(5))                       # fresh seeds for S3 and S4
    for seed in range(5):                                     # E1 starts from D1's stage 1 of its seed: D1 first
        assert ids.index(("D1", seed)) < ids.index(("E1", seed))
    assert sorted(s for a, s in ids if a == "G2") == [0, 1, 2]
    assert [a for a, _ in ids[-20:]] == ["S5"] * 20           # contingent, last
    steps = study2.budget_steps("full")
    assert steps["SCL (S3, S4)"] == 12000 and sum(v for k, v in steps.items() if "contingent" not in k) == 34500
    # every pair of a claim is inside study 2: no claim names an arm of study 1
    known = {a.id for a in study2.arms("full")}
    assert all(c.arm in known and c.ref in known for c in study2.CLAIMS)


def test_the_budget_cut_leaves_out_s5_only_and_its_claims_say_so():
    """METHOD.md, Changes (the check after round 0): S5 cut, every other arm keeps all its seeds."""
    full, cut = study2.planned("full", cut=False), study2.planned("full")
    assert [x for x in full if x[1].id != "S5"] == cut and len(full) - len(cut) == 20
    assert [a.id for _, a in study2.planned("ci")].count("S5") == 2      # the cut is the full study's only
    rows = {r["claim"]: r for r in study2.claim_table({}, "full")}
    assert rows["F6-λ1"]["verdict"] == rows["F6-best-vs-λ1"]["verdict"] == ("not run (contingent; cut by the "
                                                                               "budget check: METHOD.md, Changes)")
    assert rows["T1-SCL"]["seeds_planned"] == 20 and rows["Curve-2000"]["seeds_planned"] == 3
    assert "S5" in study2.describe("full") and "cut by the budget check" in study2.describe("full")
    assert study2.budget_projection("nowhere").startswith("budget check done (METHOD.md, Changes): S5 cut; ")


def test_twenty_seeds_give_the_power_the_protocol_states():
    """δ_min = (t(0.975, n−1) + t(0.8, n−1)) · s_d / √n with study 1's s_d = 0.93 (T1-SCL, mIoU)."""
    def mde(sd, n):
        return (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * sd / math.sqrt(n)
    assert mde(0.93, 15) > 0.71 >= mde(0.93, 16)              # n ≥ 16 needed
    assert mde(0.93, 20) == pytest.approx(0.614, abs=1e-3)
    assert mde(1.07, 20) <= 0.71 < mde(1.08, 20)              # the margin METHOD.md names
    assert mde(0.88, 20) == pytest.approx(0.581, abs=1e-3)    # mean accuracy


def test_equivalence_verdict_hand_worked():
    # four differences, mean 0.1, sd √(0.08/3) = 0.1633: 90 % half-width t(0.95, 3) · 0.1633 / √4 = 0.1922
    d = [0.1 + x for x in (-0.2, 0.0, 0.0, 0.2)]
    sd = stats.tstd(d)
    half = stats.t.ppf(0.95, 3) * sd / 2
    assert half == pytest.approx(2.35336 * 0.1633 / 2, rel=1e-3)
    assert study2.equivalence(d, 0.71, delta=0.5) == "absent"                 # [−0.092, 0.292] inside ±0.5
    assert study2.equivalence(d, 0.71, delta=0.2) == "smaller than the paper's"
    assert study2.equivalence([x + 0.6 for x in d], 0.71) == ""                # reaches above 0.71
    assert study2.equivalence(d, None) == "" and study2.equivalence([0.1], 0.71) == ""


def test_new_config_keys_leave_study_1s_fingerprints_alone():
    committed = s1.Path(__file__).resolve().parents[1] / "docs" / "study"
    by_id = {a.id: a for a in s1.arms("full")}
    n = 0
    for p in sorted(committed.glob("runs/seed*/*.json")):
        rec = json.loads(p.read_text())
        cfg = s1.arm_config(by_id[rec["arm"]], rec["seed"], "full", root="x")
        assert rec["fingerprint"] == s1.fingerprint(cfg), p
        n += 1
    assert n == 61
    base = config_mod.load("synthcity_full")
    for k, v in (("fine_limit", 200), ("stage2_annotation", "fine"), ("coarse_epochs", [1, 2])):
        changed = config_mod.load("synthcity_full", {k: v, **({"epochs": 6} if k == "coarse_epochs" else {})})
        assert s1.fingerprint(changed) != s1.fingerprint(base), k


@pytest.mark.parametrize("bad", [{"coarse_epochs": [3, 2]}, {"coarse_epochs": [0, 99]},
                                 {"coarse_epochs": [1, 2], "alternating": True}, {"fine_limit": -1},
                                 {"stage2_annotation": "mixed"}])
def test_bad_values_of_the_new_keys_are_one_line_errors(bad):
    """(see also test_fine_limit_and_coarse_epochs_pick_their_data)"""
    with pytest.raises(config_mod.ConfigError):
        config_mod.load("synthcity_full", bad)


def test_study2_end_to_end_tiny_and_bad_records(tiny_root, tmp_path, monkeypatch):
    extra = {k: v for k, v in tiny_overrides(tiny_root).items()
             if k in ("crop", "batch_size", "workers", "device", "optimizer")}
    out, results = tmp_path / "runs", tmp_path / "results"
    said = []
    monkeypatch.setattr(study2, "_seeds", lambda size, seeds: seeds[:1])     # one seed of each: seconds, not minutes
    summary = study2.run(out, results, "ci", only=["S3", "S4", "D1", "E1", "E2"], progress=False,
                         extra={**extra, "val_limit": 4}, log=said.append, root=str(tiny_root))
    assert summary["problems"] == []
    s4 = json.loads(study2.record_path(results, "S4", 100).read_text())
    assert s4["protocol"] == "study2" and s4["seed"] == 100 and s4["config"]["seed"] == 100
    code = s4["code"]
    assert len(code["git"]) == 40 and code["torch"] and code["device"].startswith("cpu: ") and code["threads"] >= 1
    assert {"acc_diff_real", "acc_diff_anchor", "balanced_random", "self_p_contour"} <= set(s4["metrics"]["probe"])
    mech = s4["mechanism"]
    assert len(mech) == 2 and all(0 <= m["mech_acc_same"] <= 1 and -1 <= m["mech_grad_cos"] <= 1 for m in mech)
    assert "mechanism" not in json.loads(study2.record_path(results, "S3", 100).read_text())
    # E1 ran stages 2 and 3 from D1's stage 1, stage 2 on fine labels; E2's coarse segment is logged as such
    e1 = out / "seed0" / "E1"
    assert not (e1 / "stage1").exists() and (e1 / "stage3" / "last.json").is_file()
    assert json.loads((e1 / "stage2" / "last.json").read_text())["annotation"] == "fine"
    e2 = [json.loads(x) for x in (out / "seed0" / "E2" / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("annotation", "fine") for r in e2] == ["fine", "fine", "coarse", "fine"]
    assert "mech_acc_same" not in e2[2] and "mech_acc_same" in e2[0]          # no SCL on coarse labels
    assert any(line.startswith("study 2: landed runs/seed100/S4.json") for line in said)
    rows = {r["claim"]: r for r in summary["claims"]}
    assert rows["T1-SCL"]["n"] == 1 and rows["T1-SCL"]["verdict"].startswith("pending")     # a verdict needs 2 seeds
    text = (results / "README.md").read_text()
    assert "| T1-SCL: SCL (λ = 0.1) helps on top of the relation module |" in text

    # bad records: each is named, left byte for byte as it was, and its run is not repeated
    import relationnet.experiments.runs as demo

    def no_training(*a, **k):
        raise AssertionError("a run was trained again")
    monkeypatch.setattr(demo, "train", no_training)
    truncated = study2.record_path(results, "S3", 100)
    truncated.write_text(truncated.read_text()[:50])
    other = study2.record_path(results, "S4", 100)
    rec = json.loads(other.read_text())
    other.write_text(json.dumps({**rec, "protocol": "study1"}))
    newer = study2.record_path(results, "D1", 0)
    rec = json.loads(newer.read_text())
    newer.write_text(json.dumps({**rec, "code": {**rec["code"], "git": "f" * 40}}))
    before = {p: p.read_bytes() for p in (truncated, other, newer)}
    said.clear()
    summary = study2.run(out, results, "ci", only=["S3", "S4", "D1"], progress=False, extra={**extra, "val_limit": 4},
                         log=said.append, root=str(tiny_root))
    assert {p: p.read_bytes() for p in before} == before
    joined = "\n".join(said)
    assert "seed100/S3.json: not a readable record" in joined
    assert "seed100/S4.json: a record of another protocol" in joined
    assert "seed0/D1.json: made by code revision ffffffffff" in joined
    assert len(summary["problems"]) == 3



def test_fine_limit_and_coarse_epochs_pick_their_data(tiny_root):
    from relationnet.data import train_transform
    from relationnet.engine.train import Stage, epoch_data, stages, train_set
    cfg = config_mod.load("synthcity_full", {"root": str(tiny_root), "fine_limit": 5})
    t = train_transform((64, 128), (1.0, 1.0), False)
    fine, coarse = train_set(cfg, tiny_root, "fine", t), train_set(cfg, tiny_root, "coarse", t)
    full = config_mod.load("synthcity_full", {"root": str(tiny_root)})
    assert len(fine) == 5 and len(train_set(full, tiny_root, "fine", t)) == 12          # TINY: 12 train images
    assert len(coarse) == len(train_set(full, tiny_root, "coarse", t)) == 12 + 8        # coarse: all of it
    assert [fine[i]["label"].tolist() for i in range(5)] == [train_set(full, tiny_root, "fine", t)[i]["label"].tolist()
                                                             for i in range(5)]
    one = config_mod.load("synthcity_full", {"epochs": 5, "const_epochs": 3, "coarse_epochs": [2, 4], "lam": 0.1,
                                             "stage2_lam": 0.0})
    st = stages(one)[0]
    assert [epoch_data(one, st, e) for e in range(5)] == [("fine", 0.1)] * 2 + [("coarse", 0.0)] * 2 + [("fine", 0.1)]
    alt = config_mod.load("synthcity_full", {"alternating": True, "stage2_annotation": "fine"})
    assert [s.annotation for s in stages(alt)] == ["fine", "fine", "fine"] and stages(alt)[1].lam == 0.0
    assert Stage("", "fine", 0.1, 1).annotation == "fine"


def test_the_budget_check_counts_only_epochs_that_had_the_machine(tmp_path):
    log = tmp_path / "seed100" / "S3" / "metrics.jsonl"
    log.parent.mkdir(parents=True)
    rows = [(50, 100.0, 110.0), (100, 100.0, 195.0), (150, 100.0, 205.0), (200, 50.0, 100.0),    # step, sec, cpu
            (250, 100.0, 165.0), (300, 100.0, 155.0)]        # 1.65 cores: alone (PASSIVE threads); 1.55: shared
    log.write_text("".join(json.dumps({"epoch": i + 1, "step": s, "sec": w, "cpu_sec": c}) + "\n"
                           for i, (s, w, c) in enumerate(rows)))
    rate, n = study2.alone_rate(tmp_path)
    assert n == 4 and rate == pytest.approx(3.6)    # 195/50, 205/50, 100/50, 165/50: median 3.6; 1.1, 1.55 left out
    assert "waits for 10 epochs" in study2.budget_projection(tmp_path)
    assert study2.occupancy_line(tmp_path) == ("epochs logged: 6; cores busy ≥ 1.6 (alone): 4, 1.65–2.05; "
                                               "below: 2, 1.10–1.55")


def test_what_is_left_is_counted_from_the_plan_and_priced_at_the_alone_rate(tmp_path):
    from types import SimpleNamespace as Arm
    a, b = Arm(id="A", train_steps=300), Arm(id="B", train_steps=500)
    plan, records = [(1, a), (2, a), (1, b)], {("A", 1): {}}
    assert study2.remaining_line(records, plan, tmp_path) == "left: 2 runs, 800 training steps"    # no epochs yet
    log = tmp_path / "seed1" / "B" / "metrics.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps({"step": 50 * (i + 1), "sec": 100.0, "cpu_sec": 170.0}) + "\n" for i in range(10)))
    # 170 core-s / 50 steps = 3.4 core-s per step at 1.7 cores busy; 800 steps × 3.4 × 1.08 (evaluation) = 2937.6
    # core-s = 0.816 core-hours, / 1.7 cores = 0.48 h
    assert study2.remaining_line(records, plan, tmp_path) == (
        "left: 2 runs, 800 training steps; at 3.40 core-s per step alone about 0.8 core-hours, "
        "0.5 h with the machine left to the study")


def test_commit_record_commits_that_file_only(tmp_path, monkeypatch):
    import subprocess
    repo = tmp_path / "repo"
    (repo / "docs" / "runs").mkdir(parents=True)
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True)   # noqa: E731
    run("init", "-q")
    run("config", "user.email", "t@example.org")
    run("config", "user.name", "t")
    (repo / "other.txt").write_text("work in progress")
    rec = repo / "docs" / "runs" / "S3.json"
    rec.write_text("{}")
    monkeypatch.chdir(repo)                              # the study runs from the checkout, records given relative
    assert study2.commit_record(Path("docs/runs/S3.json"), "Study 2: landed seed100/S3.json")
    assert run("log", "--format=%s").stdout.strip() == "Study 2: landed seed100/S3.json"
    assert run("show", "--name-only", "--format=").stdout.split() == ["docs/runs/S3.json"]
    assert "other.txt" in run("status", "--porcelain").stdout


def test_committed_study2_records_keep_their_fingerprints_and_configs():
    """Records made by earlier revisions of the code (before the redesign into relationnet.experiments) are still
    what the current code would run: same fingerprint and the same full configuration, arm by arm."""
    committed = s1.Path(__file__).resolve().parents[1] / "docs" / "study" / "study2"
    by_id = {a.id: a for a in study2.arms("full")}
    n = 0
    for p in sorted(committed.glob("runs/seed*/*.json")):
        rec = json.loads(p.read_text())
        cfg = study2.arm_config(by_id[rec["arm"]], rec["seed"], "full", root="x")
        assert rec["fingerprint"] == config_mod.fingerprint(cfg), p
        assert rec["config"] == {k: v for k, v in cfg.to_dict().items() if k != "root"}, p
        n += 1
    assert n >= 8


def test_results_page_states_the_coarse_coverage_and_alt_budget_by_class(tmp_path):
    """coarse_lines reads the coverage table and study 1's records; its sum of four classes is checked by hand."""
    res = tmp_path / "study" / "study2"
    res.mkdir(parents=True)
    head = "| class | fine px | coarse keeps % of its fine pixels | objects | objects left out % | median px |\n" + "|---" * 6 + "|\n"
    body = "".join(f"| {c} | 100 | {k} | {o} | {l} | 20 |\n" for c, k, o, l in
                   [("road", 88.6, "—", "—"), ("building", 74.2, "—", "—"), ("car", 30.2, 10, 50.0), ("pole", 1.0, "—", "—"),
                    ("person", 2.2, 10, 96.6), ("bicycle", 0.0, 5, 100.0)])
    (res / "coarse_coverage.md").write_text("# t\n\n" + head + body)
    for s in range(2):
        d = tmp_path / "study" / "runs" / f"seed{s}"
        d.mkdir(parents=True)
        iou_d2 = [0.5] * 19
        iou_d1 = list(iou_d2)
        iou_d1[11] -= 0.19          # person: −1 point of mIoU
        iou_d1[18] -= 0.095 * (s + 1)  # bicycle: −0.5, −1 point
        iou_d1[0] -= 0.19           # road: −1 point, not among the four
        for arm, iou in (("D1", iou_d1), ("D2", iou_d2)):
            (d / f"{arm}.json").write_text(json.dumps({"metrics": {"step1": {"iou": iou}}}))
    d = res / "runs" / "seed0"                  # study 2's own D1 − D2: person −1 point, road −0.5
    d.mkdir(parents=True)
    iou_d1 = [0.5] * 19
    iou_d1[11] -= 0.19
    iou_d1[0] -= 0.095
    for arm, iou in (("D1", iou_d1), ("D2", [0.5] * 19)):
        (d / f"{arm}.json").write_text(json.dumps({"metrics": {"step1": {"iou": iou}}}))
    text = "\n".join(study2.coarse_lines(res))
    assert "person (96.6 % of objects), bicycle (100 % of objects)" in text and "car (" not in text
    # by hand: person −1, bicycle −0.75 on average, road −1: total −2.75, the four classes −1.75 (64 %)
    assert "D1 − D2 (-2.75 points over 2 seeds) has -1.75 points from person, rider, bicycle, train" in text
    assert "the four classes issue 22 named: 64 % of it; SynthCity's coarse labels almost never show person, bicycle." in text
    assert "Its largest losses by class are road (-1.00), person (-1.00), bicycle (-0.75)." in text
    assert "In study 2 (Alt2-Budget, 1 seed) the same four classes carry -1.00 of -1.50 points." in text
    assert study2.coarse_lines(tmp_path / "nowhere") == []


def test_mechanism_figure_draws_the_records_lines(tmp_path):
    from relationnet.experiments.figures import mechanism_figure
    rows = [{"step": s, "loss_scl": 0.2 - s / 1000, "mech_acc_same": 0.5, "mech_acc_diff": 0.7, "mech_grad_ratio": 0.01,
             "mech_grad_cos": 0.05} for s in (50, 100)]
    probe = {"balanced_real": 0.8, "balanced_anchor": 0.7, "balanced_random": 0.6}
    records = {("S4", 100): {"mechanism": rows, "metrics": {"probe": probe}}, ("S3", 100): {"metrics": {}}}
    assert mechanism_figure(records, "S4", tmp_path) == "mechanism_S4.png"
    assert (tmp_path / "mechanism_S4.png").stat().st_size > 10_000
    assert mechanism_figure(records, "S3", tmp_path) is None          # no mechanism lines: no figure
