"""The dashboard pages (AppTest) and the pure helpers behind them (charts, crossings).

Each page runs on a small scenario (2,000 futures) so the suite stays quick; the default
scenario is exercised by the browser test and benchmarks/bench_ui.py. Note on AppTest: it
resets Streamlit's ``pages/`` auto-discovery before every run, so a run after the first starts
with the page script alone; the pages' deep-link guard (dashboard/links.py) then runs app.py in
its place, so every run has the sidebar and the URL sync, as in the browser.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from simulation.model import montecarlo
from simulation.model.scenario import Scenario, TrackChoice, with_path
from simulation.reports import charts
from tests.conftest import put_scenario

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180  # the first run of a worker may load the compiled settlement kernel


def _app(trials: int = 2_000, **fields) -> AppTest:
    """The app on a small scenario; ``fields`` are sidebar values as the user typed them
    (widget key without the 'in.' prefix -> shown value), e.g. ``{"aco.beneficiaries": 500}``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    s = Scenario(trials=trials)
    at.session_state["scenario.current"] = s
    if not fields:
        at.session_state["scenario.pending"] = True
        return at
    from dashboard import sidebar, state

    shown = sidebar.widgets_from(s) | {state.WIDGET + k: v for k, v in fields.items()}
    at.session_state[state.SHADOW] = shown
    for k, v in shown.items():
        at.session_state[k] = v
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [h.proto.body for h in at.get("html")]
    return "\n".join(parts)


# --------------------------------------------------------------------------- pages


def test_compare_page_home():
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Compare tracks"
    assert len(at.get("plotly_chart")) >= 2  # risk-return and the distribution
    text = _texts(at)
    assert "pays the most on average" in text or "No track covers" in text
    assert "seed 20261123" in text and "2,000 simulated futures" in text
    groups = [e.label for e in at.sidebar.expander]
    assert groups == ["ACO", "Performance", "Money beyond settlement", "Market", "Uncertainty (noise)",
                      "Tracks to compare", "Simulation"]
    # one interaction: switch the distribution view
    view = next(b for b in at.get("button_group") if b.key == "compare.view")
    view.set_value("chance").run()
    assert not at.exception
    assert "Read up from a dollar amount" in _texts(at)


def test_open_group_shows_fields_with_help_and_default_sources():
    at = _app()
    at.session_state["group.Performance"] = True
    at.run()
    assert not at.exception
    fields = {w.key: w for w in at.sidebar.number_input}
    effect = fields["in.performance.savings_effect"]
    assert effect.label == "True savings effect (% of benchmark)"
    assert "truly lowers spending" in effect.help and "Allowed: −15.0% to 30.0%" in effect.help
    assert effect.value == pytest.approx(Scenario().performance.savings_effect * 100)
    captions = [c.value for c in at.sidebar.caption]
    assert any(c.startswith("Default ") and ("calibration" in c or "settlement-rules" in c) for c in captions)
    assert "in.aco.beneficiaries" not in fields  # closed groups are not drawn


def test_sidebar_value_reaches_the_page():
    at = _app(**{"aco.beneficiaries": 40_000}).run()
    assert not at.exception
    assert "40,000 beneficiaries" in _texts(at)
    assert at.session_state["scenario.current"].aco.beneficiaries == 40_000


def test_invalid_input_shows_message_beside_the_field_not_a_traceback():
    at = _app(**{"aco.beneficiaries": 500}).run()
    assert not at.exception
    side = [e.value for e in at.sidebar.error]
    assert any("greater than or equal to 1,000" in e and "you entered 500" in e for e in side), side
    assert any("inputs in the sidebar are invalid" in w.value for w in at.warning)
    assert at.session_state["scenario.current"].aco.beneficiaries == 20_000  # pages show the last valid one
    # the message sits right under its field
    children = list(at.sidebar.expander[0].children.values())
    i = next(i for i, c in enumerate(children) if getattr(c, "key", None) == "in.aco.beneficiaries")
    assert "greater than or equal to 1,000" in children[i + 1].value


def test_cross_field_error_is_routed_to_its_field():
    at = _app(**{"aco.agreement_years": 2, "noise.shock_year": 4}).run()
    assert not at.exception
    problems = at.session_state["scenario.problems"]
    assert any("Shock year" in p and "after the agreement's last year" in p for p in problems), problems
    assert any("shock_year" in e.value for e in at.sidebar.error)


def test_agreement_page():
    at = _app().run()
    at.switch_page("pages/agreement.py").run()
    assert not at.exception
    assert at.title[0].value == "Agreement period"
    assert len(at.get("plotly_chart")) == 2  # fan chart and benchmark path
    assert "The BASIC glide path, year by year" in [h.value for h in at.subheader]
    at.multiselect(key="agreement.tracks").set_value(["ENHANCED"]).run()
    assert not at.exception
    assert "The BASIC glide path, year by year" not in [h.value for h in at.subheader]
    assert "Expected net over the whole agreement: ENHANCED" in _texts(at)


def test_drivers_page():
    at = _app().run()
    at.switch_page("pages/drivers.py").run()
    assert not at.exception
    assert at.title[0].value == "What drives the result"
    assert len(at.get("plotly_chart")) == 4  # tornado, heatmap, break-even, ten-year tornado
    assert "beats" in _texts(at) or "behind" in _texts(at)  # ENHANCED against BASIC E
    at.selectbox(key="drivers.track").set_value("BASIC E").run()
    assert not at.exception
    assert "Which assumptions matter most for BASIC E" in [h.value for h in at.subheader]


def test_page_choices_survive_a_change_of_tracks():
    """A page selection naming a track that is no longer simulated falls back cleanly."""
    at = _app().run()
    at.switch_page("pages/agreement.py").run()
    put_scenario(at, Scenario(trials=2_000, tracks=[TrackChoice(track="BASIC_A"),
                                                    TrackChoice(track="REACH_GLOBAL")]))
    at.run()
    assert not at.exception
    assert at.multiselect(key="agreement.tracks").value == ["BASIC A", "REACH Global"]


# --------------------------------------------------------------------------- charts


@pytest.fixture(scope="module")
def small():
    res = montecarlo.simulate(Scenario(), trials=2_000)
    summ = montecarlo.summary(res)
    colors = charts.color_map(res.keys, [c.track for c in res.choices])
    return res, summ, colors


@pytest.mark.parametrize(("lo", "hi", "n", "expected"), [
    (-12.6e6, 28.6e6, 6, ["−$10M", "$0", "+$10M", "+$20M", "+$30M"]),
    (-3e5, 8e5, 6, ["−$400K", "−$200K", "$0", "+$200K", "+$400K", "+$600K", "+$800K"]),
    (-2.5e6, 2.5e6, 4, ["−$2M", "$0", "+$2M"]),
])
def test_money_ticks_have_units_and_signs(lo, hi, n, expected):
    assert charts.money_ticks(lo, hi, n)[1] == expected


def test_money_tick_decimals_follow_the_step():
    assert charts.money_tick(2.5e6, 5e5) == "+$2.5M"
    assert charts.money_tick(-1.25e9, 2.5e8) == "−$1.25B"
    assert charts.money_tick(0.0, 1e6) == "$0"


def test_colours_mean_the_same_everywhere(small):
    _, _, colors = small
    assert charts.money_color(5.0) == charts.SAVINGS and charts.money_color(-5.0) == charts.LOSS
    assert charts.track_color("ENHANCED") == colors["ENHANCED"]
    # no track is drawn in the gain or loss colour
    assert not {charts.SAVINGS, charts.LOSS} & set(charts.TRACK_COLORS.values())
    # the same track keeps its colour under an election that changes its name
    s = Scenario(tracks=[TrackChoice(track="ENHANCED", msr="1.0")])
    assert charts.color_map([s.tracks[0].key], ["ENHANCED"])["ENHANCED (MSR 1.0%)"] == colors["ENHANCED"]


def test_every_figure_builds(small):
    res, summ, colors = small
    by = montecarlo.by_year(res)
    quant = charts.quantile_table(res.net_total, res.keys)
    picked = ["BASIC glide", "BASIC E", "ENHANCED"]
    tor = pd.DataFrame({"label": ["a", "b"], "base_net": [1e6, 1e6], "net_low": [0.0, 5e5],
                        "net_high": [2e6, 1.5e6], "low_text": ["1%", "x"], "high_text": ["3%", "y"]})
    grid = pd.DataFrame({"x": [0.01, 0.01, 0.02, 0.02], "y": [0.8, 0.9, 0.8, 0.9],
                         "expected_net": [-1e6, 1e6, 2e6, 3e6]})
    be = pd.DataFrame({"track": ["BASIC E", "ENHANCED"], "value": [0.01, 0.02]})
    figs = [
        charts.distribution(quant, summ, colors, tracks=picked),
        charts.exceedance(quant, colors, picked),
        charts.risk_return(summ, colors),
        charts.risk_return(summ, colors, downside="es5", focus=False),
        charts.fan(by, colors, picked),
        charts.benchmark_path(by, {"BASIC E": "MSSP"}, ["BASIC E"]),
        charts.tornado(tor),
        charts.heatmap(grid, {0.01: "1%", 0.02: "2%"}, {0.8: "0.8", 0.9: "0.9"}, x_title="x", y_title="y",
                       current=(0.01, 0.8)),
        charts.break_even_chart(be, colors, 0.015),
    ]
    for fig in figs:
        assert isinstance(fig, go.Figure) and fig.data
        assert fig.layout.font.family == charts.FONT


def test_risk_return_pins_far_off_tracks_and_lists_them(small):
    _, summ, colors = small
    fig = charts.risk_return(summ, colors)
    listed = " ".join(fig.layout.meta["off_chart"])
    xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
    for trace in fig.data:  # every marker is inside the visible ranges
        assert xr[0] <= trace.x[0] <= xr[1] and yr[0] <= trace.y[0] <= yr[1]
    worst = summ.sort_values("expected_net").iloc[0]
    if worst.expected_net < yr[0]:
        assert worst.track in listed
    # identical tracks (BASIC A and B have the same terms) share one dot and one label
    a, b = (summ.set_index("track").loc[k, ["expected_net", "p5"]].tolist() for k in ("BASIC A", "BASIC B"))
    if a == b:
        assert "BASIC A = BASIC B" in [t.name for t in fig.data]


def test_quantile_table_checks_shape():
    with pytest.raises(ValueError, match="net_total"):
        charts.quantile_table(np.zeros((10, 2)), ["a"])
    q = charts.quantile_table(np.arange(100.0).reshape(50, 2), ["a", "b"], points=3)
    assert list(q["a"]) == [0.0, 49.0, 98.0]


def test_tradeoff_sentence_states_the_numbers(small):
    _, summ, _ = small
    text = " ".join(charts.tradeoff_text(summ, 5))
    best = summ.sort_values("expected_net", ascending=False).iloc[0]
    assert f"**{best.track}**" in text
    assert "5-year agreement" in text
    # a track not open to the ACO is never called the best
    open_keys = [k for k in summ.track if k != best.track]
    text2 = " ".join(charts.tradeoff_text(summ, 5, open_keys))
    assert not text2.startswith(f"**{best.track}**")
    assert "what-if" in text2


def test_tradeoff_sentence_when_nothing_pays():
    df = pd.DataFrame({"track": ["X", "Y"], "expected_net": [-1e6, -2e6], "p_owe_cms": [0.0, 0.3],
                       "p5": [-3e6, -9e6]})
    text = " ".join(charts.tradeoff_text(df, 3))
    assert text.startswith("No track covers the ACO's costs on average")
    assert "never asks you to repay CMS" in text


# --------------------------------------------------------------------------- engine helper


def test_crossings_find_where_expected_net_is_zero():
    s = Scenario(trials=2_000, tracks=[TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED")])
    df = montecarlo.crossings(s, [("BASIC E", None), ("ENHANCED", "BASIC E")], trials=2_000)
    found = df[df["status"] == "found"]
    for row in found.itertuples():
        at = montecarlo.simulate(with_path(s, "performance.savings_effect", row.value), trials=2_000)
        nets = dict(zip(at.keys, at.net_total.mean(axis=0), strict=True))
        diff = nets[row.track] - (nets[row.versus] if isinstance(row.versus, str) else 0.0)
        assert abs(diff) < 5e4, (row, diff)  # Brent stops within 1e-4 of the root
    assert set(df["status"]) <= {"found", "ahead throughout", "behind throughout"}
    assert df.attrs["seed"] == s.seed


def test_crossings_report_no_root_in_range():
    s = Scenario(trials=500, tracks=[TrackChoice(track="BASIC_A")])
    df = montecarlo.crossings(s, [("BASIC A", None)], lo=0.2, hi=0.3, points=3, trials=500)
    assert df["status"].item() == "ahead throughout" and math.isnan(df["value"].item())


def test_only_tracks_keeps_the_draws():
    s = Scenario(trials=500)
    full = montecarlo.simulate(s)
    one = montecarlo.simulate(montecarlo.only_tracks(s, ["ENHANCED"]))
    np.testing.assert_array_equal(one.net_total[:, 0], full.net_total[:, full.index("ENHANCED")])
    with pytest.raises(KeyError, match="no track"):
        montecarlo.only_tracks(s, ["nope"])
