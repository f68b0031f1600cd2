"""The scenario in the address bar: share links, opening one, keeping ``?s=`` in sync, and
the deep-link guard every page script calls first.

The scenario lives in the address bar (``?s=``, simulation/model/share.py), kept equal to the
scenario shown on every run (:func:`sync_url`): a copied address or share link opens exactly
the same scenario and seed (:func:`restore_from_url`).
"""

from __future__ import annotations

import runpy
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import engine, horizon_view
from dashboard.state import LINK_TOKEN, SCENARIO, SNAPSHOTS, notify, set_scenario
from simulation.model import share
from simulation.model.scenario import Scenario, ScenarioError
from simulation.text import md_escape

ROOT = Path(__file__).resolve().parents[1]


def _run_by_app() -> bool:
    """Whether this script run goes through app.py's ``st.navigation``. Streamlit's own
    ``pages/`` auto-discovery lists the entry script itself among the pages; app.py's
    navigation never does."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return True
    main = Path(ctx.main_script_path).resolve()
    return all(Path(info.get("script_path") or "").resolve() != main
               for info in ctx.pages_manager.get_pages().values())


def deep_link_guard() -> None:
    """Call first in every page script: ``links.deep_link_guard()``.

    On a freshly started server, the first request for a deep URL such as ``/agreement?s=…``
    runs that page's script alone (Streamlit's ``pages/`` auto-discovery, used until
    ``app.py`` has called ``st.navigation`` once): no scenario panel, no share link restored,
    the raw files of ``pages/`` as the menu. The guard notices that this run did not come
    through ``app.py`` and runs ``app.py`` in its place, in the same script run: its
    navigation resolves the page the URL asked for, restores the scenario from the query
    parameters and draws the page; then this outer run stops. No redirect, so the address,
    the query parameters and any widget values of the run are kept. (Streamlit's AppTest
    resets that auto-discovery on every run; the guard sends those runs through ``app.py``
    too.) A page run on its own, with no ``app.py`` as the entry script, is drawn as it is.
    """
    if _run_by_app():
        return
    ctx = get_script_run_ctx()
    app = ROOT / "app.py"
    if ctx is None or Path(ctx.main_script_path).resolve() != app.resolve():
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        runpy.run_path(str(app), run_name="__main__")
    st.stop()



@lru_cache(maxsize=256)
def _token(scenario_json: str) -> str:
    return share.encode_scenario(Scenario.model_validate_json(scenario_json))


def share_token(scenario: Scenario) -> str:
    """The scenario as a compact URL token (simulation.model.share), cached on its JSON."""
    return _token(scenario.model_dump_json())


def app_root_url() -> str:
    """The app's root address as the browser sees it (scheme, host, port, base path)."""
    url = st.context.url
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    if url:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
    else:  # no browser (tests): the address the server listens on
        origin = f"http://localhost:{st.get_option('server.port')}"
    return f"{origin}/{base + '/' if base else ''}"


def share_link_with_snapshots(scenario: Scenario, snapshots: dict[str, Scenario]) -> str:
    """A link that opens ``scenario`` and the side-by-side ``snapshots`` (raises
    :class:`ScenarioError` with a plain message when they do not fit in a link)."""
    return f"{app_root_url()}?{urlencode({share.QUERY_PARAM: share.encode_with_snapshots(scenario, snapshots)})}"


def share_link(scenario: Scenario) -> str:
    """A link to the app's root that opens exactly ``scenario`` (same seed, same numbers)."""
    # the view chosen on Compare tracks travels too (?h=10)
    return f"{app_root_url()}?{urlencode({share.QUERY_PARAM: share_token(scenario), **horizon_view.link_params()})}"


def restore_from_url() -> None:
    """If the URL carries a scenario this session has not seen (an opened share link), make
    it the scenario; a link made under other rules says so, and a damaged one gets a message
    and the default scenario. Call in app.py before the scenario panel."""
    state = st.session_state
    token = st.query_params.get(share.QUERY_PARAM)
    if not token or token == state.get(LINK_TOKEN):
        return
    state[LINK_TOKEN] = token
    if SCENARIO in state and token == share_token(state[SCENARIO]):
        return
    try:
        scenario, snaps, warnings = share.decode_link(token)
    except ScenarioError as exc:
        set_scenario(Scenario())
        notify("error", "This link's scenario could not be opened: " + "; ".join(map(md_escape, exc.problems))
               + ". The default scenario is shown instead.", Scenario())
        return
    if engine.budget_problem(scenario):
        asked = scenario.trials
        scenario = engine.affordable(scenario)
        notify("warning", f"This link asks for {asked:,} simulated futures, more than this shared dashboard "
                          f"runs at once for {len(scenario.tracks)} tracks; it shows {scenario.trials:,} "
                          "(same seed). For all of them, save the scenario and run "
                          "`acosim simulate --scenario FILE`.", scenario)
    set_scenario(scenario)
    if snaps:
        state[SNAPSHOTS] = snaps
    notify("success", f"Opened the shared scenario “{md_escape(scenario.name)}” (seed {scenario.seed}, "
                      f"{scenario.trials:,} simulated futures)"
                      + (f" with {len(snaps)} snapshot{'s' if len(snaps) > 1 else ''} to compare side by side "
                         "on the Scenarios page." if snaps else "."), scenario)
    for w in warnings:
        notify("warning", md_escape(w), scenario)


def sync_url(scenario: Scenario) -> None:
    """Keep ``?s=`` in the address bar equal to the scenario shown (after the panel)."""
    token = share_token(scenario)
    st.session_state[LINK_TOKEN] = token
    if st.query_params.get(share.QUERY_PARAM) != token:
        st.query_params[share.QUERY_PARAM] = token

