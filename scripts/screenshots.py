"""Screenshots of every dashboard tab into docs/ with headless Chromium (Debian's chromium + chromium-driver).

    python scripts/screenshots.py [--runs runs/demo] [--out docs]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "app"))
import browser  # noqa: E402  (app/browser.py: the dashboard served and headless Chromium, one start-up)

TABS = ["Runs", "Predictions", "Pixel affinity", "Per class & contours", "Side by side", "Feature embedding",
        "Similarity maps", "Effect of λ", "Ablations"]
#: RelationNet + SCL (stage 3) against the OHEM baseline: the comparison of Fig. 1
PAIR = ("alternating/stage3", "baseline")


def main(argv=None):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default=str(REPO / "runs" / "demo"))
    p.add_argument("--out", default=str(REPO / "docs"))
    a = p.parse_args(argv)
    with browser.dashboard(a.runs) as url, browser.chromium((1280, 1300), ("--hide-scrollbars",)) as d:
        d.get(f"{url}/?a={PAIR[0]}&b={PAIR[1]}")
        time.sleep(12)
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("dashboard_[0-9]_*.png"):
            old.unlink()
        for i, name in enumerate(TABS):
            tab = next(t for t in d.find_elements(By.CSS_SELECTOR, "[role='tab']") if name in t.text)
            tab.click()                              # only the open tab runs: wait for its script run
            time.sleep(2)
            for _ in range(300):
                if not d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget'] *"):
                    break
                time.sleep(0.5)
            time.sleep(4)
            if name == "Pixel affinity":         # click a pixel of the road, left of the centre
                plot = d.find_element(By.CSS_SELECTOR, ".st-key-aff_map_0 .nsewdrag")
                ActionChains(d).move_to_element_with_offset(plot, -plot.size["width"] // 5,
                                                            plot.size["height"] // 3).click().perform()
                time.sleep(5)
            buttons = d.find_elements(By.CSS_SELECTOR, ".st-key-scan_per_class button")
            if name == "Per class & contours" and buttons:     # score the validation set (kept for the session)
                buttons[0].click()
                for _ in range(600):
                    time.sleep(1)
                    if d.find_elements(By.CSS_SELECTOR, ".st-key-pc_bars"):
                        break
                time.sleep(4)
            d.set_window_size(1280, 2300 if name in ("Per class & contours", "Side by side") else 1300)
            time.sleep(2)
            path = out / f"dashboard_{i}_{name.split()[0].lower().replace('λ', 'lambda')}.png"
            d.save_screenshot(str(path))
            print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()
