"""LEAD in the catalog and the settlement kernel, MSSP under the CY2026 rule, the CY2027
proposal as a variant, REACH PY2026, and the 2027 default scenario.

Every hand-computed case gives its arithmetic in a comment (policy-2027.md sections 1, 2, 4).
The money of the tracks that existed before LEAD is checked to the cent against the results
of the engine before this change (commit 481ed67).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from simulation.cli import main
from simulation.model import horizon, montecarlo, rebasing
from simulation.model.scenario import (
    DEFAULT_TRACKS,
    GLIDE,
    Scenario,
    TrackChoice,
    eligibility_notes,
    track_sequence,
)
from simulation.rules.catalog import VARIANTS, load_catalog
from simulation.rules.explain import explain
from simulation.rules.kernel import _rule_arrays
from simulation.rules.settlement import is_higher_spending, settle

B, N = 10_000.0, 10_000  # $10,000 per beneficiary, 10,000 beneficiaries: $100M of benchmark
PROPOSAL = "CY2027_PROPOSAL"


def _rules(track: str, year: int = 2027, **changes):
    return dataclasses.replace(load_catalog().rules(track, year), **changes)


def _final(track: str, year: int = 2027, higher: bool = False, q: float = 1.0) -> float:
    """The benchmark the corridors settle on: B x N x (1 - d) x (1 - 3% x (1 - q))."""
    return float(settle(_rules(track, year), B, B, N, quality_score=q, higher_spending=higher).benchmark_total)


def _spending_for(rate: float, final: float) -> float:
    """Per-capita spending giving gross savings of ``rate`` x the final benchmark."""
    return final * (1.0 - rate) / N


# --------------------------------------------------------------------------- corridors


@pytest.mark.parametrize(("track", "rate", "kept"), [
    ("LEAD_GLOBAL", 0.08, 0.08),          # band 1 only: 8% x 100% = 8%
    ("LEAD_GLOBAL", 0.20, 0.175),         # 15% x 100% + (20 - 15)% x 50% = 15 + 2.5 = 17.5%
    ("LEAD_GLOBAL", 0.60, 0.2975),        # 15 + 20 x 50% + 15 x 25% + 10 x 10% = 15 + 10 + 3.75 + 1 = 29.75%
    ("LEAD_PROFESSIONAL", 0.12, 0.067),   # 10% x 60% + 2% x 35% = 6.0 + 0.7 = 6.7%
    ("LEAD_PROFESSIONAL", 0.25, 0.0875),  # 6.0 + 5 x 35% + 5 x 15% + 5 x 5% = 6 + 1.75 + 0.75 + 0.25 = 8.75%
])
def test_savings_corridors_by_hand(track, rate, kept):
    rules = _rules(track, sequestration_rate=0.0)
    final = _final(track)
    s = settle(rules, B, _spending_for(rate, final), N)
    assert s.savings_rate == pytest.approx(rate)
    assert s.shared_savings / final == pytest.approx(kept, abs=1e-12)
    # with the catalog's 2% sequestration of the shared amount: kept x 0.98
    s2 = settle(_rules(track), B, _spending_for(rate, final), N)
    assert s2.shared_savings / final == pytest.approx(kept * 0.98, abs=1e-12)


def test_loss_corridors_by_hand():
    g = _final("LEAD_GLOBAL")
    # Global, loss = 100% of the benchmark: 15 x 1 + 20 x .5 + 15 x .25 + 50 x .10
    #   = 15 + 10 + 3.75 + 5 = 33.75% owed (no overall cap)
    s = settle(_rules("LEAD_GLOBAL"), B, _spending_for(-1.0, g), N)
    assert s.shared_losses / g == pytest.approx(0.3375, abs=1e-12)
    assert s.shared_savings == 0 and s.earned == pytest.approx(-0.3375 * g)
    # sequestration never touches losses
    assert s.sequestration == 0
    p = _final("LEAD_PROFESSIONAL")
    # Professional, 12% loss on the assumed loss bands [INF]: 10 x 50% + 2 x 35% = 5.0 + 0.7 = 5.7%
    s = settle(_rules("LEAD_PROFESSIONAL"), B, _spending_for(-0.12, p), N)
    assert s.shared_losses / p == pytest.approx(0.057, abs=1e-12)
    # the loss bands are a separate setting: without them losses follow the savings bands (6.7%)
    s = settle(_rules("LEAD_PROFESSIONAL", loss_corridors=None), B, _spending_for(-0.12, p), N)
    assert s.shared_losses / p == pytest.approx(0.067, abs=1e-12)
    # and changing them changes losses only: 10 x 40% + 2 x 35% = 4.7%
    bands = load_catalog().rules("LEAD_PROFESSIONAL", 2027).loss_corridors
    other = (dataclasses.replace(bands[0], share=0.40), *bands[1:])
    s = settle(_rules("LEAD_PROFESSIONAL", loss_corridors=other), B, _spending_for(-0.12, p), N)
    assert s.shared_losses / p == pytest.approx(0.047, abs=1e-12)
    up = settle(_rules("LEAD_PROFESSIONAL", loss_corridors=other), B, _spending_for(0.12, p), N)
    assert up.shared_savings / p == pytest.approx(0.067 * 0.98, abs=1e-12)


def test_first_dollar_no_msr():
    # a 0.1% saving is shared: no MSR/MLR in LEAD
    g = _final("LEAD_GLOBAL")
    s = settle(_rules("LEAD_GLOBAL"), B, _spending_for(0.001, g), N)
    assert s.msr == 0 and s.shared_savings == pytest.approx(0.001 * g * 0.98)


# --------------------------------------------------------------------------- discount, withhold


HIGHER = {2027: 0.0175, 2028: 0.02, 2029: 0.0225, 2030: 0.025, 2031: 0.0275,
          2032: 0.03, 2033: 0.03, 2034: 0.03, 2035: 0.03, 2036: 0.03}


@pytest.mark.parametrize("year", range(2027, 2037))
def test_discount_by_spending_class_and_year(year):
    # Global: lower-spending 3% every year; higher-spending 1.75% (2027) + 0.25 pt a year to
    # 3% (2032), then 3% [SEC ends, INF steps]. Professional: none. Quality 1: no withhold lost.
    # $100M x (1 - d): lower 97.0M; higher 2029: 100 x (1 - .0225) = 97.75M
    assert _final("LEAD_GLOBAL", year, higher=False) == pytest.approx(100e6 * 0.97)
    assert _final("LEAD_GLOBAL", year, higher=True) == pytest.approx(100e6 * (1 - HIGHER[year]))
    assert _final("LEAD_PROFESSIONAL", year, higher=True) == pytest.approx(100e6)
    rules = load_catalog().rules("LEAD_GLOBAL", year)
    assert (rules.discount_for(False), rules.discount_for(True)) == (0.03, HIGHER[year])
    assert rules.confidence("benchmark_discount_higher_spending") == (
        "INF" if 2028 <= year <= 2031 else "SEC")
    # the horizon's rebasing.yaml holds the same schedule (one set of numbers)
    rr = rebasing.load_rebasing_rules()
    t = year - 2027
    for lower in (True, False):
        d = rebasing.lead_discount(rr, t, global_option=True, lower=np.array([lower]))[0]
        assert d == pytest.approx(rules.discount_for(not lower))
    assert rr.lead["admin_add_on"] == rules.admin_add_on


def test_spending_class_from_the_scenario_input():
    # 0.95 of the region: lower-spending; 1.0 and above: higher-spending
    assert is_higher_spending(np.array([0.95, 0.999, 1.0, 1.2])).tolist() == [False, False, True, True]


def test_quality_withhold_with_earn_back():
    # Global lower-spending, quality 80%: discounted benchmark 100M x 0.97 = 97.0M;
    # withhold 3% x 97.0M = 2.91M, of which 20% not earned back = 582,000;
    # final benchmark 97.0M - 0.582M = 96,418,000
    assert _final("LEAD_GLOBAL", q=0.8) == pytest.approx(96_418_000.0)
    # Professional (no discount), quality 50%: 100M x 3% x 50% = 1.5M lost: 98.5M
    assert _final("LEAD_PROFESSIONAL", q=0.5) == pytest.approx(98_500_000.0)
    # full quality earns it all back
    assert _final("LEAD_GLOBAL", q=1.0) == pytest.approx(97_000_000.0)
    # spending 90M at quality 80%: gross 6.418M, all in band 1, x 0.98 = 6,289,640
    s = settle(_rules("LEAD_GLOBAL"), B, 9_000.0, N, quality_score=0.8)
    assert s.shared_savings == pytest.approx(6_418_000.0 * 0.98)


def test_sequestration_setting():
    g = _final("LEAD_GLOBAL")
    e = _spending_for(0.20, g)
    # shared amount (default): kept 17.5% of benchmark, less 2% = 17.15%
    shared = settle(_rules("LEAD_GLOBAL"), B, e, N)
    assert shared.shared_savings / g == pytest.approx(0.1715, abs=1e-12)
    assert _rules("LEAD_GLOBAL").sequestration_stage == "shared_amount"
    # gross: 2% off the 20% first: 19.6% through the corridors = 15 + 4.6 x 50% = 17.3%
    gross = settle(_rules("LEAD_GLOBAL", sequestration_stage="gross"), B, e, N)
    assert gross.shared_savings / g == pytest.approx(0.173, abs=1e-12)
    assert gross.sequestration / g == pytest.approx(0.175 - 0.173, abs=1e-12)
    # inside band 1 the two readings agree: 8% x 0.98 = 7.84% either way
    e8 = _spending_for(0.08, g)
    for stage in ("shared_amount", "gross"):
        s = settle(_rules("LEAD_GLOBAL", sequestration_stage=stage), B, e8, N)
        assert s.shared_savings / g == pytest.approx(0.0784, abs=1e-12)


def test_administrative_add_on():
    # Global 2027, higher-spending, quality 1: final benchmark 100M x (1 - 1.75%) = 98.25M;
    # spending 96.25M: gross 2.0M, band 1, x 0.98 = 1.96M shared;
    # add-on 1.5% x 100M (before the discount) = 1.5M outside the sharing: earned 3.46M
    s = settle(_rules("LEAD_GLOBAL"), B, 9_625.0, N, higher_spending=True)
    assert s.shared_savings == pytest.approx(1_960_000.0)
    assert s.admin_add_on == pytest.approx(1_500_000.0)
    assert s.earned == pytest.approx(3_460_000.0)
    # the fast path carries the add-on too
    fast = settle(_rules("LEAD_GLOBAL"), B, 9_625.0, N, higher_spending=True, detail=False)
    assert fast.earned == pytest.approx(3_460_000.0) and fast.admin_add_on == pytest.approx(1_500_000.0)
    # a lower-spending ACO gets none: 97.0M - 96.25M = 0.75M x 0.98 = 735,000
    low = settle(_rules("LEAD_GLOBAL"), B, 9_625.0, N)
    assert low.admin_add_on == 0 and low.earned == pytest.approx(735_000.0)
    # placed in the benchmark instead: 98.25M + 1.5M = 99.75M; gross 3.5M x 0.98 = 3.43M
    inb = settle(_rules("LEAD_GLOBAL", admin_add_on_placement="in_benchmark"), B, 9_625.0, N,
                 higher_spending=True)
    assert inb.benchmark_total == pytest.approx(99_750_000.0)
    assert inb.admin_add_on == 0 and inb.earned == pytest.approx(3_430_000.0)
    # switched off (a what-if): 0
    off = settle(_rules("LEAD_GLOBAL", admin_add_on=0.0), B, 9_625.0, N, higher_spending=True)
    assert off.earned == pytest.approx(1_960_000.0)


def test_minimum_beneficiaries(catalog):
    r = catalog.rules("LEAD_GLOBAL", 2030)
    assert (r.minimum_assigned_beneficiaries, r.minimum_beneficiaries_high_needs,
            r.minimum_beneficiaries_new_entrant) == (5000, 800, 1000)
    assert r.confidence("minimum_assigned_beneficiaries") == "CMS"


def test_explain_narrates_lead_with_citations():
    rules = load_catalog().rules("LEAD_GLOBAL", 2028)
    steps = explain(rules, B, 9_000.0, N, quality_score=0.9, higher_spending=True)
    keys = [s.key for s in steps]
    assert keys[:3] == ["benchmark", "discount", "withhold"]
    assert {"share", "sequestration", "paid", "add_on", "net"} <= set(keys)
    by = {s.key: s for s in steps}
    assert "higher-spending" in by["discount"].text and "[INF]" in by["discount"].citation  # the 2% step
    assert by["discount"].amount == pytest.approx(-0.02 * B * N)
    assert "[SEC]" in by["share"].citation and "15%" in by["share"].text
    assert by["add_on"].amount == pytest.approx(0.015 * B * N) and "[INF]" in by["add_on"].citation
    s = settle(rules, B, 9_000.0, N, quality_score=0.9, higher_spending=True)
    assert by["net"].total == pytest.approx(float(s.earned))
    assert all(st.citation for st in steps)
    losses = explain(load_catalog().rules("LEAD_PROFESSIONAL", 2027), B, 11_000.0, N)
    corridor = next(s for s in losses if s.key == "loss_rate")
    assert "[INF]" in corridor.citation and "50%" in corridor.text  # the assumed loss bands


# --------------------------------------------------------------------------- REACH PY2025-26


def test_reach_py2026_changes(catalog):
    r25, r26 = catalog.rules("REACH_GLOBAL", 2025), catalog.rules("REACH_GLOBAL", 2026)
    # discount 4% in PY2025 (CMS) and PY2026 (INF, carried); withhold 2% -> 5%; blend 55/45 -> 60/40
    assert (r25.benchmark_discount, r26.benchmark_discount) == (0.04, 0.04)
    assert (r25.quality_withhold, r26.quality_withhold) == (0.02, 0.05)
    assert (r25.regional_blend_weight, r26.regional_blend_weight) == (0.45, 0.40)
    assert not catalog.tracks["REACH_GLOBAL"].open_to(2027)
    assert not catalog.tracks["REACH_PROFESSIONAL"].open_to(2027)
    # first Global corridor cut from 25% to 10%: gross savings of 20% of the final benchmark
    #   PY2025: all in band 1 (up to 25%) at 100% = 20%
    #   PY2026: 10% x 100% + 10% x 50% = 15%
    final = 100e6 * 0.96  # the discount alone: CMS's final benchmark ignores the withhold
    for rules, kept in ((r25, 0.20), (r26, 0.15)):
        s = settle(dataclasses.replace(rules, sequestration_rate=0.0), B, final * 0.8 / N, N, quality_score=0.5)
        assert s.benchmark_total == pytest.approx(final)  # quality 50%: still 0.96 x, withhold apart
        assert s.shared_savings / final == pytest.approx(kept, abs=1e-12)
    # Professional unchanged in 2026: 12% gross: 5 x 50% + 5 x 35% + 2 x 15% = 2.5 + 1.75 + 0.3 = 4.55%
    p = catalog.rules("REACH_PROFESSIONAL", 2026)
    s = settle(dataclasses.replace(p, sequestration_rate=0.0), B, 8_800.0, N)
    assert s.shared_savings / (B * N) == pytest.approx(0.0455, abs=1e-12)


# --------------------------------------------------------------------------- MSSP current law


def test_mssp_2027_2036_under_current_law(catalog):
    for code in ("BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E", "ENHANCED"):
        assert catalog.tracks[code].years == range(2019, 2037)
        for year in range(2027, 2037):
            # every number the settlement uses is PY2026's (the CY2026 rule changed none of them)
            new, old = _rule_arrays(catalog.rules(code, year)), _rule_arrays(catalog.rules(code, 2026))
            assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(new, old, strict=True))
            assert catalog.rules(code, year).quality_mode == "qps_alt_sliding"
    r = catalog.rules("BASIC_E", 2027)
    assert (r.max_share_rate, r.shared_loss_rate, r.loss_limit_benchmark) == (0.5, 0.3, (0.04,))
    assert r.health_equity_quality_bonus is False and catalog.rules("BASIC_E", 2025).health_equity_quality_bonus
    assert catalog.rules("ENHANCED", 2026).quality_standard_score == 73.85
    assert r.quality_standard_score is None  # PY2027's value is not published
    assert r.quality_standard_percentile == 40
    # by agreement start year: the 5,000 test at BY3 and five one-sided years from 2027
    assert catalog.lookup("minimum_beneficiaries_test", "BASIC_C", 2027)[1].value == "third_benchmark_year"
    assert catalog.lookup("minimum_beneficiaries_test", "BASIC_C", 2026)[1].value == "each_benchmark_year"
    assert catalog.lookup("one_sided_years_limit", "BASIC_A", 2027)[1].value == 5
    assert "[CMS]" in catalog.rules("BASIC_A", 2027).source("quality_mode")


def test_one_sided_years_stop_at_five_for_2027_agreements():
    s = Scenario()
    six = s.aco.model_copy(update={"agreement_years": 6})
    stay = TrackChoice(track=GLIDE, stay_at_a=True)
    # a 2027 agreement: five years at Level A, then Level E (CY2026 PFS final rule)
    seq = track_sequence(stay, s.model_copy(update={"aco": six}))
    assert seq == ["BASIC_A"] * 5 + ["BASIC_E"]
    # a 2025 agreement: the seven-year limit does not bind in one agreement
    old = six.model_copy(update={"agreement_start_year": 2025})
    assert track_sequence(stay, s.model_copy(update={"aco": old})) == ["BASIC_A"] * 6
    # the usual glide path is two one-sided years: unchanged
    assert track_sequence(TrackChoice(track=GLIDE), s) == ["BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E"]


# --------------------------------------------------------------------------- CY2027 proposal


def _entry_in_force(row, track, year):
    return (row["from"] <= year and (row["to"] is None or year <= row["to"])
            and ((row["tracks"] is None and load_catalog().tracks[track].program == row["program"])
                 or (row["tracks"] is not None and track in row["tracks"])))


def test_the_variant_changes_only_what_it_lists(catalog):
    listed = catalog.variant_entries(PROPOSAL)
    assert {r["parameter"] for r in listed} == {
        "max_share_rate", "prior_savings_adjustment_share", "regional_weight_cap_lower",
        "acpt_guardrail_below", "acpt_guardrail_above", "prepaid_shared_savings"}
    assert all(r["confidence"] == "PROPOSED" for r in listed)
    changed_somewhere = set()
    names = [f.name for f in dataclasses.fields(catalog.rules("BASIC_E", 2027))
             if f.name not in ("sources", "variant")]
    for track, year in catalog.track_years():
        base, var = catalog.rules(track, year), catalog.rules(track, year, PROPOSAL)
        in_force = {r["parameter"]: r for r in listed if _entry_in_force(r, track, year)}
        for name in names:
            if name in in_force:
                assert getattr(var, name) == in_force[name]["value"], (track, year, name)
                assert var.confidence(name) == "PROPOSED"
                if getattr(var, name) != getattr(base, name):
                    changed_somewhere.add(name)
            else:  # anything the variant does not list is the law in force, value and citation
                assert getattr(var, name) == getattr(base, name), (track, year, name)
                assert var.source(name) == base.source(name)
    assert changed_somewhere == {r["parameter"] for r in listed}
    # BASIC E at 60% from PY2027 only; LEAD, REACH and the legacy tracks untouched
    assert catalog.rules("BASIC_E", 2027, PROPOSAL).max_share_rate == 0.60
    assert catalog.rules("BASIC_E", 2026, PROPOSAL).max_share_rate == 0.50
    for code in ("LEAD_GLOBAL", "LEAD_PROFESSIONAL", "REACH_GLOBAL", "TRACK_3", "NGACO_B"):
        info = catalog.tracks[code]
        assert catalog.rules(code, info.last_year, PROPOSAL).proposed == ()
    assert VARIANTS[PROPOSAL] == "CY2027 proposal"


def test_basic_e_at_60_percent_by_hand():
    # BASIC E 2027, 20,000 beneficiaries (MSR elected 0), quality standard met, gross savings
    # 5% of $100M = 5.0M: law in force 50% x 5.0M x 0.98 = 2.45M; proposal 60% -> 2.94M
    cat = load_catalog()
    for variant, paid in ((None, 2_450_000.0), (PROPOSAL, 2_940_000.0)):
        s = settle(cat.rules("BASIC_E", 2027, variant), B, 9_500.0, N, msr=0.0)
        assert s.shared_savings == pytest.approx(paid)
    assert cat.rules("BASIC_E", 2027, PROPOSAL).source("max_share_rate").endswith("[PROPOSED]")


def test_acpt_guardrails_of_the_proposal():
    assert montecarlo._acpt_guardrails(2027, 5, None) is None  # the law in force: none
    lo, hi = montecarlo._acpt_guardrails(2027, 5, PROPOSAL)
    assert lo.tolist() == [-0.01] * 5 and hi.tolist() == [0.015] * 5
    # a 2024 agreement: the floor from PY2025 (retroactive), no ceiling
    lo, hi = montecarlo._acpt_guardrails(2024, 3, PROPOSAL)
    assert lo.tolist() == [-np.inf, -0.01, -0.01] and np.isinf(hi).all()


def _small(**market) -> Scenario:
    s = Scenario(trials=2_000, seed=11)
    return s.model_copy(update={"market": s.market.model_copy(update=market)})


def test_the_switch_changes_only_the_tracks_it_touches():
    base = montecarlo.simulate(_small(prospective_gap_sd=0.0))
    on = montecarlo.simulate(_small(prospective_gap_sd=0.0, cy2027_proposal=True))
    for k, key in enumerate(base.keys):
        same = np.array_equal(base.earned[:, :, k], on.earned[:, :, k])
        code = base.choices[k].track
        if code in ("BASIC_E", GLIDE):  # BASIC E (and the glide path's E year) at 60%
            assert not same, key
            assert "[PROPOSED, not final law]" in " ".join(on.notes[key])
        else:  # no ACPT error (sd 0, mean 0) so the guardrails never bind; LEAD untouched
            assert same, key
        assert not any("PROPOSED" in n for n in base.notes[key])
    # an ACPT 3 points a year below the trend: the proposal's floor (-1 point) binds for MSSP
    low = montecarlo.simulate(_small(prospective_gap_mean=-0.03, prospective_gap_sd=0.0))
    low_on = montecarlo.simulate(_small(prospective_gap_mean=-0.03, prospective_gap_sd=0.0, cy2027_proposal=True))
    k = low.index("ENHANCED")
    assert low_on.earned[:, :, k].mean() > low.earned[:, :, k].mean()
    k = low.index("LEAD Global")
    np.testing.assert_array_equal(low.earned[:, :, k], low_on.earned[:, :, k])


def test_the_horizon_follows_the_switch():
    s = _small(cy2027_proposal=True)
    assert horizon.simulate_horizon(s, paths=[horizon.default_paths()[0]], trials=100).settings["psa_proposal"]
    off = horizon.simulate_horizon(_small(), paths=[horizon.default_paths()[0]], trials=100)
    assert off.settings["psa_proposal"] is False


# --------------------------------------------------------------------------- the 2027 default


def test_default_scenario_is_a_2027_decision_without_carried_rules(catalog):
    s = Scenario()
    assert s.aco.agreement_start_year == 2027 and s.variant is None
    assert [c.track for c in s.tracks] == list(DEFAULT_TRACKS)
    assert {"LEAD_GLOBAL", "LEAD_PROFESSIONAL", "ENHANCED", "BASIC_E", GLIDE} <= set(DEFAULT_TRACKS)
    for choice in s.tracks:
        for code in track_sequence(choice, s):
            assert catalog.tracks[code].open_to(2027), code
        for yp in montecarlo.plan(choice, s):
            assert not yp.carried, (choice.track, yp.rules.year)
        assert not any("nearest year" in n for n in eligibility_notes(choice, s)), choice.track
    # legacy tracks stay selectable for history
    assert TrackChoice(track="REACH_GLOBAL").track == "REACH_GLOBAL"
    assert TrackChoice(track="TRACK_1").track == "TRACK_1"


def test_default_simulation_has_no_carried_forward_note():
    r = montecarlo.simulate(Scenario(), trials=1_000)
    assert not montecarlo.summary(r)["rules_carried"].any()
    assert not any("nearest year" in n for notes in r.notes.values() for n in notes)
    # LEAD is settled, with the REACH-calibrated prospective benchmark and the class discount
    k = r.index("LEAD Global")
    assert np.isfinite(r.earned[:, :, k]).all() and r.earned[:, :, k].std() > 0
    rules, args = r.settlement_inputs("LEAD Global", 3, 0)
    assert args["higher_spending"] is False  # spending_vs_region 0.95: lower-spending
    assert float(settle(rules, **args).earned) == pytest.approx(r.earned[3, 0, k], abs=0.01)


def test_walkthrough_reproduces_a_simulated_lead_year():
    from simulation.learn import walkthrough as wt

    s = Scenario(trials=1_000, tracks=[TrackChoice(track="LEAD_GLOBAL")])
    s = s.model_copy(update={"aco": s.aco.model_copy(update={"spending_vs_region": 1.1})})
    r = montecarlo.simulate(s)
    rules, args = r.settlement_inputs("LEAD Global", 7, 2)
    inputs = wt.WalkInputs.from_settle_args(args)
    assert inputs.higher_spending is True
    walk = wt.walk(rules, inputs)
    assert walk.final == pytest.approx(r.earned[7, 2, 0], abs=0.01)
    assert "add_on" in [st.key for st in walk.steps]
    bars = wt.waterfall_bars(walk.steps)
    assert bars[-1].height == pytest.approx(walk.final)


# --------------------------------------------------------------------------- existing tracks


#: Shared savings minus losses of the tracks that existed before LEAD, on the default scenario
#: (4,000 futures, seed 20261123), as (sum in cents, SHA-256 of the cent-rounded array), from
#: the engine at commit 481ed67. A 2026 and a 2027 start give the same: the 2026 rules carried
#: forward then are the 2027 rules now.
BEFORE = {
    "BASIC A": (7806312207150, "c33c7f5776d1ce6e"),
    "BASIC B": (7806312207150, "c33c7f5776d1ce6e"),
    "BASIC C": (9629956753822, "6086074574fef37a"),
    "BASIC D": (9511621837468, "126d8cc4cf6ba056"),
    "BASIC E": (9437768142081, "b522383667effa43"),
    "ENHANCED": (13578525518114, "e8015afc3a46cdd5"),
    "BASIC glide": (8993273090367, "ee96dc220721da0f"),
    "Track 1": (9354082607096, "736096e1603f2395"),
    "Track 1+": (8977588479437, "1710e26806e06d73"),
    "Track 2": (10580777878644, "bd90a1f829e7d370"),
    "Track 3": (13496140687986, "024857c811006c95"),
    "NGACO A": (1903143559409, "e139d077480a8084"),
    "NGACO B": (2238992422765, "5f1c0db0ddfe26f4"),
    "REACH Professional": (4478759074150, "5b19cc748dd82b13"),
    "REACH Global": (20210805603989, "7ff8180d771efbd2"),
}
BEFORE_HORIZON = {  # 2,000 futures, seed 5, the MSSP paths of the ten-year horizon
    "ENHANCED → ENHANCED": (11320826107354, "df7f3ab9bee8df11"),
    "BASIC glide → BASIC E": (7888538911450, "02e89a67b5125a56"),
    "BASIC E → BASIC E": (8108215369990, "00d51d0e335102a8"),
}
OLD_DEFAULT = ("BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E", "ENHANCED", GLIDE,
               "TRACK_1", "TRACK_1_PLUS", "TRACK_2", "TRACK_3", "NGACO_A", "NGACO_B",
               "REACH_PROFESSIONAL", "REACH_GLOBAL")


def _digest(e: np.ndarray) -> tuple[int, str]:
    e = np.round(e, 2)
    return int(np.round(e.sum() * 100)), hashlib.sha256(np.ascontiguousarray(e).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("start", [2026, 2027])
def test_existing_tracks_are_identical_to_the_cent(start):
    s = Scenario(trials=4_000, seed=20261123, tracks=[TrackChoice(track=t) for t in OLD_DEFAULT])
    s = s.model_copy(update={"aco": s.aco.model_copy(update={"agreement_start_year": start})})
    r = montecarlo.simulate(s)
    assert {key: _digest(r.earned[:, :, k]) for k, key in enumerate(r.keys)} == BEFORE


def test_existing_horizon_paths_are_identical_to_the_cent():
    paths = [p for p in horizon.default_paths() if not p.lead]
    # region = the ACO's own history, as when these digests were taken (the default region now
    # follows aco.spending_vs_region, tests/app/test_horizon_view.py)
    h = horizon.simulate_horizon(Scenario(), paths=paths, trials=2_000, seed=5, region_ratio=1.0)
    assert {pr.path.name: _digest(pr.earned) for pr in h.paths} == BEFORE_HORIZON


# --------------------------------------------------------------------------- horizon, CLI


def _stylised() -> Scenario:
    """No noise, a 5% effect from year 1, flat trends, quality met (as tests/test_horizon.py)."""
    s = Scenario()
    return s.model_copy(update={
        "performance": s.performance.model_copy(update={
            "savings_effect": 0.05, "savings_effect_sd": 0.0, "ramp_years": 0,
            "qps_probability": 1.0, "quality_sd": 0.0, "quality_mean": 1.0}),
        "market": s.market.model_copy(update={"trend_mean": 0.0, "trend_sd": 0.0,
                                              "prospective_gap_mean": 0.0, "prospective_gap_sd": 0.0}),
        "noise": s.noise.model_copy(update={"per_beneficiary_cv": 0.0, "systemic_sd": 0.0}),
    })


def test_horizon_lead_global_higher_spending_section_3_7():
    # policy-2027.md section 3.7: spending 0.95 B; higher-spending discounts 1.75, 2.00, ... 3.00:
    # gross 3.25 + 3.00 + 2.75 + 2.50 + 2.25 + 5 x 2.00 = 23.75% of one year's benchmark, all
    # in band 1, x 0.98 sequestration = 23.275%; plus the add-on 1.5% x 10 = 15%: 38.275%
    s = _stylised()
    # LEAD's rules alone (no REACH calibration), region = the ACO's own history (REA 0)
    rules_only = {"reach_calibration": False, "region_ratio": 1.0}
    r = horizon.simulate_horizon(s, paths=[horizon.HorizonPath("LEAD Global", "LEAD_GLOBAL")], trials=100,
                                 lead_class="higher", **rules_only)
    pr = r.paths[0]
    b = s.aco.benchmark_pc * s.aco.beneficiaries
    assert pr.shared_savings.sum(axis=1) / b == pytest.approx(0.23275, abs=5e-5)
    assert pr.add_on.sum(axis=1) / b == pytest.approx(0.15, abs=1e-9)
    assert pr.earned.sum(axis=1) / b == pytest.approx(0.38275, abs=5e-5)
    # lower-spending: 10 x (5 - 3)% = 20%, x 0.98 = 19.6%; no add-on
    r = horizon.simulate_horizon(s, paths=[horizon.HorizonPath("LEAD Global", "LEAD_GLOBAL")], trials=100,
                                 lead_class="lower", **rules_only)
    assert r.paths[0].earned.sum(axis=1) / b == pytest.approx(0.196, abs=5e-5)


def test_acosim_tracks_lists_lead_with_sources(capsys):
    assert main(["tracks", "--track", "LEAD_GLOBAL", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["year"] for r in rows] == list(range(2027, 2037))
    assert all("[SEC]" in r["citation"] and r["loss_rate"] == "corridors" for r in rows)
    assert main(["tracks", "--track", "LEAD_PROFESSIONAL", "--year", "2036", "--sources",
                 "--format", "json"]) == 0
    cited = {r["parameter"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"corridors", "loss_corridors", "benchmark_discount", "admin_add_on", "quality_withhold",
            "sequestration_stage", "minimum_assigned_beneficiaries"} <= set(cited)
    assert cited["loss_corridors"]["confidence"] == "INF"
    assert main(["tracks", "--year", "2030"]) == 0
    out = capsys.readouterr().out
    assert "LEAD_GLOBAL" in out and "LEAD_PROFESSIONAL" in out and "REACH_GLOBAL" not in out


def test_assumptions_table_lists_lead_and_proposed_values():
    from simulation.model.assumptions import assumption_table

    table = assumption_table(Scenario())
    lead = table[table["track"] == "LEAD Global"]
    assert {"corridors", "benchmark_discount", "admin_add_on", "sequestration_stage"} <= set(lead["parameter"])
    assert "PROPOSED" not in set(table["confidence"])  # the law in force by default
    on = assumption_table(_small(cy2027_proposal=True))
    proposed = on[on["confidence"] == "PROPOSED"]
    row = proposed[(proposed["track"] == "BASIC E") & (proposed["parameter"] == "max_share_rate")]
    assert row["value"].tolist() == ["0.6"] and row["overridable"].all()


@pytest.mark.parametrize("changes", [{"admin_add_on_placement": "in_benchmark"}, {"sequestration_stage": "gross"}])
def test_every_setting_is_explained_and_adds_up(changes):
    from simulation.learn import walkthrough as wt

    rules = _rules("LEAD_GLOBAL", 2027, **changes)
    kw = {"quality_score": 0.9, "higher_spending": True}
    steps = explain(rules, B, 8_000.0, N, **kw)  # 20%+ savings: past band 1
    final = float(settle(rules, B, 8_000.0, N, **kw).earned)
    assert steps[-1].total == pytest.approx(final)
    assert wt.waterfall_bars(steps)[-1].height == pytest.approx(final)
    by = {s.key: s for s in steps}
    if "admin_add_on_placement" in changes:
        # in the benchmark: 1.5% x $100M = $1.5M raises the benchmark; no add-on line after
        assert by["add_on_benchmark"].amount == pytest.approx(1_500_000.0) and "add_on" not in by
    else:
        assert "before the corridors" in by["sequestration"].text
        assert "[INF]" in by["sequestration"].citation  # the stage is an inference, a setting
