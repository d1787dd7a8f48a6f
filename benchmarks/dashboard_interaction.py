"""Click-to-picture latency of the dashboard's interactive views at 256×512 (target ≤ 0.5 s), two checkpoints.

What one click costs, measured three ways on the same two checkpoints (demo stage 3 vs baseline when
``runs/demo`` exists, else two untrained models of the demo's architecture):

* ``affinity click``: what the affinity view recomputes when a pixel is clicked — both cosine maps, the
  same-class/other-class means, both 3×3 similarity grids, both Plotly figures built and serialised to JSON
  (as ``st.plotly_chart`` sends them). The models' outputs for the image are cached from its first view.
* ``browse scored image``: choosing another image in the side-by-side browser after scoring — predictions and
  features come from the scoring pass; PCA for both, overlays, error and agreement maps, PNG-encoded.
* ``browse unscored image``: the same with both models run (1-step) — what a click costs without the scores.
* ``browser: click → map`` (with ``--browser`` where Debian's chromium and chromium-driver are installed): a real
  click on the affinity map of a running dashboard, timed in the page until both maps name the clicked cell; then a
  second table: the affinity figure as drawn against the designs it replaced (transparent markers for the clickable
  cells, a PNG background, a heat-map trace with a colour bar), each drawn by Plotly alone, and their JSON sizes.

    python benchmarks/dashboard_interaction.py [--runs runs/demo] [--repeats 20] [--browser]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(REPO / "app"))
import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402
import torch  # noqa: E402
from _common import median_time, report  # noqa: E402
from PIL import Image  # noqa: E402

import browser  # noqa: E402
import figures  # noqa: E402
import helpers  # noqa: E402
from relationnet import viz  # noqa: E402
from relationnet.data import overlay  # noqa: E402
from relationnet.engine.checkpoint import load_model  # noqa: E402
from relationnet.models import RelationNet  # noqa: E402
from relationnet.models.fold import fold_batchnorm  # noqa: E402

H, W = 256, 512
PAIR = ("baseline", "alternating/stage3")


def photo() -> np.ndarray:
    """A real photo (scikit-image's coffee) at 256×512, or a fixed random image without scikit-image."""
    try:
        from skimage import data
        return np.asarray(Image.fromarray(data.coffee()).resize((W, H), Image.BILINEAR))
    except ImportError:
        return np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)


def models(runs: Path):
    if all((runs / k / "last.json").is_file() for k in PAIR):
        return ([fold_batchnorm(load_model(str(runs / k / "last"))[0]) for k in PAIR],      # as the dashboard loads them
                f"{runs.name}: {' vs '.join(PAIR)}")
    torch.manual_seed(0)
    return [RelationNet(19, backbone="resnet38", width=0.125, dcn=False).eval() for _ in range(2)], "untrained"


def encode_png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def affinity_click(rgb, outs, label_cells, cell):
    for o in outs:                                   # what the app's fragment computes and sends per checkpoint
        pio.to_json(figures.affinity_panel(rgb, o, label_cells, cell, "t")["figure"])


def browse(rgb, label, preds, feats):
    pcs, _ = viz.pca_rgb(feats)
    for p, pc in zip(preds, pcs):
        encode_png(overlay(rgb, p, 0.6))
        encode_png(viz.error_map(p, label))
        encode_png(np.kron(pc, np.ones((8, 8, 1), np.uint8)))
    encode_png(viz.agreement_map(preds[0], preds[1], label))


def run_models(ms, rgb):
    """Both models on one image, 1-step, as the dashboard runs them (helpers.model_outputs: one forward each)."""
    preds, feats = [], []
    for m in ms:
        o = helpers.model_outputs(m, rgb, 1)
        preds.append(o["pred"])
        feats.append(o["features"])
    return preds, feats


@contextlib.contextmanager
def dashboard_page(runs: Path, query: str = ""):
    """A running dashboard on ``runs`` and a headless Chromium on its page (None without chromium)."""
    if not (browser.CHROMIUM and browser.CHROMEDRIVER):
        yield None
        return
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    with browser.dashboard(runs) as url, browser.chromium((1280, 1300)) as d:
        d.get(f"{url}/?a={PAIR[0]}&b={PAIR[1]}{query}")
        WebDriverWait(d, 120, poll_frequency=0.01).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role='tab']"))
        yield d


def _mark(d) -> None:
    """Start timing in the page: from now, every change of the page is noted (performance.now)."""
    d.execute_script("""
        window.__rnMark = performance.now(); window.__rnLast = window.__rnMark;
        if (!window.__rnObs) {
          window.__rnObs = new MutationObserver(() => { window.__rnLast = performance.now(); });
          window.__rnObs.observe(document.body, {subtree: true, childList: true, characterData: true,
                                                 attributes: true}); }""")


def _settled(d, quiet: float = 3.0, timeout: float = 300.0) -> float:
    """Seconds from :func:`_mark` to the page's last change, once nothing has changed for ``quiet`` seconds and no
    script run is shown in progress."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        since, running, took = d.execute_script("""return [performance.now() - window.__rnLast,
            document.querySelectorAll("[data-testid='stStatusWidget'] *").length,
            window.__rnLast - window.__rnMark];""")
        if since >= quiet * 1000 and running == 0:
            return took / 1000
        time.sleep(0.1)
    raise TimeoutError("the page did not settle")


def _pictures(d) -> list[str]:
    """The sources of the images in the visible tab (the Predictions tab's overlays)."""
    return d.execute_script("""return Array.from(document.querySelectorAll("[role='tabpanel']"))
        .filter(p => p.offsetParent !== null).flatMap(p => Array.from(p.querySelectorAll('img')))
        .map(i => i.complete ? i.src : '');""")


def browser_next_image(runs: Path, repeats: int = 3, idle: float = 30.0) -> dict | str:
    """Seconds from a click on the sidebar's index "+" to the Predictions tab's pictures replaced (and to the whole
    page settled), for the next validation image (computed ahead while the page sat ``idle`` seconds) and for an
    image further on (typed in: its models run on the page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    with dashboard_page(runs) as d:
        if d is None:
            return "no chromium"
        _mark(d)
        _settled(d, quiet=5.0)
        next(t for t in d.find_elements(By.CSS_SELECTOR, "[role='tab']") if t.text.strip() == "Predictions").click()
        times = {"ahead": [], "ahead settled": [], "far": [], "far settled": []}

        def step(kind, act):
            time.sleep(idle)                          # the user looks; the worker computes the next images
            before = set(_pictures(d))
            _mark(d)
            t0 = time.perf_counter()
            act()
            while True:                               # every picture of the tab replaced by a loaded new one
                now = _pictures(d)
                if now and all(src and src not in before for src in now):
                    break
                time.sleep(0.01)
            times[kind].append(time.perf_counter() - t0)
            times[kind + " settled"].append(_settled(d))
        up = "[data-testid='stSidebar'] [data-testid='stNumberInputStepUp']"
        for _ in range(repeats):
            step("ahead", lambda: d.find_element(By.CSS_SELECTOR, up).click())
        box = "[data-testid='stSidebar'] [data-testid='stNumberInput'] input"
        for target in (20, 40, 60)[:repeats]:         # far from anything shown: nothing computed ahead
            step("far", lambda: (d.find_element(By.CSS_SELECTOR, box).send_keys(Keys.CONTROL, "a"),
                                 d.find_element(By.CSS_SELECTOR, box).send_keys(str(target), Keys.ENTER)))
        return {k: statistics.median(v) for k, v in times.items()}


def browser_clicks(runs: Path, rgb: np.ndarray, clicks: int) -> float | str:
    """Median seconds from a real click on the affinity map to the page naming the clicked cell."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    with dashboard_page(runs) as d:
        if d is None:
            return "no chromium"
        tmp = Path(tempfile.mkdtemp())
        (tmp / "photo.png").write_bytes(encode_png(rgb))
        wait = WebDriverWait(d, 120, poll_frequency=0.01)
        wait.until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "label") if e.text.strip() == "upload"])
        next(e for e in d.find_elements(By.CSS_SELECTOR, "label") if e.text.strip() == "upload").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type='file']"))
        d.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(tmp / "photo.png"))
        next(t for t in d.find_elements(By.CSS_SELECTOR, "[role='tab']") if "Pixel affinity" in t.text).click()

        def caption(d):
            found = [c.text for c in d.find_elements(By.CSS_SELECTOR, "[data-testid='stCaptionContainer']")
                     if "is centred on input pixel" in c.text and f"(0–{H // 8 - 1})" not in c.text]
            return found[0] if found else None
        wait.until(lambda d: caption(d) and d.find_elements(By.CSS_SELECTOR, ".st-key-aff_map_1 .nsewdrag"))
        time.sleep(2)
        # timed inside the page (performance.now): from the mouse press to the moment both maps' titles name
        # the new cell, i.e. the new pictures are drawn; polling from here adds nothing to the figure
        d.execute_script("""
            window.__rnTimes = [];
            document.addEventListener('mousedown', () => { window.__rnDown = performance.now(); }, true);
            const titles = () => Array.from(document.querySelectorAll(
                '.st-key-aff_map_0 .gtitle, .st-key-aff_map_1 .gtitle')).map(e => e.textContent);
            let last = titles().join('|');
            new MutationObserver(() => {
                const t = titles();
                const now = t.join('|');
                if (t.length === 2 && now !== last && t[0].split('cell ')[1] === t[1].split('cell ')[1]) {
                    last = now;
                    if (window.__rnDown) { window.__rnTimes.push(performance.now() - window.__rnDown); }
                    window.__rnDown = null;
                }
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        """)
        rng = np.random.default_rng(0)
        for _ in range(clicks):
            n = d.execute_script("return window.__rnTimes.length")
            plot = d.find_element(By.CSS_SELECTOR, ".st-key-aff_map_1 .nsewdrag")
            w, h = plot.size["width"], plot.size["height"]
            dx, dy = (int(v) for v in rng.uniform(-0.4, 0.4, 2) * (w, h))
            ActionChains(d).move_to_element_with_offset(plot, dx, dy).click().perform()
            try:
                WebDriverWait(d, 30, poll_frequency=0.05).until(
                    lambda d: d.execute_script("return window.__rnTimes.length") > n)
            except Exception:        # the same cell clicked twice: nothing changes
                pass
            time.sleep(0.3)
        times = [t / 1000 for t in d.execute_script("return window.__rnTimes")]
        return statistics.median(times) if times else "no click registered"


def figure_variants(rgb: np.ndarray, aff: np.ndarray) -> dict:
    """The affinity figure as drawn, and the designs it replaced, for a side-by-side drawing time in the browser."""
    import base64

    import plotly.graph_objects as go
    fig = figures.affinity_figure(rgb, aff, (3, 4), "t")
    png = "data:image/png;base64," + base64.b64encode(encode_png(figures.blend_map(rgb, aff))).decode()
    markers = go.Figure(fig)
    markers.update_traces(selector={"name": "cells"}, mode="markers", text=None,
                          marker={"size": figures.STRIDE, "opacity": 0.01, "color": "white"})
    png_fig = go.Figure(fig)
    png_fig.update_traces(selector={"type": "image"}, source=png)
    heat = go.Figure(fig)
    heat.add_trace(go.Heatmap(z=aff, x=figures.STRIDE * np.arange(aff.shape[1]), y=figures.STRIDE *
                              np.arange(aff.shape[0]), zmin=-1, zmax=1, colorscale="RdBu_r", opacity=0.6,
                              colorbar={"title": "cos"}, hoverinfo="skip"))
    return {"as drawn (text points, JPEG, blended map)": fig, "transparent markers for the cells": markers,
            "PNG background": png_fig, "+ heat-map trace with colour bar": heat}


def figure_draw_times(variants: dict, repeats: int = 9) -> list[dict] | str:
    """Median Plotly.newPlot time of each figure in headless Chromium, one page, plotly.js from the installed plotly."""
    if not (browser.CHROMIUM and browser.CHROMEDRIVER):
        return "no chromium"
    import json

    import plotly
    js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    specs = {k: json.loads(pio.to_json(f)) for k, f in variants.items()}
    with tempfile.TemporaryDirectory() as tmp, browser.chromium() as d:
        page = Path(tmp) / "page.html"
        page.write_text("<html><body><div id=p style='width:420px;height:250px'></div><script>" + js +
                        "</script><script>window.FIGS=" + json.dumps(specs) + ";</script></body></html>")
        d.get(page.as_uri())
        rows = []
        for name in variants:
            ms = d.execute_async_script("""
                const [k, n, done] = arguments; const f = window.FIGS[k]; const el = document.getElementById('p');
                (async () => { const ts = [];
                  for (let i = 0; i < n; i++) { Plotly.purge(el); const t = performance.now();
                    await Plotly.newPlot(el, f.data, f.layout); ts.push(performance.now() - t); }
                  done(ts); })();""", name, repeats)
            rows.append({"figure": name, "draw ms (median)": statistics.median(ms),
                         "JSON kB": len(pio.to_json(variants[name])) / 1000})
        return rows


def tab_render_times(runs: Path) -> list[dict]:
    """For each tab open: seconds of the whole script run (AppTest, no browser) when the sidebar steps to the next
    validation image, computed ahead while the page sat, and when it jumps to one that was not (its models run).
    Only the open tab runs (``st.tabs(on_change="rerun")``), so a step costs the sidebar and that tab."""
    import os

    from streamlit.testing.v1 import AppTest
    os.environ["RELATIONNET_RUNS"] = str(runs)
    at = AppTest.from_file(str(REPO / "app" / "streamlit_app.py"), default_timeout=600)
    at.query_params["a"], at.query_params["b"] = PAIR
    at.run()
    import state
    rows, index = [], 0
    for name in [t.label for t in at.tabs]:
        at.session_state["tab"] = name
        at.run()                                          # this tab's first view of the current image
        state.prefetcher().wait_idle(600)
        index += 1
        at.sidebar.number_input(key="val_index").set_value(index)
        t = time.perf_counter()
        at.run()
        ahead = time.perf_counter() - t
        state.prefetcher().wait_idle(600)
        index += 10                                       # beyond what was computed ahead
        at.sidebar.number_input(key="val_index").set_value(index)
        t = time.perf_counter()
        at.run()
        far = time.perf_counter() - t
        state.prefetcher().wait_idle(600)
        rows.append({"open tab": name, "next image, computed ahead s": ahead, "image not computed ahead s": far})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default=str(REPO / "runs" / "demo"))
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--browser", action="store_true", help="also time real clicks in headless Chromium")
    p.add_argument("--clicks", type=int, default=15)
    p.add_argument("--tabs", action="store_true", help="also time a step to another image by open tab (AppTest)")
    p.add_argument("--idle", type=float, default=30.0, help="seconds the page sits before stepping to the next image")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "dashboard_interaction.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    ms, source = models(Path(a.runs))
    rgb = photo()
    x = helpers.to_input(rgb)
    with torch.no_grad():
        outs = [{**m(x, return_similarity=True)} for m in ms]
    t = time.perf_counter()
    for m in ms:                     # what a new image costs the page at the sidebar's defaults: 1 step and 4 steps
        helpers.model_outputs(m, rgb, 1)
        helpers.model_outputs(m, rgb, 4)
    first = time.perf_counter() - t
    outs = [{"features": o["features"][0], "similarity": o["similarity"][0] if "similarity" in o else None}
            for o in outs]
    label = np.random.default_rng(1).integers(0, 19, (H, W)).astype(np.uint8)      # only its layout matters here
    cells = label[::8, ::8]
    rng = np.random.default_rng(0)
    pick = iter([(int(rng.integers(0, H // 8)), int(rng.integers(0, W // 8))) for _ in range(10 * a.repeats + 10)])
    preds, feats = run_models(ms, rgb)
    rows = [{"view": "first view of an image no pass has seen (both models, 1 + 4 steps; then cached)",
             "s (median)": first, "≤ 0.5 s": "no" if first > 0.5 else "yes"}]
    for name, fn in (("affinity click", lambda: affinity_click(rgb, outs, cells, next(pick))),
                     ("browse scored image (side by side)", lambda: browse(rgb, label, preds, feats)),
                     ("browse unscored image (models run, 1-step)", lambda: browse(rgb, label, *run_models(ms, rgb)))):
        s = median_time(fn, repeats=a.repeats if "unscored" not in name else max(1, a.repeats // 4))
        rows.append({"view": name, "s (median)": s, "≤ 0.5 s": "yes" if s <= 0.5 else "no"})
    if a.browser:
        nxt = browser_next_image(Path(a.runs), idle=a.idle)
        for k, view in (("ahead", "browser: index + → Predictions pictures, next image computed ahead while idle"),
                        ("ahead settled", "browser: the same → whole page settled"),
                        ("far", "browser: index typed → Predictions pictures, image not computed ahead"),
                        ("far settled", "browser: the same → whole page settled")):
            v = nxt[k] if isinstance(nxt, dict) else nxt
            rows.append({"view": view, "s (median)": v,
                         "≤ 0.5 s": ("yes" if v <= 0.5 else "no") if isinstance(v, float) else "—"})
        s = browser_clicks(Path(a.runs), rgb, a.clicks)
        rows.append({"view": "browser: click → map (real Chromium, Streamlit fragment rerun)",
                     "s (median)": s, "≤ 0.5 s": ("yes" if s <= 0.5 else "no") if isinstance(s, float) else "—"})
    for r in rows:
        r["checkpoints"] = source
    report(f"Dashboard interaction at {H}×{W}, two checkpoints (CPU, {torch.get_num_threads()} threads; "
           "target ≤ 0.5 s click to picture)", rows, a.json)
    if a.tabs:
        report(f"A step to another validation image, by open tab (AppTest script run; {source})",
               tab_render_times(Path(a.runs)), str(Path(a.json).with_name(Path(a.json).stem + "_tabs.json")))
    if a.browser:                 # why the figure is built the way it is: the designs it replaced, drawn side by side
        drawn = figure_draw_times(figure_variants(rgb, viz.cosine_affinity(outs[0]["features"], H // 16, W // 16)))
        if isinstance(drawn, list):
            report(f"One affinity figure drawn by Plotly in headless Chromium ({H}×{W} image)", drawn,
                   str(Path(a.json).with_name(Path(a.json).stem + "_figures.json")))


if __name__ == "__main__":
    main()
