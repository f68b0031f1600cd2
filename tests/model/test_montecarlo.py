"""Monte Carlo engine: closed-form checks, hand settlement of one trial, reproducibility,
common random numbers, validation."""

from __future__ import annotations

import copy
import json
import math
from concurrent.futures import Future

import numpy as np
import pytest
from scipy import stats

from simulation.cli import main
from simulation.model import montecarlo
from simulation.model.scenario import (
    MAX_TRIALS,
    Scenario,
    ScenarioError,
    TrackChoice,
    track_sequence,
    validate_scenario,
)
from simulation.rules.settlement import settle


def _closed_form_scenario(track: str, msr: str = "size", trials: int = 40_000, **perf) -> Scenario:
    """One year, no trend, no prospective error, a known true effect: the measured savings
    rate is exactly Normal(theta, sd x (1 - theta))."""
    return validate_scenario({
        "aco": {"beneficiaries": 20_000, "benchmark_pc": 12_000, "participant_revenue": 200e6,
                "revenue_category": "high", "agreement_start_year": 2026, "agreement_years": 1,
                "first_agreement": False},
        "performance": {"savings_effect": 0.02, "savings_effect_sd": 0.0, "ramp_years": 0,
                        "qps_probability": 1.0, "quality_mean": 0.8, "quality_sd": 0.0, **perf},
        "costs": {"annual_operating_cost": 0, "startup_investment": 0, "revenue_loss_share": 0},
        "market": {"trend_mean": 0.0, "trend_sd": 0.0, "prospective_gap_mean": 0.0,
                   "prospective_gap_sd": 0.0},
        "noise": {"per_beneficiary_cv": 2.0, "systemic_sd": 0.01},
        "tracks": [{"track": track, "msr": msr}],
        "trials": trials,
        "seed": 7,
    })


def _within_3_mcse(sample: np.ndarray, expected: float) -> None:
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= 3 * se, (sample.mean(), expected, se)


def test_closed_form_one_sided_basic_a():
    s = _closed_form_scenario("BASIC_A")
    r = montecarlo.simulate(s)
    theta, bn = 0.02, 12_000 * 20_000
    sd = math.sqrt(2.0**2 / 20_000 + 0.01**2) * (1 - theta)
    msr = montecarlo.plan(s.tracks[0], s)[0].rules.msr_for_size(20_000).item()  # 2.5%
    z = (msr - theta) / sd
    # E[savings] = 40% x 0.98 x B N x E[r 1{r >= msr}], E[r 1{r>=m}] = theta (1 - Phi(z)) + sd phi(z)
    expected = 0.40 * 0.98 * bn * (theta * stats.norm.sf(z) + sd * stats.norm.pdf(z))
    savings = r.shared_savings[:, 0, 0]
    _within_3_mcse(savings, expected)
    paid = (savings > 0).astype(float)
    _within_3_mcse(paid, stats.norm.sf(z))
    assert r.shared_losses.max() == 0


def test_closed_form_two_sided_enhanced():
    s = _closed_form_scenario("ENHANCED", msr="2.0", savings_effect=0.0)
    r = montecarlo.simulate(s)
    theta, bn, m = 0.0, 12_000 * 20_000, 0.02
    sd = math.sqrt(2.0**2 / 20_000 + 0.01**2)
    loss_rate = 1 - 0.75 * 0.8  # quality 0.8 -> 40%
    z_s = (m - theta) / sd
    exp_savings = 0.75 * 0.98 * bn * (theta * stats.norm.sf(z_s) + sd * stats.norm.pdf(z_s))
    z_l = (-m - theta) / sd  # owes when r <= -m
    exp_losses = loss_rate * bn * (-theta * stats.norm.cdf(z_l) + sd * stats.norm.pdf(z_l))
    _within_3_mcse(r.shared_savings[:, 0, 0], exp_savings)
    _within_3_mcse(r.shared_losses[:, 0, 0], exp_losses)
    _within_3_mcse((r.shared_losses[:, 0, 0] > 0).astype(float), stats.norm.cdf(z_l))


def test_hand_settlement_of_one_trial_matches_the_simulation():
    s = Scenario(trials=300, seed=11)
    r = montecarlo.simulate(s)
    for key in r.keys:
        for t in range(len(r.years)):
            trial = (7 * t + 3) % r.trials
            rules, args = r.settlement_inputs(key, trial, t)
            by_hand = settle(rules, **args).row()["earned"]
            assert by_hand == pytest.approx(r.earned[trial, t, r.index(key)], rel=1e-12, abs=1e-6)


def test_same_seed_identical_different_seed_different():
    s = Scenario(trials=2_000)
    a = montecarlo.simulate(s)
    b = montecarlo.simulate(s)
    c = montecarlo.simulate(s, seed=s.seed + 1)
    assert np.array_equal(a.earned, b.earned) and np.array_equal(a.costs, b.costs)
    assert not np.array_equal(a.earned, c.earned)
    assert montecarlo.summary(a).attrs["seed"] == s.seed


def test_common_random_numbers_do_not_depend_on_the_track_list():
    s = Scenario(trials=2_000)
    few = s.model_copy(update={"tracks": [TrackChoice(track="ENHANCED"), TrackChoice(track="BASIC_E")]})
    full = montecarlo.simulate(s)
    part = montecarlo.simulate(few)
    for key in ("ENHANCED", "BASIC E"):
        assert np.array_equal(full.earned[:, :, full.index(key)], part.earned[:, :, part.index(key)])


def test_chunked_runs_are_deterministic_and_shaped_trial_first():
    s = Scenario(trials=montecarlo.CHUNK + 1_234)
    r = montecarlo.simulate(s, trials=montecarlo.CHUNK + 1_234)
    assert r.earned.shape == (montecarlo.CHUNK + 1_234, 5, len(s.tracks))
    assert r.net_total.shape == (montecarlo.CHUNK + 1_234, len(s.tracks))
    again = montecarlo.simulate(s)
    assert np.array_equal(r.net_total, again.net_total)
    # a trial outside the first (kept) chunk is drawn again from the seed, identically
    trial = montecarlo.CHUNK + 99
    rules, args = r.settlement_inputs("ENHANCED", trial, 4)
    assert settle(rules, **args).row()["earned"] == pytest.approx(
        r.earned[trial, 4, r.index("ENHANCED")], rel=1e-12, abs=1e-6)


def test_simulations_in_several_threads_match_one_at_a_time():
    """Dashboard sessions run in threads: concurrent runs (each drawing its next chunk on a
    helper thread while the kernel settles) give exactly the sequential numbers."""
    from concurrent.futures import ThreadPoolExecutor

    scenarios = [Scenario(trials=montecarlo.CHUNK + 500, seed=seed) for seed in (1, 2, 3, 4)]
    alone = [montecarlo.simulate(s).net_total for s in scenarios]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda s: montecarlo.simulate(s).net_total, scenarios))
    for a, b in zip(alone, together, strict=True):
        assert np.array_equal(a, b)


def test_summary_columns_and_relations():
    r = montecarlo.simulate(Scenario(trials=5_000))
    df = montecarlo.summary(r)
    assert list(df["track"]) == r.keys
    for _, row in df.iterrows():
        assert row["p5"] <= row["p25"] <= row["p50"] <= row["p75"] <= row["p95"]
        assert row["es5"] <= row["p5"]
        assert 0 <= row["p_owe_cms"] <= 1 and row["mcse"] > 0
    one_sided = df[df["code"].isin(["BASIC_A", "BASIC_B", "TRACK_1"])]
    assert (one_sided["p_owe_cms"] == 0).all() and (one_sided["largest_allowed_loss"] == 0).all()
    reach = df[df["code"].str.startswith("REACH")]
    assert reach["largest_allowed_loss"].isna().all()


def test_glide_path_levels():
    s = Scenario()
    assert track_sequence(TrackChoice(track="BASIC_GLIDE"), s) == ["BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E"]
    assert track_sequence(TrackChoice(track="BASIC_GLIDE", glide_start="C"), s) == ["BASIC_C", "BASIC_D", "BASIC_E", "BASIC_E", "BASIC_E"]
    assert track_sequence(TrackChoice(track="BASIC_GLIDE", stay_at_a=True), s) == ["BASIC_A"] * 5


def test_more_savings_raises_expected_net_and_break_even_is_a_root():
    s = Scenario(trials=3_000, tracks=[TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED")])
    low = montecarlo.summary(montecarlo.simulate(s.model_copy(update={"performance": s.performance.model_copy(update={"savings_effect": 0.0})})))
    high = montecarlo.summary(montecarlo.simulate(s.model_copy(update={"performance": s.performance.model_copy(update={"savings_effect": 0.04})})))
    assert (high["expected_net"].to_numpy() > low["expected_net"].to_numpy()).all()
    be = montecarlo.break_even(s, trials=3_000).set_index("track")["break_even_effect"]
    for key, effect in be.items():
        at = s.model_copy(update={"performance": s.performance.model_copy(update={"savings_effect": effect})})
        net = montecarlo.summary(montecarlo.simulate(at, trials=3_000)).set_index("track")["expected_net"][key]
        assert abs(net) < 5e4, (key, effect, net)


def test_tornado_and_grid_reuse_the_draws():
    s = Scenario(trials=1_000, tracks=[TrackChoice(track="ENHANCED")])
    tor = montecarlo.tornado(s, trials=1_000)
    row = tor[tor["input"] == "performance.savings_effect"].iloc[0]
    assert row["net_low"] < row["base_net"] < row["net_high"]
    g = montecarlo.grid(s, "performance.savings_effect", [0.0, 0.03], "performance.quality_mean", [0.6, 0.9], trials=1_000)
    assert len(g) == 4 and g.attrs["x"] == "performance.savings_effect"


# ------------------------------------------------------------------ validation


def test_bad_scenarios_list_every_problem_at_once():
    bad = {
        "aco": {"beneficiaries": -5, "benchmark_pc": float("nan")},
        "tracks": [{"track": "BASIC_E", "overrides": {"max_share_rate": 1.4}}],
        "trials": MAX_TRIALS + 1,
    }
    with pytest.raises(ScenarioError) as err:
        validate_scenario(bad)
    problems = err.value.problems
    assert len(problems) == 4
    text = "\n".join(problems)
    assert "aco.beneficiaries" in text and "1,000 to 1,000,000" in text
    assert "aco.benchmark_pc" in text and "finite" in text
    assert "max_share_rate must be between 0 and 1 (got 1.4)" in text
    assert "trials" in text and "100 to 2,000,000" in text


def test_cli_simulate_and_scenario(tmp_path, capsys):
    assert main(["scenario", "--example"]) == 0
    example = json.loads(capsys.readouterr().out)
    # the tracks open to a 2027 entrant: BASIC A-E, ENHANCED, the glide path, LEAD x2
    assert example["schema_version"] == 1 and len(example["tracks"]) == 9
    assert main(["scenario", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["trials"]["maximum"] == MAX_TRIALS
    path = tmp_path / "s.json"
    example["trials"] = 500
    path.write_text(json.dumps(example))
    assert main(["simulate", "--scenario", str(path), "--format", "json", "--seed", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seed"] == 3 and out["trials"] == 500 and len(out["tracks"]) == len(example["tracks"])
    example["aco"]["beneficiaries"] = -1
    example["trials"] = 10**9
    path.write_text(json.dumps(example))
    assert main(["simulate", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "aco.beneficiaries" in err and "trials" in err
    path.write_text("{not json")
    assert main(["simulate", "--scenario", str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["simulate", "--trials", "10"]) == 2


def _numpy_draws(s: Scenario, z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model of the module docstring written as plain numpy expressions (the reference
    the compiled chunk preparation must reproduce bit for bit)."""
    from simulation.model.noise import noise_sd

    years = s.aco.agreement_years
    p, m, nz = s.performance, s.market, s.noise
    theta = p.savings_effect + p.savings_effect_sd * z["effect"]
    steps = np.arange(1, years + 1, dtype=float)
    ramp = np.ones(years) if p.ramp_years == 0 else np.minimum(1.0, steps / p.ramp_years)
    effect = ramp[:, None] * theta[None, :]
    growth = z["trend"] * m.trend_sd + (1.0 + m.trend_mean)
    growth[0] = 1.0
    trend_index = np.cumprod(growth, axis=0)
    gap = z["gap"] * m.prospective_gap_sd + m.prospective_gap_mean
    rails = montecarlo._acpt_guardrails(s.aco.agreement_start_year, years, s.variant)
    held = gap if rails is None else np.clip(gap, rails[0][:, None], rails[1][:, None])
    mult = np.ones(years)
    if nz.shock_year is not None:
        mult[nz.shock_year - 1] = nz.shock_multiplier
    sd = noise_sd(s.aco.beneficiaries, nz.per_beneficiary_cv, nz.systemic_sd, mult)
    qps = (z["qps"] < p.qps_probability).astype(float)
    alt = (z["alt"] < p.alt_qps_probability).astype(float)
    return {
        "theta": theta, "effect": effect, "trend_index": trend_index,
        "gap_index": np.cumprod(gap + 1.0, axis=0), "acpt_index": np.cumprod(held / (1.0 / montecarlo.acpt_weight()) + 1.0, axis=0),
        "spending": (z["noise"] * sd[:, None] + 1.0) * (1.0 - effect) * trend_index * s.aco.benchmark_pc,
        "quality": np.clip(z["quality"] * p.quality_sd + p.quality_mean, 0.0, 1.0),
        "qps": qps, "alt": alt - alt * qps,
    }


@pytest.mark.parametrize("update", [
    {},
    {"aco": {"agreement_start_year": 2022}},
    {"market": {"cy2027_proposal": True}},
    {"performance": {"ramp_years": 0}, "noise": {"shock_year": 2, "shock_multiplier": 2.5}},
])
def test_compiled_chunk_preparation_is_the_numpy_arithmetic_bit_for_bit(update):
    """The draws, the input matrix and the costs that the compiled pass prepares are exactly
    (bit for bit) the model's numpy expressions and the rows :func:`_year_rows` gives, which
    the walkthrough uses to settle one trial by hand."""
    data = Scenario().model_dump()
    for section, values in update.items():
        data[section].update(values)
    s = validate_scenario({**data, "trials": 3_000})
    r = montecarlo.simulate(s)
    years, n = s.aco.agreement_years, r.trials
    z = montecarlo._standard_draws(montecarlo._chunk_seeds(s.seed, n)[0], n, years)
    ref = _numpy_draws(s, {k: v.copy() for k, v in z.items()})
    d = r.draws
    for name, expected in ref.items():
        assert getattr(d, name).tobytes() == np.ascontiguousarray(expected).tobytes(), name
    rows = montecarlo._year_rows(s, d)
    for name, mean in r.year_means.items():
        assert mean.tobytes() == (np.asarray(rows[name]).sum(axis=1) / n).tobytes(), name
    # the input matrix itself, prepared as simulate prepares a chunk
    names = [*montecarlo._DRAWN_ROWS, "revenue", *montecarlo._benchmarks(s, 1.0, 1.0, 1.0)]
    x, chunk_costs = np.empty((len(names) * years, n)), np.empty((years, n))
    seed = montecarlo._chunk_seeds(s.seed, n)[0]
    half = Future()
    half.set_result(montecarlo._timed_draws(copy.deepcopy(seed), n, years, x, 0))
    _, x, sums, _ = montecarlo._prepare_chunk(s, copy.deepcopy(seed), x, half, names, chunk_costs)
    for k, name in enumerate(names):
        assert x[k * years:(k + 1) * years].tobytes() == np.ascontiguousarray(rows[name]).tobytes(), name
    assert sums.tobytes() == x.sum(axis=1).tobytes()
    assert chunk_costs.tobytes() == r.costs_yt.tobytes()
    costs = (s.costs.annual_operating_cost
             + s.costs.revenue_loss_share * d.effect * s.aco.benchmark_pc * d.trend_index * s.aco.beneficiaries)
    costs[0] += s.costs.startup_investment
    assert r.costs_yt.tobytes() == costs.tobytes()
