"""The dashboard served on a free local port and Debian's headless Chromium driven by Selenium: one start-up for the
browser test (tests/test_app.py), the screenshots (scripts/screenshots.py) and the interaction benchmark
(benchmarks/dashboard_interaction.py). Nothing here downloads a browser: ``chromium`` and ``chromedriver`` come from
the system (``apt-get install chromium chromium-driver``), and both helpers say so when they are missing."""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

#: The system's browser and its driver (None when not installed).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dashboard(runs: str | Path, start_timeout: float = 60.0) -> Iterator[str]:
    """The dashboard on a folder of runs (given both as ``--runs`` and ``RELATIONNET_RUNS``), quiet, on a free port;
    yields its address once its health check answers, and stops it on leaving."""
    from relationnet.experiments.demo import dashboard_command, stop_process
    port = free_port()
    cmd, env = dashboard_command(runs, port)
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, start_timeout)
        yield url
    finally:
        stop_process(server, 10)


def wait_healthy(url: str, server: subprocess.Popen, timeout: float) -> None:
    """Return once the dashboard at ``url`` answers its health check; RuntimeError when ``server`` exits first or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard did not start within {timeout:.0f} s (exit status {server.poll()})")
        time.sleep(0.5)


@contextlib.contextmanager
def chromium(window: tuple[int, int] = (1280, 1300), extra: tuple[str, ...] = ()) -> Iterator:
    """Headless Chromium (a Selenium driver) with a fresh profile in a temporary folder, removed on leaving."""
    if not (CHROMIUM and CHROMEDRIVER):
        raise RuntimeError("headless Chromium needs Debian's chromium and chromium-driver "
                           "(apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    profile = Path(tempfile.mkdtemp(prefix="relationnet_chromium_"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile}", *extra):
        opts.add_argument(a)
    try:
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=opts)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
