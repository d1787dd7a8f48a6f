"""The tested versions, written once and checked everywhere.

``python scripts/lock.py --freeze`` writes ``constraints.txt`` from the virtual environment that passed the tests
(``pip freeze``); ``python scripts/lock.py`` writes ``environment.yml`` from ``pyproject.toml``'s dependencies
pinned to ``constraints.txt``.  ``pyproject.toml`` keeps version ranges, so that installing the library into an
existing environment (mmsegmentation, smp) does not replace that environment's torch; the README's install passes
``-c constraints.txt`` to get exactly what was tested.  tests/test_packaging.py checks the three agree.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def name_of(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirements() -> list[str]:
    """Every dependency of the library and of its app and dev extras (the extras' self-reference left out)."""
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(proj["dependencies"])
    for extra in ("app", "dev"):
        reqs += [r for r in proj["optional-dependencies"][extra] if name_of(r) != "relationnet"]
    seen, out = set(), []
    for r in reqs:
        if name_of(r) not in seen:
            seen.add(name_of(r))
            out.append(r.split("#")[0].strip())
    return out


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            n, v = line.split("==", 1)
            out[name_of(n)] = v.strip()
    return out


def environment_yml() -> str:
    p = pins()
    lines = ["# Written by scripts/lock.py from pyproject.toml and constraints.txt; do not edit (tests check it).",
             "# conda env create -f environment.yml && conda activate relationnet",
             "name: relationnet", "channels:", "  - conda-forge", "dependencies:", "  - python=3.11", "  - pip",
             "  - pip:"]
    for r in requirements():
        n = name_of(r)
        lines.append(f"      - {n}=={p[n]}" if n in p else f"      - {r}")
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def main() -> int:
    if "--freeze" in sys.argv:
        frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                                text=True, check=True).stdout.splitlines()
        keep = [ln for ln in frozen if ln and not ln.startswith("-e") and name_of(ln) != "relationnet"]
        (ROOT / "constraints.txt").write_text("# The versions the test suite passed with (scripts/lock.py --freeze).\n"
                                              + "\n".join(keep) + "\n")
    (ROOT / "environment.yml").write_text(environment_yml())
    return 0


if __name__ == "__main__":
    sys.exit(main())
