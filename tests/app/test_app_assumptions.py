"""The Scenarios page lists the assumptions behind the numbers and applies a what-if (AppTest)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from simulation.model.scenario import Scenario, TrackChoice
from tests.conftest import put_scenario

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SMALL = Scenario(trials=1_000, tracks=[TrackChoice(track="REACH_GLOBAL"), TrackChoice(track="BASIC_E")])


def test_assumptions_are_listed_and_a_what_if_applies():
    at = AppTest.from_file(APP, default_timeout=180)
    put_scenario(at, SMALL)
    at.run()
    at.switch_page("pages/scenarios.py").run()
    assert not at.exception, at.exception
    body = next(h.proto.body for h in at.get("html") if "<th" in h.proto.body and ">Assumption<" in h.proto.body)
    table = pd.read_html(io.StringIO(body), flavor="lxml")[0]  # the table whose columns wrap at 1280 px
    assert {"SEC", "INF", "CMS"} <= set(table["Label"])
    withhold = table[table["Key"] == "quality_withhold"]
    assert not withhold.empty and withhold["Tracks"].str.contains("REACH Global").all()
    assert withhold["Assumption"].str.contains("withh", case=False).all()  # the plain description
    # one row per assumption and value: the tracks sharing it are listed together
    assert not table.duplicated(["Key", "Value", "Source"]).any()
    at.selectbox(key="scenarios.whatif.track").set_value("REACH Global").run()
    at.selectbox(key="scenarios.whatif.param").set_value("quality_withhold").run()
    box = next(n for n in at.number_input if n.label == "New value")
    assert box.value == 0.05  # starts at the value in force (REACH 2026 withhold)
    box.set_value(0.01).run()
    at.button(key="scenarios.whatif.apply").click().run()
    assert not at.exception, at.exception
    s = at.session_state["scenario.current"]
    reach = next(c for c in s.tracks if c.track == "REACH_GLOBAL")
    assert reach.overrides == {"quality_withhold": 0.01}
    assert "what-if" in reach.key
    at.button(key="scenarios.whatif.clear").click().run()
    assert not at.exception, at.exception
    assert all(not c.overrides for c in at.session_state["scenario.current"].tracks)
