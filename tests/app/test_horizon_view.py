"""The ten-year view (dashboard/horizon_view.py, simulation/reports/horizon.py) and the horizon
inputs that follow the scenario: AppTest on Compare tracks, the ratchet sentence's numbers,
and the engine settings the view relies on."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import horizon_view
from simulation.model import horizon, montecarlo
from simulation.model.scenario import Scenario
from simulation.reports import horizon as horizon_report
from simulation.text import money
from tests.conftest import put_scenario

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 240
SMALL = Scenario(trials=2_000)


def _app(scenario: Scenario = SMALL) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    put_scenario(at, scenario)
    return at


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def test_choose_ten_years_shows_the_charts_and_puts_h_in_the_url():
    at = _app()
    at.run()
    assert not at.exception
    at.button_group(key=horizon_view.KEY).set_value(horizon_view.TEN).run()
    assert not at.exception, at.exception
    assert at.query_params.get("h") == ["10"] or at.query_params.get("h") == "10"
    charts = list(at.get("plotly_chart"))
    assert len(charts) == 2
    text = _text(at)
    assert "After renewal in 2032" in text and "MSSP renewal 2032" not in text  # the marker is in the chart
    # the scenario did not change behind the user
    assert at.session_state["scenario.current"] == SMALL
    # back to one agreement: the h parameter goes, the one-agreement page returns
    at.button_group(key=horizon_view.KEY).set_value(horizon_view.ONE).run()
    assert "h" not in at.query_params
    assert any("Risk and return" in h.value for h in at.subheader)


def test_h10_in_the_url_restores_the_view_and_share_links_carry_it():
    at = _app()
    at.query_params["h"] = "10"
    at.run()
    assert not at.exception
    assert at.session_state[horizon_view.KEY] == horizon_view.TEN
    assert any("Money kept, year by year" in h.value for h in at.subheader)
    # the share link (dashboard/workflow.share_box, Scenarios page) carries h=10 beside s=
    at.switch_page("pages/scenarios.py").run()
    codes = [c.value for c in at.code if "?s=" in c.value or "&s=" in c.value]
    assert codes, "no share link on the Scenarios page"
    query = parse_qs(urlsplit(codes[0]).query)
    assert query["h"] == ["10"] and query["s"]


def test_ratchet_sentence_numbers_equal_the_result():
    r = horizon.simulate_horizon(Scenario(trials=2_000))
    rat = horizon_report.ratchet(r)
    st = r.paths[0].steps
    assert rat.path == r.paths[0].path.name
    assert rat.before == pytest.approx(float(np.mean(st["benchmark_before_renewal"])))
    assert rat.history == pytest.approx(float(np.mean(st["historical_benchmark"])))
    assert rat.adjustment == pytest.approx(float(np.mean(st["adjustment"])))
    text = horizon_report.ratchet_sentence(rat)
    # default scenario: 5% below the region, savings made: the history is lower, an adjustment gives back
    assert rat.drop > 0 and rat.adjustment > 0
    assert horizon_report.per_capita(rat.drop) in text and horizon_report.per_capita(rat.adjustment) in text
    assert "rebuilt from your own 2029–2031 spending" in text
    assert rat.kind in text
    # the ranking sentence names the best path's ten-year net and present value
    best = max((p for p in r.summary() if p["settled"]), key=lambda p: p["present_value"])
    ranking = horizon_report.ranking_sentence(r)
    assert best["path"] in ranking and money(best["present_value"]) in ranking
    # the by-year table adds up to the summary
    df = horizon_report.by_year(r)
    for p in r.summary():
        g = df[df["path"] == p["path"]]
        assert g["cumulative_net"].iloc[-1] == pytest.approx(p["ten_year_net"], rel=1e-9)
        assert g["cumulative_pv"].iloc[-1] == pytest.approx(p["present_value"], rel=1e-9)


def test_region_ratio_follows_the_scenario():
    s = Scenario(trials=500)
    r = horizon.simulate_horizon(s)
    assert r.settings["region_ratio"] == pytest.approx(1 / s.aco.spending_vs_region)
    hi = s.model_copy(update={"aco": s.aco.model_copy(update={"spending_vs_region": 1.2})})
    rh = horizon.simulate_horizon(hi)
    assert rh.settings["region_ratio"] == pytest.approx(1 / 1.2)
    # higher-spending: LEAD's class follows (the same input that sets it in one agreement)
    lead = next(p for p in rh.paths if p.path.first == "LEAD_GLOBAL")
    assert lead.steps["lower_spending"].max() == 0.0
    # a lower region lowers MSSP's renewal (negative regional adjustment, dampened)
    assert rh.paths[0].steps["regional_adjustment"].mean() < r.paths[0].steps["regional_adjustment"].mean()


def test_lead_agrees_with_the_one_agreement_view_in_the_years_they_share():
    # the same futures' first five years: the REACH-calibrated benchmark [INF] both ways;
    # tolerance: 3% of the yearly net (the ten-year draws include five more years of trend,
    # so the two views' futures are close, not identical)
    s = Scenario(trials=20_000)
    one = montecarlo.by_year(montecarlo.simulate(s))
    ten = horizon.simulate_horizon(s)
    for p in ten.summary():
        if not p["path"].startswith("LEAD"):
            continue
        g = one[one["track"] == p["path"]].sort_values("year")
        for row, y in zip(g.itertuples(), p["years"][:5], strict=True):
            assert y["net"] == pytest.approx(row.expected_net, rel=0.03, abs=1e5), (p["path"], row.year)
    k = next(p for p in ten.paths if p.path.first == "LEAD_GLOBAL").steps["reach_factor"]
    assert float(k.mean()) != 1.0  # the calibration is applied


def test_enhanced_regional_weight_cap_of_the_cy2027_proposal():
    # lower-spending ACO, 2nd adjustment: weight 50% in force; 35% for ENHANCED's renewal under the
    # proposal (PROPOSED, data/tracks/mssp_enhanced.yaml); BASIC E's renewal keeps 50%
    base = Scenario(trials=500)
    prop = base.model_copy(update={"market": base.market.model_copy(update={"cy2027_proposal": True})})
    paths = [horizon.HorizonPath("E", "ENHANCED", "ENHANCED"), horizon.HorizonPath("B", "BASIC_E", "BASIC_E")]
    r = horizon.simulate_horizon(prop, paths=paths, psa_proposal=False)
    e, b = r.paths[0].steps, r.paths[1].steps
    assert r.settings["regional_weight_caps"] == {"E": 0.35}
    gap = b["regional_pc"] - b["historical_benchmark"]
    low = gap > 0  # the futures where the ACO spent below its region in 2029-2031
    assert low.mean() > 0.5
    unc = np.minimum(0.50 * gap, 0.05 * b["national_pc"])
    np.testing.assert_allclose(b["regional_adjustment"][low], unc[low])
    np.testing.assert_allclose(e["regional_adjustment"][low], np.minimum(0.35 * gap, 0.05 * e["national_pc"])[low])
    np.testing.assert_allclose(e["regional_adjustment"][~low], b["regional_adjustment"][~low])
    off = horizon.simulate_horizon(base, paths=paths)
    assert off.settings["regional_weight_caps"] == {}


def test_deck_has_a_ten_year_slide_when_the_horizon_is_chosen():
    import io

    from pptx import Presentation

    from simulation import reports

    s = Scenario(trials=1_000)
    res = montecarlo.simulate(s)
    hr = horizon.simulate_horizon(s)
    deck = Presentation(io.BytesIO(reports.pptx_bytes(res, horizon=hr)))
    texts = ["\n".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame) for slide in deck.slides]
    ten = [t for t in texts if "Ten years" in t]
    assert len(ten) == 1
    rat = horizon_report.ratchet(hr)
    assert horizon_report.per_capita(rat.drop) in ten[0]
    assert horizon_report.per_capita(rat.adjustment) in ten[0]
    plain = Presentation(io.BytesIO(reports.pptx_bytes(res)))
    assert not any("Ten years" in "\n".join(sh.text_frame.text for sh in sl.shapes if sh.has_text_frame)
                   for sl in plain.slides)
    assert re.search(r"2027", ten[0])


def test_walkthrough_renewal_steps_add_up_to_the_simulated_settlement():
    from simulation.learn import walkthrough

    r = horizon.simulate_horizon(Scenario(trials=60_000))  # two chunks: the second is drawn again
    for k in (0, 1):
        for trial in (7, 55_555):
            for t in (5, 9):
                rw = walkthrough.renewal_walk(r, k, trial, t)
                hb, ra, psa, adj, up = rw.benchmark_steps
                assert hb.total == pytest.approx(r.paths[k].steps["historical_benchmark"][trial])
                assert adj.total == pytest.approx(hb.total + max(ra.total, psa.total, 0.0))  # the larger, never both
                assert adj.total + up.amount == pytest.approx(up.total)
                assert rw.benchmark == pytest.approx(r.paths[k].benchmark[trial, t])
                assert rw.walk.final == pytest.approx(r.paths[k].earned[trial, t], abs=0.01)
                assert all(s.citation for s in rw.benchmark_steps)
    with pytest.raises(ValueError, match="a renewal year"):
        walkthrough.renewal_walk(r, 0, 0, 2)


def test_walkthrough_page_settles_a_renewal_year():
    at = _app()
    at.switch_page("pages/walkthrough.py").run()
    assert not at.exception, at.exception
    assert any("A renewal year" in h.value for h in at.subheader)
    at.selectbox(key="walkthrough.renewal_year").set_value(9).run()
    assert not at.exception
    text = _text(at)
    assert "Historical benchmark" in text and "Prior savings adjustment" in text and "2036" in text


def test_drivers_ten_year_break_even_and_tornado():
    s = Scenario(trials=1_000)
    be = horizon_report.ten_year_break_even(s, "LEAD Global", "ENHANCED → ENHANCED", trials=1_000)
    assert be["status"] == "crosses"
    # at the crossing the two present values are equal (to the bisection's tolerance)
    from simulation.model.scenario import with_path as _with

    paths = [p for p in horizon.default_paths() if p.name in ("LEAD Global", "ENHANCED → ENHANCED")]
    lo = horizon.simulate_horizon(_with(s, "performance.savings_effect", be["value"] - 0.01), paths=paths).summary()
    hi = horizon.simulate_horizon(_with(s, "performance.savings_effect", be["value"] + 0.01), paths=paths).summary()
    d = {True: lo, False: hi}
    ahead_below = max(d[True], key=lambda p: p["present_value"])["path"]
    ahead_above = max(d[False], key=lambda p: p["present_value"])["path"]
    assert ahead_below == be["below"] and ahead_above != be["below"]
    assert "beats" in horizon_report.break_even_sentence(be)
    td = horizon_report.ten_year_tornado(s, "LEAD Global", trials=1_000)
    top = td.sort_values("swing", ascending=False).iloc[0]
    assert top["input"] in ("aco.beneficiaries", "performance.savings_effect")
    assert td.loc[td["input"] == "performance.savings_effect", "net_high"].iloc[0] > \
        td.loc[td["input"] == "performance.savings_effect", "net_low"].iloc[0]


def test_drivers_page_shows_the_ten_year_section():
    at = _app(Scenario(trials=1_000))
    at.switch_page("pages/drivers.py").run()
    assert not at.exception, at.exception
    assert any("Over ten years" in h.value for h in at.subheader)
    assert "Over ten years, in present value" in _text(at)
    assert at.get("plotly_chart")


def test_learn_ratchet_lesson_lands_on_the_ten_year_view():
    from dashboard import learn as lc

    lesson = next(x for x in lc.lessons() if x.id == "ratchet")
    assert lesson.see_it == ("ten_years",) and "ratchet" in lesson.body.lower()
    assert not lc.content_problems()
    at = _app()
    at.switch_page("pages/learn.py").run()
    assert not at.exception, at.exception
    buttons = [b for b in at.button if "ten years, MSSP's renewal against LEAD" in str(b.label)]
    assert buttons, [b.label for b in at.button][:20]
    buttons[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state[horizon_view.KEY] == horizon_view.TEN
    assert any("Money kept, year by year" in h.value for h in at.subheader)
    assert any("look at the dashed line at 2032" in i.value for i in at.info)
