"""The dashboard: AppTest for every tab (with demo-like checkpoints, with none, with a corrupt one,
with an uploaded non-image), and one real headless-Chromium test."""
import io
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app" / "streamlit_app.py")
sys.path.insert(0, str(REPO / "app"))

from streamlit.testing.v1 import AppTest  # noqa: E402

import browser  # noqa: E402
import figures  # noqa: E402
import helpers  # noqa: E402


def app_test(runs_dir, monkeypatch):
    monkeypatch.setenv("RELATIONNET_RUNS", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    return at


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def open_tab(at, name: str):
    """Open one tab and rerun (only the open tab runs, as when a user clicks it)."""
    at.session_state["tab"] = name
    at.run()
    no_exceptions(at)
    return at


def visit_tabs(at) -> dict:
    """Open every tab in turn: what they showed between them (values; metric labels; tables as DataFrames)."""
    kinds = ("error", "warning", "caption", "markdown", "info", "subheader", "metric", "table", "dataframe")
    seen: dict = {k: [] for k in kinds} | {"plotly": 0}
    for name in [t.label for t in at.tabs]:
        open_tab(at, name)
        for k in kinds:
            seen[k] += [e.label if k == "metric" else e.value for e in getattr(at, k)]
        seen["plotly"] += len(at.get("plotly_chart"))
    return seen


def test_all_tabs_render_with_demo_checkpoints(demo_runs, monkeypatch):
    at = app_test(demo_runs, monkeypatch).run()
    no_exceptions(at)
    assert at.title[0].value == "RelationNet workbench"
    assert len(at.tabs) == 9
    assert not any("disagree on" in c.value for c in at.caption)      # only the open tab (Runs) ran
    seen = visit_tabs(at)
    assert any("disagree on" in c for c in seen["caption"])            # the Predictions tab, once opened
    assert not seen["error"], seen["error"]
    assert at.sidebar.selectbox(key="run_a").value.startswith("alternating/stage1")
    assert at.sidebar.selectbox(key="run_b").value.startswith("baseline")    # Fig. 1's comparison by default
    md = " ".join(seen["markdown"])
    assert "Demo results" in md and "77.39" in md                     # ablation table next to the paper's
    assert any("feature alignment" in m for m in seen["metric"])      # embedding tab
    import re
    metric_tables = [t for t in seen["table"] if "mIoU %" in t.columns]
    cells = [str(v) for t in metric_tables for v in t.drop(columns="test").to_numpy().ravel()]
    assert cells and all(re.fullmatch(r"\d+\.\d", c) for c in cells), cells           # metrics: one decimal
    settings = {r["setting"]: r["value"] for r in next(t for t in seen["table"] if "setting" in t.columns)
                .to_dict("records")}                            # the first table: the chosen checkpoint's
    import json
    meta = json.loads((demo_runs / "alternating" / "stage1" / "last.json").read_text())
    assert settings["width"] == str(meta["model"]["width"]) and settings["λ"] == str(meta["lam"])   # as they were set
    assert sum("background:rgb(" in m and "traffic sign" in m for m in seen["markdown"]) == 1  # class legend
    # compare two checkpoints, more test steps, a sample photo: every tab again
    at.sidebar.selectbox(key="run_b").select_index(1)
    at.sidebar.select_slider(key="steps").set_value(16)
    assert not visit_tabs(at)["error"]
    at.sidebar.radio(key="source").set_value("sample photo")
    assert not visit_tabs(at)["error"]
    # pick a pixel in the similarity tab
    open_tab(at, "Similarity maps").number_input(key="py").set_value(1).run()
    no_exceptions(at)


def test_researcher_views_affinity_per_class_side_by_side(demo_runs, monkeypatch):
    """The pixel-affinity, per-class and side-by-side views, with numbers held against evaluate() and a loop."""
    from relationnet.data import build_dataset, eval_transform
    from relationnet.engine.checkpoint import load_model
    from relationnet.engine.evaluate import evaluate
    at = app_test(demo_runs, monkeypatch)
    at.query_params["a"], at.query_params["b"] = "baseline", "alternating/stage3"
    at.run()
    no_exceptions(at)
    assert at.sidebar.selectbox(key="run_a").value.startswith("baseline")
    assert at.sidebar.selectbox(key="run_b").value.startswith("alternating/stage3")
    # affinity: the coordinate picker moves the cell; the caption's numbers are the map's by hand
    open_tab(at, "Pixel affinity")
    at.number_input(key="aff_y").set_value(2)
    at.number_input(key="aff_x").set_value(5).run()
    no_exceptions(at)
    assert any("cell (2, 5) is centred on input pixel (16, 40)" in c.value for c in at.caption)
    assert at.sidebar.number_input(key="val_index").value == 0             # the maps are of validation image 0
    model, meta = load_model(str(demo_runs / "alternating" / "stage3" / "last"))
    data_root = meta["config"]["root"]
    ds = build_dataset("synthcity", data_root, "val", "fine", eval_transform())
    with torch.no_grad():
        f = model(ds[0]["image"][None])["features"][0]
    cells = ds[0]["label"][::8, ::8].numpy()
    fn = torch.nn.functional.normalize(f, dim=0)
    cos = (fn * fn[:, 2:3, 5:6]).sum(0).numpy()
    same = (cells == cells[2, 5]) & (cells != 255)
    same[2, 5] = False
    want = f"{cos[same].mean():.2f}; to cells of other classes: {cos[(cells != cells[2, 5]) & (cells != 255)].mean():.2f}"
    assert any(want in c.value for c in at.caption), [c.value for c in at.caption if "cosine" in c.value]
    assert sum("P(same label)" in m.value for m in at.markdown) == 1                # stage 3 has the subnet
    # predictions: the share of pixels where the two disagree, from the models' own 4-step predictions (the default)
    from relationnet.inference import predict
    base, _ = load_model(str(demo_runs / "baseline" / "last"))
    with torch.no_grad():
        pa, pb = (predict(m.eval(), ds[0]["image"][None], steps=4).argmax(1)[0] for m in (model, base))
    open_tab(at, "Predictions")
    assert any(f"disagree on {100 * (pa != pb).float().mean():.1f} % of this image" in c.value for c in at.caption)
    # per class: scoring the validation set gives evaluate()'s mIoU and boundary mIoU
    open_tab(at, "Per class & contours").button(key="scan_per_class").click().run()
    no_exceptions(at)
    line = next(m.value for m in at.markdown if m.value.startswith("**baseline**: mIoU"))
    n = len(ds)
    assert f"{n} validation images" in line
    for key in ("baseline", "alternating/stage3"):
        m, _ = load_model(str(demo_runs / key / "last"))
        ev = evaluate(m, ds, 19, steps=1, progress=False)
        assert f"**{key}**: mIoU {100 * ev['miou']:.1f} %, boundary mIoU {100 * ev['boundary_miou']:.1f} %" in line
    assert at.get("expander")                                               # scored: the button folds away
    for option in at.radio(key="pc_cm").options:
        at.radio(key="pc_cm").set_value(option).run()
        no_exceptions(at)
    # side by side: images ordered by disagreement, the most first
    options = open_tab(at, "Side by side").selectbox(key="sbs_pick").options
    import re
    shares = [float(re.search(r": ([\d.]+) % of pixels differ", o).group(1)) for o in options]
    assert len(options) == n and shares == sorted(shares, reverse=True)
    at.selectbox(key="sbs_pick").select_index(n - 1).run()
    no_exceptions(at)
    assert sum("background:rgb(" in m.value and "only baseline right" in m.value for m in at.markdown) == 1


def test_a_checkpoint_of_another_class_count_is_refused_by_the_scoring_views(demo_runs, tmp_path, monkeypatch):
    import json
    from relationnet.engine.checkpoint import save_checkpoint
    from relationnet.models import RelationNet
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs, runs)
    meta = json.loads((runs / "baseline" / "last.json").read_text())
    model_cfg = {**meta["model"], "num_classes": 59}
    (runs / "context").mkdir()
    save_checkpoint(runs / "context" / "last", RelationNet(**{**model_cfg, "pretrained": None}),
                    {k: v for k, v in {**meta, "model": model_cfg}.items() if k not in ("format", "sha256")})
    at = app_test(runs, monkeypatch)
    at.query_params["a"], at.query_params["b"] = "baseline", "context"
    at.run()
    no_exceptions(at)
    assert at.sidebar.selectbox(key="run_b").value.startswith("context")
    seen = visit_tabs(at)
    assert any("baseline: 19, context: 59 classes" in w for w in seen["warning"]), seen["warning"]
    assert any("context predicts 59 classes, not the 19" in c for c in seen["caption"])   # no IoU against 19


def test_a_corrupt_validation_label_stops_scoring_with_its_name(demo_runs, tiny_root, tmp_path, monkeypatch):
    import json
    data = tmp_path / "synthcity"
    shutil.copytree(tiny_root, data)
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs, runs)
    for js in runs.rglob("last.json"):                     # the runs read the copied data
        m = json.loads(js.read_text())
        m["config"]["root"] = str(data)
        js.write_text(json.dumps(m))
    bad = sorted((data / "gtFine" / "val").rglob("*_labelIds.png"))[1]
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    at = app_test(runs, monkeypatch)
    at.query_params["a"], at.query_params["b"] = "baseline", "alternating/stage3"
    at.run()
    open_tab(at, "Per class & contours").button(key="scan_per_class").click().run()
    no_exceptions(at)
    assert any("scoring stopped" in e.value and bad.name in e.value for e in at.error), [e.value for e in at.error]


def test_figures_cells_and_click_layer():
    assert figures.cell_of(0, 0, (4, 8)) == (0, 0)
    assert figures.cell_of(41, 13, (4, 8)) == (2, 5)            # pixel (x 41, y 13) is nearest cell (2, 5)
    assert figures.cell_of(1e4, -5, (4, 8)) == (0, 7)           # clamped to the grid
    aff = np.linspace(-1, 1, 32).reshape(4, 8)
    fig = figures.affinity_figure(np.zeros((32, 64, 3), np.uint8), aff, (1, 2), "t")
    layer = next(t for t in fig.data if t.name == "cells")
    assert len(layer.x) == 32 and set(layer.x) == {8 * j for j in range(8)} and set(layer.y) == {8 * i for i in range(4)}
    np.testing.assert_allclose(layer.customdata, aff.ravel())     # the hover shows the value under the cursor
    ring = fig.data[-1]
    assert (ring.x[0], ring.y[0]) == (16, 8)
    # cell (i, j) is centred on pixel (8i, 8j): it covers rows and columns 8i − 4 … 8i + 3
    spread = figures.cells_over_image(np.arange(6).reshape(2, 3), (16, 24))
    np.testing.assert_array_equal(spread[[0, 3, 4, 11, 12, 15]][:, [0, 3, 4, 11, 12, 23]],
                                  [[0, 0, 1, 1, 2, 2]] * 2 + [[3, 3, 4, 4, 5, 5]] * 4)
    black = np.zeros((8, 8, 3), np.uint8)                 # ColorBrewer RdBu's ends: −1 dark blue, +1 dark red
    assert tuple(figures.blend_map(black, np.array([[-1.0]]), opacity=1)[0, 0]) == (5, 48, 97)
    assert tuple(figures.blend_map(black, np.array([[1.0]]), opacity=1)[0, 0]) == (103, 0, 31)
    assert tuple(figures.blend_map(np.full((8, 8, 3), 200, np.uint8), np.array([[5.0]]), opacity=0.5)[3, 3]) == \
        (152, 100, 116)                                   # clipped to +1, then half image, half colour
    table = figures.neighbour_html(np.arange(9).reshape(3, 3) / 8, np.array([[1, 0, np.nan]] * 3), "t<x>")
    import re
    assert re.findall(r">(\d\.\d\d)<", table) == [f"{v / 8:.2f}" for v in range(9)]    # row-major, as OFFSETS
    assert table.count(">same<") == 3 and table.count(">diff<") == 3 and "t&lt;x&gt;" in table
    names = ["a", "b", "c", "d"]
    bars, delta = figures.per_class_figures(names, {"A": np.array([0.5, 0.2, np.nan, 0.9]),
                                                    "B": np.array([0.4, 0.6, np.nan, 0.9])})
    assert list(delta.data[0].y) == ["b", "d", "a"]               # sorted by A − B, bottom up; absent c left out
    np.testing.assert_allclose(delta.data[0].x, [-40, 0, 10])
    assert delta.layout.title.text == "difference: A − B (points)"
    bars, delta = figures.per_class_figures(names, {"A": np.array([0.5, 0.2, np.nan, 0.9])})
    assert delta is None and list(bars.data[0].y) == ["b", "a", "d"]


def test_affinity_panel_against_hand_computed_cosines():
    """Cells (0,0) = (1, 0), (0,1) = (0, 1), (1,0) = (2, 0), (1,1) = (−1, 0): cosines to (0,0) are [[1, 0], [1, −1]]."""
    feats = torch.tensor([[[1.0, 0.0], [2.0, -1.0]], [[0.0, 1.0], [0.0, 0.0]]])
    cells = np.array([[3, 3], [3, 5]])
    rgb = np.zeros((16, 16, 3), np.uint8)
    panel = figures.affinity_panel(rgb, {"features": feats, "similarity": None}, cells, (0, 0), "t")
    layer = next(t for t in panel["figure"].data if t.name == "cells")
    np.testing.assert_allclose(layer.customdata, [1, 0, 1, -1], atol=1e-6)
    assert panel["contrast"] == pytest.approx((0.5, -1.0))           # other class-3 cells: 0 and 1; class 5: −1
    assert panel["neighbours"] is None
    logits = torch.zeros(9, 2, 2)                                     # sigmoid(0) = 0.5 for every neighbour
    panel = figures.affinity_panel(rgb, {"features": feats, "similarity": logits}, None, (1, 1), "t")
    assert panel["contrast"] is None and panel["neighbours"].count(">0.50<") == 9


def test_no_checkpoints_page_says_how_to_make_them(tmp_path, monkeypatch):
    at = app_test(tmp_path / "empty", monkeypatch).run()
    no_exceptions(at)
    assert "relationnet demo" in at.info[0].value


def test_corrupt_checkpoint_is_named_and_the_rest_works(demo_runs, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs, runs)
    (runs / "baseline" / "last.json").write_text("{ not json")
    st_file = runs / "alternating" / "stage2" / "last.safetensors"
    st_file.write_bytes(st_file.read_bytes()[:100])
    at = app_test(runs, monkeypatch).run()
    no_exceptions(at)
    assert any("baseline" in w.value for w in at.sidebar.warning)
    at.sidebar.selectbox(key="run_a").set_value(next(o for o in at.sidebar.selectbox(key="run_a").options
                                                     if o.startswith("alternating/stage2 "))).run()
    no_exceptions(at)
    errors = visit_tabs(at)["error"]
    assert any("stage2/last.safetensors" in e for e in errors), errors
    assert at.sidebar.selectbox(key="run_b").value == "(none)"       # an unreadable baseline is not the default
    at.sidebar.selectbox(key="run_b").set_value(next(o for o in at.sidebar.selectbox(key="run_b").options
                                                     if o.startswith("baseline "))).run()
    no_exceptions(at)
    errors += visit_tabs(at)["error"]
    assert any("baseline/last.json is not a readable checkpoint" in e for e in errors), errors
    shown = errors + [w.value for w in at.sidebar.warning] + [c.value for c in at.sidebar.caption]
    assert not [t for t in shown if str(tmp_path) in t], shown          # paths relative to the runs folder


def test_any_runs_folder_each_bad_entry_one_line_the_good_runs_work(demo_runs, tmp_path, monkeypatch):
    import json
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs, runs)
    (runs / "empty").mkdir()                                               # an empty folder
    (runs / "loop").symlink_to(runs, target_is_directory=True)             # a symbolic-link loop
    (runs / "half").mkdir()                                                # half-written: only temporary files
    (runs / "half" / "last.json.tmp").write_text("{")
    (runs / "half" / "last.safetensors.tmp").write_bytes(b"x")
    (runs / "results.json").write_text("{ not json")                       # JSON that does not parse
    (runs / "baseline" / "eval.json").write_text("[1, 2")
    (runs / "baseline" / "metrics.jsonl").write_text('{"epoch": 1}\n{ torn line\n')
    for folder, edit in (("alternating/stage2", lambda m: m["model"].update(unknown_key=1)),   # unknown model key
                         ("alternating/stage3", lambda m: m["model"].update(width=1.0)),       # shapes disagree
                         ("baseline", lambda m: m["config"].update(not_a_setting=3))):         # unknown config key
        js = runs / folder / "last.json"
        m = json.loads(js.read_text())
        edit(m)
        js.write_text(json.dumps(m))
    at = app_test(runs, monkeypatch).run()
    no_exceptions(at)
    options = at.sidebar.selectbox(key="run_a").options
    assert at.sidebar.selectbox(key="run_a").value.startswith("alternating/stage1")
    assert at.sidebar.selectbox(key="run_b").value.startswith("baseline")    # Fig. 1's comparison by default             # a good run works
    assert not visit_tabs(at)["error"]                                                         # and renders
    assert not any(o.startswith(("empty", "half", "loop")) for o in options)
    for key, where, message in (("alternating/stage2", "error", "invalid model"),
                                ("alternating/stage3", "error", "does not fit"),
                                ("baseline", "warning", "not_a_setting")):
        at.sidebar.selectbox(key="run_a").set_value(next(o for o in options if o.startswith(key + " "))).run()
        no_exceptions(at)
        if where == "warning":
            assert sum(message in w.value for w in at.sidebar.warning) == 1, [w.value for w in at.sidebar.warning]
            at.sidebar.radio(key="source").set_value("sample photo")            # the run itself still loads
            assert not visit_tabs(at)["error"]
        else:
            errors = visit_tabs(at)["error"]
            assert sum(message in e for e in errors) >= 1, errors
            assert all(str(tmp_path) not in e for e in errors)
        at.sidebar.radio(key="source").set_value("validation image").run()


def test_a_folder_of_50000_runs_lists_the_most_recent(demo_runs, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    for i in range(50_000):                     # foreign entries: not relationnet checkpoints
        d = runs / "bulk" / f"{i // 1000:02d}" / f"run{i:05d}"
        d.mkdir(parents=True)
        (d / "last.json").write_text("{}")
        os.utime(d / "last.json", (1_000_000, 1_000_000))                 # written long ago
    shutil.copytree(demo_runs, runs / "demo")
    t0 = time.perf_counter()
    at = app_test(runs, monkeypatch).run()
    seconds = time.perf_counter() - t0
    no_exceptions(at)
    box = at.sidebar.selectbox(key="run_a")
    assert len(box.options) == helpers.MAX_RUNS and box.value.startswith("demo/alternating/stage1")
    total = 50_000 + len(list(demo_runs.rglob("last.json")))
    assert any(f"{total} checkpoints" in w.value for w in at.sidebar.warning)
    assert len(at.sidebar.warning) == 2                                   # the cap, and one line for the unreadable
    print(f"50 000-run folder: first page in {seconds:.1f} s")


def _fake_study(folder: Path) -> dict:
    """A results.json written by the study's own tabulation from made-up records: A4 (λ = 0.1) is 1 point above A3
    (λ = 0) on every seed, up to ±0.1; the other arms scatter by ±3."""
    from relationnet.experiments import study1 as study
    rng = np.random.default_rng(0)
    records = {}
    for s in range(5):
        for arm in [a.id for a in study.arms("full")]:
            noise = {"A4": 1.0 + rng.uniform(-0.1, 0.1), "A3": 0.0}.get(arm, rng.uniform(-3, 3))
            base = 40.0 + s + noise
            step = {"miou": base / 100, "mean_acc": (base + 8) / 100, "boundary_miou": (base - 10) / 100}
            records[(arm, s)] = {"metrics": {**{f"step{k}": step for k in (1, 4, 16, 64)}, "alignment": {"score": 0.1}}}
    folder.mkdir(parents=True)
    import json
    (folder / "results.json").write_text(json.dumps({"claims": study.claim_table(records, 5)}))
    return records


def test_study_tabs_read_the_study(demo_runs, tmp_path, monkeypatch):
    records = _fake_study(tmp_path / "study")
    from scipy import stats
    a4, a3 = ([100 * records[(arm, s)]["metrics"]["step1"]["miou"] for s in range(5)] for arm in ("A4", "A3"))
    ci = stats.ttest_rel(a4, a3).confidence_interval()
    expected = f"{np.mean(np.subtract(a4, a3)):+.1f} [{ci.low:+.1f}, {ci.high:+.1f}]"
    monkeypatch.setenv("RELATIONNET_STUDY", str(tmp_path / "study"))
    at = app_test(demo_runs, monkeypatch).run()
    no_exceptions(at)
    seen = visit_tabs(at)
    table = next(d for d in seen["dataframe"] if "claim" in d.columns)
    row = table[table["claim"] == "F6-λ0.1"].iloc[0]
    assert row["verdict"] == "reproduced" and row["seeds"] == 5
    assert row["paired difference [95 % CI]"] == expected                   # scipy's interval, one decimal
    assert row["test"] == "A4 − A3 (step1.miou)"
    assert table[table["claim"] == "T2-Interaction"].iloc[0]["test"] == "(A3 − B2) − (A2 − B1) (step1.miou)"
    assert seen["plotly"] >= 1
    assert any("λ = 0.1 vs 0: +1.0" in c for c in seen["caption"])
    # no study: the tabs say so and the rest still works
    monkeypatch.setenv("RELATIONNET_STUDY", str(tmp_path / "nothing"))
    at = app_test(demo_runs, monkeypatch).run()
    no_exceptions(at)
    assert any("relationnet study" in i for i in visit_tabs(at)["info"])


def test_uploads(demo_runs, monkeypatch):
    at = app_test(demo_runs, monkeypatch).run()
    at.sidebar.radio(key="source").set_value("upload").run()
    at.sidebar.file_uploader(key="upload").upload("notes.png", b"this is not an image", "image/png").run()
    no_exceptions(at)
    assert any("notes.png is not an image" in e.value for e in at.sidebar.error)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 4), dtype=np.uint8), "RGBA").save(buf, "PNG")
    at.sidebar.file_uploader(key="upload").upload("rgba.png", buf.getvalue(), "image/png").run()
    no_exceptions(at)
    assert not at.sidebar.error


def test_formatting_helpers():
    assert [helpers.fmt_value(v) for v in (0.25, 0.125, 0.01, 1e-5, 0.0, 3, True, None, "fine")] == \
        ["0.25", "0.125", "0.01", "1e-05", "0", "3", "True", "None", "fine"]
    html = helpers.class_legend_html(["road", "<b>x</b>"], [(128, 64, 128), (0, 0, 0)])
    assert html.count("background:rgb(") == 2 and "rgb(128,64,128)" in html and "&lt;b&gt;" in html
    r = {"n": 5, "mean": 1.04, "lo": 0.25, "hi": 1.83}
    assert helpers.fmt_ci(r) == "+1.0 [+0.2, +1.8]" and helpers.fmt_ci({"n": 0}) == "—"


def test_decode_upload_rules():
    gray = io.BytesIO()
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(gray, "PNG")
    assert helpers.decode_upload(gray.getvalue()).shape == (10, 12, 3)
    big = io.BytesIO()
    Image.fromarray(np.zeros((50, 3000, 3), np.uint8)).save(big, "JPEG")
    assert max(helpers.decode_upload(big.getvalue()).shape[:2]) == helpers.MAX_SIDE
    with pytest.raises(helpers.UploadError, match="limit"):
        helpers.decode_upload(b"x" * (helpers.MAX_UPLOAD_BYTES + 1), "huge.png")
    with pytest.raises(helpers.UploadError, match="not an image"):
        helpers.decode_upload(b"GIF89a broken", "x.gif")


@pytest.mark.skipif(not (browser.CHROMIUM and browser.CHROMEDRIVER) and os.environ.get("CI") != "true",
                    reason="Debian chromium + chromium-driver not installed (CI installs them)")
def test_real_browser(demo_runs, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    with browser.dashboard(demo_runs) as url, browser.chromium((1400, 1000)) as driver:
        driver.get(f"{url}/?a=baseline&b=alternating/stage3")
        wait = WebDriverWait(driver, 120)
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "RelationNet workbench"))
        tabs = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role='tab']"))
        next(t for t in tabs if "Predictions" in t.text).click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid='stImage'] img"))
        time.sleep(1)
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
        shot = Path(os.environ.get("RELATIONNET_SCREENSHOT_DIR", tmp_path)) / "dashboard_test.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        # the pixel affinity explorer: click a pixel of the map, the maps follow the clicked cell
        next(t for t in driver.find_elements(By.CSS_SELECTOR, "[role='tab']") if "Pixel affinity" in t.text).click()

        def cell_caption(d):
            try:
                found = [t for t in (c.text for c in d.find_elements(
                    By.CSS_SELECTOR, "[data-testid='stCaptionContainer']")) if "is centred on input pixel" in t]
            except StaleElementReferenceException:           # the tab being redrawn: look again
                return False
            return found[0] if found else False
        before = wait.until(cell_caption)
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget'] *"))
        time.sleep(1)                                # the tab's script run (only the open tab runs) is done
        plot = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".st-key-aff_map_1 .nsewdrag"))
        w, h = plot.size["width"], plot.size["height"]
        ActionChains(driver).move_to_element_with_offset(plot, -w // 3, h // 3).click().perform()
        after = wait.until(lambda d: (cell_caption(d) or before) != before and cell_caption(d))
        cell = after.split("cell ")[1].split(" is centred")[0]                       # "(r, c)"
        want = [f"baseline: cosine to cell {cell}", f"alternating/stage3: cosine to cell {cell}"]

        def titles(d):
            try:
                return [t.text for t in d.find_elements(By.CSS_SELECTOR, ".st-key-aff_map_0 .gtitle, "
                                                                        ".st-key-aff_map_1 .gtitle")]
            except StaleElementReferenceException:           # a map being redrawn: read it again
                return []
        try:
            WebDriverWait(driver, 30).until(lambda d: titles(d) == want)
        except TimeoutException:
            pass
        assert titles(driver) == want, titles(driver)
        def rc(caption):
            return tuple(int(v) for v in caption.split("cell (")[1].split(")")[0].split(", "))
        assert rc(after)[0] > rc(before)[0] and rc(after)[1] < rc(before)[1]   # lower left of the centre cell
        assert driver.find_elements(By.CSS_SELECTOR, ".st-key-aff_map_0 .heatmaplayer, .st-key-aff_map_0 image")
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")


@pytest.mark.parametrize("hw", [(100, 150), (64, 128)])
def test_one_step_outputs_come_from_one_forward_and_equal_predict(hw):
    """model_outputs' 1-step prediction reuses the forward that gives the features; it equals the library's
    1-step test (inference.predict) exactly, also at a size that is not a multiple of 8."""
    import relationnet as rn
    from relationnet.inference import predict
    torch.manual_seed(0)
    m = rn.models.RelationNet(19, "efficientnet_lite0", width=0.25, dcn=False).eval()
    rgb = (np.random.default_rng(0).random((*hw, 3)) * 255).astype(np.uint8)
    calls = []
    m.register_forward_hook(lambda *a: calls.append(1))
    o = helpers.model_outputs(m, rgb, 1)
    assert len(calls) == 1
    ref = predict(m, helpers.to_input(rgb), steps=1)[0]
    assert np.array_equal(o["pred"], ref.argmax(0).numpy().astype(np.uint8))
    torch.testing.assert_close(torch.from_numpy(o["conf"]), ref.max(0).values)
    calls.clear()                                 # a 4-step view given the 1-step outputs: only the shifted test runs
    o4 = helpers.model_outputs(m, rgb, 4, base=o)
    assert len(calls) == 1 and o4["features"] is o["features"]
    ref4 = predict(m, helpers.to_input(rgb), steps=4)[0]
    assert np.array_equal(o4["pred"], ref4.argmax(0).numpy().astype(np.uint8))
    torch.testing.assert_close(torch.from_numpy(o4["conf"]), ref4.max(0).values)


def test_prefetcher_runs_the_plan_in_order_after_the_page_and_keeps_the_last_entries():
    """The background worker (app/prefetch.py): nothing starts while the page runs a model; jobs run in the plan's
    order; a new plan drops what the old one had not started; done keys are skipped; a failing job is noted and the
    rest run; only the last ``max_entries`` results are kept."""
    import threading

    from prefetch import Prefetcher
    p = Prefetcher(max_entries=3)
    log, release = [], threading.Event()

    def job(k, block=False):
        def f():
            log.append(k)
            if block:
                release.wait(10)
            if k == "bad":
                raise OSError("unreadable image")
            return {"k": k}
        return f
    with p.foreground():                                # the page is running a model
        p.plan([(i, job(i)) for i in range(5)])
        time.sleep(0.3)
        assert log == []
    assert p.wait_idle(10) and log == [0, 1, 2, 3, 4]
    assert p.get(0) is None and p.get(1) is None and p.get(4) == {"k": 4}       # the last three kept
    p.plan([(4, job("again")), ("bad", job("bad")), (5, job(5))])              # 4 is done: not run again
    assert p.wait_idle(10) and log[5:] == ["bad", 5] and p.get(5) == {"k": 5} and p.get("bad") is None
    assert any("unreadable image" in e for e in p.errors)
    big = Prefetcher(max_bytes=3000)                    # arrays of 1 000 bytes: the last three kept
    for k in range(5):
        big.put(k, {"a": np.zeros(1000, np.uint8), "n": k})
    assert [k for k in range(5) if big.get(k) is not None] == [2, 3, 4]
    p.plan([("slow", job("slow", block=True)), (6, job(6))])
    while "slow" not in log:
        time.sleep(0.01)
    p.plan([(7, job(7))])                               # replaces 6, which had not started
    release.set()
    assert p.wait_idle(10) and log[-2:] == ["slow", 7] and 6 not in log


def test_the_next_validation_images_are_computed_ahead_equal_to_a_model_run_of_their_own(demo_runs, monkeypatch):
    """After a validation image is shown in the Predictions tab, the next ones' outputs of both checkpoints (at the
    sidebar's steps, and at 1 step for their features) are computed in the background; they equal the checkpoint loaded and run on the image read from its
    file, and stepping to the next image runs no model on the page (only the worker runs, for the images after)."""
    import threading

    import state
    from relationnet.engine.checkpoint import load_model
    from relationnet.models.fold import fold_batchnorm
    at = open_tab(app_test(demo_runs, monkeypatch).run(), "Predictions")          # 1-step features, 4-step test
    assert at.sidebar.radio(key="source").value == "validation image" and at.sidebar.number_input(key="val_index").value == 0
    assert state.prefetcher().wait_idle(300)
    runs = {r.label: r for r in helpers.discover(demo_runs)[0]}
    chosen = [runs[at.sidebar.selectbox(key=k).value] for k in ("run_a", "run_b")]
    root = helpers.val_root(chosen[0].meta)
    img_path = sorted((Path(root) / "leftImg8bit" / "val").rglob("*.png"))[1]
    rgb = np.asarray(Image.open(img_path).convert("RGB"))
    steps = at.sidebar.select_slider(key="steps").value
    for r in chosen:
        model = fold_batchnorm(load_model(str(r.checkpoint))[0])
        for s in sorted({1, steps}):
            key = (str(r.checkpoint), r.checkpoint.with_suffix(".safetensors").stat().st_mtime, f"val:{root}:1", s)
            got, ref = state.prefetcher().get(key), helpers.model_outputs(model, rgb, s)
            assert got is not None, (r.key, s)
            assert np.array_equal(got["pred"], ref["pred"])
            torch.testing.assert_close(got["features"], ref["features"])
    calls = []
    real = helpers.model_outputs
    monkeypatch.setattr(helpers, "model_outputs",
                        lambda *a, **k: calls.append(threading.current_thread().name) or real(*a, **k))
    at.sidebar.number_input(key="val_index").set_value(1).run()
    no_exceptions(at)
    assert all(c == "relationnet-prefetch" for c in calls), calls         # none on the page's own thread
    assert state.prefetcher().wait_idle(300)


def test_ablations_tab_shows_study_2_apart_with_its_committed_intervals(demo_runs, monkeypatch):
    """With the project's committed studies (no RELATIONNET_STUDY), the Ablations tab shows study 2 in its own table:
    every claim of docs/study/study2/results.json, its verdict and seeds landed of planned, and each interval equal
    to scipy's on the claim's per-seed differences."""
    import json

    from scipy import stats
    monkeypatch.delenv("RELATIONNET_STUDY", raising=False)
    committed = json.loads((REPO / "docs" / "study" / "study2" / "results.json").read_text())["claims"]
    at = open_tab(app_test(demo_runs, monkeypatch).run(), "Ablations")
    assert any(s.value.startswith("Study 2") for s in at.subheader)
    table = next(d.value for d in at.dataframe if "equivalence" in d.value.columns)
    assert list(table["claim"]) == [c["claim"] for c in committed]
    for c in committed:
        row = table[table["claim"] == c["claim"]].iloc[0]
        assert row["verdict"] == c["verdict"] and row["seeds"] == f"{len(c['diffs'])} of {c['seeds_planned']}"
        if len(c["diffs"]) >= 2:
            ci = stats.ttest_1samp(c["diffs"], 0).confidence_interval()
            lo, hi = row["paired difference [95 % CI]"].replace("−", "-").split("[")[1].rstrip("]").split(", ")
            assert abs(float(lo) - ci.low) <= 0.051 and abs(float(hi) - ci.high) <= 0.051, (c["claim"], row)
    # below the table, the results page's (a)-(d) account: each of its claims' mean difference, recomputed here from the
    # committed per-seed differences, and its two figures
    text = "\n".join(m.value for m in at.markdown)
    assert "Where study 1's Alt-Budget came from" in text
    by = {c["claim"]: c for c in committed}
    for claim in ("Alt2-Budget", "Alt2-Labels", "Alt2-Restarts", "Alt2-CoarseSegment", "Alt2-OneSchedule", "Alt2-Scarce"):
        d = by[claim]["diffs"]
        assert f"({claim}): {by[claim]['arm']} − {by[claim]['ref']} = {np.mean(d):+.2f} [" in text, claim
    final = all(len(by[c]["diffs"]) == by[c]["seeds_planned"] for c in by if by[c]["seeds_planned"])
    assert ("**What it came from.**" in text) == final
    assert [c for i in at.image for c in i.captions] == [
        "Study 2's alternating-training claims beside study 1's Alt-Budget, and the fine-only learning curve",
        "What SCL does during training (S4, the seeds landed when the page was tabulated): descriptions, not claims; "
        "the claims are the Probe rows above"]


def test_the_browser_harness_removes_only_the_profile_folder_it_made(tmp_path, monkeypatch):
    """app/browser.chromium deletes one folder: the fresh profile it made with mkdtemp; a user's folder beside it (here
    the same parent) is left byte for byte, also when the browser fails to start."""
    import tempfile
    user = tmp_path / "my_project"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    made = []

    def mkdtemp(prefix=""):
        made.append(tmp_path / f"{prefix}{len(made)}")
        made[-1].mkdir()
        return str(made[-1])
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(browser, "CHROMEDRIVER", "/nonexistent/chromedriver")
    from selenium import webdriver

    class FakeChrome:
        def __init__(self, service, options):
            assert any(str(made[-1]) in a for a in options.arguments)
        def quit(self):
            pass
    monkeypatch.setattr(webdriver, "Chrome", FakeChrome)
    with browser.chromium() as d:
        assert isinstance(d, FakeChrome) and made[-1].is_dir()
    assert not made[-1].exists()
    def broken(service, options):
        raise RuntimeError("no display")
    monkeypatch.setattr(webdriver, "Chrome", broken)
    with pytest.raises(RuntimeError, match="no display"):
        with browser.chromium():
            pass
    assert len(made) == 2 and not made[-1].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_project"]
    assert (user / "notes.txt").read_text() == "mine"


def test_relationnet_dashboard_serves_on_its_port_and_ctrl_c_leaves_nothing_listening(demo_runs):
    """The main job ends with ``relationnet dashboard``'s start-up: the server answers its health check and serves
    the app on the port asked for, and Ctrl-C (SIGINT to the command) stops the server it started."""
    import signal
    import socket
    import subprocess
    import urllib.request
    port = browser.free_port()
    cmd = [sys.executable, "-m", "relationnet", "dashboard", "--runs", str(demo_runs), "--port", str(port)]
    # as from a terminal: SIGINT at its default in the command even when this suite runs as a background job (the
    # shell then leaves SIGINT ignored, and Python keeps ignoring it); its own session, so that a failure below
    # takes the server it started with it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        browser.wait_healthy(f"http://127.0.0.1:{port}", proc, 90)       # raises: the dashboard did not start
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert "<html" in page.lower()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert f"http://127.0.0.1:{port}" in out
        with socket.socket() as s:          # nothing listens on the port any more: the server went with the command
            assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)        # the command's own session: it and the server it started
        except ProcessLookupError:
            pass
        proc.wait()
