"""acosim dashboard: the navigation, the shared scenario panel, and the page that is open.

Run with ``make run`` (http://localhost:8501). Every page reads the one scenario edited in
the sidebar (pages/common.py); the engine in ``simulation/`` never imports streamlit.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import common

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="acosim — Medicare ACO risk tracks", page_icon=":material/health_and_safety:",
                   layout="wide", initial_sidebar_state="expanded")

PAGES = [
    ("pages/compare.py", "Compare tracks", ":material/leaderboard:", True),
    ("pages/agreement.py", "Agreement period", ":material/timeline:", False),
    ("pages/drivers.py", "What drives the result", ":material/tune:", False),
    ("pages/walkthrough.py", "Settlement walkthrough", ":material/receipt_long:", False),
    ("pages/learn.py", "Learn", ":material/school:", False),
]
# A page whose file is not there yet (built in parallel) is left out rather than breaking the app.
nav = st.navigation(
    [st.Page(path, title=title, icon=icon, default=default)
     for path, title, icon, default in PAGES if (HERE / path).exists()],
    position="top",
)

common.inject_css()
common.warm_engine()
common.scenario_panel()
if common.scenario_problems():
    st.warning("Some inputs in the sidebar are invalid, so the results below are for the last valid "
               "scenario. Fix the fields marked in red to update them.", icon=":material/warning:")
nav.run()
