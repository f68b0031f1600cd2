"""Ten performance years (2027-2036) across agreements: MSSP's rebasing against LEAD's base.

A :class:`HorizonPath` names what the ACO takes in each agreement: for MSSP the first
agreement's track (a catalog code or the BASIC glide path) and the renewal's; for LEAD one
ten-year agreement. Every path is settled on the *same* random futures (common random numbers),
drawn by :mod:`simulation.montecarlo`'s own generators for a ten-year horizon.

Per simulated future i (year index t, 0 = 2027; C, P, E as in simulation/montecarlo.py):

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

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rebasing
from .catalog import load_catalog
from .montecarlo import CHUNK, _build_draws, _chunk_seeds, _job_inputs, _standard_draws, plan
from .scenario import GLIDE, Scenario, TrackChoice
from .settlement import Row, prepare_batch, run_batch, settle

ONE_SIDED = {"BASIC_A", "BASIC_B", "TRACK_1"}
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
    out = [HorizonPath("ENHANCED, ENHANCED", "ENHANCED", "ENHANCED"),
           HorizonPath("BASIC glide, BASIC E", GLIDE, "BASIC_E"),
           HorizonPath("BASIC E, BASIC E", "BASIC_E", "BASIC_E")]
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
    """Per-trial arrays of one path, shaped (trials, years); ``steps`` per trial (trials,)."""

    path: HorizonPath
    benchmark: np.ndarray
    shared_savings: np.ndarray
    shared_losses: np.ndarray
    steps: dict[str, np.ndarray] = field(default_factory=dict)
    #: LEAD's administrative add-on paid outside the sharing (higher-spending ACO), (trials, years)
    add_on: np.ndarray | None = None

    @property
    def earned(self) -> np.ndarray:
        e = self.shared_savings - self.shared_losses
        return e if self.add_on is None else e + self.add_on


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

    def summary(self) -> list[dict[str, Any]]:
        """Per path: per-year means (benchmark and spending per capita; shared savings, shared
        losses and net in dollars), the ten-year net and its present value (means)."""
        n = float(self.scenario.aco.beneficiaries)
        out = []
        spend = self.spending.mean(axis=0)
        for k, pr in enumerate(self.paths):
            net = self.net(k)
            rows: list[dict[str, Any]] = [{"year": y, "benchmark_pc": float(pr.benchmark[:, t].mean()), "spending_pc": float(spend[t]),
                     "shared_savings": float(pr.shared_savings[:, t].mean()),
                     "shared_losses": float(pr.shared_losses[:, t].mean()), "net": float(net[:, t].mean())}
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
                     seed: int | None = None, region_ratio: float = 1.0, national_ratio: float | None = None,
                     regional_count: int | None = None, psa_proposal: bool | None = None, lead_class: str = "auto",
                     lead_former_mssp: bool = False, discount_rate: float | None = None,
                     cash_lag: int | None = None, years: int | None = None) -> HorizonResult:
    """Simulate every path over the horizon on the same futures. ``region_ratio``: the
    region's per-capita spending relative to the ACO's historical (counterfactual) spending;
    ``national_ratio`` likewise for national spending (default: the region's);
    ``regional_count``: which regional adjustment the renewal is (default 2 for a first
    agreement, else 3); ``psa_proposal``: the CY2027 proposed 75% PSA (default: the scenario's
    ``market.cy2027_proposal`` switch); ``lead_class``: auto (from region_ratio), lower or higher."""
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
    results = [PathResult(p, arr(), arr(np.nan if p.lead else None), arr(np.nan if p.lead else None))
               for p in paths]
    shared_steps: dict[str, np.ndarray] = {}
    for pr in results:
        if not pr.path.lead:
            pr.steps = shared_steps  # the renewal's steps do not depend on the MSSP track
    prepared: list[tuple[Any, ...] | None] = []  # per path: (choice, plan) twice, or None for LEAD
    for p in paths:
        if p.lead:
            prepared.append(None)
            continue
        c1 = TrackChoice(track=p.first, msr=p.msr, overrides=dict(p.overrides))
        c2 = TrackChoice(track=p.renewal, msr=p.msr, overrides=dict(p.overrides))
        prepared.append((c1, plan(c1, ap1), c2, plan(c2, ap2) if years > n_ap else []))
    rng_seconds = 0.0
    b0 = s.aco.benchmark_pc
    for ci, ss in enumerate(_chunk_seeds(s.seed, n)):
        lo = ci * CHUNK
        size = min(n, lo + CHUNK) - lo
        t0 = time.perf_counter()
        z = _standard_draws(ss, size, years)
        rng_seconds += time.perf_counter() - t0
        d = _build_draws(s10, z)
        cols = slice(lo, lo + size)
        spending.T[:, cols] = d.spending
        cost = s.costs.annual_operating_cost + (
            s.costs.revenue_loss_share * d.effect * b0 * d.trend_index * s.aco.beneficiaries)
        cost[0] += s.costs.startup_investment
        costs.T[:, cols] = cost
        mssp = [(pr, prep) for pr, prep in zip(results, prepared, strict=True) if prep is not None]
        if mssp:
            _mssp_settle(rr, s, ap1, ap2, d, [m[0] for m in mssp], [m[1] for m in mssp], cols,
                         region_ratio, national_ratio, count, psa_proposal)
        for pr, prep in zip(results, prepared, strict=True):
            if prep is None:
                _lead_chunk(rr, s, d, pr, cols, region_ratio, national_ratio, lead_class, lead_former_mssp, catalog)
    settings = {"region_ratio": region_ratio, "national_ratio": national_ratio, "regional_count": count,
                "psa_proposal": psa_proposal, "lead_class": lead_class, "discount_rate": rate,
                "cash_lag_years": lag, "first_year": first_year}
    return HorizonResult(s, list(range(first_year, first_year + years)), spending, costs, results, rate, lag,
                         settings, time.perf_counter() - t_start, rng_seconds)


_ROW_NAMES = ("spending", "quality", "qps", "alt", "revenue", "mssp", "mssp_two_way")


def _keep(pr: PathResult, cols: slice, name: str, value: np.ndarray) -> None:
    if name not in pr.steps:
        pr.steps[name] = np.full(pr.benchmark.shape[0], np.nan)
    pr.steps[name][cols] = value


def _mssp_benchmarks(rr, s, d, region_ratio, national_ratio, count, psa_proposal, n_ap):
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
        ra = rebasing.regional_adjustment(rr, hb, regional, national, count)
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


def _mssp_settle(rr, s, ap1, ap2, d, mssp, prepared, cols, region_ratio, national_ratio, count,
                 psa_proposal) -> None:
    """Settle every MSSP path and year of one chunk in one compiled call."""
    n_ap = len(prepared[0][1])
    years = d.spending.shape[0]
    bench, two_way, steps = _mssp_benchmarks(rr, s, d, region_ratio, national_ratio, count, psa_proposal, n_ap)
    arrays = {"spending": d.spending, "quality": d.quality, "qps": d.qps, "alt": d.alt,
              "revenue": s.aco.participant_revenue * d.trend_index, "mssp": bench, "mssp_two_way": two_way}
    x = np.empty((len(_ROW_NAMES) * years, d.spending.shape[1]))
    for k, name in enumerate(_ROW_NAMES):
        x[k * years:(k + 1) * years] = arrays[name]
    jobs = []
    for c1, plan1, c2, plan2 in prepared:
        for t in range(years):
            rows = {name: Row(k * years + t) for k, name in enumerate(_ROW_NAMES)}
            if t < n_ap:
                kw = _job_inputs(c1, plan1[t], ap1, t, rows)
                jobs.append((plan1[t].rules, kw))
            else:
                kw = _job_inputs(c2, plan2[t - n_ap], ap2, t - n_ap, rows)
                jobs.append((plan2[t - n_ap].rules, kw))
    # identical jobs (a glide-path year and the BASIC level it is at) are settled once; an
    # MSSP year ends in shared savings or shared losses, never both, so earned splits them
    earned = run_batch(prepare_batch(jobs), x, np.empty((len(jobs), x.shape[1])))
    for j, pr in enumerate(mssp):
        pr.benchmark.T[:, cols] = bench
        e = earned[j * years:(j + 1) * years]
        np.maximum(e, 0.0, out=pr.shared_savings.T[:, cols])
        np.maximum(-e, 0.0, out=pr.shared_losses.T[:, cols])
    for name, v in steps.items():
        _keep(mssp[0], cols, name, v)


def _lead_chunk(rr, s, d, pr, cols, region_ratio, national_ratio, lead_class, former_mssp, catalog) -> None:
    b0 = s.aco.benchmark_pc
    years = d.spending.shape[0]
    global_option = pr.path.first == "LEAD_GLOBAL"
    h = np.full(d.spending.shape[1], b0)
    base = rebasing.lead_base(rr, np.stack([h, h, h]), np.ones((3, h.size)), region_ratio * b0,
                              national_ratio * b0, renewing=False, former_mssp=former_mssp,
                              global_option=global_option)
    lower = base["lower"] if lead_class == "auto" else np.full(h.size, lead_class == "lower")
    adj = np.where(lower, base["adjustment"], 0.0)
    for name in ("history", "rea", "psa"):
        _keep(pr, cols, name, base[name])
    _keep(pr, cols, "adjustment", adj)
    _keep(pr, cols, "lower_spending", lower.astype(float))
    c = d.trend_index
    g = np.ones_like(c)
    g[1:] = c[1:] / c[:-1]
    g -= 1.0
    acpt = g.copy()
    acpt[1:] += d.gap_index[1:] / d.gap_index[:-1] - 1.0
    acpt[0] = 0.0
    uf = rebasing.lead_update(rr, g, acpt)
    risk = rebasing.lead_risk_ratio(rr, np.ones(h.size))
    code = pr.path.first
    for t in range(years):
        disc = rebasing.lead_discount(rr, t, global_option=global_option, lower=lower)
        updated = (h + adj) * uf[t] * risk
        bench = updated * (1.0 - disc)
        pr.benchmark[cols, t] = bench
        _keep(pr, cols, f"discount_{t}", disc)
        if code in catalog.tracks:
            info = catalog.tracks[code]
            first_year = rebasing.load_rebasing_rules().horizon["first_year"]
            rules = catalog.rules(code, min(max(first_year + t, info.first_year), info.last_year))
            # the kernel applies the catalog's discount (this year's, by spending class; the same
            # values as rebasing.yaml's, tested), the withhold, the corridors and the add-on
            st = settle(rules, updated, d.spending[t], float(s.aco.beneficiaries), quality_score=d.quality[t],
                        qps_met=d.qps[t], alt_qps_met=d.alt[t], agreement_year=t + 1,
                        higher_spending=~lower, detail=False)
            pr.shared_savings[cols, t] = st.shared_savings
            pr.shared_losses[cols, t] = st.shared_losses
            if pr.add_on is None:
                pr.add_on = np.zeros_like(pr.shared_savings)
            pr.add_on[cols, t] = st.admin_add_on
