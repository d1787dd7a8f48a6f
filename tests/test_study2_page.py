"""Study 2's results-page prose (relationnet/experiments/study2_page.py) and its alternating figure, on hand-made
records whose differences are known by construction: the verdict sentences appear only when every seed has landed,
and then say what the verdicts say."""
import pytest

from relationnet.experiments import study2
from relationnet.experiments.figures import alternating_figure
from relationnet.experiments.study2_page import ALT_CLAIMS, alternating_lines, is_final, mechanism_lines, study1_claim

J1 = [0.2, -0.1, 0.0, 0.1, -0.2]          # seed jitters, each with mean 0
J2 = [-0.1, 0.2, 0.1, -0.2, 0.0]
J3 = [0.3, -0.3, 0.2, -0.2, 0.0]


def _records(drop=()):
    """mIoU by construction: D1 − E1 = −4 + J1 − J2 − J3 (mean −4), D2 − E1 = −J3 (mean 0), E2 − D2 = −6 + J3 − J2,
    E2 − D1 = −2 + J3 − J1, F1 − F2 = −9 + J1 − J2, D2 − A4 = 8 + J2 − J1; seeds 0–2: G1 − D2 = 7 + J1 − J2,
    G2 − G1 = 5 + J3 − J1 (mean over seeds 0–2: 5 + 0.1/3)."""
    values = {}
    for s in range(5):
        values.update({("A4", s): 35 + J1[s], ("D2", s): 43 + J2[s], ("E1", s): 43 + J2[s] + J3[s],
                       ("D1", s): 39 + J1[s], ("E2", s): 37 + J3[s], ("F1", s): 35 + J1[s], ("F2", s): 44 + J2[s]})
        if s < 3:
            values.update({("G1", s): 50 + J1[s], ("G2", s): 55 + J3[s]})
    return {k: {"metrics": {"step1": {"miou": v / 100}}} for k, v in values.items() if k not in drop}


def test_the_account_waits_until_every_seed_has_landed():
    rows = study2.claim_table(_records(drop=[("E1", 4)]), "full")
    text = "\n".join(alternating_lines(rows))
    assert "Alt2-Labels): D1 − E1 = -3.95 [" in text          # seeds 0–3: −4 + 0.2 / 4, the interval so far …
    assert "pending, 4 of 5 seeds: not a verdict" in text      # … never read as a verdict
    assert "What it came from" not in text and "once every seed of them has landed" in text
    assert "(Alt2-Budget): D1 − D2 = -4.00 [" in text and "*contradicted*" in text   # a claim complete: its verdict


def test_the_account_says_what_the_verdicts_say():
    rows = study2.claim_table(_records(), "full")
    by = {r["claim"]: r for r in rows}
    assert by["Alt2-Labels"]["verdict"] == "contradicted" and by["Alt2-Restarts"]["verdict"] == "inconclusive"
    text = " ".join(alternating_lines(rows))
    assert ("Split by (a), D1 − D2 = (D1 − E1) − (D2 − E1): with the same restarts, coarse labels in stage 2 cost "
            "4.00 points against fine ones; with fine labels throughout, restarting the schedule made no difference "
            "this study can detect") in text
    assert ("Split this way, study 1's loss, seen again here, has a detectable part in the coarse labels; the part of "
            "the restarts cannot be told from 0 here.") in text
    assert ("Split by (b), D1 − D2 = (D1 − E2) + (E2 − D2): with one schedule and the optimizer kept, coarse labels in "
            "its middle segment cost 6.00 points, and that schedule lost 2.00 points to the restarted stages on the "
            "same data") in text
    assert "disagree" not in text                      # (a) undecided on the restarts: nothing to set against (b)
    assert "When fine labels are scarce (c), alternating lost 9.00 points to fine-only training." in text
    assert "still gain 5.03 points from 1 000 to 2 000 steps: they had not stopped improving by 1 000 steps" in text
    # the restarts, if they had cost: both parts named
    rows2 = [dict(r, verdict="reproduced", mean=1.5) if r["claim"] == "Alt2-Restarts" else r for r in rows]
    assert "has a detectable part in the coarse labels and in the restarts." in " ".join(alternating_lines(rows2))
    # (b) the other way (E2 − D1 = −2 by construction): the restarts gained with coarse labels in the middle segment
    assert ("The two splits disagree on the restarts: with fine labels in the middle segment restarting cost 1.50 "
            "points, with coarse labels there it gained 2.00; the loss does not divide into one labels part and one "
            "restarts part; the coarse labels cost on both splits.") in " ".join(alternating_lines(rows2))
    rows8 = [dict(r, verdict="reproduced", mean=2.0) if r["claim"] == "Alt2-OneSchedule" else r for r in rows2]
    assert "disagree" not in " ".join(alternating_lines(rows8))          # (b): restarting cost there too, as in (a)
    rows4 = [dict(r, verdict="contradicted", mean=-1.5) if r["claim"] == "Alt2-Restarts" else r for r in rows]
    assert "has a detectable part in the coarse labels; the restarts pulled the other way." in \
        " ".join(alternating_lines(rows4))
    rows5 = [dict(r, verdict="inconclusive") if r["claim"] == "Alt2-Labels" else r for r in rows]
    assert "has no part that this study detects on its own." in " ".join(alternating_lines(rows5))
    # the loss in the restarts alone, the coarse labels having helped; no loss, with the restarts having helped
    rows6 = [dict(r, verdict="reproduced", mean=1.5) if r["claim"] in ("Alt2-Restarts", "Alt2-Labels") else r
             for r in rows]
    assert "has a detectable part in the restarts; the coarse labels pulled the other way." in \
        " ".join(alternating_lines(rows6))
    rows7 = [dict(r, verdict="contradicted", mean=-1.5) if r["claim"] == "Alt2-Restarts" else r for r in rows5]
    assert "has no part that this study detects on its own; the restarts pulled the other way." in \
        " ".join(alternating_lines(rows7))
    # study 1's loss not seen again here: the parts are not offered as its explanation
    rows3 = [dict(r, verdict="inconclusive") if r["claim"] == "Alt2-Budget" else r for r in rows]
    text3 = " ".join(alternating_lines(rows3))
    assert "not detectably seen again on this machine (Alt2-Budget: *inconclusive*)" in text3 and "detectable part" not in text3


def test_the_account_names_study_1s_result_and_needs_every_claim(tmp_path):
    import json
    s1 = tmp_path / "results.json"
    s1.write_text(json.dumps({"claims": [{"claim": "Alt-Budget", "n": 5, "mean": -4.9, "lo": -5.66, "hi": -4.15,
                                          "verdict": "contradicted"}]}))
    rows = study2.claim_table(_records(), "full")
    s1 = study1_claim(s1, "Alt-Budget")
    assert "Study 1 found alternating training" in " ".join(alternating_lines(rows, s1))
    assert "-4.90 [-5.66, -4.15]" in " ".join(alternating_lines(rows, s1))
    assert alternating_lines([r for r in rows if r["claim"] != "Curve-2000"]) == []


def test_mechanism_lines_are_the_records_means():
    def run(a, b):
        return [{"step": 50, "loss_scl": a, "mech_acc_same": 0.5, "mech_acc_diff": 0.7, "mech_grad_ratio": 0.01,
                 "mech_grad_cos": 0.05},
                {"step": 100, "loss_scl": b, "mech_acc_same": 0.7, "mech_acc_diff": 0.9, "mech_grad_ratio": 0.03,
                 "mech_grad_cos": 0.07}]
    probe = dict(balanced_real=0.8, balanced_anchor=0.7, balanced_random=0.6, acc_diff_anchor=0.5, acc_diff_real=0.9,
                 self_p_interior=0.9, self_p_contour=0.6, images=40)
    records = {("S4", 100): {"mechanism": run(0.2, 0.1), "metrics": {"probe": probe}},
               ("S4", 101): {"mechanism": run(0.22, 0.12), "metrics": {"probe": dict(probe, balanced_real=0.9)}},
               ("S3", 100): {"metrics": {}}}
    text = " ".join(mechanism_lines(records, "S4"))
    assert "Over S4's 100 steps (2 seeds" in text and "falls from 0.210 to 0.110" in text
    assert "50 → 70 % of same-label pairs" in text and "0.010 → 0.030 times" in text and "+0.05 → +0.07" in text
    assert "balanced accuracy 85.0 % with the real neighbour, 70.0 %" in text and "0.90 on interior" in text
    assert mechanism_lines(records, "S3") == []


def test_alternating_figure_draws_what_has_landed(tmp_path):
    rows = study2.claim_table(_records(), "full")
    name = alternating_figure(rows, _records(), {"A4": 300, "D2": 500, "G1": 1000, "G2": 2000}, tmp_path, ALT_CLAIMS,
                              {"claim": "Alt-Budget", "arm": "D1", "ref": "D2", "n": 5, "mean": -4.9, "lo": -5.7,
                               "hi": -4.1, "diffs": [-5, -4.8]})
    assert name == "alternating.png" and (tmp_path / name).stat().st_size > 20_000
    assert alternating_figure([], {}, {"A4": 300}, tmp_path / "none", ALT_CLAIMS) is None


@pytest.mark.parametrize("claim", ALT_CLAIMS)
def test_every_claim_the_account_reads_is_one_of_study_2s(claim):
    assert claim in {c.id for c in study2.CLAIMS}


def test_side_by_side_sets_each_studys_answer_in_its_own_column(tmp_path):
    import json
    from relationnet.experiments.study2_page import BOTH, side_by_side_lines
    one = [{"claim": "T1-SCL", "arm": "A4", "ref": "A3", "metric": "step1.miou", "n": 5, "mean": 0.17, "lo": -0.98,
            "hi": 1.32, "verdict": "inconclusive"}]
    two = {"claims": [{"claim": "T1-SCL", "arm": "S4", "ref": "S3", "metric": "step1.miou", "n": 4, "seeds_planned": 20,
                       "mean": 0.23, "lo": -0.41, "hi": 0.87, "verdict": "pending (4 of 20 seeds)"},
                      {"claim": "Alt2-Budget", "arm": "D1", "ref": "D2", "metric": "step1.miou", "n": 5,
                       "seeds_planned": 5, "mean": -3.0, "lo": -4.0, "hi": -2.0, "verdict": "contradicted"},
                      {"claim": "F6-λ1", "arm": "S5", "ref": "S3", "metric": "step1.miou", "n": 0, "seeds_planned": 0,
                       "verdict": "not run (contingent; cut by the budget check: METHOD.md, Changes)"}]}
    (tmp_path / "results.json").write_text(json.dumps(two))
    lines = side_by_side_lines(one, tmp_path / "results.json")
    table = [ln for ln in lines if ln.startswith("| ") and "question" not in ln]
    assert len(table) == len(BOTH)
    assert table[0] == ("| SCL on top of the relation module, mIoU | A4 − A3 | +0.17 [-0.98, +1.32], 5 seeds: "
                        "*inconclusive* | S4 − S3 | +0.23 [-0.41, +0.87] (4 of 20 seeds so far): *pending* |")
    assert "| D1 − D2 | -3.00 [-4.00, -2.00], 5 seeds: *contradicted* |" in table[-1] and table[-1].count("—") == 2
    assert "| S5 − S3 | *not run (contingent; cut by the budget check: METHOD.md, Changes)* |" in table[4]
    assert side_by_side_lines(one, tmp_path / "missing.json") == []


def test_notebook_lines_give_a_verdict_only_when_every_seed_has_landed(tmp_path, monkeypatch):
    import json
    from relationnet import notebook as nb
    d = tmp_path / "docs" / "study" / "study2"
    d.mkdir(parents=True)
    base = {"arm": "S4", "ref": "S3", "metric": "step1.miou", "paper": "+0.71", "title": "SCL helps"}
    (d / "results.json").write_text(json.dumps({"claims": [
        dict(base, claim="T1-SCL", n=4, seeds_planned=20, mean=0.23, lo=-0.41, hi=0.87, verdict="pending (4 of 20 seeds)"),
        dict(base, claim="T1-SCL-mAcc", n=20, seeds_planned=20, mean=0.3, lo=0.05, hi=0.55, mde=0.4, verdict="reproduced",
             equivalence="smaller than the paper's"),
        dict(base, claim="Alt2-Budget", arm="D1", ref="D2", n=1, seeds_planned=5, mean=-3.92, lo=float("nan"),
             hi=float("nan"), verdict="pending (1 of 5 seeds)"),
        dict(base, claim="F6-λ1", arm="S5", n=0, seeds_planned=0, verdict="not run (contingent)")]}))
    monkeypatch.setattr(nb, "project_dir", lambda: tmp_path)
    assert nb.study2_line("T1-SCL") == ("Study 2, T1-SCL (SCL helps; S4 − S3): so far +0.23 [-0.41, +0.87] over 4 of 20 "
                                        "seeds (paper: +0.71) -> pending, not a verdict until every seed has landed.")
    assert nb.study2_line("T1-SCL-mAcc").endswith("+0.30 [+0.05, +0.55] over 20 seeds, δ_min 0.40 (paper: +0.71) -> reproduced; "
                                                  "equivalence: smaller than the paper's.")
    assert "so far -3.92 over 1 of 5 seeds" in nb.study2_line("Alt2-Budget")
    assert nb.study2_line("F6-λ1").endswith(": not run (contingent).")
    with pytest.raises(KeyError, match="no claim 'T9'"):
        nb.study2_line("T9")
    with pytest.raises(FileNotFoundError, match="tabulate"):
        nb.study2_figure("alternating.png")
    (d / "results.json").unlink()
    assert "has no results yet" in nb.study2_line("T1-SCL")


def test_provenance_names_each_arm_whose_records_mix_revisions_or_machines():
    from relationnet.experiments.study2_page import provenance_lines
    cpu = {"device": "cpu: X", "threads": 2}
    records = {("S3", 100): {"code": dict(cpu, git="a" * 40)}, ("S3", 101): {"code": dict(cpu, git="b" * 40)},
               ("S4", 100): {"code": dict(cpu, git="a" * 40)},
               ("S4", 101): {"code": dict(cpu, git="a" * 40, device="cuda: H", dirty=True)}}
    text = provenance_lines(records)[0]
    assert "S3: 2 code revisions (aaaaaaa, bbbbbbb)." not in text and "S3: 2 code revisions (aaaaaaa, bbbbbbb);" in text
    assert "S4: 2 code revisions (aaaaaaa, aaaaaaa (uncommitted changes)); 2 machines (cpu: X, 2 threads, cuda: H, " \
           "2 threads)." in text
    assert provenance_lines({k: v for k, v in records.items() if k[1] == 100}) == [
        "Every arm's records came from one code revision and one machine."]


def test_readme_passage_names_a_verdict_only_when_every_seed_has_landed(tmp_path):
    """The README's study-2 passage from hand-made records: with E1 seed 4 missing, Alt2-Labels and Alt2-Restarts
    are pending (4 of 5 seeds) while Alt2-Budget (D1 − D2 = −4 + J1 − J2, all seeds) is contradicted; S5's claims are
    not run; T1-SCL's equivalence verdict appears beside its verdict only once all 20 seeds are in."""
    from relationnet.experiments import readme
    rows = study2.claim_table(_records(drop=[("E1", 4)]), "full")
    text = readme.study2_passage({"records": 31, "planned": 81, "claims": rows})
    assert text.startswith("**Study 2, so far:** 31 of 81 planned records have landed.")
    assert "- *contradicted*: Alt2-Budget (alternating beats fine-only" in text
    assert "Alt2-Labels (4 of 5 seeds)" in text and "Alt2-Restarts (4 of 5 seeds)" in text
    assert "T1-SCL (0 of 20 seeds)" in text                       # no S3/S4 record at all
    assert "- *not run*: F6-λ1, F6-best-vs-λ1" in text
    # every S3/S4 seed landed, S4 − S3 = 0.1 ± 0.5 by seed: the 95 % interval [−0.14, +0.34] is inconclusive, the 90 % one lies within ±δ: absent
    recs = _records()
    for i, s in enumerate(study2.SCL_SEEDS):
        jit = (i % 5 - 2) * 0.3
        recs[("S3", s)] = {"metrics": {"step1": {"miou": (40 + jit) / 100}}}
        recs[("S4", s)] = {"metrics": {"step1": {"miou": (40.1 + jit + (0.5 if i % 2 else -0.5)) / 100}}}
    by = {r["claim"]: r for r in study2.claim_table(recs, "full")}
    t1 = by["T1-SCL"]
    assert t1["n"] == 20 and t1["verdict"] == "inconclusive" and t1["equivalence"] == "absent"
    text = readme.study2_passage({"records": 79, "planned": 81, "claims": list(by.values())})
    assert "T1-SCL (SCL (λ = 0.1) helps on top of the relation module; equivalence: *absent*)" in text
    assert "T1-SCL (" not in text.split("*pending*")[-1]          # not also listed as pending
    # a claim of study 2's own (the learning curve) is said to be one, a claim of the paper's is not
    curve = [r for r in by.values() if r["claim"] == "Curve-1000"][0]
    assert is_final(curve), curve["verdict"]
    assert "Curve-1000 ((d) fine only: 1 000 steps beat 500; study 2's hypothesis, not a claim of the paper)" in text
    assert "Alt2-Budget (alternating beats fine-only at the same steps (study 1's contradicted claim, again))" in text


def test_the_readme_quotes_study_2_as_its_committed_results_stand():
    """README.md's study-2 passage is what `relationnet study --protocol 2 --tabulate --readme README.md` writes from
    the committed docs/study/study2/results.json: no verdict stronger, no count older."""
    import json
    from pathlib import Path

    from relationnet.experiments import readme
    repo = Path(__file__).resolve().parents[1]
    block = readme.readme_block((repo / "README.md").read_text(encoding="utf-8"), readme.README2_BEGIN,
                                readme.README2_END)
    assert block, "README.md lost its study-2 passage markers"
    summary = json.loads((repo / "docs" / "study" / "study2" / "results.json").read_text(encoding="utf-8"))
    assert block == readme.study2_passage(summary), \
        "README's study-2 passage is stale: run relationnet study --protocol 2 --tabulate --readme README.md"


def test_notebook_account_is_the_pages_own_and_says_when_it_cannot_be_written(tmp_path, monkeypatch):
    import json
    from relationnet import notebook as nb
    monkeypatch.setattr(nb, "project_dir", lambda: tmp_path)
    assert "has no results yet" in nb.study2_account().data                 # no results.json at all
    d = tmp_path / "docs" / "study" / "study2"
    d.mkdir(parents=True)
    rows = study2.claim_table(_records(), "full")
    (d / "results.json").write_text(json.dumps({"claims": rows}))
    text = nb.study2_account().data
    assert text == "\n".join(alternating_lines(rows)).strip().replace("## Where", "#### Where", 1)
    assert text.startswith("#### Where study 1's Alt-Budget came from") and "**What it came from.**" in text
    (d / "results.json").write_text(json.dumps({"claims": [r for r in rows if r["claim"] != "Alt2-Scarce"]}))
    assert "lack the (a)–(d) claims" in nb.study2_account().data
