"""RelationNet workbench — a dashboard to inspect checkpoints.

    streamlit run app/streamlit_app.py -- --runs runs/demo      (or RELATIONNET_RUNS=...)

A link may choose the checkpoints: http://localhost:8501/?a=baseline&b=alternating/stage1

Tabs: runs (config, curves, evaluation) · predictions · pixel affinity (click a pixel: which pixels does its
feature resemble, Fig. 1; the similarity subnet's 3×3 answer, Fig. 3) · per class & contours (per-class IoU,
confusion matrix, the boundary band) · side by side (two checkpoints, validation images ordered by disagreement) ·
feature embedding (Fig. 1) · SCL similarity maps · effect of λ (Fig. 6) · ablations (Table I, the study).

This script is the shell: the sidebar becomes one ``Selection`` (selection.py), each tab is a module of tabs/ with
``render(selection)``, and the cached loaders they share are in state.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:                   # the app's modules (helpers, figures, state, selection, tabs) by name
    sys.path.insert(0, _HERE)

import streamlit as st  # noqa: E402
import torch  # noqa: E402

import helpers  # noqa: E402
import state  # noqa: E402
from selection import from_sidebar  # noqa: E402
from tabs import ablations, affinity, embedding, lambda_effect, per_class, predictions, runs, side_by_side  # noqa: E402
from tabs import similarity  # noqa: E402

TITLE = "RelationNet workbench"
#: The tabs in order, each drawn by its module's render(selection).
TABS = {"Runs": runs, "Predictions": predictions, "Pixel affinity": affinity, "Per class & contours": per_class,
        "Side by side": side_by_side, "Feature embedding": embedding, "Similarity maps": similarity,
        "Effect of λ": lambda_effect, "Ablations": ablations}
TAB_NAMES = list(TABS)

st.set_page_config(page_title=TITLE, layout="wide")
torch.set_num_threads(2)
st.title(TITLE)

RUNS_DIR = helpers.runs_dir()
STUDY = helpers.study_claims(helpers.study_dir())
STUDY2 = helpers.study_claims(helpers.study_dir() / "study2")
found, total_runs = helpers.discover(RUNS_DIR)
if not found:
    st.info(f"No checkpoints yet in `{helpers.shown_folder(RUNS_DIR)}`.\n\nMake them with the main job:\n\n"
            "```bash\nrelationnet demo\n```\n\nor train one: `relationnet train synthcity_full --out runs/demo/my_run`, "
            "then reload this page. Another folder: `streamlit run app/streamlit_app.py -- --runs DIR` "
            "or `RELATIONNET_RUNS=DIR`.")
    st.stop()

sel = from_sidebar(found, total_runs, RUNS_DIR, STUDY, STUDY2)
# only the open tab runs (its models, its figures): a widget change reruns one tab, not nine
for tab, module in zip(st.tabs(TAB_NAMES, key="tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            module.render(sel)
state.plan_ahead(sel)                      # the next validation images, while the user looks at this one
