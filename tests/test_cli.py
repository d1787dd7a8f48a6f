import subprocess
import sys

import relationnet as rn
from relationnet.cli import main


def test_data_synthcity_cli(tmp_path, capsys):
    out = tmp_path / "sc"
    args = ["data", "synthcity", "--out", str(out), "--num-train", "4", "--num-val", "2", "--num-coarse", "2",
            "--size", "64x32", "--workers", "1"]
    assert main(args) == 0
    assert "written" in capsys.readouterr().out
    assert len(rn.data.Cityscapes(out, "train")) == 4
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(args[:-4] + ["--size", "64x32", "--seed", "5"]) == 2
    assert "other arguments" in capsys.readouterr().err
    assert main(["data", "synthcity", "--out", str(tmp_path / "x"), "--size", "big"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "relationnet.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "data" in r.stdout
