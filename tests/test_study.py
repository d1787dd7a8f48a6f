"""The study: its statistics against scipy and a hand-worked case, its verdict rule, and the whole
protocol end to end at a tiny size (two seeds), resumable and skipping what has landed."""
import json
import math

import numpy as np

import pytest
from conftest import tiny_overrides
from scipy import stats

from relationnet.experiments import readme, stats as rs, study1 as study


def test_paired_ci_matches_a_hand_worked_case_and_scipy():
    ci = rs.paired_ci([1.0, 2.0, 3.0])
    # mean 2, sd 1, t(0.975, 2) = 4.3027: half-width 4.3027 / sqrt(3) = 2.4842
    assert ci["mean"] == pytest.approx(2.0) and ci["sd"] == pytest.approx(1.0)
    assert ci["lo"] == pytest.approx(2 - 2.48414, abs=1e-4) and ci["hi"] == pytest.approx(2 + 2.48414, abs=1e-4)
    a = [41.2, 39.8, 40.5, 42.1, 40.0]
    b = [40.1, 39.9, 39.2, 41.0, 39.6]
    ref = stats.ttest_rel(a, b).confidence_interval(0.95)
    got = rs.paired_ci([x - y for x, y in zip(a, b)])
    assert got["lo"] == pytest.approx(ref.low) and got["hi"] == pytest.approx(ref.high)
    # the smallest detectable effect at n = 5: (t.975 + t.80, 4 df) · sd / sqrt(5) = 1.663 · sd
    assert got["mde"] / got["sd"] == pytest.approx((stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)) / math.sqrt(5))


def test_verdict_rule():
    assert rs.verdict(rs.paired_ci([1.0, 1.2, 0.9, 1.1, 1.0])) == "reproduced"
    assert rs.verdict(rs.paired_ci([-1.0, -1.2, -0.9, -1.1, -1.0])) == "contradicted"
    assert rs.verdict(rs.paired_ci([1.0, -1.2, 0.9, -1.1, 0.1])) == "inconclusive"
    assert rs.verdict(rs.paired_ci([-1.0, -1.2, -0.9, -1.1, -1.0]), direction=-1) == "reproduced"
    assert rs.verdict(rs.paired_ci([0.5])).startswith("pending (1 of 5")
    # an interval that already excludes 0 is still no verdict before all five seeds (METHOD.md: n = 5, 4 df)
    assert rs.verdict(rs.paired_ci([1.0, 1.2, 0.9, 1.1])) == "pending (4 of 5 seeds)"
    assert rs.verdict(rs.paired_ci([1.0, 1.02]), seeds_planned=2) == "reproduced"     # the CI-size study


def test_claims_name_existing_arms_and_metrics():
    ids = {a.id for a in study.arms("full")}
    for c in study.CLAIMS:
        assert {c.arm, c.ref} <= ids and (not c.arm2 or {c.arm2, c.ref2} <= ids), c.id
        assert c.metric.split(".")[0] in ("step1", "step4", "step16", "step64", "alignment"), c.id
    # equal budgets: D1 (alternating) and its controls D2, D3 train the same number of steps
    a = {x.id: x for x in study.arms("full")}
    assert a["D1"].train_steps == a["D2"].train_steps == a["D3"].train_steps == 500
    assert a["A2"].train_steps == a["A3"].train_steps == a["A1"].train_steps == a["C1"].train_steps == 300


@pytest.mark.slow
def test_study_end_to_end_tiny(tiny_root, tmp_path, monkeypatch, capsys):
    extra = {k: v for k, v in tiny_overrides(tiny_root).items()
             if k in ("crop", "batch_size", "workers", "device", "optimizer")}
    out, results = tmp_path / "runs", tmp_path / "results"
    summary = study.run_study(out, results, seeds=2, size="ci", root=str(tiny_root), progress=True, extra=extra)
    arms = study.arms("ci")
    bar = capsys.readouterr().err                  # the overall bar names what landed, not only the steps
    n = len(arms) * 2                              # every arm on both seeds (the D4 cut is the full size's)
    assert f"study: {n} runs pending" in bar and f"study: {n} of {n} runs landed (last: " in bar
    for s in range(2):
        for a in arms:
            rec = json.loads(study.record_path(results, a.id, s).read_text())
            assert rec["seed"] == s and rec["config"]["seed"] == s and "step1" in rec["metrics"]
    assert json.loads(study.record_path(results, "A2", 0).read_text())["train_seconds"] > 0
    assert json.loads(study.record_path(results, "A4", 0).read_text())["train_seconds"] == 0     # D1 trained it
    # CPU time: positive, and no more than every thread, worker and the main process busy for the whole wall time
    a2 = json.loads(study.record_path(results, "A2", 0).read_text())
    assert 0 < a2["train_cpu_seconds"] <= (a2["threads"] + extra.get("workers", 0) + 1) * a2["train_seconds"] + 1
    a4 = json.loads(study.record_path(results, "A4", 0).read_text())["metrics"]
    assert {"step1", "step4", "step16", "step64"} <= set(a4)
    # D4 started from D1's stage 1 and ran stages 2 and 3 only, with SCL in stage 2
    assert not (out / "seed0" / "D4" / "stage1").exists() and (out / "seed0" / "D4" / "stage3" / "last.json").is_file()
    rows = {r["claim"]: r for r in summary["claims"]}
    assert rows["T1-Rel"]["n"] == 2 and rows["T1-Rel"]["verdict"] in ("reproduced", "contradicted", "inconclusive")
    text = (results / "README.md").read_text()
    assert "| T1-OHEM: OHEM beats cross-entropy |" in text and (results / "claims.png").is_file()
    assert f"{len(arms) * 2 - 2} of the records carry their training's CPU time" in text    # A4, A4: trained by D1
    assert (results / "lambda.png").is_file() and (results / "multistep.png").is_file()

    # a rerun trains nothing: every record is there with its fingerprint
    import relationnet.experiments.runs as demo
    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")
    monkeypatch.setattr(demo, "train", no_training)
    study.run_study(out, results, seeds=2, size="ci", root=str(tiny_root), progress=False, extra=extra)
    # a record whose configuration changed is run again
    p = study.record_path(results, "A1", 1)
    rec = json.loads(p.read_text())
    rec["fingerprint"] = "stale"
    p.write_text(json.dumps(rec))
    monkeypatch.undo()
    study.run_study(out, results, seeds=2, only=["A1"], size="ci", root=str(tiny_root), progress=False, extra=extra)
    assert json.loads(p.read_text())["fingerprint"] != "stale"
    with pytest.raises(ValueError, match="unknown arm"):
        study.run_study(out, results, seeds=1, only=["Z9"], size="ci", root=str(tiny_root), progress=False)


def test_claim_rows_name_the_seeds_they_pair():
    """Seeds 0 and 2 landed for both arms, seed 1 only for one: the row pairs seeds 0 and 2 and says so."""
    def rec(v):
        return {"metrics": {"step1": {"miou": v / 100}}}
    records = {("A3", 0): rec(30.0), ("A2", 0): rec(29.0), ("A3", 1): rec(31.0),
               ("A3", 2): rec(33.0), ("A2", 2): rec(31.5)}
    row = next(r for r in study.claim_table(records, 5) if r["claim"] == "T1-Rel")
    assert row["seeds"] == [0, 2] and row["n"] == 2
    assert row["diffs"] == pytest.approx([1.0, 1.5]) and row["arm_values"] == pytest.approx([30.0, 33.0])
    assert row["verdict"] == "pending (2 of 5 seeds)" and row["lo"] < row["hi"]      # interim interval, no verdict
    # one arm over its seeds, in seed order, in % (records arrive in any order)
    shuffled = dict(reversed(list(records.items())))
    assert rs.arm_values(shuffled, "A3") == pytest.approx([30.0, 31.0, 33.0])
    assert rs.arm_values(shuffled, "C1") == []



def test_an_arm_cut_by_the_budget_is_planned_for_its_seeds_only_and_its_claims_say_cut():
    assert study.CUT == {"D4": 1}                                     # METHOD.md, Changes (2026-11-29)
    assert study.seeds_for("D4", 5) == 1 and study.seeds_for("D1", 5) == 5
    assert study.seeds_for("D4", 5, size="ci") == 5                   # the CI-size study is not cut

    def rec(v):
        return {"metrics": {"step1": {"miou": v / 100}}}
    records = {(a, s): rec(30.0 + s) for a in ("D1", "D4") for s in range(1)}
    rows = {r["claim"]: r for r in study.claim_table(records, 5)}
    assert rows["Alt-NoSCLcoarse"]["verdict"].startswith("cut by the budget (D4")
    assert rows["Alt-NoSCLcoarse"]["n"] == 1                          # what it has is still shown
    assert rows["Alt-Stage3"]["verdict"].startswith("pending")
    d4 = next(line for line in study.describe(results="nowhere").splitlines() if line.startswith("D4"))
    assert "0/1" in d4 and "cut by the budget" in d4


def test_arm_summary_and_table_ii_match_a_hand_computation():
    """Mean and sample standard deviation per arm as numpy computes them; Table II picks A2/A3/B1/B2."""
    def rec(miou, macc):
        return {"metrics": {"step1": {"miou": miou / 100, "mean_acc": macc / 100}}}
    vals = {"A2": [33.0, 35.0, 34.0], "A3": [36.0, 35.5], "B1": [6.0], "B2": []}
    records = {(a, s): rec(v, v + 7) for a, vs in vals.items() for s, v in enumerate(vs)}
    s = rs.arm_summary(records, "A2")
    assert s["n"] == 3 and s["mean"] == pytest.approx(34.0) and s["sd"] == pytest.approx(np.std([33, 35, 34], ddof=1))
    assert rs.arm_summary(records, "B1")["n"] == 1 and np.isnan(rs.arm_summary(records, "B1")["sd"])
    assert rs.arm_summary(records, "B2")["n"] == 0
    rows = {(r["init"], r["model"]): r for r in study.table_ii(records)}
    assert rows[("ImageNet", "+ Relation")]["arm"] == "A3"
    assert rows[("ImageNet", "+ Relation")]["step1.mean_acc"]["mean"] == pytest.approx(42.75)
    assert rows[("scratch", "OHEM baseline")]["step1.miou"]["values"] == pytest.approx([6.0])


def test_the_results_page_names_the_interaction_and_shows_table_ii(tmp_path):
    for arm, s, v in (("A2", 0, 34.0), ("A3", 0, 35.0), ("B1", 0, 6.0), ("B2", 0, 6.5), ("A2", 1, 36.0)):
        p = study.record_path(tmp_path, arm, s)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"arm": arm, "seed": s, "metrics": {"step1": {"miou": v / 100, "mean_acc": 0.5,
                                                                             "boundary_miou": 0.2}}}))
    page = (tmp_path / "README.md")
    study.tabulate(tmp_path)
    text = page.read_text()
    assert "| T2-Interaction: ImageNet matters more with the relation module | (A3 − B2) − (A2 − B1) (step1.miou)" in text
    assert "| A2 | OHEM baseline | 2 of 5 | 35.0 ± 1.4 | 50.0 ± 0.0 | 20.0 ± 0.0 |" in text
    assert "| ImageNet (A2, A3) | 35.0 ± 1.4 | 50.0 ± 0.0 | 35.0 | 50.0 | 1–2 |" in text
    assert "| scratch (B1, B2) | 6.0 | 50.0 | 6.5 | 50.0 | 1 |" in text


def test_cpu_time_of_a_run_is_none_when_an_epoch_was_logged_without_it(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"sec": 2.0, "cpu_sec": 3.5}\n{"sec": 1.0, "cpu_sec": 1.5}\n')
    (tmp_path / "stage2").mkdir()
    (tmp_path / "stage2" / "metrics.jsonl").write_text('{"sec": 4.0, "cpu_sec": 7.0}\n')
    assert study.train_seconds(tmp_path) == 7.0 and study.train_seconds(tmp_path, "cpu_sec") == 12.0
    (tmp_path / "stage2" / "metrics.jsonl").write_text('{"sec": 4.0}\n')          # logged before cpu_sec existed
    assert study.train_seconds(tmp_path) == 7.0 and study.train_seconds(tmp_path, "cpu_sec") is None
    (tmp_path / "stage2" / "metrics.jsonl").unlink()
    (tmp_path / "metrics.jsonl").write_text('{"cpu_sec": 3.5}\n')          # one key behaves like the other
    assert study.train_seconds(tmp_path) is None and study.train_seconds(tmp_path, "cpu_sec") == 3.5
    (tmp_path / "metrics.jsonl").write_text('{"cpu_sec": 3.5}\n{"cpu_sec": 2\n')   # a line that is not JSON
    assert study.train_seconds(tmp_path, "cpu_sec") is None                          # no partial sum


def test_full_size_skips_the_per_epoch_validation_without_changing_any_run():
    """Only the last epoch is validated (eval_every beyond every stage's epochs); eval_every is run-neutral, so the
    committed records' fingerprints, written with a validation every epoch, still match."""
    for arm in study.arms("full"):
        cfg = study.arm_config(arm, 0, "full", root="data/x")
        assert cfg.eval_every > max(cfg.epochs, *cfg.stage_epochs)
        every = study.config_mod.load(arm.preset, {**cfg.to_dict(), "eval_every": 1})
        assert study.fingerprint(every) == study.fingerprint(cfg)
    committed = study.Path(__file__).resolve().parents[1] / "docs" / "study"
    rec = json.loads(study.record_path(committed, "A3", 0).read_text())
    a3 = next(a for a in study.arms("full") if a.id == "A3")
    assert rec["fingerprint"] == study.fingerprint(study.arm_config(a3, 0, "full", root=rec["config"].get("root", "x")))


def test_list_writes_each_claims_test_as_the_results_page_does(tmp_path):
    """`relationnet study --list`: an interaction is a difference of differences, and a within-arm claim names both
    metrics (it read 'A3 − B2' and 'A4 − A4 (step4.miou)')."""
    text = study.describe(results=tmp_path)
    assert "  T2-Interaction: (A3 − B2) − (A2 − B1) (step1.miou); paper" in text
    assert "  MS-4: A4 − A4 (step4.miou vs step1.miou); paper +1.04" in text
    assert "  T1-OHEM: A2 − A1 (step1.miou); paper +3.75" in text
    assert "A2                  300  0/5          OHEM baseline" in text


def test_readme_passage_groups_claims_by_the_verdict_rule_and_rewrites_only_its_block(tmp_path):
    """Five seeds of A1/A2/A3 by hand: A2 beats A1 every seed by 2–4 points (reproduced), A3 is below A2 every seed
    (contradicted), and no other claim has its arms (pending); D4's claim reads cut."""
    a1 = [30.0, 31.0, 29.5, 30.5, 31.5]
    plus = {"A1": [0.0] * 5, "A2": [3.0, 2.0, 4.0, 3.5, 2.5], "A3": [1.0, 0.5, 1.5, 2.0, 1.0]}
    for arm, d in plus.items():
        for s in range(5):
            p = study.record_path(tmp_path / "docs", arm, s)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"arm": arm, "seed": s, "metrics": {"step1": {"miou": (a1[s] + d[s]) / 100}}}))
    text = readme.readme_passage(study.load_records(tmp_path / "docs", 5))
    assert text.startswith("**Verdicts so far:** 15 of 61 planned runs have landed (seed 0: 3 of 13; seed 1: 3 of 12;")
    lines = text.splitlines()
    assert "- *reproduced*: T1-OHEM (OHEM beats cross-entropy)." in lines
    assert "- *contradicted*: T1-Rel (the relation module helps)." in lines
    assert not any(line.startswith("- *inconclusive*") for line in lines)
    pending = next(line for line in lines if line.startswith("- *pending*"))
    assert "T1-OHEM" not in pending and "T1-Rel," not in pending and "T2-Init" in pending
    assert any(line.startswith("- *cut by the budget*: Alt-NoSCLcoarse") and "D4 on 1 seed," in line for line in lines)

    readme_file = tmp_path / "README.md"
    readme_file.write_text("# x\nbefore\n")
    with pytest.raises(ValueError, match="no study passage"):
        readme.update_readme(readme_file, tmp_path / "docs")
    readme_file.write_text(f"# x\nbefore\n{readme.README_BEGIN}\nold words\n{readme.README_END}\nafter\n")
    assert readme.update_readme(readme_file, tmp_path / "docs") is True
    new = readme_file.read_text()
    assert new.startswith("# x\nbefore\n") and new.endswith(f"{readme.README_END}\nafter\n") and "old words" not in new
    assert readme.readme_block(new) == text
    assert readme.update_readme(readme_file, tmp_path / "docs") is False                     # nothing to change twice


def test_a_bound_that_only_just_excludes_zero_shows_its_sign():
    assert rs.signed(0.00025, 2) == "+0.0003" and rs.signed(-0.004, 2) == "-0.004"
    assert rs.signed(0.83, 2) == "+0.83" and rs.signed(0.0, 2) == "+0.00" and rs.signed(-1.666, 2) == "-1.67"
    assert rs.signed(float("nan"), 2) == "+nan"


def test_a_claims_interval_is_written_one_way():
    row = {"n": 5, "mean": 0.8328, "lo": 0.00025, "hi": 1.6654}
    assert rs.format_ci(row) == "+0.83 [+0.0003, +1.67]"
    assert rs.format_ci(row, 1) == "+0.8 [+0.0003, +1.7]"
    assert rs.format_ci({"n": 1, "mean": -0.12}) == "-0.12 (1 seed)" and rs.format_ci({"n": 0}) == "—"
