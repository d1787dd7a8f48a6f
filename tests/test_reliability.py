"""The SIGKILL campaign (scripts/fault_injection.py): its comparison catches a difference, and its short version
(1 kill per job type, what CI runs) passes."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fault_injection", REPO / "scripts" / "fault_injection.py")
fi = importlib.util.module_from_spec(spec)
sys.modules["fault_injection"] = fi            # its dataclasses look their module up
spec.loader.exec_module(fi)


def test_end_state_comparison_catches_what_a_bad_resume_would_leave(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        save_file({"model.w": torch.arange(4.0)}, str(d / "last.safetensors"))
        (d / "metrics.jsonl").write_text('{"epoch": 1, "loss": 0.5, "sec": 1.0}\n')
    (b / "metrics.jsonl").write_text('{"epoch": 1, "loss": 0.5, "sec": 9.0}\n')       # timing only: equal
    assert fi.differences(fi.run_state(a), fi.run_state(b)) == []
    (b / "metrics.jsonl").write_text('{"epoch": 1, "loss": 0.5, "sec": 9.0}\n' * 2)   # a duplicated line
    assert fi.differences(fi.run_state(a), fi.run_state(b)) == ["differs metrics.jsonl (at the top: 1 vs 2 items)"]
    (b / "metrics.jsonl").write_text('{"epoch": 1, "loss": 0.5, "sec": 1.0}\n')
    save_file({"model.w": torch.arange(4.0) + 1e-7}, str(b / "last.safetensors"))    # one ulp-sized change
    diff = fi.differences(fi.run_state(a), fi.run_state(b))
    assert len(diff) == 1 and diff[0].startswith("differs last.safetensors (at .model.w: ")      # the tensor named
    (b / "last.safetensors.tmp").write_bytes(b"x")
    assert "extra last.safetensors.tmp" in fi.differences(fi.run_state(a), fi.run_state(b))


def test_short_campaign_passes():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "fault_injection.py"), "--short"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Failures: none." in proc.stdout and "verdict: as required" in proc.stdout


def test_the_report_replaces_only_its_section(tmp_path):
    page = tmp_path / "reliability.md"
    page.write_text(f"# Reliability\n\nbad-input table\n\n{fi.BEGIN}\nold campaign\n{fi.END}\n\nafter\n")
    fi.write_report(page, "## The SIGKILL campaign\n\nnew numbers\n")
    text = page.read_text()
    assert "bad-input table" in text and "after" in text and "old campaign" not in text and "new numbers" in text
    assert text.count(fi.BEGIN) == 1 and text.count(fi.END) == 1
