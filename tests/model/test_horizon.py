"""Ten-year horizon (simulation/model/horizon.py): the ratchet of policy-2027.md §3.7 and properties."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.cli import main
from simulation.model import horizon
from simulation.model.scenario import Scenario
from simulation.rules.catalog import load_catalog

NO_SEQ = (("sequestration_rate", 0.0),)


def _stylised(effect: float = 0.05, trend: float = 0.0) -> Scenario:
    """No noise (model_copy skips the field bounds on purpose), savings effect from year 1,
    flat risk (the engine has no risk drift), equal national/regional/ACPT trends, quality met."""
    s = Scenario()
    return s.model_copy(update={
        "performance": s.performance.model_copy(update={
            "savings_effect": effect, "savings_effect_sd": 0.0, "ramp_years": 0,
            "qps_probability": 1.0, "quality_sd": 0.0, "quality_mean": 1.0}),
        "market": s.market.model_copy(update={"trend_mean": trend, "trend_sd": 0.0,
                                              "prospective_gap_mean": 0.0, "prospective_gap_sd": 0.0}),
        "noise": s.noise.model_copy(update={"per_beneficiary_cv": 0.0, "systemic_sd": 0.0}),
    })


def test_stylised_ratchet_of_section_3_7():
    # B_t = 12,500 every year (trend 0), spending 0.95 * 12,500 = 11,875.
    # AP1 2027-31: benchmark 12,500, gross savings rate 5%.
    # AP2 2032-36: HB = mean of 11,875 x3 = 11,875 (= (1 - s) B);
    #   RA = 0.50 (2nd adjustment, lower-spending) * (12,500 - 11,875) = 312.5 (cap 5% = 625);
    #   PSA = 0.50 * mean(625, 625, 625) = 312.5; the larger = 312.5 (not their sum);
    #   benchmark 12,187.5; gross savings 312.5 = 2.5% of B (2.564% of the new benchmark).
    # Shared at 75% (ENHANCED, quality met, 0% MSR, no sequestration): 3.75% of B x5 + 1.875% x5
    #   = 28.125% of one year's benchmark. Tolerance 0.05 pp (there is no randomness left).
    s = _stylised()
    path = horizon.HorizonPath("ENHANCED", "ENHANCED", "ENHANCED", msr="0", overrides=NO_SEQ)
    r = horizon.simulate_horizon(s, paths=[path], trials=200, region_ratio=1.0)  # region = own history
    pr = r.paths[0]
    b = s.aco.benchmark_pc
    gross = (pr.benchmark - r.spending) / pr.benchmark
    assert gross[:, :5] == pytest.approx(0.05, abs=5e-4)
    assert (pr.benchmark[:, 5:] - r.spending[:, 5:]) / b == pytest.approx(0.025, abs=5e-4)
    assert pr.steps["regional_adjustment"] == pytest.approx(312.5, abs=0.5)
    assert pr.steps["prior_savings_adjustment"] == pytest.approx(312.5, abs=0.5)
    assert pr.steps["adjustment"] == pytest.approx(312.5, abs=0.5)
    ten_year = pr.shared_savings.sum(axis=1) / (s.aco.beneficiaries * b)
    assert ten_year == pytest.approx(0.28125, abs=5e-4)
    # with the CY2027 proposal (PSA 75%): PSA 468.75 > RA; AP2 rate 3.75%; 18.75 + 5 * 2.8125 = 32.8%
    r = horizon.simulate_horizon(s, paths=[path], trials=200, psa_proposal=True, region_ratio=1.0)
    ten_year = r.paths[0].shared_savings.sum(axis=1) / (s.aco.beneficiaries * b)
    assert ten_year == pytest.approx(0.328125, abs=5e-4)


def test_stylised_lead_global_lower_spending():
    # LEAD Global, lower-spending, region = own history (REA 0): benchmark 0.97 * 12,500 = 12,125
    # all ten years (no rebasing); spending 11,875; gross 250 = 2% of B a year; ten years 20%,
    # all in band 1 (0-15%, shared at 100%). Tolerance 0.05 pp.
    s = _stylised()
    path = horizon.HorizonPath("LEAD Global", "LEAD_GLOBAL")
    r = horizon.simulate_horizon(s, paths=[path], trials=200, lead_class="lower", reach_calibration=False,
                                region_ratio=1.0)
    pr = r.paths[0]
    b = s.aco.benchmark_pc
    assert pr.benchmark == pytest.approx(0.97 * b)
    gross10 = (pr.benchmark - r.spending).sum(axis=1) / b
    assert gross10 == pytest.approx(0.20, abs=5e-4)
    if "LEAD_GLOBAL" in load_catalog().tracks:  # settled once the catalog has LEAD
        shared = pr.shared_savings.sum(axis=1) / (s.aco.beneficiaries * b)
        assert 0.19 <= shared.mean() <= 0.2005  # 2% sequestration of the shared amount at most


@settings(max_examples=8, deadline=None)
@given(st.floats(-0.02, 0.08))
def test_no_savings_renewal_leaves_the_benchmark_on_trend(trend):
    # no effect, no noise: HB = B0 * C_2031, RA = PSA = 0, so 2032-36 benchmark = B0 * C_t
    s = _stylised(effect=0.0, trend=trend)
    path = horizon.HorizonPath("ENHANCED", "ENHANCED", "ENHANCED", msr="0")
    pr = horizon.simulate_horizon(s, paths=[path], trials=100, region_ratio=1.0).paths[0]
    expected = s.aco.benchmark_pc * (1 + trend) ** np.arange(10)
    assert pr.benchmark[0] == pytest.approx(expected, rel=1e-9)
    assert pr.steps["adjustment"] == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=8, deadline=None)
@given(st.floats(0.0, 0.10), st.floats(0.001, 0.05))
def test_more_savings_never_raises_the_renewal_history(effect, extra):
    p = horizon.HorizonPath("ENHANCED", "ENHANCED", "ENHANCED")
    lo = horizon.simulate_horizon(_stylised(effect), paths=[p], trials=100).paths[0]
    hi = horizon.simulate_horizon(_stylised(effect + extra), paths=[p], trials=100).paths[0]
    assert np.all(hi.steps["historical_benchmark"] <= lo.steps["historical_benchmark"] + 1e-9)


def test_common_random_numbers_and_bad_settings():
    s = Scenario()
    a = horizon.HorizonPath("ENHANCED", "ENHANCED", "ENHANCED")
    b = horizon.HorizonPath("BASIC glide", "BASIC_GLIDE", "BASIC_E")
    one = horizon.simulate_horizon(s, paths=[a], trials=500, seed=3)
    two = horizon.simulate_horizon(s, paths=[b, a], trials=500, seed=3)
    np.testing.assert_array_equal(one.paths[0].shared_savings, two.paths[1].shared_savings)
    np.testing.assert_array_equal(one.spending, two.spending)
    # walkthrough material: every step kept per trial
    assert set(one.paths[0].steps) >= {"historical_benchmark", "regional_adjustment", "prior_savings_adjustment",
                                       "adjustment", "lower_spending"}
    assert one.paths[0].steps["historical_benchmark"].shape == (500,)
    with pytest.raises(horizon.HorizonError, match="renewal: a renewing ACO must leave one-sided"):
        horizon.simulate_horizon(s, paths=[horizon.HorizonPath("x", "BASIC_GLIDE", "BASIC_A")], trials=100)
    with pytest.raises(horizon.HorizonError, match=r"discount_rate: between 0 and 0\.25"):
        horizon.simulate_horizon(s, paths=[a], trials=100, discount_rate=0.9)
    with pytest.raises(horizon.HorizonError, match="region_ratio"):
        horizon.simulate_horizon(s, paths=[a], trials=100, region_ratio=5)


def test_present_value_is_below_the_ten_year_net_when_positive():
    s = _stylised(effect=0.05)
    r = horizon.simulate_horizon(s, paths=[horizon.HorizonPath("E", "ENHANCED", "ENHANCED", msr="0")], trials=100)
    row = r.summary()[0]
    assert row["ten_year_net"] > 0
    # each year's cash discounted by 1.03^(t + 2) with the one-year lag
    net = r.net(0).mean(axis=0)
    assert row["present_value"] == pytest.approx(float(np.sum(net / 1.03 ** (np.arange(10) + 2))), rel=1e-9)


def test_cli_ten_year_json(capsys):
    assert main(["simulate", "--format", "json", "--horizon", "10", "--trials", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [p["path"] for p in out["paths"]]
    assert names[:3] == ["ENHANCED → ENHANCED", "BASIC glide → BASIC E", "BASIC E → BASIC E"]
    first = out["paths"][0]
    assert [y["year"] for y in first["years"]] == list(range(2027, 2037))
    assert set(first["years"][0]) >= {"benchmark_pc", "spending_pc", "shared_savings", "shared_losses", "net"}
    assert {"ten_year_net", "present_value"} <= set(first)
    assert main(["simulate", "--horizon", "11"]) != 0
