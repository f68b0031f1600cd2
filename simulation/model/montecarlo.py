"""Monte Carlo engine: many possible futures of one ACO, settled under every track at once.

All randomness is drawn here, once per trial, from ``numpy.random.default_rng`` seeded by a
``SeedSequence``; every track is then settled by :func:`simulation.rules.settlement.settle` on the
*same* draws (common random numbers), so differences between tracks are policy, not noise.

The model, per trial i and agreement year t (year index 0 is the first performance year):

* true savings effect: theta_i ~ Normal(effect, effect_sd), reached in equal steps over
  ``ramp_years``: effect_it = theta_i * min(1, (t + 1) / ramp_years)
* realised trend g_it ~ Normal(trend_mean, trend_sd); counterfactual spending index
  C_it = prod_{s=1..t} (1 + g_is) (the year-1 benchmark is the year-1 expectation)
* prospective-trend error a_it ~ Normal(gap_mean, gap_sd); P_it = prod_{s=0..t} (1 + a_is)
* spending per capita: E_it = B0 * C_it * (1 - effect_it) * (1 + eps_it), eps from
  :mod:`simulation.model.noise` (shock year multiplies its standard deviation)
* benchmarks: MSSP updates retrospectively, B = B0 * C; agreements from 2024 blend one third
  ACPT into each year's growth, B = B0 * C * prod_{s=0..t} (1 + a_is / 3), with the two-way
  benchmark B0 * C for the loss protection (42 CFR 425.652(b)); under the CY2027 proposal
  (PROPOSED) each year's ACPT error a_is is first held inside the catalog's guardrails;
  NGACO, REACH and LEAD trend prospectively, B = B0 * C * P
* quality score ~ Normal(mean, sd) clipped to [0, 1]; QPS met with probability p; if not,
  the alternative QPS with probability p_alt
* costs: operating cost each year, start-up in year 1, and the participants' own revenue
  lost on avoided spending (revenue_loss_share * effect_it * B0 * C_it * N)

Arrays are returned with the trial axis first: ``(trials, years, tracks)``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from scipy import optimize

from ..rules.catalog import TrackRules, load_catalog
from ..rules.kernel import Row, prepare_batch, run_batch
from ..rules.settlement import is_higher_spending
from . import eligibility
from .noise import noise_sd
from .rebasing import load_rebasing_rules
from .scenario import (
    MSR_CHOICES,
    Scenario,
    TrackChoice,
    eligibility_notes,
    get_path,
    policy_notes,
    track_sequence,
    with_path,
)
from .stats import quantiles_of_sorted

CHUNK = 50_000  # trials settled per chunk; bounds memory, and lets the next chunk draw while one settles
_STREAMS = ("effect", "trend", "gap", "noise", "quality", "qps", "alt")
_DRAWN_ROWS = ("spending", "quality", "qps", "alt")  # the first rows of a chunk's input matrix


# --------------------------------------------------------------------------- draws


@dataclass
class Draws:
    """The random inputs of one chunk of trials, shaped (years, trials) for fast row access."""

    theta: np.ndarray        # (trials,) true effect at full ramp
    effect: np.ndarray       # (years, trials) effect in force each year
    trend_index: np.ndarray  # (years, trials) C
    gap_index: np.ndarray    # (years, trials) P
    acpt_index: np.ndarray   # (years, trials) the one-third ACPT share of P
    spending: np.ndarray     # (years, trials) per capita
    quality: np.ndarray      # (years, trials)
    qps: np.ndarray          # (years, trials) 1.0 if the quality standard is met, else 0.0
    alt: np.ndarray          # (years, trials) 1.0 if the alternative standard is met instead


def _chunk_seeds(seed: int, trials: int) -> list[np.random.SeedSequence]:
    n_chunks = max(1, math.ceil(trials / CHUNK))
    return np.random.SeedSequence(seed).spawn(n_chunks)


def _standard_draws(ss: np.random.SeedSequence, trials: int, years: int,
                    out: np.ndarray | None = None, part: int | None = None) -> dict[str, np.ndarray]:
    """Standard normal / uniform draws for one chunk; one child stream per component, so
    changing one assumption never shifts another component's draws.

    The draws that become the settlement inputs of :data:`_DRAWN_ROWS` (spending noise,
    quality, the two quality-standard uniforms) are written into the first ``4 x years``
    rows of ``out`` (the chunk's input matrix), which :func:`_build_draws` then transforms
    in place, so they are never copied. ``part`` 0 or 1 draws only the first three
    components (effect, trend, gap) or only those four, so two threads can share a chunk;
    the streams are the same either way.
    """
    gens = [np.random.default_rng(child) for child in ss.spawn(len(_STREAMS))]
    g = dict(zip(_STREAMS, gens, strict=True))
    z: dict[str, np.ndarray] = {}
    if part in (None, 0):
        z["effect"] = g["effect"].standard_normal(trials)
        z["trend"] = g["trend"].standard_normal((years, trials))
        z["gap"] = g["gap"].standard_normal((years, trials))
    if part in (None, 1):
        if out is None:
            out = np.empty((len(_DRAWN_ROWS) * years, trials))
        for k, name in enumerate(("noise", "quality", "qps", "alt")):
            z[name] = out[k * years:(k + 1) * years]
            if name in ("noise", "quality"):
                g[name].standard_normal(out=z[name])
            else:
                g[name].random(out=z[name])
    return z


def _timed_draws(ss: np.random.SeedSequence, trials: int, years: int,
                 out: np.ndarray, part: int) -> tuple[dict[str, np.ndarray], float]:
    t0 = time.perf_counter()
    z = _standard_draws(ss, trials, years, out, part)
    return z, time.perf_counter() - t0


def _prepare_chunk(s: Scenario, ss: np.random.SeedSequence, x: np.ndarray, half: Future,
                   names: list[str], costs: np.ndarray) -> tuple[Draws, np.ndarray, np.ndarray, float]:
    """One chunk made ready to settle (run on a helper thread): draw the input half of its
    random numbers into ``x`` while ``half`` draws the rest, build the scenario's draws, fill
    the trend-driven rows of ``x`` and the chunk's ``costs`` columns. Returns the draws, ``x``,
    the row sums of ``x`` and the seconds spent drawing."""
    years = s.aco.agreement_years
    z, seconds = _timed_draws(ss, x.shape[1], years, x, 1)
    z0, seconds0 = half.result()
    d = _build_draws(s, {**z, **z0})
    # the input matrix: one row per (input, year); every (track, year) is a job on it.
    # The drawn inputs are in place already; the trend-driven ones (revenue, benchmarks: the
    # arrays of _year_rows) and the costs are filled in by one compiled pass.
    block = {name: x[k * years:(k + 1) * years] for k, name in enumerate(names)}
    blended = "mssp_two_way" in block
    _fill_trend_rows(d.effect, d.trend_index, d.gap_index, d.acpt_index, block["revenue"],
                     block["prospective"], block["mssp"], block["mssp_two_way"] if blended else block["mssp"],
                     costs, float(s.aco.benchmark_pc), float(s.aco.participant_revenue), blended,
                     float(s.costs.annual_operating_cost), float(s.costs.revenue_loss_share),
                     float(s.aco.beneficiaries), float(s.costs.startup_investment))
    return d, x, x.sum(axis=1), seconds + seconds0


def _cumprod_years(g: np.ndarray) -> np.ndarray:
    """Cumulative product over the year axis of a (years, trials) array, in place (a row at
    a time: much faster than numpy's cumprod along axis 0)."""
    for t in range(1, g.shape[0]):
        g[t] *= g[t - 1]
    return g


def _build_draws(s: Scenario, z: dict[str, np.ndarray]) -> Draws:
    """Turn standard draws into the scenario's random inputs (pure arithmetic; works in place
    on the arrays of ``z``, which it consumes, so spending, quality and the quality standards
    stay in the rows of the input matrix the draws were written to)."""
    years = s.aco.agreement_years
    p, m, nz = s.performance, s.market, s.noise
    trials = z["effect"].shape[0]
    steps = np.arange(1, years + 1, dtype=float)
    ramp = np.ones(years) if p.ramp_years == 0 else np.minimum(1.0, steps / p.ramp_years)
    rails = _acpt_guardrails(s.aco.agreement_start_year, years, s.variant)
    lo, hi = (np.full(years, -np.inf), np.full(years, np.inf)) if rails is None else rails
    acpt_div = 1.0 / acpt_weight()  # exactly 3.0 for the rule's third: the same bits as ever
    mult = np.ones(years)
    if nz.shock_year is not None:
        mult[nz.shock_year - 1] = nz.shock_multiplier
    sd = np.broadcast_to(noise_sd(s.aco.beneficiaries, nz.per_beneficiary_cv, nz.systemic_sd, mult),
                         (years,)).astype(float)
    theta = np.empty(trials)
    effect = np.empty((years, trials))
    acpt_index = np.empty((years, trials))
    _transform_draws(z["effect"], z["trend"], z["gap"], z["noise"], z["quality"], z["qps"], z["alt"],
                     theta, effect, acpt_index, ramp, sd, lo, hi, rails is not None,
                     float(p.savings_effect), float(p.savings_effect_sd), float(m.trend_sd),
                     1.0 + m.trend_mean, float(m.prospective_gap_sd), float(m.prospective_gap_mean),
                     float(s.aco.benchmark_pc), float(p.quality_sd), float(p.quality_mean),
                     float(p.qps_probability), float(p.alt_qps_probability), acpt_div)
    return Draws(theta, effect, z["trend"], z["gap"], acpt_index, z["noise"], z["quality"], z["qps"], z["alt"])


@njit(cache=True, nogil=True, error_model="numpy")
def _transform_draws(z_effect, growth, gap, spending, quality, qps, alt, theta, effect, acpt,
                     ramp, sd, lo, hi, rails, effect_mean, effect_sd, trend_sd, trend_step, gap_sd,
                     gap_mean, b0, quality_sd, quality_mean, p_qps, p_alt, acpt_div):
    """The arithmetic of :func:`_build_draws` in one compiled pass (the model in the module
    docstring): ``growth`` becomes the trend index C, ``gap`` the prospective index P,
    ``spending`` (the noise draws) the spending per capita, ``quality``, ``qps`` and ``alt``
    (uniforms) the score and the two standards (0/1); ``theta``, ``effect`` and ``acpt`` (the
    one-third ACPT share of P) are filled. Each value is computed with the same operations, in
    the same order, as the numpy expressions it replaces, so the numbers are the same bits."""
    years, n = growth.shape
    for i in range(n):
        theta[i] = effect_mean + effect_sd * z_effect[i]
    for t in range(years):
        for i in range(n):
            effect[t, i] = ramp[t] * theta[i]
            g = 1.0 if t == 0 else growth[t, i] * trend_sd + trend_step  # year 1: the expectation
            a = gap[t, i] * gap_sd + gap_mean
            held = min(max(a, lo[t]), hi[t]) if rails else a
            c = g if t == 0 else g * growth[t - 1, i]
            h = held / acpt_div + 1.0
            h = h if t == 0 else h * acpt[t - 1, i]
            pg = a + 1.0
            pg = pg if t == 0 else pg * gap[t - 1, i]
            growth[t, i] = c
            acpt[t, i] = h
            gap[t, i] = pg
            e = spending[t, i] * sd[t] + 1.0
            e = e * (1.0 - effect[t, i])
            e = e * c
            spending[t, i] = e * b0
            q = quality[t, i] * quality_sd + quality_mean
            quality[t, i] = min(max(q, 0.0), 1.0)
            met = 1.0 if qps[t, i] < p_qps else 0.0
            other = 1.0 if alt[t, i] < p_alt else 0.0
            qps[t, i] = met
            alt[t, i] = other - other * met  # the alternative counts only where the standard is missed


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_trend_rows(effect, trend_index, gap_index, acpt_index, revenue, prospective, mssp, two_way,
                     costs, b0, participant_revenue, blended, annual, loss_share, beneficiaries,
                     startup):
    """The trend-driven rows of a chunk's input matrix (the arrays of :func:`_year_rows` and
    :func:`_benchmarks`, written in place: revenue, the prospective benchmark, the MSSP one and,
    when ``blended`` (2024+ agreements), its two-way version) and the chunk's costs (see
    :func:`_prepare_chunk`); the same operations, in the same order, as those numpy expressions."""
    years, n = trend_index.shape
    for t in range(years):
        for i in range(n):
            c = trend_index[t, i]
            bc = b0 * c
            revenue[t, i] = participant_revenue * c
            prospective[t, i] = bc * gap_index[t, i]
            if blended:
                mssp[t, i] = bc * acpt_index[t, i]
                two_way[t, i] = bc
            else:
                mssp[t, i] = bc
            k = annual + loss_share * effect[t, i] * b0 * c * beneficiaries
            costs[t, i] = k + startup if t == 0 else k


# --------------------------------------------------------------------------- rules


@lru_cache(maxsize=64)
def acpt_weight() -> float:
    """The ACPT's weight in the benchmark update (42 CFR 425.652(b), 425.660: one third; the
    rest is the national-regional trend), from data/horizon/rebasing.yaml, as the ten-year
    horizon reads it."""
    return float(load_rebasing_rules().mssp["acpt_weight"])


def _acpt_guardrails(start: int, years: int, variant: str | None):
    """Per-year (low, high) bounds on the ACPT's error against the realised trend for an MSSP
    agreement starting in ``start`` (2024+: the ACPT is blended in), or None where the catalog
    has no guardrail (the law in force). The floor is resolved by performance year, the
    ceiling by the agreement's start year (data/tracks/mssp_program.yaml)."""
    if variant is None or start < 2024:
        return None
    catalog = load_catalog()
    above = catalog.program_parameter("MSSP", "acpt_guardrail_above", start, variant)
    lo = np.full(years, -np.inf)
    hi = np.full(years, np.inf if above is None else float(above))
    for t in range(years):
        below = catalog.program_parameter("MSSP", "acpt_guardrail_below", start + t, variant)
        if below is not None:
            lo[t] = -float(below)
    if np.isinf(lo).all() and np.isinf(hi).all():
        return None
    return lo, hi


def _rules_year(code: str, year: int) -> tuple[int, bool]:
    """The catalog year whose rules apply in ``year`` (nearest covered), and whether carried."""
    info = load_catalog().tracks[code]
    used = min(max(year, info.first_year), info.last_year)
    return used, used != year


def _apply_overrides(rules: TrackRules, overrides: dict[str, float]) -> TrackRules:
    if not overrides:
        return rules
    values: dict[str, Any] = dict(overrides)
    if "loss_limit_benchmark" in values:
        values["loss_limit_benchmark"] = (values["loss_limit_benchmark"],)
    return dataclasses.replace(rules, **values)


@dataclass(frozen=True)
class YearPlan:
    """What one track choice settles in one agreement year."""

    code: str
    rules: TrackRules
    carried: bool


def plan(choice: TrackChoice, scenario: Scenario) -> list[YearPlan]:
    out = []
    catalog = load_catalog()
    for code, year in zip(track_sequence(choice, scenario), scenario.years, strict=True):
        used, carried = _rules_year(code, year)
        rules = _apply_overrides(catalog.rules(code, used, scenario.variant), choice.overrides)
        out.append(YearPlan(code, rules, carried))
    return out


def _benchmarks(s: Scenario, c, p, p_acpt) -> dict[str, Any]:
    """Per-capita benchmarks from the trend index ``c``, the prospective-error index ``p`` and
    its one-third ACPT share ``p_acpt`` (arrays or numbers): MSSP (with its two-way version
    from 2024) and prospective (NGACO, REACH); see the module docstring."""
    b0 = s.aco.benchmark_pc
    out = {"prospective": b0 * c * p}
    if s.aco.agreement_start_year >= 2024:
        out["mssp"] = b0 * c * p_acpt
        out["mssp_two_way"] = b0 * c
    else:
        out["mssp"] = b0 * c
    return out


def _job_inputs(choice: TrackChoice, yp: YearPlan, s: Scenario, t: int, rows: dict[str, Any]) -> dict[str, Any]:
    """Keyword inputs of :func:`settle` for ``choice`` in year ``t``; ``rows`` maps names
    to arrays (or :class:`Row` markers) for this year."""
    aco = s.aco
    kw: dict[str, Any] = {
        "expenditure": rows["spending"],
        "beneficiaries": float(aco.beneficiaries),
        "quality_score": rows["quality"],
        "qps_met": rows["qps"],
        "alt_qps_met": rows["alt"],
        "first_year_reporting": t == 0 and aco.first_agreement,
        "participant_revenue": rows["revenue"],
        "low_revenue": aco.low_revenue,
        "agreement_start_year": aco.agreement_start_year,
        "agreement_year": t + 1,
    }
    if yp.rules.program == "MSSP":
        kw["benchmark"] = rows["mssp"]
        if "mssp_two_way" in rows:
            kw["benchmark_two_way"] = rows["mssp_two_way"]
        if yp.rules.msr_mode == "elected":
            msr = MSR_CHOICES[choice.msr]
            kw["msr"] = math.nan if msr is None else msr
    else:
        kw["benchmark"] = rows["prospective"]
        if yp.rules.program == "LEAD":  # the spending class sets LEAD's discount and add-on
            kw["higher_spending"] = bool(is_higher_spending(aco.spending_vs_region))
        if yp.rules.program == "NGACO":
            kw["savings_cap"] = choice.ngaco_cap
            kw["benchmark_discount"] = choice.ngaco_discount
        elif yp.rules.benchmark_kind == "prospective" and yp.rules.benchmark_calibration:
            # [INF] the benchmark's level fitted on REACH results (calibration_reach), applied
            # as a factor on the pre-discount benchmark: B x k x (1 - d) = B x (1 - d'); LEAD's
            # d is the discount of the ACO's spending class
            from .reach_level import benchmark_factor

            k = benchmark_factor(yp.rules.benchmark_calibration)
            d = yp.rules.discount_for(kw.get("higher_spending", False))
            kw["benchmark_discount"] = 1.0 - k * (1.0 - d)
    return kw


def _year_rows(s: Scenario, d: Draws, t: int | slice = slice(None),
               cols: slice | int = slice(None)) -> dict[str, Any]:
    """The settlement inputs that vary by trial: year ``t`` (or every year, ``(years,
    trials)`` arrays) for the trials ``cols`` (a number for one trial)."""
    c = d.trend_index[t, cols]
    rows = {
        "spending": d.spending[t, cols],
        "quality": d.quality[t, cols],
        "qps": d.qps[t, cols],
        "alt": d.alt[t, cols],
        "revenue": s.aco.participant_revenue * c,
    }
    rows.update(_benchmarks(s, c, d.gap_index[t, cols], d.acpt_index[t, cols]))
    return rows


# --------------------------------------------------------------------------- result


@dataclass
class SimulationResult:
    """Per-trial results of one scenario. Arrays: trial axis first, ``(trials, years, tracks)``."""

    scenario: Scenario
    seed: int
    keys: list[str]
    choices: list[TrackChoice]
    plans: list[list[YearPlan]]
    years: list[int]
    earned_tyk: np.ndarray   # (tracks, years, trials) internal layout
    costs_yt: np.ndarray     # (years, trials)
    draws: Draws             # the random inputs of the first chunk of trials (see draws_for)
    year_means: dict[str, np.ndarray] = field(default_factory=dict)  # per-year mean inputs
    seconds: float = 0.0
    rng_seconds: float = 0.0
    notes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def trials(self) -> int:
        return self.costs_yt.shape[1]

    @property
    def earned(self) -> np.ndarray:
        """Shared savings minus shared losses, ``(trials, years, tracks)`` (a view)."""
        return np.moveaxis(self.earned_tyk, (0, 1, 2), (2, 1, 0))

    @property
    def shared_savings(self) -> np.ndarray:
        return np.maximum(self.earned, 0.0)

    @property
    def shared_losses(self) -> np.ndarray:
        return np.maximum(-self.earned, 0.0)

    @property
    def costs(self) -> np.ndarray:
        """Costs beyond the settlement, ``(trials, years)``; the same under every track."""
        return self.costs_yt.T

    @property
    def net(self) -> np.ndarray:
        """What the organisation keeps: earned minus costs, ``(trials, years, tracks)``."""
        return self.earned - self.costs[:, :, None]

    @cached_property
    def net_total(self) -> np.ndarray:
        """Net over the whole agreement, ``(trials, tracks)``."""
        return self.earned_tyk.sum(axis=1).T - self.costs_yt.sum(axis=0)[:, None]

    @cached_property
    def sorted_net(self) -> np.ndarray:
        """:attr:`net_total` with each track's column sorted (for quantiles, sorted once)."""
        return np.sort(self.net_total, axis=0)

    def index(self, key: str) -> int:
        return self.keys.index(key)

    def draws_for(self, trial: int) -> tuple[Draws, int]:
        """The random inputs of the chunk holding ``trial`` and its column there.

        Only the first chunk is kept in memory; any other is drawn again from the seed,
        which gives exactly the same numbers.
        """
        if not 0 <= trial < self.trials:
            raise IndexError(f"trial {trial} is outside 0-{self.trials - 1}")
        ci, col = divmod(trial, CHUNK)
        if ci == 0:
            return self.draws, col
        s = self.scenario
        ss = _chunk_seeds(self.seed, self.trials)[ci]
        size = min(CHUNK, self.trials - ci * CHUNK)
        return _build_draws(s, _standard_draws(ss, size, s.aco.agreement_years)), col

    def settlement_inputs(self, key: str, trial: int, year_index: int) -> tuple[TrackRules, dict[str, Any]]:
        """The exact rules and arguments that settled ``trial`` in ``year_index`` under ``key``.

        ``settle(rules, **args)`` reproduces the simulated amount (the walkthrough uses it).
        """
        k = self.index(key)
        yp = self.plans[k][year_index]
        draws, col = self.draws_for(trial)
        rows = _year_rows(self.scenario, draws, year_index, col)
        kw = _job_inputs(self.choices[k], yp, self.scenario, year_index, rows)
        args = {name: v.item() if isinstance(v, np.ndarray | np.generic) else v for name, v in kw.items()}
        for name in ("qps_met", "alt_qps_met"):  # drawn as 0/1 rows of the input matrix
            args[name] = bool(args[name])
        return yp.rules, args


@lru_cache(maxsize=64)
def _batch_for(scenario_json: str, names: tuple[str, ...]):
    """Every (track, year) of a scenario packed as settlement jobs on the input matrix whose
    rows are ``names`` x years. Cached: it depends on neither the seed nor the trials, so
    re-runs (sensitivity, break-even, the dashboard) reuse it."""
    s = Scenario.model_validate_json(scenario_json)
    years = s.aco.agreement_years
    marks = [{name: Row(k * years + t) for k, name in enumerate(names)} for t in range(years)]
    return prepare_batch([
        (yp.rules, _job_inputs(choice, yp, s, t, marks[t]))
        for choice in s.tracks
        for t, yp in enumerate(plan(choice, s))
    ])


def simulate(scenario: Scenario, *, trials: int | None = None, seed: int | None = None) -> SimulationResult:
    """Simulate ``scenario`` (optionally overriding its trials and seed)."""
    s = scenario
    if trials is not None or seed is not None:
        s = scenario.model_copy(update={"trials": trials or scenario.trials,
                                        "seed": scenario.seed if seed is None else seed})
    t_start = time.perf_counter()
    years = s.aco.agreement_years
    n = s.trials
    plans = [plan(c, s) for c in s.tracks]
    keys = [c.key for c in s.tracks]
    earned = np.empty((len(s.tracks), years, n))
    earned2d = earned.reshape(len(s.tracks) * years, n)
    costs = np.empty((years, n))
    first: Draws | None = None
    # the input rows, in the order of _year_rows; the jobs are packed once for them
    names = [*_DRAWN_ROWS, "revenue", *_benchmarks(s, 1.0, 1.0, 1.0)]
    batch = _batch_for(s.model_dump_json(exclude={"trials", "seed", "name"}), tuple(names))
    sums = None
    rng_seconds = 0.0
    seeds = _chunk_seeds(s.seed, n)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Two helper threads prepare the next chunk — its random numbers drawn in two halves
        # at once, then turned into the input matrix — while this thread settles the current
        # one (numpy's generators and ufuncs and the compiled kernel release the GIL).
        def prepare(ci: int) -> Future:
            lo = ci * CHUNK
            size = min(n, lo + CHUNK) - lo
            x = np.empty((len(names) * years, size))  # the chunk's input matrix
            # SeedSequence.spawn is stateful: each half spawns from its own copy of the seed
            half = pool.submit(_timed_draws, copy.deepcopy(seeds[ci]), size, years, x, 0)
            return pool.submit(_prepare_chunk, s, copy.deepcopy(seeds[ci]), x, half, names,
                               costs[:, lo:lo + size])

        upcoming = prepare(0)
        for ci in range(len(seeds)):
            d, x, chunk_sums, seconds = upcoming.result()
            if ci + 1 < len(seeds):
                upcoming = prepare(ci + 1)
            rng_seconds += seconds
            if first is None:
                first = d
            sums = chunk_sums if sums is None else sums + chunk_sums
            # the kernel writes straight into the results (rows = track x year, columns = trials)
            run_batch(batch, x, earned2d, ci * CHUNK)
            del d, x
    assert sums is not None and first is not None  # at least one chunk ran
    year_means = {name: sums[k * years:(k + 1) * years] / n for k, name in enumerate(names)}
    notes = {key: eligibility_notes(c, s) + policy_notes(c, s) for key, c in zip(keys, s.tracks, strict=True)}
    return SimulationResult(
        scenario=s, seed=s.seed, keys=keys, choices=list(s.tracks), plans=plans,
        years=s.years, earned_tyk=earned, costs_yt=costs, draws=first,
        year_means=year_means,
        seconds=time.perf_counter() - t_start, rng_seconds=rng_seconds, notes=notes,
    )


# --------------------------------------------------------------------------- summaries


def largest_allowed_loss(result: SimulationResult, k: int) -> float | None:
    """The most the rules let CMS collect over the agreement at the expected benchmark path,
    in dollars (0 for one-sided tracks; None where no fixed limit exists, e.g. REACH corridors)."""
    s = result.scenario
    total = 0.0
    n = s.aco.beneficiaries
    for t, yp in enumerate(result.plans[k]):
        r = yp.rules
        bench = s.aco.benchmark_pc * (1 + s.market.trend_mean) ** t * n
        if r.risk == "one_sided" or r.loss_rate_mode == "none":
            continue
        if r.loss_rate_mode == "corridor":
            return None
        if r.loss_rate_mode == "same_as_savings":
            total += result.choices[k].ngaco_cap * bench * r.max_share_rate
            continue
        steps = r.loss_limit_benchmark or ()
        limit = steps[min(t, len(steps) - 1)] * bench if steps else math.inf
        if r.loss_limit_revenue is not None:
            rev = s.aco.participant_revenue * (1 + s.market.trend_mean) ** t
            limit = min(limit, r.loss_limit_revenue * rev)
        total += limit
    return total


def summary(result: SimulationResult, *, with_break_even: bool = False) -> pd.DataFrame:
    """One row per track: the agreement-period net result and its risk, plus MC precision.

    ``with_break_even`` adds the true savings effect at which each track's expected net is
    zero (:func:`break_even`; several further simulations on the same seed).
    """
    net = result.net_total
    ordered = result.sorted_net
    earned = result.earned
    rows = []
    n = result.trials
    quant = quantiles_of_sorted(ordered, [0.05, 0.25, 0.5, 0.75, 0.95])
    for k, key in enumerate(result.keys):
        x = net[:, k]
        q = quant[:, k]
        worst = ordered[: max(1, int(0.05 * n)), k]
        e = earned[:, :, k]
        rows.append({
            "track": key,
            "code": result.choices[k].track,
            "expected_net": x.mean(),
            "mcse": x.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan,
            "expected_earned": e.sum(axis=1).mean(),
            "expected_shared_savings": np.maximum(e, 0).sum(axis=1).mean(),
            "expected_shared_losses": np.maximum(-e, 0).sum(axis=1).mean(),
            "p_any_payment": (e > 0).any(axis=1).mean(),
            "p_owe_cms": (e < 0).any(axis=1).mean(),
            "p_net_loss": (x < 0).mean(),
            "p5": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p95": q[4],
            "es5": worst.mean(),
            "largest_allowed_loss": largest_allowed_loss(result, k),
            "rules_carried": any(yp.carried for yp in result.plans[k]),
        })
    df = pd.DataFrame(rows)
    # whether the ACO may take each track in its start year, and if not why (42 CFR 425.600(d),
    # 425.110, the program's years): the recommendation only ever names open tracks
    verdicts = eligibility.assess(result.scenario)
    df["open"] = [v.open for v in verdicts]
    df["why"] = [v.why for v in verdicts]
    if with_break_even:
        be = break_even(result.scenario, trials=min(n, 5_000)).set_index("track")
        df["break_even_effect"] = df["track"].map(be["break_even_effect"])
    df.attrs.update(seed=result.seed, trials=n, years=result.years)
    return df


def by_year(result: SimulationResult) -> pd.DataFrame:
    """One row per (track, year): expected settlement, chances, the level in force, benchmark."""
    s = result.scenario
    means = result.year_means
    rows = []
    for k, key in enumerate(result.keys):
        cum = np.cumsum(result.earned_tyk[k] - result.costs_yt, axis=0)
        for t, yp in enumerate(result.plans[k]):
            e = result.earned_tyk[k, t]
            benchmark = _job_inputs(result.choices[k], yp, s, t, {n: v[t] for n, v in means.items()})["benchmark"]
            rows.append({
                "track": key, "year": result.years[t], "agreement_year": t + 1, "level": yp.code,
                "rules_year": yp.rules.year, "rules_carried": yp.carried,
                "expected_earned": e.mean(), "expected_shared_savings": np.maximum(e, 0).mean(),
                "expected_shared_losses": np.maximum(-e, 0).mean(),
                "expected_costs": result.costs_yt[t].mean(),
                "expected_net": (e - result.costs_yt[t]).mean(),
                "p_payment": (e > 0).mean(), "p_owe_cms": (e < 0).mean(),
                "cum_net_p5": np.percentile(cum[t], 5), "cum_net_p25": np.percentile(cum[t], 25),
                "cum_net_p50": np.percentile(cum[t], 50), "cum_net_p75": np.percentile(cum[t], 75),
                "cum_net_p95": np.percentile(cum[t], 95), "cum_net_mean": cum[t].mean(),
                "benchmark_pc": float(np.mean(benchmark)),
                "spending_pc": float(means["spending"][t]),
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- sensitivity


#: Main inputs for the tornado: dotted path, label, function of the base value -> (low, high).
TORNADO_INPUTS: tuple[tuple[str, str, Any], ...] = (
    ("performance.savings_effect", "True savings effect", lambda v: (v - 0.02, v + 0.02)),
    ("performance.savings_effect_sd", "Uncertainty of the effect", lambda v: (v / 2, min(0.2, v * 2))),
    ("performance.ramp_years", "Years to full effect", lambda v: (0, min(6, v + 2))),
    ("performance.quality_mean", "Average quality score", lambda v: (max(0.05, v - 0.1), min(1.0, v + 0.1))),
    ("performance.qps_probability", "Chance of meeting the quality standard", lambda v: (max(0.0, v - 0.3), 1.0)),
    ("market.trend_sd", "Trend volatility", lambda v: (v / 2, min(0.1, v * 2))),
    ("market.prospective_gap_mean", "Prospective trend error", lambda v: (v - 0.01, v + 0.01)),
    ("noise.per_beneficiary_cv", "Per-beneficiary variation", lambda v: (v * 0.75, min(6, v * 1.25))),
    ("noise.systemic_sd", "ACO-wide variation", lambda v: (v / 2, min(0.1, v * 2))),
    ("aco.beneficiaries", "Assigned beneficiaries", lambda v: (max(1_000, v // 2), min(1_000_000, v * 2))),
    ("costs.annual_operating_cost", "Annual operating cost", lambda v: (v * 0.5, v * 1.5)),
    ("costs.revenue_loss_share", "Own revenue lost per dollar saved", lambda v: (max(0.0, v - 0.2), min(1.0, v + 0.2))),
)


def tornado_swings(scenario: Scenario, inputs=TORNADO_INPUTS):
    """Each main input's (path, label, current value, low, high) for a tornado: its swing
    rule applied to the scenario's value, rounded for whole-number inputs."""
    for path, label, swing in inputs:
        v = get_path(scenario, path)
        low, high = swing(v)
        if isinstance(v, int):
            low, high = round(low), round(high)
        yield path, label, v, low, high


def tornado(scenario: Scenario, *, trials: int | None = None, inputs=TORNADO_INPUTS) -> pd.DataFrame:
    """Expected agreement net per track when each main input is set low and high (same draws)."""
    trials = trials or min(scenario.trials, 20_000)
    base = summary(simulate(scenario, trials=trials)).set_index("track")["expected_net"]
    rows = []
    for path, label, v, low, high in tornado_swings(scenario, inputs):
        res = {}
        for side, value in (("low", low), ("high", high)):
            res[side] = summary(simulate(with_path(scenario, path, value), trials=trials)).set_index("track")["expected_net"]
        for key in base.index:
            rows.append({"input": path, "label": label, "base_value": v, "low_value": low,
                         "high_value": high, "track": key, "base_net": base[key],
                         "net_low": res["low"][key], "net_high": res["high"][key],
                         "swing": abs(res["high"][key] - res["low"][key])})
    return pd.DataFrame(rows)


def grid(scenario: Scenario, x: str, x_values, y: str, y_values, *, trials: int | None = None) -> pd.DataFrame:
    """Expected agreement net per track over a 2-D grid of two inputs (same draws everywhere)."""
    trials = trials or min(scenario.trials, 5_000)
    rows = []
    for xv in x_values:
        sx = with_path(scenario, x, xv)
        for yv in y_values:
            summ = summary(simulate(with_path(sx, y, yv), trials=trials))
            for _, r in summ.iterrows():
                rows.append({"x": xv, "y": yv, "track": r["track"], "expected_net": r["expected_net"],
                             "p_owe_cms": r["p_owe_cms"]})
    df = pd.DataFrame(rows)
    df.attrs.update(x=x, y=y)
    return df


def break_even(scenario: Scenario, *, trials: int | None = None, lo: float = -0.10,
               hi: float = 0.30) -> pd.DataFrame:
    """The true savings effect at which each track's expected agreement net is zero.

    A thin view of :func:`crossings` against zero (scan, then scipy's Brent method on the
    same draws). Columns: ``track``, ``break_even_effect`` (NaN outside ``[lo, hi]``) and
    ``status``.
    """
    df = crossings(scenario, [(c.key, None) for c in scenario.tracks], lo=lo, hi=hi,
                   points=9, trials=trials)
    return df.rename(columns={"value": "break_even_effect"})[["track", "break_even_effect", "status"]]


# --------------------------------------------------------------------------- crossings


def only_tracks(scenario: Scenario, keys: list[str]) -> Scenario:
    """``scenario`` settling only the track choices named ``keys`` (the draws are unchanged:
    they depend on the seed and the assumptions, never on which tracks are settled)."""
    by_key = {c.key: c for c in scenario.tracks}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise KeyError(f"no track {', '.join(missing)} in the scenario; it has {', '.join(by_key)}")
    return scenario.model_copy(update={"tracks": [by_key[k] for k in dict.fromkeys(keys)]})


def crossings(scenario: Scenario, pairs, *, path: str = "performance.savings_effect",
              lo: float = -0.05, hi: float = 0.15, points: int = 11,
              trials: int | None = None, xtol: float = 1e-4) -> pd.DataFrame:
    """The value of input ``path`` at which a track's expected agreement net equals another's.

    ``pairs`` holds ``(track, other)`` track keys; ``other=None`` means zero (break-even).
    Every evaluation uses the same draws (the scenario's seed), so the difference is a
    deterministic function of the input: it is scanned on ``points`` values in ``[lo, hi]``
    and the first sign change is refined with scipy's Brent method, settling only the two
    tracks involved. Columns: ``track``, ``versus``, ``value`` (NaN when there is no
    crossing in range), ``status`` ('found', 'ahead throughout' or 'behind throughout':
    the track's net is above / below the other's over the whole range).
    """
    pairs = [(a, b) for a, b in pairs]
    trials = trials or min(scenario.trials, 5_000)
    needed = [k for pair in pairs for k in pair if k is not None]
    base = only_tracks(scenario, needed)
    xs = np.linspace(lo, hi, points)

    def nets(s: Scenario, x: float) -> dict[str, float]:
        res = simulate(with_path(s, path, float(x)), trials=trials)
        return dict(zip(res.keys, res.net_total.mean(axis=0), strict=True))

    scan = [nets(base, x) for x in xs]
    rows = []
    for a, b in pairs:
        diff = np.array([m[a] - (m[b] if b is not None else 0.0) for m in scan])
        sign = np.sign(diff)
        change = np.nonzero(sign[:-1] * sign[1:] <= 0)[0]
        if diff[0] == 0:
            value, status = float(xs[0]), "found"
        elif change.size:
            i = int(change[0])
            pair_s = only_tracks(scenario, [a] if b is None else [a, b])

            def f(x: float, a=a, b=b, pair_s=pair_s) -> float:
                m = nets(pair_s, x)
                return m[a] - (m[b] if b is not None else 0.0)

            value = float(optimize.brentq(f, xs[i], xs[i + 1], xtol=xtol))
            status = "found"
        else:
            value, status = math.nan, "ahead throughout" if diff[0] > 0 else "behind throughout"
        rows.append({"track": a, "versus": b, "value": value, "status": status})
    df = pd.DataFrame(rows)
    df.attrs.update(path=path, lo=lo, hi=hi, trials=trials, seed=scenario.seed)
    return df
