"""Effect of λ (Fig. 6): the study's mIoU against the SCL weight over seeds, and this runs folder's single runs."""
from __future__ import annotations

import streamlit as st

import figures
import helpers
import state
from relationnet import viz
from relationnet.data import colorize
from selection import Selection


def render(sel: Selection) -> None:
    study_pts = helpers.lambda_study_points(sel.study)
    if study_pts:
        st.plotly_chart(figures.lambda_study_figure(study_pts), key="lambda_study")
        st.caption(helpers.lambda_study_caption(study_pts))
    else:
        st.caption("The study has no λ seeds yet (`relationnet study --only C1,C2,C3`); below: this runs folder's "
                   "single runs.")
    lam_runs, rows = helpers.demo_results(sel.runs_dir / "results.json")
    pts = [(float(l), rows[k]) for l, k in lam_runs.items() if k in rows]
    if not pts:
        st.info("no λ sweep here yet: `relationnet demo` trains one")
        return
    ref = next((r for l, r in pts if l == 0), None)
    sweep = [(l, r) for l, r in pts if l > 0]
    if len(pts) < 5:
        st.caption(f"{len(pts)} of the 5 λ runs are here (the demo trains λ = 0.1 only): "
                   "`relationnet demo --all` trains the rest, one seed each; the study (docs/study) compares them over seeds.")
    st.plotly_chart(figures.lambda_sweep_figure(sweep, ref), key="lambda")
    by_key = {r.key: r for r in sel.runs}
    lam_list = [(l, by_key[k]) for l, k in lam_runs.items() if k in by_key]
    if sel.rgb is not None and not lam_list:    # results.json names λ runs that are not listed here
        st.caption("none of the λ runs named by this folder's results.json is among the listed runs")
    if sel.rgb is not None and lam_list:
        cols = st.columns(len(lam_list))
        outs = [(l, r, state.outputs(r, sel.image_key, sel.rgb, 1, sel.runs_dir)) for l, r in lam_list]
        outs = [(l, r, o) for l, r, o in outs if o is not None]
        if outs and len({o["features"].shape[0] for _, _, o in outs}) == 1:
            pcs, _ = viz.pca_rgb([o["features"] for _, _, o in outs])
            for col, (l, r, o), pc in zip(cols, outs, pcs):
                with col:
                    st.image(colorize(o["pred"]), caption=f"λ = {float(l):g}", width="stretch")
                    st.image(figures.upsample_cells(pc), caption="PCA", width="stretch")
