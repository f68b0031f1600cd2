"""The one owner of the dashboard's session state: every ``st.session_state`` key, its owner
and what it holds, and the scenario every page works on.

**The convention.** Every key is ``"<owner>.<name>"``: the owner is the module or page that
writes it, one of :data:`OWNERS`. A key shared by two modules is a constant here; a page's own
widget keys are written in that page with its prefix (``"compare.downside"``,
``"walkthrough.benchmark"``). ``tests/app/test_state_keys.py`` reads every key written in
``pages/``, ``dashboard/`` and ``app.py`` and fails on one without a registered owner and on
a page that writes another owner's key by name (it must use the constant here), and checks
every key a session holds after visiting every page. Keys of containers
(``st.container(key="story")``) are CSS hooks (``.st-key-story``), not state, and are left out.

The scenario lives under :data:`SCENARIO` as a validated
:class:`simulation.model.scenario.Scenario`; pages read it with :func:`get_scenario` and
replace it with :func:`set_scenario`, which marks the sidebar to be refilled from it
(:data:`PENDING`). Nothing else changes it: the scenario never changes behind the user.
"""

from __future__ import annotations

import streamlit as st

from simulation.model.scenario import Scenario

#: Who owns each key prefix.
OWNERS: dict[str, str] = {
    "scenario": "the scenario and the sidebar's kept field values (dashboard/state.py, dashboard/sidebar.py)",
    "in": "the sidebar's field widgets, one per scenario path (dashboard/sidebar.py)",
    "group": "the sidebar's groups, open or closed (dashboard/sidebar.py)",
    "side": "the sidebar's tools: reset, presets, share (dashboard/sidebar.py, dashboard/workflow.py)",
    "link": "the scenario in the address bar (dashboard/links.py)",
    "notice": "the messages above the page (dashboard/state.py, dashboard/widgets.py)",
    "chart": "the chart download buttons (dashboard/widgets.py)",
    "app": "app.py",
    "compare": "pages/compare.py and its ten-year view (dashboard/horizon_view.py)",
    "agreement": "pages/agreement.py",
    "drivers": "pages/drivers.py",
    "scenarios": "pages/scenarios.py and the consultant workflow (dashboard/workflow.py)",
    "real": "pages/real_acos.py",
    "export": "pages/export.py",
    "walkthrough": "pages/walkthrough.py (and the Learn page's 'walk it' links)",
    "learn": "pages/learn.py (dashboard/learn.py)",
}

# ---------------------------------------------------------------- the scenario and the sidebar
SCENARIO = "scenario.current"        # the Scenario every page shows
PENDING = "scenario.pending"         # set: refill the sidebar from the scenario on the next run
PROBLEMS = "scenario.problems"       # messages for the sidebar fields invalid right now
SHADOW = "scenario.inputs"           # widget key -> kept value: what the sidebar shows
SEEDED = "scenario.seeded"           # (widget values, scenario) the sidebar was last filled from
WIDGET = "in."                       # prefix of a field widget: "in." + its scenario path
GROUP = "group."                     # prefix of a sidebar group: "group." + its title
RESET = "side.reset"                 # the sidebar's Reset button
SIDE_PRESET = "side.preset"          # prefix of the sidebar's preset picker
PRESETS_POPOVER = "side.presets"     # the sidebar's Presets popover (open or closed)
SHARE_POPOVER = "side.share"
SIDE_SAVE = "side.save"

# ---------------------------------------------------------------- links and notices
LINK_TOKEN = "link.token"            # the share token last read from or written to the URL
NOTICES = "notice.list"              # (kind, text, scenario JSON) shown above the page
NOTICE_PAGES = "notice.pages"        # notice -> the page it was first shown on

# ---------------------------------------------------------------- the consultant workflow
SNAPSHOTS = "scenarios.snapshots"    # name -> Scenario, in the order they were taken
COMPARISON = "scenarios.comparison"  # the latest side-by-side table (for the Excel export)
UPLOAD = "scenarios.upload"          # the file uploader
UPLOAD_MESSAGES = "scenarios.upload_messages"
SNAPSHOT_NAME = "scenarios.snapshot_name"
SNAPSHOT_NOTE = "scenarios.snapshot_note"
COMPARE_CHOICES = "scenarios.compare_choices"  # the candidates the compare picker was last filled from
PAGE_PRESET = "scenarios.preset"     # prefix of the Scenarios page's preset picker
EXPORT_READY = "export.ready"        # scenario JSON whose charts, deck and PDF were prepared

# ---------------------------------------------------------------- pages' shared keys
HORIZON = "compare.horizon"          # "one" or "ten": Compare's view (dashboard/horizon_view.py)
HORIZON_URL = "compare.horizon_url"  # the ?h= value last read or written
REVENUE_CATEGORY = "compare.revenue_category"  # (ACO inputs, the revenue-category notice) last shown
WALK_PRESET = "walkthrough.preset"   # a 'walk it' link's example, handed to the walkthrough
RUN_LOGGED = "app.run_logged"        # benchmarks/bench_load.py: this session has run once


def owner(key: str) -> str | None:
    """The owner prefix of ``key`` (None when it follows no registered owner)."""
    head = key.split(".", 1)[0]
    return head if "." in key and head in OWNERS else None


def get_scenario() -> Scenario:
    """The scenario every page works on (the default scenario on first visit)."""
    if SCENARIO not in st.session_state:
        st.session_state[SCENARIO] = Scenario()
    return st.session_state[SCENARIO]


def set_scenario(scenario: Scenario) -> None:
    """Replace the scenario; the sidebar widgets show it from the next run (call st.rerun()
    after this unless it runs in a widget callback)."""
    st.session_state[SCENARIO] = scenario
    st.session_state[PENDING] = True


def scenario_problems() -> list[str]:
    """Messages for the fields that are invalid right now (empty when all are valid)."""
    return st.session_state.get(PROBLEMS, [])


def notify(kind: str, text: str, scenario: Scenario | None = None) -> None:
    """A message ('success', 'info', 'warning', 'error') shown above the page until the
    scenario changes from ``scenario`` (default: the current one)."""
    about = (scenario or get_scenario()).model_dump_json()
    notes = st.session_state.setdefault(NOTICES, [])
    if (kind, text, about) not in notes:
        notes.append((kind, text, about))


def snapshots() -> dict[str, Scenario]:
    """The named snapshots compared on the Scenarios page (name -> Scenario)."""
    return st.session_state.setdefault(SNAPSHOTS, {})
