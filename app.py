"""acosim dashboard: the navigation, the shared scenario panel, and the page that is open.

Run with ``make run`` (http://localhost:8501). Every page reads the one scenario edited in
the sidebar (dashboard/sidebar.py); the engine in ``simulation/`` never imports streamlit.

The scenario also lives in the address bar (``?s=``, simulation/model/share.py), kept in sync on
every edit: a copied address or share link opens exactly the same scenario and seed. A page
opened first by a deep URL on a fresh server runs this script in its place
(``links.deep_link_guard``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import a11y, engine, links, sidebar, state, widgets, workflow

HERE = Path(__file__).resolve().parent
RUN_LOG = os.environ.get("ACOSIM_RUN_LOG")  # benchmarks/bench_load.py: one line per script run
_t0 = time.perf_counter()

st.set_page_config(page_title="acosim — Medicare ACO risk tracks", page_icon=":material/health_and_safety:",
                   layout="wide", initial_sidebar_state="expanded")

PAGES = [
    ("pages/compare.py", "Compare tracks", True),
    ("pages/agreement.py", "Agreement period", False),
    ("pages/drivers.py", "What drives it", False),
    ("pages/scenarios.py", "Scenarios", False),
    ("pages/real_acos.py", "Real ACOs", False),
    ("pages/export.py", "Export", False),
    ("pages/walkthrough.py", "Walkthrough", False),
    ("pages/learn.py", "Learn", False),
]
# A page whose file is not there yet (built in parallel) is left out rather than breaking the app.
# Titles only, no icons: with icons, eight pages do not fit a 1280-px laptop's top bar and
# Streamlit folds the last ones into a "3 more" menu.
present = [p for p in PAGES if (HERE / p[0]).exists()]
nav = st.navigation(
    [st.Page(path, title=title, default=default) for path, title, default in present],
    position="top",
)
links.restore_from_url()  # an opened share link sets the scenario

widgets.inject_css()
engine.warm_engine()
sidebar.scenario_panel(tools=workflow.sidebar_tools)
links.sync_url(state.get_scenario())
with st.container():  # one slot whatever it holds: the page's elements keep their places
    a11y.skip_to_inputs()  # keyboard: from the top menu to the sidebar in a few Tab stops
    if state.scenario_problems():
        st.warning("Some inputs in the sidebar are invalid, so the results below are for the last valid "
                   "scenario. Fix the fields marked in red to update them.", icon=":material/warning:")
    widgets.show_notices(nav.title)
try:
    nav.run()
finally:
    if RUN_LOG:
        first = state.RUN_LOGGED not in st.session_state
        st.session_state[state.RUN_LOGGED] = True
        with open(RUN_LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"session": getattr(get_script_run_ctx(), "session_id", ""), "first": first, "page": nav.title,
                                 "seconds": time.perf_counter() - _t0, "at": time.time()}) + "\n")
