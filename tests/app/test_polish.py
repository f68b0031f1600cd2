"""The smaller things users hit (issue 10): whole numbers typed as "1e9", the chart's labels
and colours, the tornado's "more uncertainty earns more", and a real ACO's uncertainty.

The browser side (copy button, keyboard, layout at 1280 px) is tests/browser/test_browser_polish.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from simulation.cms import acos as realdata
from simulation.model import asymmetry, montecarlo
from simulation.model.scenario import DEFAULT_TRACKS, Scenario, get_path
from simulation.reports import charts
from simulation.rules.catalog import load_catalog
from simulation.text import money
from tests.conftest import put_scenario

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def _app(**fields) -> AppTest:
    """The app on a small scenario with sidebar values as typed (see tests/app/test_app.py)."""
    from dashboard import sidebar, state

    at = AppTest.from_file(APP, default_timeout=180)
    s = Scenario(trials=1_000)
    at.session_state["scenario.current"] = s
    shown = sidebar.widgets_from(s) | {state.WIDGET + k: v for k, v in fields.items()}
    at.session_state[state.SHADOW] = shown
    for k, v in shown.items():
        at.session_state[k] = v
    return at


# --------------------------------------------------------------------------- "1e9" in a whole-number field


def test_a_whole_number_field_reads_1e9_as_a_billion_and_refuses_it_with_its_range():
    from dashboard import fields

    beneficiaries = fields.ALL_INPUTS["aco.beneficiaries"]
    assert beneficiaries.store(1e9) == 1_000_000_000 and isinstance(beneficiaries.store(1e9), int)
    assert beneficiaries.store(2.5e4) == 25_000  # scientific notation is read correctly
    assert beneficiaries.store(2.5) == 2.5       # a fraction goes to validation as it is
    at = _app(**{"aco.beneficiaries": 1e9}).run()
    assert not at.exception, at.exception
    side = [e.value for e in at.sidebar.error]
    msg = next(e for e in side if "1,000,000,000" in e)
    assert msg.startswith("Assigned beneficiaries:") and "Allowed: 1,000 to 1,000,000" in msg, msg
    assert at.session_state["scenario.current"].aco.beneficiaries == 20_000  # never silently 1
    assert any("Assigned beneficiaries" in p for p in at.session_state["scenario.problems"])


@pytest.mark.parametrize(("path", "typed", "allowed"), [
    ("performance.ramp_years", 2.5, "Allowed: 0 to 6"),
    ("aco.agreement_years", 1e9, None),
])
def test_whole_number_messages_name_the_field_and_its_range(path, typed, allowed):
    from dashboard import fields

    inp = fields.ALL_INPUTS[path]
    at = _app(**{path: typed}).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error if not e.value.startswith("Fix to update")]
    label = fields.label(inp)
    m = fields.meta(path)
    rng = f"Allowed: {inp.text(m['ge'])} to {inp.text(m['le'])}."
    assert any(e.startswith(label + ":") and rng in e for e in errors), errors
    if allowed:
        assert any(allowed in e and "whole number" in e for e in errors), errors
    assert get_path(at.session_state["scenario.current"], path) == get_path(Scenario(), path)


def test_walkthrough_refuses_1e9_beneficiaries_with_a_message_and_keeps_the_last_valid_value():
    at = AppTest.from_file(APP, default_timeout=180)
    put_scenario(at, Scenario(trials=1_000))
    at.run()
    at.switch_page("pages/walkthrough.py").run()
    assert not at.exception, at.exception
    box = at.number_input(key="walkthrough.beneficiaries")
    before = box.value
    box.set_value(1e9).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("Assigned beneficiaries: enter a whole number from 1 to 1,000,000")
               and "1,000,000,000" in e for e in errors), errors
    assert at.session_state["walkthrough.state"]["inputs"]["beneficiaries"] == int(before)  # not 1, not 1e9
    at.number_input(key="walkthrough.ayear").set_value(2.5).run()
    assert any(e.startswith("Year of the agreement: enter a whole number from 1 to 6") for e in
               (x.value for x in at.error))


# --------------------------------------------------------------------------- the chart


def _summary(points: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame({"track": list(points), "expected_net": [v[0] for v in points.values()],
                         "p5": [v[1] for v in points.values()], "p_owe_cms": 0.1})


CROWDED = {  # the default 2027 scenario's shape: five tracks within a few $M of each other
    "BASIC A = BASIC B": (10.98e6, -8.5e6), "BASIC C": (15.52e6, -10.5e6), "BASIC D": (15.22e6, -12.75e6),
    "BASIC E": (15.03e6, -13.56e6), "ENHANCED": (25.38e6, -16.03e6), "BASIC glide": (13.91e6, -11.02e6),
    "LEAD Professional": (3.28e6, -39.28e6), "LEAD Global": (49.42e6, -29.64e6),
}


@pytest.mark.parametrize("focus", [False, True])
@pytest.mark.parametrize("width", [700, 900, 1250])
def test_every_track_to_scale_has_no_overlapping_labels(focus, width):
    colors = dict.fromkeys(CROWDED, "#000000")
    fig = charts.risk_return(_summary(CROWDED), colors, focus=focus)
    labels = [a for a in fig.layout.annotations if a.name == "label"]
    if not focus:  # every track to scale: each has its own label
        assert {a.text for a in labels} == set(CROWDED)
    assert charts.label_overlaps(fig, width) == []


def test_label_overlaps_sees_an_overlap():
    # the check itself: two labels forced onto the same place are reported
    fig = charts.risk_return(_summary({"A": (1e6, -1e6), "B": (2e6, -2e6)}), {"A": "#000", "B": "#000"},
                             focus=False)
    a, b = (x for x in fig.layout.annotations if x.name == "label")
    b.update(x=a.x, y=a.y, ax=a.ax, ay=a.ay)
    assert ("A", "B") in charts.label_overlaps(fig)


def test_many_close_points_still_get_readable_labels():
    rng = np.random.default_rng(3)
    pts = {f"Track {i}": (float(rng.normal(10e6, 1.5e6)), float(rng.normal(-10e6, 1.5e6))) for i in range(9)}
    fig = charts.risk_return(_summary(pts), dict.fromkeys(pts, "#000"), focus=False)
    assert charts.label_overlaps(fig) == []


def test_basic_levels_have_clearly_different_colours():
    # CIE76 distance: about 2.3 is just noticeable; 20 and more is a different colour at a glance
    levels = ["BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E"]
    for a, b in itertools.combinations(levels, 2):
        assert charts.color_distance(charts.TRACK_COLORS[a], charts.TRACK_COLORS[b]) >= 20, (a, b)
    for a, b in itertools.combinations(["BASIC_C", "BASIC_D", "BASIC_E"], 2):  # once three near-identical blues
        assert charts.color_distance(charts.TRACK_COLORS[a], charts.TRACK_COLORS[b]) >= 30, (a, b)
    # every pair of the default comparison is apart too, and the helper is a real distance
    codes = list(dict.fromkeys(DEFAULT_TRACKS))
    for a, b in itertools.combinations(codes, 2):
        assert charts.color_distance(charts.track_color(a), charts.track_color(b)) >= 20, (a, b)
    assert charts.color_distance("#3182bd", "#3182bd") == 0
    assert charts.color_distance("#000000", "#ffffff") == pytest.approx(100, abs=0.5)


# --------------------------------------------------------------------------- more uncertainty earns more


def _tornado(track: str, gain: float) -> pd.DataFrame:
    return pd.DataFrame([
        {"input": "performance.savings_effect_sd", "label": "Uncertainty of the effect", "track": track,
         "low_value": 0.018, "high_value": 0.072, "low_text": "1.80%", "high_text": "7.20%",
         "base_net": 11e6, "net_low": 9.3e6, "net_high": 9.3e6 + gain},
        {"input": "performance.savings_effect", "label": "True savings effect", "track": track,
         "low_value": 0.0, "high_value": 0.04, "low_text": "0%", "high_text": "4%",
         "base_net": 11e6, "net_low": 1e6, "net_high": 2e7},
    ])


def test_asymmetry_note_gives_the_numbers_and_the_reason():
    cat = load_catalog()
    one = asymmetry.uncertainty_note(_tornado("BASIC A", 7.16e6), "BASIC A", cat.rules("BASIC_A", 2027))
    assert money(9.3e6, signed=True) in one and money(16.46e6, signed=True) in one
    assert "1.80%" in one and "7.20%" in one and "never bills losses" in one
    two = asymmetry.uncertainty_note(_tornado("BASIC E", 5e6), "BASIC E", cat.rules("BASIC_E", 2027))
    assert "50%" in two and "flat 30%" in two and "never bills" not in two
    assert asymmetry.uncertainty_note(_tornado("BASIC E", -1e6), "BASIC E", cat.rules("BASIC_E", 2027)) is None


def test_asymmetry_note_from_a_real_tornado():
    s = montecarlo.only_tracks(Scenario(trials=2_000), ["BASIC A"])
    df = montecarlo.tornado(s, trials=2_000)
    rules = montecarlo.simulate(s, trials=100).plans[0][0].rules
    note = asymmetry.uncertainty_note(df, "BASIC A", rules)
    row = df[df["input"] == "performance.savings_effect_sd"].iloc[0]
    assert row.net_high > row.net_low  # one-sided: a wider spread earns more
    assert note and money(row.net_low, signed=True) in note and money(row.net_high, signed=True) in note


# --------------------------------------------------------------------------- a real ACO's uncertainty


def test_real_aco_uncertainty_reflects_its_own_history(shared_data):
    results, _ = realdata.load_results(shared_data)
    poly = realdata.aco_history(results, realdata.search_acos(results, "Polyclinic").iloc[0]["aco_id"])
    items = {p.path: p for p in realdata.prefill(poly)}
    sd = items["performance.savings_effect_sd"]
    rates = poly.loc[poly["months_in_py"] >= 12, "sav_rate"]
    assert sd.value >= 0.9 * float(rates.std(ddof=1)) and sd.value > 0.05  # was ±1.7%
    assert "−5.9%" in sd.reason and "12.8%" in sd.reason and "own history" in sd.reason
    steady = {p.path: p for p in realdata.prefill(realdata.aco_history(results, "A1001"))}
    assert 0.01 < steady["performance.savings_effect_sd"].value < 0.03
    assert "calibrated model" in steady["performance.savings_effect_sd"].reason
