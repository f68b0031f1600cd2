"""Ten performance years (2027-2036) across agreements: MSSP's rebasing against LEAD's base.

A :class:`HorizonPath` names what the ACO takes in each agreement: for MSSP the first
agreement's track (a catalog code or the BASIC glide path) and the renewal's; for LEAD one
ten-year agreement. Every path is settled on the *same* random futures (common random numbers),
drawn by :mod:`simulation.model.montecarlo`'s own generators for a ten-year horizon.

Per simulated future i (year index t, 0 = 2027; C, P, E as in simulation/model/montecarlo.py):

* MSSP first agreement (t = 0..4): the benchmark of montecarlo.py, B0 * C_t * acpt_t.
* MSSP renewal (t = 5..9, 2032-2036), rebuilt from that future's own PYs 3-5 (2029-2031)
  (policy-2027.md §3.2-§3.5, values in data/horizon/rebasing.yaml):
  HB = sum_y w_y E_y C_4 / C_y; R = region_ratio * B0 * C_4 (the region moves with the
  same trend draws); N = national_ratio * B0 * C_4; RA = regional adjustment; PSA from the
  mean of (benchmark - spending) in 2029-2031; Adj = the larger (never their sum);
  UB_t = (HB + Adj) * ((1 - w) G2 + w G2 P_t / P_4), G2 = C_t / C_4; two-way (HB + Adj) * G2.
* LEAD (t = 0..9): base H = B0 (the ACO's trended history, its 2027 level) plus, for a
  lower-spending ACO, the higher of REA and PSA; updated each year by 2/3 the trend and 1/3
  the ACPT (trend + prospective error) inside its guardrails; flat risk (ratio 1, inside the
  caps); times (1 - discount). LEAD is settled with ``settlement.settle`` when the catalog has
  the LEAD track; otherwise its benchmark and gross savings are kept and its sharing is NaN.
* Money: net = shared savings - shared losses - costs (as montecarlo.py); PY t's settlement
  arrives ``cash_lag`` years after the PY ends; present value at ``discount_rate``.
"""

from __future__ import annotations

import copy
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..rules.catalog import load_catalog
from ..rules.settlement import Row, _run, prepare_batch, run_batch
from . import horizon_kernel, rebasing
from .montecarlo import (
    CHUNK,
    _build_draws,
    _chunk_seeds,
    _job_inputs,
    _standard_draws,
    _timed_draws,
    plan,
)
from .scenario import GLIDE, Scenario, TrackChoice

ONE_SIDED = {code for code, info in load_catalog().tracks.items() if info.risk == "one_sided"}  # the catalog says
LEAD_CODES = ("LEAD_GLOBAL", "LEAD_PROFESSIONAL")


class HorizonError(ValueError):
    """A horizon setting is out of range; the message names the field."""


@dataclass(frozen=True)
class HorizonPath:
    """What the ACO takes over the horizon. ``renewal`` is None for a LEAD path."""

    name: str
    first: str
    renewal: str | None = None
    msr: str = "size"
    overrides: tuple[tuple[str, float], ...] = ()

    @property
    def lead(self) -> bool:
        return self.first in LEAD_CODES


def default_paths() -> list[HorizonPath]:
    """ENHANCED twice, the BASIC glide path then BASIC E, BASIC E twice, and LEAD's two
    options when the catalog has them."""
    out = [HorizonPath("ENHANCED → ENHANCED", "ENHANCED", "ENHANCED"),
           HorizonPath("BASIC glide → BASIC E", GLIDE, "BASIC_E"),
           HorizonPath("BASIC E → BASIC E", "BASIC_E", "BASIC_E")]
    tracks = load_catalog().tracks
    out += [HorizonPath(tracks[c].short_label, c) for c in LEAD_CODES if c in tracks]
    return out


def _check_path(p: HorizonPath) -> None:
    tracks = load_catalog().tracks
    if p.lead:
        if p.renewal is not None:
            raise HorizonError(f"paths.{p.name[:40]}: a LEAD agreement runs ten years; no renewal track")
        return
    if p.first != GLIDE and p.first not in tracks:
        raise HorizonError(f"paths.{p.name[:40]}.first: unknown track {p.first[:24]!r}")
    if p.renewal is None or p.renewal not in tracks or tracks[p.renewal].program != "MSSP":
        raise HorizonError(f"paths.{p.name[:40]}.renewal: an MSSP track code is needed")
    if p.renewal in ONE_SIDED:
        raise HorizonError(f"paths.{p.name[:40]}.renewal: a renewing ACO must leave one-sided risk "
                           "(BASIC A/B) after its first five years (42 CFR 425.600(a)(4))")


@dataclass
class PathResult:
    """Per-trial arrays of one path, shaped (trials, years); ``steps`` per trial (trials,).

    A year ends in shared savings or shared losses, never both, so one array keeps both:
    ``shared`` (savings minus losses; NaN where the path is not settled), and the savings and
    the losses are its positive and negative parts (half the memory the engine must write)."""

    path: HorizonPath
    benchmark: np.ndarray
    shared: np.ndarray
    steps: dict[str, np.ndarray] = field(default_factory=dict)
    #: LEAD's administrative add-on paid outside the sharing (higher-spending ACO), (trials, years)
    add_on: np.ndarray | None = None

    @property
    def shared_savings(self) -> np.ndarray:
        """Shared savings CMS pays, (trials, years)."""
        return np.maximum(self.shared, 0.0)

    @property
    def shared_losses(self) -> np.ndarray:
        """Shared losses the ACO repays (positive dollars), (trials, years)."""
        return np.maximum(-self.shared, 0.0)

    @property
    def earned(self) -> np.ndarray:
        return self.shared if self.add_on is None else self.shared + self.add_on


@dataclass
class HorizonResult:
    scenario: Scenario
    years: list[int]
    spending: np.ndarray   # (trials, years) per capita, the same for every path
    costs: np.ndarray      # (trials, years) dollars
    paths: list[PathResult]
    discount_rate: float
    cash_lag: int
    settings: dict[str, object]
    seconds: float = 0.0
    rng_seconds: float = 0.0

    def net(self, k: int) -> np.ndarray:
        """Dollars the organisation keeps each year, (trials, years)."""
        return self.paths[k].earned - self.costs

    def present_value(self, k: int) -> np.ndarray:
        return rebasing.present_value(self.net(k), self.discount_rate, self.cash_lag)

    def settlement_inputs(self, k: int, trial: int, t: int):
        """The rules and ``settle`` arguments of MSSP path ``k``'s year ``t`` in ``trial``
        (the futures are drawn again from the seed, exactly as simulated); the walkthrough
        settles a renewal year with them. Raises ValueError for a LEAD path."""
        p = self.paths[k].path
        if p.lead:
            raise ValueError(f"{p.name}: a LEAD path has no renewal to walk through")
        if not 0 <= trial < self.spending.shape[0]:
            raise IndexError(f"trial {trial} is outside 0-{self.spending.shape[0] - 1}")
        s = self.scenario
        rr = rebasing.load_rebasing_rules()
        n_ap = rr.mssp["agreement_years"]
        years = len(self.years)
        ci, col = divmod(trial, CHUNK)
        ss = _chunk_seeds(s.seed, s.trials)[ci]
        size = min(CHUNK, s.trials - ci * CHUNK)
        d = _build_draws(_ten_year(s, years, self.years[0]), _standard_draws(ss, size, years))
        first = t < n_ap
        ap = _agreement(s, self.years[0] if first else self.years[0] + n_ap,
                        min(n_ap, years) if first else max(1, years - n_ap), s.aco.first_agreement if first else False)
        choice = TrackChoice(track=p.first if first else p.renewal, msr=p.msr, overrides=dict(p.overrides))
        yp = plan(choice, ap)[t if first else t - n_ap]
        two_way = self.paths[k].steps.get("historical_benchmark")
        tw = None
        if not first and two_way is not None:
            tw = (two_way[trial] + self.paths[k].steps["adjustment"][trial]) * d.trend_index[t, col] / \
                d.trend_index[n_ap - 1, col]
        rows = {"spending": d.spending[t, col], "quality": d.quality[t, col], "qps": d.qps[t, col],
                "alt": d.alt[t, col], "revenue": s.aco.participant_revenue * d.trend_index[t, col],
                "mssp": self.paths[k].benchmark[trial, t],
                "mssp_two_way": s.aco.benchmark_pc * d.trend_index[t, col] if first else tw}
        kw = _job_inputs(choice, yp, ap, t if first else t - n_ap, rows)
        args = {name: v.item() if isinstance(v, np.ndarray | np.generic) else v for name, v in kw.items()}
        for name in ("qps_met", "alt_qps_met"):
            args[name] = bool(args[name])
        return yp.rules, args

    def summary(self) -> list[dict[str, Any]]:
        """Per path: per-year means (benchmark and spending per capita; shared savings, shared
        losses and net in dollars), the ten-year net and its present value (means)."""
        n = float(self.scenario.aco.beneficiaries)
        out = []
        spend = self.spending.mean(axis=0)
        for k, pr in enumerate(self.paths):
            net = self.net(k)
            ss, sl = pr.shared_savings.mean(axis=0), pr.shared_losses.mean(axis=0)
            rows: list[dict[str, Any]] = [{"year": y, "benchmark_pc": float(pr.benchmark[:, t].mean()), "spending_pc": float(spend[t]),
                     "shared_savings": float(ss[t]), "shared_losses": float(sl[t]), "net": float(net[:, t].mean())}
                    for t, y in enumerate(self.years)]
            settled = not math.isnan(rows[0]["net"])
            for row in rows:  # a track not settled (LEAD before the catalog has it): None, not NaN
                row.update({k: None for k, v in row.items() if isinstance(v, float) and math.isnan(v)})
            out.append({"path": pr.path.name, "settled": settled, "years": rows,
                        "ten_year_gross_savings_pc": float((pr.benchmark - self.spending).sum(axis=1).mean()),
                        "ten_year_net": float(net.sum(axis=1).mean()) if settled else None,
                        "present_value": float(self.present_value(k).mean()) if settled else None,
                        "beneficiaries": n})
        return out


def _ten_year(s: Scenario, years: int, first_year: int) -> Scenario:
    aco = s.aco.model_copy(update={"agreement_years": years, "agreement_start_year": first_year})
    return s.model_copy(update={"aco": aco})


def _agreement(s: Scenario, start: int, years: int, first: bool) -> Scenario:
    aco = s.aco.model_copy(update={"agreement_years": years, "agreement_start_year": start, "first_agreement": first})
    return s.model_copy(update={"aco": aco})


def simulate_horizon(scenario: Scenario, *, paths: list[HorizonPath] | None = None, trials: int | None = None,
                     seed: int | None = None, region_ratio: float | None = None, national_ratio: float | None = None,
                     regional_count: int | None = None, psa_proposal: bool | None = None, lead_class: str = "auto",
                     lead_former_mssp: bool = False, discount_rate: float | None = None,
                     cash_lag: int | None = None, years: int | None = None,
                     reach_calibration: bool = True) -> HorizonResult:
    """Simulate every path over the horizon on the same futures. ``region_ratio``: the
    region's per-capita spending relative to the ACO's historical (counterfactual) spending
    (default: the scenario's, 1 / ``aco.spending_vs_region``, the input that sets LEAD's
    spending class); ``national_ratio`` likewise for national spending (default: the region's);
    ``regional_count``: which regional adjustment the renewal is (default 2 for a first
    agreement, else 3); ``psa_proposal``: the CY2027 proposed 75% PSA (default: the scenario's
    ``market.cy2027_proposal`` switch); ``lead_class``: auto (from region_ratio), lower or higher;
    ``reach_calibration``: settle LEAD against its benchmark level fitted on REACH results [INF],
    exactly as the one-agreement view does (simulation/calibration/reach.py), so both views give
    LEAD the same benchmark in the years they share; off, LEAD's rules alone (REA, PSA)."""
    if region_ratio is None:
        region_ratio = 1.0 / scenario.aco.spending_vs_region
    if psa_proposal is None:
        psa_proposal = scenario.market.cy2027_proposal
    rr = rebasing.load_rebasing_rules()
    h = rr.horizon
    years = h["years"] if years is None else years
    n_ap = rr.mssp["agreement_years"]
    if not 1 <= years <= h["years"]:
        raise HorizonError(f"years: between 1 and {h['years']} (got {years})")
    if not 0.5 <= region_ratio <= 2.0:
        raise HorizonError(f"region_ratio: between 0.5 and 2 (got {region_ratio:.4g})")
    national_ratio = region_ratio if national_ratio is None else national_ratio
    if not 0.5 <= national_ratio <= 2.0:
        raise HorizonError(f"national_ratio: between 0.5 and 2 (got {national_ratio:.4g})")
    if lead_class not in ("auto", "lower", "higher"):
        raise HorizonError("lead_class: one of auto, lower, higher")
    rate = h["discount_rate"] if discount_rate is None else discount_rate
    if not 0 <= rate <= 0.25:
        raise HorizonError(f"discount_rate: between 0 and 0.25 (got {rate:.4g})")
    lag = h["cash_lag_years"] if cash_lag is None else cash_lag
    if not 0 <= lag <= 3:
        raise HorizonError(f"cash_lag: between 0 and 3 years (got {lag})")
    count = (2 if scenario.aco.first_agreement else 3) if regional_count is None else regional_count
    if not 1 <= count <= 10:
        raise HorizonError(f"regional_count: between 1 and 10 (got {count})")
    paths = default_paths() if paths is None else paths
    for p in paths:
        _check_path(p)
    t_start = time.perf_counter()
    s = scenario.model_copy(update={"trials": trials or scenario.trials,
                                    "seed": scenario.seed if seed is None else seed})
    first_year = h["first_year"]
    s10 = _ten_year(s, years, first_year)
    ap1 = _agreement(s, first_year, min(n_ap, years), s.aco.first_agreement)
    ap2 = _agreement(s, first_year + n_ap, max(1, years - n_ap), False)
    catalog = load_catalog()
    n = s.trials
    def arr(fill: float | None = None) -> np.ndarray:
        a = np.empty((years, n)) if fill is None else np.full((years, n), fill)
        return a.T  # (trials, years) views of year-major arrays: a chunk writes whole rows

    spending = arr()
    costs = arr()
    # a LEAD track the catalog lacks is not settled: NaN; every other cell is written by a chunk
    unsettled = [p.lead and p.first not in catalog.tracks for p in paths]
    results = [PathResult(p, arr(), arr(np.nan if u else None))
               for p, u in zip(paths, unsettled, strict=True)]
    # the renewal's steps do not depend on the MSSP track, except through its largest regional
    # weight (ENHANCED 35% under the CY2027 proposal): one set of steps per weight cap
    caps = {k: _weight_cap(catalog, p.renewal, first_year + n_ap, s.variant)
            for k, p in enumerate(paths) if not p.lead and years > n_ap}
    group_steps: dict[float | None, dict[str, np.ndarray]] = {}
    group_bench: dict[float | None, np.ndarray] = {}
    for k, pr in enumerate(results):
        if not pr.path.lead:
            pr.steps = group_steps.setdefault(caps.get(k), {})
            # paths of one cap settle against the same benchmark: one (read-only) array
            pr.benchmark = group_bench.setdefault(caps.get(k), pr.benchmark)
    buffers: dict[str, np.ndarray] = {}  # work matrices reused by every chunk (no fresh pages)
    groups: dict[float | None, list[int]] = {}
    for k, p in enumerate(paths):
        if not p.lead:
            groups.setdefault(caps.get(k), []).append(k)
    # each group's settlements land straight in one (paths x years, trials) array whose
    # blocks are the paths' ``shared`` arrays
    group_shared: dict[float | None, np.ndarray] = {}
    for cap, members in groups.items():
        block = group_shared[cap] = np.empty((len(members) * years, n))
        for j, k in enumerate(members):
            results[k].shared = block[j * years:(j + 1) * years].T
    prepared: list[tuple[Any, ...] | None] = []  # per path: (choice, plan) twice, or None for LEAD
    for p in paths:
        if p.lead:
            prepared.append(None)
            continue
        c1 = TrackChoice(track=p.first, msr=p.msr, overrides=dict(p.overrides))
        c2 = TrackChoice(track=p.renewal, msr=p.msr, overrides=dict(p.overrides))
        prepared.append((c1, plan(c1, ap1), c2, plan(c2, ap2) if years > n_ap else []))
    # what does not change from chunk to chunk, packed once: each cap group's settlement jobs
    # and scalars, each LEAD path's level, yearly scale and jobs (steps kept once)
    mssp_jobs = {cap: prepare_batch(_mssp_jobs(ap1, ap2, [prepared[k] for k in members], years,
                                               (5 + 2 * g) * years))
                 for g, (cap, members) in enumerate(groups.items())}
    mssp_scalars = {cap: _mssp_scalars(rr, s, region_ratio, national_ratio, count, psa_proposal, n_ap, years, cap)
                    for cap in groups}
    for members in groups.values():
        if years > n_ap:
            steps = results[members[0]].steps
            for name in _MSSP_STEPS:
                steps[name] = np.full(n, np.nan)
    # every LEAD path's benchmark rows (settled or not), then the scratch rows of its update
    lead = [(pr, *_lead_setup(rr, s, years, pr, region_ratio, national_ratio, lead_class, lead_former_mssp,
                               catalog, reach_calibration))
            for pr, prep in zip(results, prepared, strict=True) if prep is None]
    for pr, _level, _scale, path_jobs in lead:
        if path_jobs is not None:
            pr.add_on = np.empty_like(pr.shared)  # every cell written chunk by chunk
    lead_row0 = (5 + 2 * len(groups)) * years
    lead_jobs = _lead_jobs(s, lead, years, lead_row0)
    rows = lead_row0 + (len(lead) + 1) * years if lead else lead_row0  # the chunk's input matrix
    seeds = _chunk_seeds(s.seed, n)
    rng_seconds = 0.0
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Two helper threads prepare the next chunk — its random numbers drawn in two halves
        # at once, then every benchmark row computed (compiled passes that release the GIL) —
        # while this thread settles the current one, as simulation/model/montecarlo.py does.
        # Two input matrices take turns: chunk ci + 2 is prepared only after chunk ci settled.
        def prepare(ci: int) -> Future:
            lo = ci * CHUNK
            size = min(n, lo + CHUNK) - lo
            x = _buffer(buffers, f"x{ci % 2}", rows, size)
            # SeedSequence.spawn is stateful: each half spawns from its own copy of the seed
            half = pool.submit(_timed_draws, copy.deepcopy(seeds[ci]), size, years, x, 0)
            return pool.submit(_prepare, s10, s, copy.deepcopy(seeds[ci]), x, half, slice(lo, lo + size),
                               spending, costs, groups, results, mssp_scalars, lead, lead_row0)

        upcoming = prepare(0)
        for ci in range(len(seeds)):
            x, seconds = upcoming.result()
            if ci + 1 < len(seeds):
                upcoming = prepare(ci + 1)
            rng_seconds += seconds
            lo = ci * CHUNK
            for cap in groups:
                run_batch(mssp_jobs[cap], x, group_shared[cap], lo)
            if lead_jobs:
                out = _run(lead_jobs, x, _buffer(buffers, "lead_out", 3 * len(lead_jobs), x.shape[1]), 0)
                first = 0
                for pr, _level, _scale, path_jobs in lead:
                    if path_jobs is not None and pr.add_on is not None:  # a settled path has its add-on
                        cols = slice(lo, lo + x.shape[1])
                        horizon_kernel.lead_split(out, first, years, pr.shared.T[:, cols], pr.add_on.T[:, cols])
                        first += len(path_jobs)
            del x
    settings = {"region_ratio": region_ratio, "national_ratio": national_ratio, "regional_count": count,
                "psa_proposal": psa_proposal, "lead_class": lead_class, "discount_rate": rate,
                "cash_lag_years": lag, "first_year": first_year, "reach_calibration": reach_calibration,
                "regional_weight_caps": {paths[k].name: c for k, c in caps.items() if c is not None}}
    return HorizonResult(s, list(range(first_year, first_year + years)), spending, costs, results, rate, lag,
                         settings, time.perf_counter() - t_start, rng_seconds)


def _weight_cap(catalog, code: str | None, year: int, variant: str | None) -> float | None:
    """The renewal track's largest lower-spending regional weight (catalog
    ``regional_weight_cap_lower``), or None when it does not cap below the rule's table."""
    if code is None or code not in catalog.tracks:
        return None
    info = catalog.tracks[code]
    rules = catalog.rules(code, min(max(year, info.first_year), info.last_year), variant=variant)
    cap = rules.regional_weight_cap_lower
    top = max(rebasing.load_rebasing_rules().mssp["regional_weight_lower"])
    return None if cap is None or cap >= top else float(cap)




def _buffer(buffers: dict[str, np.ndarray], name: str, rows: int, n: int) -> np.ndarray:
    """A C-contiguous (rows, n) work matrix kept across chunks (its contents are overwritten)."""
    b = buffers.get(name)
    if b is None or b.shape != (rows, n):
        b = buffers[name] = np.empty((rows, n))
    return b


def _keep_same(pr: PathResult, name: str, value: float, trials: int) -> None:
    """Keep a step that is the same in every future (LEAD's base is the ACO's history): a
    read-only (trials,) view of one number, indexable per trial like the others."""
    pr.steps[name] = np.broadcast_to(np.float64(value), (trials,))


def _mssp_benchmarks(rr, s, d, region_ratio, national_ratio, count, psa_proposal, n_ap, cap=None):
    """Per-capita benchmarks (years, trials) of every MSSP path (they do not depend on the
    track: the renewal is rebuilt from spending and the first agreement's benchmark), its
    two-way version, and the renewal's steps."""
    b0 = s.aco.benchmark_pc
    years = d.spending.shape[0]
    c = d.trend_index
    bench = b0 * c * d.acpt_index
    two_way = b0 * c
    steps: dict[str, np.ndarray] = {}
    if years > n_ap:
        # the renewal: benchmark years are the last three PYs of the first agreement
        by = slice(n_ap - 3, n_ap)
        c4 = c[n_ap - 1]
        x = d.spending[by]
        hb = rebasing.historical_benchmark(x, c4 / c[by], rr.mssp["historical_weights_renewal"])
        regional = region_ratio * b0 * c4
        national = national_ratio * b0 * c4
        ra = rebasing.regional_adjustment(rr, hb, regional, national, count, cap_lower=cap)
        psa = rebasing.prior_savings_adjustment(rr, bench[by] - x, national, proposal=psa_proposal)
        adj = rebasing.benchmark_adjustment(rr, ra, psa)
        base = hb + adj
        g2 = c[n_ap:] / c4
        bench[n_ap:] = base * rebasing.update_factor(rr, g2, g2 * d.gap_index[n_ap:] / d.gap_index[n_ap - 1])
        two_way[n_ap:] = base * g2
        steps = {"historical_benchmark": hb, "regional_pc": regional, "national_pc": national,
                 "regional_adjustment": ra, "prior_savings_adjustment": psa, "adjustment": adj,
                 "lower_spending": (regional > hb).astype(float), "benchmark_before_renewal": bench[n_ap - 1]}
    return bench, two_way, steps


_MSSP_STEPS = ("historical_benchmark", "regional_pc", "national_pc", "regional_adjustment",
               "prior_savings_adjustment", "adjustment", "lower_spending", "benchmark_before_renewal")


def _mssp_jobs(ap1, ap2, prepared, years: int, row0: int) -> list:
    """The settlement jobs of the MSSP paths of one regional weight cap (one per path and
    year, in that order) on a chunk's input matrix: the drawn rows and revenue first (see
    simulate_horizon), this group's benchmark rows at ``row0``. Identical jobs (a glide-path
    year and the BASIC level it is at) are settled once by run_batch."""
    n_ap = len(prepared[0][1])
    first = {"spending": 0, "quality": years, "qps": 2 * years, "alt": 3 * years, "revenue": 4 * years,
             "mssp": row0, "mssp_two_way": row0 + years}
    jobs = []
    for c1, plan1, c2, plan2 in prepared:
        for t in range(years):
            rows = {name: Row(r + t) for name, r in first.items()}
            if t < n_ap:
                jobs.append((plan1[t].rules, _job_inputs(c1, plan1[t], ap1, t, rows)))
            else:
                jobs.append((plan2[t - n_ap].rules, _job_inputs(c2, plan2[t - n_ap], ap2, t - n_ap, rows)))
    return jobs


def _mssp_scalars(rr, s, region_ratio, national_ratio, count, psa_proposal, n_ap, years, cap) -> dict:
    """The numbers horizon_kernel.mssp_rows needs, as _mssp_benchmarks' rebasing calls
    compute them (regional_weight, the caps, the PSA share, the ACPT weight)."""
    m = rr.mssp
    k = min(count, len(m["regional_weight_lower"])) - 1
    w_lower = m["regional_weight_lower"][k]
    if cap is not None:
        w_lower = min(w_lower, cap)
    w = [float(v) for v in np.asarray(m["historical_weights_renewal"], dtype=float)]
    b0 = s.aco.benchmark_pc
    return {"b0": float(b0), "n_ap": int(n_ap), "renew": years > n_ap, "w0": w[0], "w1": w[1], "w2": w[2],
            "region_b0": float(region_ratio * b0), "national_b0": float(national_ratio * b0),
            "w_lower": float(w_lower), "w_higher": float(m["regional_weight_higher"][k]),
            "neg_cap": float(-m["regional_negative_cap"]), "pos_cap": float(m["regional_positive_cap"]),
            "offset_keep": float(1.0 - np.clip(0.0, 0.0, 1.0)),
            "psa_share": float(m["psa_share_proposed" if psa_proposal else "psa_share"]),
            "psa_cap": float(m["psa_cap"]), "eliminated": bool(m["negative_regional_eliminated"]),
            "acpt_w": float(m["acpt_weight"])}


def _prepare(s10, s, ss, x, half: Future, cols: slice, spending, costs, groups, results, mssp_scalars,
             lead, lead_row0) -> tuple[np.ndarray, float]:
    """One chunk made ready to settle (run on a helper thread): draw the input half of its
    random numbers into ``x`` while ``half`` draws the rest, build the draws, then fill the
    rest of ``x`` (revenue, each cap group's benchmark rows, each LEAD path's), the chunk's
    columns of spending, costs, the benchmarks and the renewal's steps, in compiled passes.
    Returns ``x`` and the seconds spent drawing."""
    years = s10.aco.agreement_years
    z, seconds = _timed_draws(ss, x.shape[1], years, x, 1)
    z0, seconds0 = half.result()
    d = _build_draws(s10, {**z, **z0})
    b0 = float(s.aco.benchmark_pc)
    horizon_kernel.common_rows(d.effect, d.trend_index, d.spending, x[4 * years:5 * years], spending.T[:, cols],
                               costs.T[:, cols], float(s.aco.participant_revenue),
                               float(s.costs.annual_operating_cost), float(s.costs.revenue_loss_share), b0,
                               float(s.aco.beneficiaries), float(s.costs.startup_investment))
    for g, (cap, members) in enumerate(groups.items()):
        sc = mssp_scalars[cap]
        row0 = (5 + 2 * g) * years
        pr = results[members[0]]  # the paths of one cap share the benchmark and the steps
        none = np.empty(0)
        st = [pr.steps[name][cols] if sc["renew"] else none for name in _MSSP_STEPS]
        horizon_kernel.mssp_rows(d.trend_index, d.acpt_index, d.gap_index, d.spending, sc["b0"], sc["n_ap"],
                                 sc["renew"], sc["w0"], sc["w1"], sc["w2"], sc["region_b0"], sc["national_b0"],
                                 sc["w_lower"], sc["w_higher"], sc["neg_cap"], sc["pos_cap"], sc["offset_keep"],
                                 sc["psa_share"], sc["psa_cap"], sc["eliminated"], sc["acpt_w"],
                                 x[row0:row0 + years], x[row0 + years:row0 + 2 * years], pr.benchmark.T[:, cols],
                                 *st)
    if lead:
        rr = rebasing.load_rebasing_rules()
        f0 = lead_row0 + len(lead) * years
        factor = x[f0:f0 + years]
        horizon_kernel.lead_factor(d.trend_index, d.gap_index, float(rr.lead["guardrail_down"]),
                                   float(rr.lead["guardrail_up"]), float(rr.lead["acpt_weight"]), factor)
        for j, (pr, level, scale, _jobs) in enumerate(lead):
            r = lead_row0 + j * years
            horizon_kernel.lead_rows(factor, level, scale, x[r:r + years], pr.benchmark.T[:, cols])
    return x, seconds + seconds0


def _reach_factor(catalog, code: str, first_year: int) -> float | None:
    """The REACH-fitted level k of LEAD's benchmark (calibration_reach.benchmark_factor) when
    the catalog marks the track ``benchmark_kind: prospective`` with a ``benchmark_calibration``
    key (as the one-agreement view, montecarlo._job_inputs), else None."""
    if code not in catalog.tracks:
        return None
    info = catalog.tracks[code]
    rules = catalog.rules(code, min(max(first_year, info.first_year), info.last_year))
    if rules.benchmark_kind != "prospective" or not rules.benchmark_calibration:
        return None
    from .reach_level import benchmark_factor

    return benchmark_factor(rules.benchmark_calibration)


def _lead_setup(rr, s, years, pr, region_ratio, national_ratio, lead_class, former_mssp, catalog,
                reach_calibration=True) -> tuple[float, np.ndarray, list | None]:
    """What LEAD's ten years need besides the draws (the same in every chunk): the level
    (base times risk) its update factor multiplies, each year's benchmark scale ((1 -
    discount), times the REACH level), and the settlement jobs (rules, inputs) on the
    pre-discount benchmark (None when the catalog does not have the track); the steps are
    kept on ``pr``.

    With the REACH calibration [INF] the pre-discount benchmark is k * H * UF * risk and the
    discount d becomes 1 - k (1 - d), as in the one-agreement view: the fitted level k stands
    in for LEAD's REA and PSA (REACH's results, which it is fitted on, already carry REACH's
    own regional blend), so both views settle LEAD against the same benchmark in the years
    they share. The update factor itself (rebasing.lead_update on the trend and ACPT growth)
    is drawn-dependent: horizon_kernel.lead_factor, per chunk."""
    b0 = s.aco.benchmark_pc
    global_option = pr.path.first == "LEAD_GLOBAL"
    first_year = rr.horizon["first_year"]
    k = _reach_factor(catalog, pr.path.first, first_year) if reach_calibration else None
    # the base is the ACO's trended history: the same in every future (the spending class too)
    one = np.full(1, b0)
    base = rebasing.lead_base(rr, np.stack([one, one, one]), np.ones((3, 1)), region_ratio * b0,
                              national_ratio * b0, renewing=False, former_mssp=former_mssp,
                              global_option=global_option)
    lower = bool(base["lower"][0]) if lead_class == "auto" else lead_class == "lower"
    adj = float(base["adjustment"][0]) if (lower and k is None) else 0.0
    total = pr.benchmark.shape[0]
    for name in ("history", "rea", "psa"):
        _keep_same(pr, name, float(base[name][0]), total)
    _keep_same(pr, "adjustment", adj, total)
    _keep_same(pr, "lower_spending", float(lower), total)
    _keep_same(pr, "reach_factor", 1.0 if k is None else k, total)
    risk = float(rebasing.lead_risk_ratio(rr, np.ones(1))[0])  # flat risk, inside the caps
    level = (b0 + adj) * risk
    code = pr.path.first
    info = catalog.tracks.get(code)
    jobs = []
    scale = np.empty(years)
    for t in range(years):
        disc = float(rebasing.lead_discount(rr, t, global_option=global_option, lower=np.array([lower]))[0])
        kw: dict[str, object] = {}
        rules = None
        if info is not None:
            rules = catalog.rules(code, min(max(first_year + t, info.first_year), info.last_year))
            if k is not None:
                disc = rules.discount_for(not lower)
                kw["benchmark_discount"] = 1.0 - k * (1.0 - disc)
        scale[t] = (1.0 if k is None else k) * (1.0 - disc)
        _keep_same(pr, f"discount_{t}", disc, total)
        if rules is not None:
            # the kernel applies the catalog's discount (this year's, by spending class; the same
            # values as rebasing.yaml's, tested), the withhold, the corridors and the add-on
            jobs.append((rules, {"benchmark": t, "agreement_year": t + 1, "higher_spending": not lower, **kw}))
    return float(level), scale, (jobs if info is not None else None)


def _lead_jobs(s, lead, years: int, row0: int) -> list:
    """Every settled LEAD path's jobs on a chunk's input matrix (path j's benchmark rows at
    ``row0 + j * years``), settled together each chunk (shared savings, shared losses and
    the add-on kept apart)."""
    jobs = []
    for j, (_pr, _level, _scale, path_jobs) in enumerate(lead):
        for rules, kw in path_jobs or ():
            t = kw["benchmark"]
            jobs.append((rules, {**kw, "benchmark": Row(row0 + j * years + t), "expenditure": Row(t),
                                 "beneficiaries": float(s.aco.beneficiaries), "quality_score": Row(years + t),
                                 "qps_met": Row(2 * years + t), "alt_qps_met": Row(3 * years + t)}))
    return jobs
