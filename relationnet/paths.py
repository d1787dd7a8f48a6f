"""Where things live, written once: the source checkout that holds this package, its data and runs folders, and the
dashboard's script.  The ground floor: nothing here imports the rest of the package."""
from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The source checkout holding this package (where ``data/`` and ``runs/`` live), or the working dir."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def data_dir() -> Path:
    """``$RELATIONNET_DATA``, else ``data/`` in the source checkout (or the working dir)."""
    if os.environ.get("RELATIONNET_DATA"):
        return Path(os.environ["RELATIONNET_DATA"])
    return project_dir() / "data"


def runs_dir() -> Path:
    """``runs/`` in the source checkout (or the working dir): checkpoints, never committed."""
    return project_dir() / "runs"


def app_path() -> Path:
    """The Streamlit dashboard's script (present in a source checkout)."""
    return Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
