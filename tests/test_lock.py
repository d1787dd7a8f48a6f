"""One writer per folder: a second writer gets a clear error naming the holder; a killed holder leaves no lock."""
import signal
import subprocess
import sys
import time

import pytest
from conftest import tiny_overrides

from relationnet import config as config_mod
from relationnet.data import synthcity
from relationnet.storage import FolderBusy, folder_lock
from relationnet.engine.train import train

HOLD = "import sys, time; from relationnet.storage import folder_lock\n" \
       "with folder_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)"


def hold(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_and_a_killed_holder_frees_the_folder(tiny_root, tmp_path):
    folder = tmp_path / "run"
    proc = hold(folder)
    try:
        cfg = config_mod.load("synthcity_baseline", tiny_overrides(tiny_root, epochs=1, const_epochs=1, iters_per_epoch=1,
                                                                  backbone="resnet38", pretrained=None, width=0.125))
        with pytest.raises(FolderBusy, match=rf"{folder.name} is being written by process {proc.pid}"):
            train(cfg, folder, progress=False)
        assert not (folder / "last.json").exists()
        with pytest.raises(FolderBusy):
            with folder_lock(folder):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(0.1)
    with folder_lock(folder):                    # the kernel released the dead process's lock
        with folder_lock(folder):                # re-entrant within a process
            pass
    train(cfg, folder, progress=False)
    assert (folder / "last.json").is_file()


def test_synthcity_generation_is_locked(tmp_path):
    root = tmp_path / "sc"
    proc = hold(root)
    try:
        with pytest.raises(FolderBusy, match="being written by process"):
            synthcity.generate(root, synthcity.SynthCityConfig(num_train=1, num_val=1, num_coarse=1, width=64, height=32),
                               workers=1, progress=False)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    synthcity.generate(root, synthcity.SynthCityConfig(num_train=1, num_val=1, num_coarse=1, width=64, height=32),
                       workers=1, progress=False)
    assert synthcity.is_complete(root)
