import subprocess
import sys

import pytest

import relationnet as rn
from relationnet.cli import main


def test_data_synthcity_cli(tmp_path, capsys):
    out = tmp_path / "sc"
    args = ["data", "synthcity", "--out", str(out), "--num-train", "4", "--num-val", "2", "--num-coarse", "2",
            "--image-size", "64x32", "--workers", "1"]
    assert main(args) == 0
    assert "written" in capsys.readouterr().out
    assert len(rn.data.Cityscapes(out, "train")) == 4
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(args[:-4] + ["--image-size", "64x32", "--seed", "5"]) == 2
    assert "other arguments" in capsys.readouterr().err
    assert main(["data", "synthcity", "--out", str(tmp_path / "x"), "--image-size", "big"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "relationnet.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "data" in r.stdout


def test_compare_cli_matches_evaluate_and_refuses_other_label_sets(demo_runs, tmp_path, capsys):
    import json

    from relationnet.data import build_dataset, eval_transform
    from relationnet.engine.checkpoint import load_model, save_checkpoint
    from relationnet.engine.evaluate import evaluate
    a, b = str(demo_runs / "alternating" / "stage3" / "last"), str(demo_runs / "baseline" / "last")
    out = tmp_path / "cmp.json"
    assert main(["compare", a, b, "--json", str(out), "--top", "3"]) == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    for path, miou, band in zip((a, b), res["miou"], res["boundary_miou"]):
        model, meta = load_model(path)
        ds = build_dataset("synthcity", meta["config"]["root"], "val", "fine", eval_transform())
        ev = evaluate(model, ds, 19, steps=1, progress=False)
        assert miou == pytest.approx(ev["miou"]) and band == pytest.approx(ev["boundary_miou"])
        assert f"mIoU {100 * ev['miou']:.1f}  boundary mIoU {100 * ev['boundary_miou']:.1f}" in printed
    shares = [(im["only"][0] + im["only"][1]) / im["scored"] for im in res["per_image"]]
    assert shares == sorted(shares, reverse=True) and len(res["per_image"]) == res["images"]
    assert printed.count("  val ") == 3
    # a head of another class count beside it: a clear error, exit 2
    meta = json.loads((demo_runs / "baseline" / "last.json").read_text())
    model_cfg = {**meta["model"], "num_classes": 59}
    save_checkpoint(tmp_path / "ctx", rn.models.RelationNet(**{**model_cfg, "pretrained": None}),
                    {k: v for k, v in {**meta, "model": model_cfg}.items() if k not in ("format", "sha256")})
    assert main(["compare", a, str(tmp_path / "ctx")]) == 2
    assert "different label sets (synthcity, 19 classes vs synthcity, 59)" in capsys.readouterr().err


def test_main_leaves_the_sigterm_handler_as_it_found_it(capsys):
    """main() stops on SIGTERM like Ctrl-C while it runs (tests/test_engine.py), and restores the handler after."""
    import signal
    before = signal.getsignal(signal.SIGTERM)
    assert main(["info", "--backbone", "resnet38", "--width", "0.125"]) == 0
    assert "M parameters" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is before


def test_study_tabulate_rewrites_a_readme_passage_and_refuses_one_without_markers(tmp_path, capsys):
    from relationnet.experiments import readme as study
    readme = tmp_path / "README.md"
    readme.write_text("# no passage here\n")
    args = ["study", "--tabulate", "--size", "full", "--results", str(tmp_path / "docs"), "--readme", str(readme)]
    assert main(args) == 2
    assert "has no study passage" in capsys.readouterr().err and readme.read_text() == "# no passage here\n"
    readme.write_text(f"{study.README_BEGIN}\n{study.README_END}\n")
    assert main(args) == 0
    assert "0 of 61 planned runs have landed" in readme.read_text() and "no claim has a verdict yet" in readme.read_text()
    assert main(args + ["--no-progress"]) == 0 and "unchanged: the study passage" in capsys.readouterr().out


def test_study2_tabulate_rewrites_its_readme_passage_and_refuses_one_without_markers(tmp_path, capsys):
    from relationnet.experiments import readme as study
    readme = tmp_path / "README.md"
    readme.write_text(f"# only study 1's markers\n{study.README_BEGIN}\n{study.README_END}\n")
    before = readme.read_text()
    args = ["study", "--protocol", "2", "--tabulate", "--size", "full", "--results", str(tmp_path / "s2"),
            "--readme", str(readme)]
    assert main(args) == 2
    assert "has no study passage" in capsys.readouterr().err and readme.read_text() == before
    readme.write_text(f"{study.README2_BEGIN}\n{study.README2_END}\n")
    assert main(args) == 0
    text = readme.read_text()
    assert "0 of 81 planned records have landed; no claim has a verdict yet." in text and "T1-SCL (0 of 20 seeds)" in text
    assert main(args) == 0 and "unchanged: study 2's passage" in capsys.readouterr().out
