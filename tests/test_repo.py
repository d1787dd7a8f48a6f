"""Repository hygiene: notebooks are committed without outputs; benchmark scripts run at a tiny size."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_notebooks_carry_no_outputs():
    nbs = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert len(nbs) >= 12
    for p in nbs:
        nb = json.loads(p.read_text())
        for i, cell in enumerate(nb["cells"]):
            assert not cell.get("outputs"), f"{p.name} cell {i} carries outputs: strip them before committing"
            assert cell.get("execution_count") is None, f"{p.name} cell {i} has an execution count"


def test_notebooks_use_the_library_and_check_what_they_rebuild():
    """A notebook rebuilds a component from scratch to teach it (``*_by_hand``) and then checks it equal to the
    library's with assert_close; it never defines a model of its own."""
    import re
    for p in sorted((REPO / "notebooks").glob("*.ipynb")):
        src = "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code")
        assert "import relationnet as rn" in src, p.name
        assert "nn.GRU(" not in src and "class RelationNet" not in src, p.name
        if re.search(r"def \w*by_hand\(", src):
            assert "torch.testing.assert_close" in src, p.name


@pytest.mark.parametrize("script,args", [
    ("model_speed.py", ["--input-size", "32x64", "--repeats", "1", "--models", "r38w0.125,deeplabv3"]),
    ("multistep.py", ["--input-size", "32x48", "--repeats", "1"]),
    ("backbone_speed.py", ["--input-size", "32x64", "--batch", "2", "--repeats", "1"]),
    ("backbone_speed.py", ["--input-size", "32x64", "--batch", "2", "--repeats", "1", "--profile"]),
    ("backbone_speed.py", ["--input-size", "32x64", "--batch", "2", "--repeats", "1", "--models", "r38w0.125",
                           "--roofline"]),
    ("backbone_speed.py", ["--input-size", "32x64", "--batch", "2", "--repeats", "1", "--profile", "--roofline"]),
    ("dashboard_view.py", ["--checkpoint", "none", "--repeats", "1"]),
    ("dashboard_interaction.py", ["--runs", "none", "--repeats", "1"]),
    ("contention.py", ["--input-size", "32x64", "--batch", "2", "--steps", "1", "--rounds", "1"]),
])
def test_benchmark_scripts_run_tiny(script, args, tmp_path):
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args, "--json", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "machine:" in r.stdout and "|---" in r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert rows and all(isinstance(v, (int, float, str)) for row in rows for v in row.values())
    if "--roofline" in args:                  # the roofline columns: FLOP/s against peak, bytes against bandwidth
        assert ("% of bandwidth" if "--profile" in args else "train % of peak") in rows[0]


def test_backbone_profile_names_the_parts_by_hand_made_shapes():
    """The profile's grouping, on operator records written by hand: a (C, 1, 5, 5) weight is a depthwise
    convolution, a (C_out, C_in, 1, 1) one a 1×1; a map of at most h/8 rows counts as the 1/8 map."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from backbone_speed import _kind
    assert _kind("aten::convolution_backward", [[8, 1152, 12, 24], [8, 1152, 12, 24], [1152, 1, 5, 5]], 12) == \
        "depthwise conv backward, 1/8 map"
    assert _kind("aten::mkldnn_convolution", [[8, 192, 12, 24], [1152, 192, 1, 1], []], 12) == "1×1 conv forward, 1/8 map"
    assert _kind("aten::mkldnn_convolution", [[8, 16, 48, 96], [96, 16, 1, 1], []], 12) == "1×1 conv forward, finer maps"
    assert _kind("aten::native_batch_norm_backward", [[8, 1152, 12, 24]], 12) == "batch norm backward"
    assert _kind("aten::copy_", [[8, 1152, 3, 4, 6, 4]], 12).startswith("copies")


def test_data_loading_benchmark_runs_tiny(tiny_root, tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "data_loading.py"), "--root", str(tiny_root),
                        "--crop", "32x64", "--images", "8", "--batch", "4", "--json", str(tmp_path / "d.json")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "d.json").read_text())["rows"][0]["images_per_s"] > 0



def test_synthcity_scripts_run_tiny(tiny_root, tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "synthcity_stats.py"), "--root", str(tiny_root)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    shares = [float(line.split("|")[2]) for line in r.stdout.splitlines() if line.startswith("| ") and "class" not in line]
    assert len(shares) == 19 and abs(sum(shares) - 100) < 0.1
    out = tmp_path / "p.png"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "synthcity_preview.py"), "--root", str(tiny_root),
                        "--n", "2", "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image
    assert Image.open(out).size == (3 * 128 + 8, 2 * 64 + 4)

def test_every_source_file_is_tracked_by_git():
    """A .gitignore pattern must never hide part of the package, the app, tests or notebooks from a clone."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    wanted = [p for d in ("relationnet", "app", "tests", "benchmarks", "scripts", "notebooks")
              for p in (REPO / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts
              and ".ipynb_checkpoints" not in p.parts and p.suffix != ".pyc"
              and not p.is_relative_to(REPO / "benchmarks" / "results")]      # benchmark output, ignored on purpose
    assert any(p.parent.name == "data" for p in wanted)
    r = subprocess.run(["git", "check-ignore", "--no-index", *map(str, wanted)], capture_output=True, text=True,
                       cwd=REPO)
    assert r.stdout.strip() == "", f"ignored by .gitignore but needed: {r.stdout.split()[:10]}"
    tracked = set(subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True, cwd=REPO).stdout
                  .split("\0"))
    if os.environ.get("CI"):                    # CI runs on a clean clone: everything needed is committed
        untracked = [str(p.relative_to(REPO)) for p in wanted if str(p.relative_to(REPO)) not in tracked]
        assert not untracked, f"not committed: {untracked[:10]}"


def test_study_records_are_committed_not_ignored():
    """Each finished study run's record must be committable (a rerun elsewhere skips what is committed)."""
    import subprocess
    r = subprocess.run(["git", "check-ignore", "-q", "docs/study/runs/seed9/A1.json"], cwd=REPO)
    assert r.returncode == 1, "docs/study/runs/ is ignored by .gitignore"
    assert subprocess.run(["git", "check-ignore", "-q", "runs/demo/baseline/last.json"], cwd=REPO).returncode == 0


def test_readme_quotes_the_study_as_its_committed_records_stand():
    """The README's study passage is what `relationnet study --tabulate --readme README.md` writes from the records
    in docs/study/runs: no verdict stronger, no count older than the records."""
    from relationnet.experiments import readme, study1 as study
    block = readme.readme_block((REPO / "README.md").read_text(encoding="utf-8"))
    assert block, "README.md lost its study passage markers"
    want = readme.readme_passage(study.load_records(REPO / "docs" / "study", study.SEEDS), study.SEEDS, "full")
    assert block == want, "README's study passage is stale: run relationnet study --tabulate --readme README.md"


#: The floors of docs/architecture.md: a module imports only from its floor or below.
FLOORS = [(6, ("relationnet.cli", "relationnet.notebook", "relationnet.__main__", "app")),
          (5, ("relationnet.experiments",)),
          (4, ("relationnet.engine",)),
          (3, ("relationnet.models", "relationnet.viz")),
          (2, ("relationnet.losses", "relationnet.inference", "relationnet.data", "relationnet.config")),
          (1, ("relationnet.ops", "relationnet.backbones", "relationnet.storage", "relationnet.paths",
               "relationnet.metrics", "relationnet.machine", "relationnet.export"))]


def _floor(module: str) -> int:
    for floor, prefixes in FLOORS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return floor
    raise AssertionError(f"{module} is on no floor of docs/architecture.md: add it there and to FLOORS")


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in it, lazy imports included), read from the source."""
    import ast
    files = [p for p in (REPO / "relationnet").rglob("*.py")] + list((REPO / "app").rglob("*.py"))
    names = {}
    for p in files:
        rel = p.relative_to(REPO).with_suffix("")
        parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
        names[p] = ".".join(parts)
    known = set(names.values())
    graph = {}
    for p, mod in names.items():
        if mod == "relationnet":            # the package's lazy front door (rn.load, rn.models, ...)
            continue
        pkg = mod.split(".") if p.name == "__init__.py" else mod.split(".")[:-1]
        out = set()
        tree = ast.parse(p.read_text())
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", getattr(block.test, "attr", "")) == "TYPE_CHECKING"
                       for stmt in block.body for n in ast.walk(stmt)}      # never imported at run time
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom):
                base = (pkg[:len(pkg) - node.level + 1] if node.level else []) + (node.module.split(".") if node.module else [])
                subs = [".".join(base + [a.name]) for a in node.names]
                # `from pkg import module` names the module; `from pkg import name` the package's __init__
                cands = [s for s in subs if s in known] + ([".".join(base)] if not all(s in known for s in subs) else [])
            elif isinstance(node, ast.Import):
                cands = [a.name for a in node.names]
            else:
                continue
            if mod.startswith("app") and not mod.startswith("relationnet"):   # app/ imports its siblings by name
                cands += ["app." + c for c in cands]
            for c in cands:
                while c and c not in known:
                    c = c.rpartition(".")[0]
                if c and c != mod and c != "relationnet" and c != "app":
                    out.add(c)
        graph[mod] = out
    return graph


def test_imports_run_down_the_floors_without_circles():
    graph = _import_graph()
    for m in graph:                     # every module on a floor, also one that imports nothing of the package
        _floor(m)
    up = [f"{a} (floor {_floor(a)}) imports {b} (floor {_floor(b)})" for a, bs in graph.items() for b in bs
          if _floor(b) > _floor(a)]
    assert not up, up
    # a circle: a module that reaches itself
    for start in graph:
        seen, stack = set(), list(graph[start])
        while stack:
            m = stack.pop()
            assert m != start, f"{start} imports itself through a circle"
            if m not in seen:
                seen.add(m)
                stack.extend(graph.get(m, ()))


def test_the_import_check_sees_an_arrow_up():
    """The floors test is not vacuous: the graph has the arrows it should (by hand) and none that it should not."""
    graph = _import_graph()
    assert "relationnet.engine.train" in graph["relationnet.experiments.runs"]
    assert "relationnet.experiments.study1" in graph["relationnet.cli"]          # a lazy import, inside cmd_study
    assert "relationnet.backbones" in graph["relationnet.config"]
    assert not any(m.startswith("relationnet.engine") for m in graph["relationnet.data.synthcity"])


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(REPO)): n for p in [*(REPO / "relationnet").rglob("*.py"), *(REPO / "app").rglob("*.py")]
            if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


def test_gpu_check_lists_its_checks_on_the_cpu_and_each_would_start():
    """scripts/gpu_check.py on a machine without CUDA lists every check and exits 0; each check's files exist and
    each relationnet command in it parses with the CLI's own parser; all fit in 8 minutes."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    gc = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = gc                      # its dataclass looks its module up there
    spec.loader.exec_module(gc)
    r = subprocess.run([sys.executable, "scripts/gpu_check.py", "--list"], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    cs = gc.checks("/tmp/x")
    assert {c.name for c in cs} >= {"cuda-tests", "amp-step", "model-speed", "multistep", "ddp-2", "study-arm"}
    for c in cs:
        assert c.name in r.stdout
        for arg in c.cmd:
            if arg.endswith(".py"):
                assert (REPO / arg).is_file(), arg
        if "relationnet" in c.cmd:
            from relationnet.cli import build_parser
            argv = list(c.cmd[c.cmd.index("relationnet") + 1:])
            ns = build_parser().parse_args(argv)       # raises SystemExit on a flag the CLI does not have
            if ns.command == "train":                  # and the overrides make a valid config
                from relationnet import config as config_mod
                config_mod.load(ns.config, ns.overrides)
    assert sum(c.limit_s for c in cs) <= 8 * 60


def test_coarse_coverage_by_hand_on_one_image(tiny_root):
    """synthcity_stats --coverage on one image: each class's kept share and left-out objects, counted here from the
    label PNGs directly."""
    import numpy as np
    from PIL import Image

    from relationnet.data import LABEL_ID_TO_TRAIN_ID
    spec = __import__("importlib.util").util.spec_from_file_location("stats", REPO / "scripts" / "synthcity_stats.py")
    mod = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = {r["class"]: r for r in mod.coverage(tiny_root, 1)}
    city = sorted((tiny_root / "gtFine" / "train").iterdir())[0]
    stem = sorted(city.glob("*_gtFine_labelIds.png"))[0].name[: -len("_gtFine_labelIds.png")]
    f = LABEL_ID_TO_TRAIN_ID[np.asarray(Image.open(city / f"{stem}_gtFine_labelIds.png"))]
    c = LABEL_ID_TO_TRAIN_ID[np.asarray(Image.open(tiny_root / "gtCoarse" / "train" / city.name
                                                   / f"{stem}_gtCoarse_labelIds.png"))]
    inst = np.asarray(Image.open(city / f"{stem}_gtFine_instanceIds.png")).astype(np.int64)
    from relationnet.data import CITYSCAPES_CLASSES
    for k, name in enumerate(CITYSCAPES_CLASSES):
        n = int((f == k).sum())
        assert rows[name]["fine px"] == n
        if n:
            assert rows[name]["coarse keeps % of its fine pixels"] == round(100 * ((f == k) & (c == k)).sum() / n, 1)
        ids = [i for i in np.unique(inst[inst >= 1000]) if np.bincount(f[(inst == i) & (f != 255)], minlength=19).argmax() == k
               and ((inst == i) & (f != 255)).any()]
        if ids:
            left = sum(not (c[inst == i] == k).any() for i in ids)
            assert rows[name]["objects"] == len(ids)
            assert rows[name]["objects left out %"] == round(100 * left / len(ids), 1)
