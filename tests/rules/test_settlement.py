"""Settlement engine: the worked examples of settlement-rules.md section 7, by hand, and properties.

Each example states its arithmetic in a comment; amounts are before sequestration unless the
test says so (``savings_before_cap`` is gross x final sharing rate).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.rules.explain import explain
from simulation.rules.settlement import settle

TOL = 0.01  # dollars


# ------------------------------------------------------------------ Example A: BASIC A, PY2024


def test_example_a_basic_a_one_sided(catalog):
    r = catalog.rules("BASIC_A", 2024)
    s = settle(r, 12_000, 11_520, 12_500).row()
    # 150M benchmark - 144M spending = 6M gross, 4.00% >= MSR 2.85% (3.0 - 0.3 x 2,500/5,000)
    assert s["gross"] == pytest.approx(6_000_000, abs=TOL)
    assert s["savings_rate"] == pytest.approx(0.04)
    assert s["msr"] == pytest.approx(0.0285, abs=1e-5)
    # QPS met: 40% x 6M = 2.4M (first dollar); cap 10% x 150M = 15M not binding; 2% sequestration
    assert s["savings_before_cap"] == pytest.approx(2_400_000, abs=TOL)
    assert s["shared_savings"] == pytest.approx(2_400_000 * 0.98, abs=TOL)


def test_example_a_alternative_qps_and_low_revenue(catalog):
    r = catalog.rules("BASIC_A", 2024)
    # alternative QPS only, HEAQS 75%: 0.40 x 0.75 = 30% of 6M = 1.8M
    s = settle(r, 12_000, 11_520, 12_500, qps_met=False, alt_qps_met=True, quality_score=0.75).row()
    assert s["savings_before_cap"] == pytest.approx(1_800_000, abs=TOL)
    # E = 11,760: 2.00% < MSR -> 0 ...
    s = settle(r, 12_000, 11_760, 12_500).row()
    assert s["savings_before_cap"] == 0 and not s["met_msr"]
    # ... unless low revenue in a 2024+ agreement with QPS met: 20% x 3M = 600K (425.605(h))
    s = settle(r, 12_000, 11_760, 12_500, low_revenue=True, agreement_start_year=2024).row()
    assert s["savings_before_cap"] == pytest.approx(600_000, abs=TOL) and s["low_revenue_exception"]
    # a 2023 agreement does not qualify; neither does the same ACO in PY2023
    assert settle(r, 12_000, 11_760, 12_500, low_revenue=True, agreement_start_year=2023).row()["earned"] == 0
    r23 = catalog.rules("BASIC_A", 2023)
    assert settle(r23, 12_000, 11_760, 12_500, low_revenue=True, agreement_start_year=2024).row()["earned"] == 0


# ------------------------------------------------------------------ Example B: ENHANCED losses


@pytest.mark.parametrize(
    ("quality", "qps", "rate", "owed"),
    [
        (0.80, True, 0.40, 7_920_000),   # 1 - 0.75 x 0.80 = 0.40 (floor) x 19.8M
        (0.60, True, 0.55, 10_890_000),  # 1 - 0.45 = 0.55 x 19.8M
        (0.60, False, 0.75, 14_850_000),  # both standards missed: 0.75 x 19.8M
    ],
)
def test_example_b_enhanced_loss_rate(catalog, quality, qps, rate, owed):
    r = catalog.rules("ENHANCED", 2024)
    # N 30,000, B 11,000, E 11,660: loss rate 6% >= MLR 2%; gross loss 19.8M; limit 15% x 330M
    s = settle(r, 11_000, 11_660, 30_000, msr=0.02, quality_score=quality, qps_met=qps).row()
    assert s["met_mlr"] and s["loss_rate"] == pytest.approx(rate)
    assert s["shared_losses"] == pytest.approx(owed, abs=TOL)
    assert s["loss_limit"] == pytest.approx(49_500_000, abs=TOL)
    assert s["earned"] == pytest.approx(-owed, abs=TOL)


def test_example_b_acpt_protection(catalog):
    r = catalog.rules("ENHANCED", 2024)
    kw = {"msr": 0.02, "quality_score": 0.60, "benchmark_two_way": 11_200, "agreement_start_year": 2024}
    # loss against B2 = 460 x 30,000 = 13.8M < 19.8M; x 0.55 = 7.59M
    s = settle(r, 11_000, 11_660, 30_000, **kw).row()
    assert s["acpt_protection"] and s["shared_losses"] == pytest.approx(7_590_000, abs=TOL)
    # spending below B2: nothing owed
    assert settle(r, 11_000, 11_190, 30_000, **kw).row()["shared_losses"] == 0
    # a 2023 agreement has no protection
    kw["agreement_start_year"] = 2023
    assert settle(r, 11_000, 11_660, 30_000, **kw).row()["shared_losses"] == pytest.approx(10_890_000, abs=TOL)


# ------------------------------------------------------------------ Example C: BASIC E limits


@pytest.mark.parametrize(("revenue", "owed"), [(20e6, 1_600_000), (80e6, 2_184_000)])
def test_example_c_basic_e_loss_limit(catalog, revenue, owed):
    r = catalog.rules("BASIC_E", 2024)
    # N 8,000 -> size-based MLR 3.2%; loss 7% of 104M = 7.28M x 30% = 2.184M
    # revenue 20M: 8% = 1.6M < 4% x 104M = 4.16M -> owes 1.6M; revenue 80M: limit 4.16M, not binding
    s = settle(r, 13_000, 13_910, 8_000, participant_revenue=revenue).row()
    assert s["mlr"] == pytest.approx(0.032)
    assert s["losses_before_limit"] == pytest.approx(2_184_000, abs=TOL)
    assert s["shared_losses"] == pytest.approx(owed, abs=TOL)


# ------------------------------------------------------------------ Examples D, E, F


def test_example_d_track_1_quality_multiplier(catalog):
    r = catalog.rules("TRACK_1", 2018)
    # N 20,000, B 10,000, E 9,700: 3% >= MSR 2.5%; 6M x 50% x 0.90 = 2.7M; 2018 sequestration 2%
    s = settle(r, 10_000, 9_700, 20_000, quality_score=0.90).row()
    assert s["msr"] == pytest.approx(0.025)
    assert s["share_rate"] == pytest.approx(0.45)
    assert s["savings_before_cap"] == pytest.approx(2_700_000, abs=TOL)
    assert s["shared_savings"] == pytest.approx(2_646_000, abs=TOL)


def test_example_e_enhanced_cap_binds(catalog):
    r = catalog.rules("ENHANCED", 2020)  # PY2020: no sequestration
    # 30% savings of 100M: 75% x 30M = 22.5M > cap 20% x 100M = 20M
    s = settle(r, 10_000, 7_000, 10_000, msr=0.0).row()
    assert s["savings_before_cap"] == pytest.approx(22_500_000, abs=TOL)
    assert s["shared_savings"] == pytest.approx(20_000_000, abs=TOL)


def test_example_f_reach_corridors(catalog):
    # gross savings 30% of benchmark, no discount or withhold:
    # Global keeps 25 + 0.5 x 5 = 27.5%; Professional 2.5 + 1.75 + 0.75 + 0.05 x 15 = 5.75%
    for track, kept in [("REACH_GLOBAL", 0.275), ("REACH_PROFESSIONAL", 0.0575)]:
        r = catalog.rules(track, 2023)
        s = settle(r, 10_000, 7_000, 10_000, benchmark_discount=0.0).row()
        assert s["savings_before_cap"] / s["benchmark_total"] == pytest.approx(kept)
        # losses mirror savings
        s = settle(r, 10_000, 13_000, 10_000, benchmark_discount=0.0).row()
        assert s["shared_losses"] / s["benchmark_total"] == pytest.approx(kept)


def test_reach_pays_gross_against_final_benchmark_net_of_sequestration(catalog):
    # CMS REACH PY2023 results, first row (Global): final benchmark 205,761,979.58, total cost
    # 167,965,318.90, savings 18% < 25% corridor -> kept 100% x 0.98 = 37,040,727.47 published
    r = catalog.rules("REACH_GLOBAL", 2023)
    s = settle(r, 205_761_979.58, 167_965_318.90, 1, benchmark_discount=0.0).row()
    assert s["shared_savings"] == pytest.approx(37_040_727.47, abs=1.0)


def test_ngaco_cap_applies_to_gross_before_sharing(catalog):
    r = catalog.rules("NGACO_A", 2017)
    # 10% gross savings, elected 5% cap, 80% sharing -> at most 4% of benchmark before sequestration
    s = settle(r, 10_000, 9_000, 10_000, savings_cap=0.05, benchmark_discount=0.0).row()
    assert s["savings_before_cap"] == pytest.approx(0.04 * 100e6, abs=TOL)
    assert s["shared_savings"] == pytest.approx(0.04 * 100e6 * 0.98, abs=TOL)
    s = settle(r, 10_000, 11_000, 10_000, savings_cap=0.05, benchmark_discount=0.0).row()
    assert s["shared_losses"] == pytest.approx(0.04 * 100e6, abs=TOL)  # losses not sequestered


def test_track_2_loss_limit_steps_up_by_agreement_year(catalog):
    r = catalog.rules("TRACK_2", 2016)
    owed = [settle(r, 10_000, 12_000, 10_000, msr=0.02, quality_score=0.5, agreement_year=k).row()["shared_losses"]
            for k in (1, 2, 3, 4)]
    # 20M loss x (1 - 0.6 x 0.5 = 0.7, at most 0.6) = 12M, limited to 5%/7.5%/10% of 100M
    assert owed == pytest.approx([5e6, 7.5e6, 10e6, 10e6])


def test_euc_reduction_applies_after_the_limit(catalog):
    r = catalog.rules("BASIC_E", 2024)
    s = settle(r, 13_000, 13_910, 8_000, participant_revenue=20e6, euc_share=0.25).row()
    assert s["shared_losses"] == pytest.approx(1_600_000 * 0.75, abs=TOL)


def test_fixed_election_reverts_to_size_based_below_5000(catalog):
    r = catalog.rules("BASIC_C", 2022)
    s = settle(r, 10_000, 9_700, 4_000, msr=0.0).row()
    assert s["msr"] == pytest.approx(r.msr_for_size(4_000).item())


def test_broadcasting_and_shapes(catalog):
    r = catalog.rules("ENHANCED", 2024)
    e = np.linspace(9_000, 11_500, 12).reshape(3, 4)
    s = settle(r, 10_000, e, 20_000, msr=0.01)
    assert s.earned.shape == (3, 4) and s.msr.shape == (3, 4)


def test_explain_walks_to_the_same_result(catalog):
    r = catalog.rules("BASIC_E", 2024)
    steps = explain(r, 13_000, 13_910, 8_000, participant_revenue=20e6)
    assert [s.key for s in steps] == ["benchmark", "spending", "gross", "mlr", "loss_rate", "loss_limit", "owed", "net"]
    assert steps[-1].total == pytest.approx(-1_600_000)
    assert all(s.citation for s in steps)
    # money steps add up to the result
    assert steps[0].amount + steps[1].amount == pytest.approx(steps[2].total)
    steps = explain(catalog.rules("ENHANCED", 2020), 10_000, 7_000, 10_000, msr=0.0)
    assert "cap" in [s.key for s in steps] and steps[-1].total == pytest.approx(20e6)


# ------------------------------------------------------------------ properties (hypothesis)

_TRACK_YEARS = [
    ("BASIC_A", 2024), ("BASIC_B", 2021), ("BASIC_C", 2023), ("BASIC_D", 2020), ("BASIC_E", 2024),
    ("ENHANCED", 2019), ("ENHANCED", 2024), ("TRACK_1", 2015), ("TRACK_1_PLUS", 2019),
    ("TRACK_2", 2014), ("TRACK_3", 2018), ("NGACO_A", 2019), ("NGACO_B", 2017),
    ("REACH_PROFESSIONAL", 2024), ("REACH_GLOBAL", 2026),
]

aco = st.fixed_dictionaries({
    "track_year": st.sampled_from(_TRACK_YEARS),
    "benchmark": st.floats(5_000, 60_000),
    "savings_rate": st.floats(-0.5, 0.6),
    "n": st.integers(200, 200_000),
    "quality": st.floats(0, 1),
    "qps": st.booleans(),
    "alt": st.booleans(),
    "msr": st.sampled_from([0.0, 0.005, 0.01, 0.015, 0.02, float("nan")]),
    "revenue": st.one_of(st.none(), st.floats(1e5, 5e9)),
    "low_revenue": st.booleans(),
    "start": st.sampled_from([2016, 2019, 2022, 2024, 2025]),
    "agreement_year": st.integers(1, 5),
    "euc": st.floats(0, 1),
})


def _settle(catalog, a, savings_rate=None):
    r = catalog.rules(*a["track_year"])
    rate = a["savings_rate"] if savings_rate is None else savings_rate
    return r, settle(
        r, a["benchmark"], a["benchmark"] * (1 - np.asarray(rate)), a["n"], quality_score=a["quality"],
        qps_met=a["qps"], alt_qps_met=a["alt"], msr=a["msr"], participant_revenue=a["revenue"],
        low_revenue=a["low_revenue"], agreement_start_year=a["start"],
        agreement_year=a["agreement_year"], euc_share=a["euc"],
    )


@settings(max_examples=400, deadline=None)
@given(a=aco)
def test_one_sided_never_owes_and_nothing_is_negative(catalog, a):
    r, s = _settle(catalog, a)
    assert s.shared_savings >= 0 and s.shared_losses >= 0
    assert not (s.shared_savings > 0 and s.shared_losses > 0)
    if r.risk == "one_sided":
        assert s.shared_losses == 0 and s.earned >= 0


@settings(max_examples=400, deadline=None)
@given(a=aco)
def test_savings_never_exceed_the_cap_and_losses_never_exceed_the_limit(catalog, a):
    r, s = _settle(catalog, a)
    if r.savings_cap is not None and r.loss_rate_mode != "corridor":
        assert s.shared_savings <= r.savings_cap * s.benchmark_total + 1e-6
    assert s.shared_savings <= max(s.gross, 0) * r.max_share_rate + 1e-6
    assert s.shared_losses <= s.loss_limit + 1e-6
    assert s.shared_losses <= max(-s.gross, 0) + 1e-6


@settings(max_examples=300, deadline=None)
@given(a=aco)
def test_paying_never_falls_as_spending_falls(catalog, a):
    """Earned is non-decreasing in the savings rate: across the MSR it can only jump up (from
    nothing, or from the low-revenue half rate, to the full rate)."""
    rates = np.linspace(-0.5, 0.6, 221)
    r, s = _settle(catalog, a, savings_rate=rates)
    earned = np.asarray(s.earned)
    assert np.all(np.diff(earned) >= -1e-6), r.track
    crossing = np.flatnonzero(np.diff(s.met_msr.astype(int)) == 1)
    for i in crossing:
        assert earned[i + 1] >= earned[i]
