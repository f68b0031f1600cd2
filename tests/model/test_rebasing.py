"""Rebasing and LEAD benchmark functions (simulation/model/rebasing.py), values from rebasing.yaml."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.model import rebasing
from simulation.rules.catalog import CatalogError

RR = rebasing.load_rebasing_rules()
money = st.floats(3_000, 60_000)
savings_rate = st.floats(0.0, 0.30)


def test_every_value_has_a_source_and_label():
    for key, (conf, ref) in RR.sources.items():
        assert conf in ("REG", "CMS", "SEC", "INF"), key
        assert len(ref) >= 3, key
    assert RR.mssp["regional_weight_lower"][1] == 0.50  # 2nd adjustment, lower-spending: 425.656(d)(2)


def test_bad_file_names_the_field(tmp_path):
    raw = yaml.safe_load(rebasing.REBASING_FILE.read_text())
    raw["mssp"]["psa_cap"]["value"] = 1.5
    del raw["lead"]["guardrail_up"]
    bad = tmp_path / "rebasing.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(CatalogError) as exc:
        rebasing.load_rebasing_rules(bad)
    assert "mssp.psa_cap: must be a number between 0 and 1" in str(exc.value)
    assert "lead.guardrail_up: missing" in str(exc.value)


def test_hand_computed_renewal():
    # BY spending 9,000 / 9,500 / 10,000, trended to BY3 by 1.1025, 1.05, 1:
    # 9,922.5, 9,975, 10,000; 1/3 each -> HB = 9,965.83.
    x = np.array([9_000.0, 9_500.0, 10_000.0])
    t = np.array([1.1025, 1.05, 1.0])
    hb = rebasing.historical_benchmark(x, t, RR.mssp["historical_weights_renewal"])
    assert hb == pytest.approx((9_922.5 + 9_975 + 10_000) / 3, abs=0.01)
    # region 11,000: lower-spending, 2nd adjustment w = 0.5: 0.5 * 1,034.17 = 517.08;
    # cap 5% of national 11,000 = 550, not binding
    ra = rebasing.regional_adjustment(RR, hb, 11_000.0, 11_000.0, 2)
    assert ra == pytest.approx(0.5 * (11_000 - hb), abs=0.01)
    # region 13,000: 0.5 * 3,034 = 1,517 > cap 650
    assert rebasing.regional_adjustment(RR, hb, 13_000.0, 13_000.0, 2) == pytest.approx(650.0)
    # region 9,000: higher-spending, w = 0.25: 0.25 * -965.8 = -241.5, floor -1.5% * 9,000 = -135
    assert rebasing.regional_adjustment(RR, hb, 9_000.0, 9_000.0, 2) == pytest.approx(-135.0)
    # savings 400, 500, 600 per capita: mean 500, PSA 250 (< 5% of 11,000 = 550)
    psa = rebasing.prior_savings_adjustment(RR, np.array([400.0, 500.0, 600.0]), 11_000.0)
    assert psa == pytest.approx(250.0)
    assert rebasing.prior_savings_adjustment(RR, np.array([400.0, 500.0, 600.0]), 11_000.0, proposal=True) == pytest.approx(375.0)
    # larger of the two, never the sum; negative RA with PSA -> PSA; negative RA alone -> 0
    assert rebasing.benchmark_adjustment(RR, ra, psa) == pytest.approx(ra)
    assert rebasing.benchmark_adjustment(RR, -135.0, 250.0) == pytest.approx(250.0)
    assert rebasing.benchmark_adjustment(RR, -135.0, 0.0) == 0.0
    # update: 2/3 * 1.04 + 1/3 * 1.07 = 1.05
    assert rebasing.update_factor(RR, 1.04, 1.07) == pytest.approx(1.05)


def test_lead_update_guardrails_and_discounts():
    # trend 4%, ACPT 5%: clamped to 4.3%; 2/3 * 4% + 1/3 * 4.3% = 4.1% -> 1.041
    uf = rebasing.lead_update(RR, np.array([0.04]), np.array([0.05]))
    assert uf[0] == pytest.approx(1.041)
    # ACPT 1%: clamped to 3.8%; 2/3 * 4 + 1/3 * 3.8 = 3.9333%
    assert rebasing.lead_update(RR, np.array([0.04]), np.array([0.01]))[0] == pytest.approx(1.039333, abs=1e-6)
    assert rebasing.lead_risk_ratio(RR, np.array([0.9, 1.01, 1.2])).tolist() == pytest.approx([0.97, 1.01, 1.03])
    assert rebasing.lead_risk_ratio(RR, np.array([1.2]), high_needs=True)[0] == pytest.approx(1.04)
    assert rebasing.lead_discount(RR, 0, global_option=True, lower=np.array([True, False])).tolist() == [0.03, 0.0175]
    assert rebasing.lead_discount(RR, 9, global_option=True, lower=np.array([False]))[0] == 0.03
    assert rebasing.lead_discount(RR, 3, global_option=False, lower=np.array([True]))[0] == 0.0
    # base: history 10,000, region 11,000, new ACO (cap 5% of 11,000 = 550): REA 0.5 * 1,000 = 500
    h = np.full(3, 10_000.0)
    b = rebasing.lead_base(RR, h, np.ones(3), 11_000.0, 11_000.0, renewing=True, former_mssp=False, global_option=True)
    assert b["base"] == pytest.approx(10_500.0)
    # former MSSP: cap 3% of 11,000 = 330
    b = rebasing.lead_base(RR, h, np.ones(3), 11_000.0, 11_000.0, renewing=True, former_mssp=True, global_option=True)
    assert b["base"] == pytest.approx(10_330.0)
    # Professional: no positive REA; higher-spending: history alone
    assert rebasing.lead_base(RR, h, np.ones(3), 11_000.0, 11_000.0, renewing=True, former_mssp=False,
                              global_option=False)["base"] == pytest.approx(10_000.0)
    assert rebasing.lead_base(RR, h, np.ones(3), 9_000.0, 9_000.0, renewing=True, former_mssp=False,
                              global_option=True)["base"] == pytest.approx(10_000.0)


def test_present_value_with_lag():
    # 100 a year for 2 years, cash 1 year after each PY ends, 10%: 100/1.1^2 + 100/1.1^3
    pv = rebasing.present_value(np.array([100.0, 100.0]), 0.10, 1)
    assert pv == pytest.approx(100 / 1.21 + 100 / 1.331)


@settings(max_examples=60, deadline=None)
@given(money, st.floats(0.0, 0.10), st.floats(0.0, 0.1), st.floats(0.0, 0.1))
def test_more_savings_never_raises_the_historical_benchmark(b, g, s_low, extra):
    # spending (1 - s) of a counterfactual that grows at g; more s in any year -> lower HB
    c = b * (1 + g) ** np.arange(3)
    t = c[-1] / c
    hb_low = rebasing.historical_benchmark((1 - s_low) * c, t, RR.mssp["historical_weights_renewal"])
    hb_high = rebasing.historical_benchmark((1 - s_low - extra) * c, t, RR.mssp["historical_weights_renewal"])
    assert hb_high <= hb_low + 1e-9
    # no savings: HB is where the trend puts the BY3 counterfactual
    assert rebasing.historical_benchmark(c, t, RR.mssp["historical_weights_renewal"]) == pytest.approx(c[-1])


@settings(max_examples=80, deadline=None)
@given(money, st.floats(0.5, 2.0), st.integers(1, 6), st.floats(0, 1), st.floats(-0.2, 0.3))
def test_adjustments_respect_their_caps(hb, region, count, offset, sbar):
    national = hb * region
    ra = rebasing.regional_adjustment(RR, hb, hb * region, national, count, offset)
    assert -0.015 * national - 1e-9 <= ra <= 0.05 * national + 1e-9
    psa = rebasing.prior_savings_adjustment(RR, np.full(3, sbar * hb), national)
    assert 0 <= psa <= 0.05 * national + 1e-9
    adj = rebasing.benchmark_adjustment(RR, ra, psa)
    assert 0 <= adj <= 0.05 * national + 1e-9
    assert adj == pytest.approx(max(ra, psa, 0.0))
