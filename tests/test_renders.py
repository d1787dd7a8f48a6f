"""The rendered notebooks in docs/notebooks are what their sources and the study results make today: each render is
recorded in docs/notebooks/manifest.json with the hash of the notebook's cells and of the study results it read
(scripts/render_notebooks.py), and a render made from anything else is stale.  Renders known to be stale are listed
below with why; a listed render that has become fresh fails too (strict), so the list can only shrink by
re-rendering."""
import functools
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: Renders known to be stale, each with why (none now): after editing a notebook, re-render it with
#: `RELATIONNET_SIZE=full python scripts/render_notebooks.py NOTEBOOK`, or list it here until you can.
KNOWN_STALE: set[str] = set()


@functools.lru_cache(maxsize=1)
def _script():
    spec = importlib.util.spec_from_file_location("render_notebooks", REPO / "scripts" / "render_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["render_notebooks"] = mod
    spec.loader.exec_module(mod)
    return mod


def stale_reason(path: Path, manifest: dict) -> str:
    rn = _script()
    entry = manifest.get(path.stem)
    if not (REPO / "docs" / "notebooks" / f"{path.stem}.html").is_file():
        return "no render"
    if entry is None:
        return "render not in the manifest"
    if entry["source"] != rn.source_hash(path):
        return "rendered from another version of the notebook"
    if entry["inputs"] != rn.inputs(path):
        return "rendered from other study results"
    return ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_render_is_from_this_source_and_these_results(path):
    mpath = REPO / "docs" / "notebooks" / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.is_file() else {}
    why = stale_reason(path, manifest)
    if path.stem in KNOWN_STALE:
        assert why, f"{path.stem} is fresh now: remove it from KNOWN_STALE"
    else:
        assert not why, f"docs/notebooks/{path.stem}.html is stale ({why}): re-render it"


def test_the_hash_sees_a_changed_cell_and_not_an_output(tmp_path):
    rn = _script()
    nb = json.loads(NOTEBOOKS[0].read_text())
    a = tmp_path / "a.ipynb"
    a.write_text(json.dumps(nb))
    before = rn.source_hash(a)
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    a.write_text(json.dumps(nb))
    assert rn.source_hash(a) == before                    # outputs are not the source
    code["source"] = ["print(1)\n"]
    a.write_text(json.dumps(nb))
    assert rn.source_hash(a) != before
