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


def _chunk_draws(seed: int, n: int = 3_000, years: int = 10, region_ratio: float = 1.0):
    from simulation.model import montecarlo

    s = Scenario()
    s10 = horizon._ten_year(s, years, 2027)
    ss = np.random.SeedSequence(seed).spawn(1)[0]
    return s, montecarlo._build_draws(s10, montecarlo._standard_draws(ss, n, years))


@pytest.mark.parametrize(("cap", "proposal", "count", "ratio", "years"),
                         [(None, False, 2, 1.05, 10), (0.35, True, 1, 1.3, 10), (None, True, 3, 0.8, 10),
                          (None, False, 2, 1.0, 7), (None, False, 2, 1.0, 4)])
def test_compiled_mssp_rows_are_the_rebasing_formulas_bit_for_bit(cap, proposal, count, ratio, years):
    """horizon_kernel.mssp_rows gives the same bits as _mssp_benchmarks (the rebasing.py
    functions as numpy expressions), renewal steps included, for caps, the PSA proposal,
    the regional count, ACOs above and below their region, and horizons without a renewal."""
    from simulation.model import horizon_kernel, rebasing

    rr = rebasing.load_rebasing_rules()
    n_ap = rr.mssp["agreement_years"]
    s, d = _chunk_draws(11, years=years)
    bench, two_way, steps = horizon._mssp_benchmarks(rr, s, d, ratio, ratio * 0.97, count, proposal, n_ap, cap)
    sc = horizon._mssp_scalars(rr, s, ratio, ratio * 0.97, count, proposal, n_ap, years, cap)
    n = d.spending.shape[1]
    got_b, got_tw, got_out = np.empty((years, n)), np.empty((years, n)), np.empty((years, n))
    got = {name: np.full(n, np.nan) for name in horizon._MSSP_STEPS}
    horizon_kernel.mssp_rows(d.trend_index, d.acpt_index, d.gap_index, d.spending, *(
        sc[k] for k in ("b0", "n_ap", "renew", "w0", "w1", "w2", "region_b0", "national_b0", "w_lower",
                        "w_higher", "neg_cap", "pos_cap", "offset_keep", "psa_share", "psa_cap", "eliminated",
                        "acpt_w")), got_b, got_tw, got_out, *(got[name] for name in horizon._MSSP_STEPS))
    np.testing.assert_array_equal(got_b, bench)
    np.testing.assert_array_equal(got_out, bench)
    np.testing.assert_array_equal(got_tw, two_way)
    assert sc["renew"] == (years > n_ap) == bool(steps)
    for name, v in steps.items():
        np.testing.assert_array_equal(got[name], np.broadcast_to(v, (n,)), err_msg=name)


def test_compiled_lead_factor_is_lead_update_bit_for_bit():
    """horizon_kernel.lead_factor gives the same bits as rebasing.lead_update on the annual
    trend growth and the ACPT growth (trend plus the prospective error), both 0 in 2027."""
    from simulation.model import horizon_kernel, rebasing

    rr = rebasing.load_rebasing_rules()
    _s, d = _chunk_draws(5)
    c, p = d.trend_index, d.gap_index
    g = np.zeros_like(c)
    g[1:] = c[1:] / c[:-1] - 1.0
    acpt = g.copy()
    acpt[1:] += p[1:] / p[:-1] - 1.0
    want = rebasing.lead_update(rr, g, acpt)
    got = np.empty_like(c)
    horizon_kernel.lead_factor(c, p, float(rr.lead["guardrail_down"]), float(rr.lead["guardrail_up"]),
                               float(rr.lead["acpt_weight"]), got)
    np.testing.assert_array_equal(got, want)
    clipped = (acpt[1:] < g[1:] - rr.lead["guardrail_down"]) | (acpt[1:] > g[1:] + rr.lead["guardrail_up"])
    assert clipped.any() and not clipped.all()  # the guardrails bind in some futures, not all


def test_chunks_and_pipeline_do_not_change_the_futures():
    """A chunk's futures do not depend on the chunks around it: the first 100,000 of 120,000
    futures (three chunks, prepared on helper threads while the one before settles, two input
    matrices taking turns, the last one smaller) are those of 100,000 (two chunks)."""
    s = Scenario()
    big = horizon.simulate_horizon(s, trials=120_000, seed=3)
    small = horizon.simulate_horizon(s, trials=100_000, seed=3)
    np.testing.assert_array_equal(big.spending[:100_000], small.spending)
    for a, b in zip(big.paths, small.paths, strict=True):
        np.testing.assert_array_equal(a.benchmark[:100_000], b.benchmark)
        np.testing.assert_array_equal(a.shared[:100_000], b.shared)
        for name, v in b.steps.items():
            np.testing.assert_array_equal(a.steps[name][:100_000], v, err_msg=name)
    assert big.rng_seconds > 0
