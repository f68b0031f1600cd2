"""The ten-year horizon in words and tables: the ratchet sentence, the ranking of the paths,
and the year-by-year table the dashboard's ten-year view and the deck draw from.

Every number here is read from a :class:`simulation.model.horizon.HorizonResult` (means over its
simulated futures), so the words cannot drift from the simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from ..model import horizon
from ..model.horizon import HorizonResult
from ..text import money


def per_capita(x: float, *, signed: bool = False) -> str:
    """Dollars per beneficiary to the dollar ($13,018; −$44): per-capita steps are too small
    for the $K rounding of whole-ACO amounts."""
    sign = "−" if x < 0 else ("+" if signed and x > 0 else "")
    return f"{sign}${abs(x):,.0f}"


@dataclass(frozen=True)
class Ratchet:
    """What rebasing did to one MSSP path at renewal, per beneficiary (means over futures)."""

    path: str
    renewal_year: int
    benchmark_years: tuple[int, int]
    before: float        # the last first-agreement benchmark (the year before renewal)
    history: float       # the renewal's historical benchmark, rebuilt from the ACO's spending
    regional: float      # the regional adjustment (after caps)
    prior_savings: float  # the prior savings adjustment
    adjustment: float    # the larger of the two (what is added)
    after: float         # history + adjustment: the renewed base (before its updates)
    beneficiaries: float

    @property
    def drop(self) -> float:
        """How much lower the rebuilt history is than the benchmark before renewal."""
        return self.before - self.history

    @property
    def kind(self) -> str:
        """Which adjustment gives back money: the larger one (or none)."""
        if self.adjustment <= 0:
            return "none"
        return "prior savings adjustment" if self.prior_savings >= self.regional else "regional adjustment"


def renewal_index(result: HorizonResult) -> int | None:
    """Year index of the first renewal year (None when the horizon has no renewal)."""
    from ..model.rebasing import load_rebasing_rules

    n_ap = load_rebasing_rules().mssp["agreement_years"]
    return n_ap if len(result.years) > n_ap else None


def ratchet(result: HorizonResult, k: int | None = None) -> Ratchet | None:
    """The ratchet of MSSP path ``k`` (default: the first MSSP path), or None without renewal."""
    t = renewal_index(result)
    if t is None:
        return None
    if k is None:
        k = next((i for i, p in enumerate(result.paths) if not p.path.lead), None)
        if k is None:
            return None
    st = result.paths[k].steps
    if "historical_benchmark" not in st:
        return None

    def m(name: str) -> float:
        return float(np.mean(st[name]))

    return Ratchet(result.paths[k].path.name, result.years[t], (result.years[t - 3], result.years[t - 1]),
                   m("benchmark_before_renewal"), m("historical_benchmark"), m("regional_adjustment"),
                   m("prior_savings_adjustment"), m("adjustment"), m("historical_benchmark") + m("adjustment"),
                   float(result.scenario.aco.beneficiaries))


def ratchet_sentence(r: Ratchet) -> str:
    """The ratchet in plain words, with its numbers (per beneficiary, and a year's dollars)."""
    n = r.beneficiaries
    lo, hi = r.benchmark_years
    if r.drop > 0:
        head = (f"After renewal in {r.renewal_year}, your {r.path} benchmark is {per_capita(r.drop)} lower per "
                f"beneficiary ({money(r.drop * n)} a year for {n:,.0f} beneficiaries) because it is rebuilt "
                f"from your own {lo}–{hi} spending")
    else:
        head = (f"After renewal in {r.renewal_year}, your {r.path} benchmark is rebuilt from your own "
                f"{lo}–{hi} spending, which was not below the benchmark on average ({per_capita(-r.drop)} above it "
                "per beneficiary), so there is no ratchet to speak of")
    if r.kind == "none":
        tail = "; no adjustment gives anything back (neither the regional nor the prior savings adjustment is positive)."
    else:
        other = "regional adjustment" if r.kind == "prior savings adjustment" else "prior savings adjustment"
        tail = (f"; the {r.kind} gives back {per_capita(r.adjustment)} per beneficiary ({money(r.adjustment * n)} a year) "
                f"— the larger of it and the {other}, never both — so the renewed benchmark starts "
                + (f"{per_capita(r.before - r.after)} per beneficiary below where it stood."
                   if r.before > r.after else
                   f"{per_capita(r.after - r.before)} per beneficiary above where it stood (the {r.kind} more than "
                   "makes up for the ratchet here)."))
    return head + tail


def ranking_sentence(result: HorizonResult) -> str:
    """Which path keeps the most over the horizon, in dollars and present value."""
    rows = [p for p in result.summary() if p["settled"]]
    if not rows:
        return "No path could be settled."
    rows.sort(key=lambda p: p["present_value"], reverse=True)
    best = rows[0]
    span = f"{result.years[0]}–{result.years[-1]}"
    text = (f"Over {len(result.years)} years ({span}), {best['path']} keeps the most: {money(best['ten_year_net'])} "
            f"in all, {money(best['present_value'])} in present value at {result.discount_rate:.0%} a year "
            f"(settlement cash {result.cash_lag} year{'s' * (result.cash_lag != 1)} after each performance year)")
    if len(rows) > 1:
        nxt = rows[1]
        text += (f"; next is {nxt['path']} with {money(nxt['ten_year_net'])} ({money(nxt['present_value'])} "
                 "present value)")
    return text + "."


def sentences(result: HorizonResult) -> list[str]:
    """The ten-year view's words: the ranking, then the ratchet of the first MSSP path."""
    out = [ranking_sentence(result)]
    r = ratchet(result)
    if r is not None:
        out.append(ratchet_sentence(r))
        lead = [p for p in result.paths if p.path.lead]
        if lead:
            out.append(f"{' and '.join(p.path.name for p in lead)} keep{'s' * (len(lead) == 1)} one benchmark "
                       f"base for all {len(result.years)} years: no rebasing, so savings made early do not "
                       "lower the benchmark later.")
    return out


def by_year(result: HorizonResult) -> pd.DataFrame:
    """One row per (path, year): mean benchmark and spending per capita; mean net, cumulative
    net and cumulative present value in dollars (PY t discounted by (1 + rate)^(t + 1 + lag))."""
    rows = []
    t = np.arange(len(result.years))
    disc = (1.0 + result.discount_rate) ** (t + 1 + result.cash_lag)
    spend = result.spending.mean(axis=0)
    ren = renewal_index(result)
    for k, pr in enumerate(result.paths):
        net = result.net(k).mean(axis=0)
        settled = not math.isnan(float(net[0]))
        cum = np.cumsum(net)
        cum_pv = np.cumsum(net / disc)
        bench = pr.benchmark.mean(axis=0)
        for i, y in enumerate(result.years):
            rows.append({"path": pr.path.name, "lead": pr.path.lead, "year": y, "agreement": (
                1 if pr.path.lead or ren is None or i < ren else 2),
                "benchmark_pc": float(bench[i]), "spending_pc": float(spend[i]),
                "net": float(net[i]) if settled else math.nan,
                "cumulative_net": float(cum[i]) if settled else math.nan,
                "cumulative_pv": float(cum_pv[i]) if settled else math.nan})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- sensitivity over ten years


def _path_named(name: str) -> horizon.HorizonPath:
    for p in horizon.default_paths():
        if p.name == name:
            return p
    raise ValueError(f"unknown path {name!r}; known: {', '.join(p.name for p in horizon.default_paths())}")


def _pv(scenario, paths, trials: int) -> dict[str, float]:
    r = horizon.simulate_horizon(scenario, paths=paths, trials=trials)
    return {p["path"]: p["present_value"] for p in r.summary()}


def ten_year_break_even(scenario, a: str, b: str, *, trials: int = 3_000, lo: float = -0.05,
                        hi: float = 0.20, tol: float = 1e-4) -> dict[str, object]:
    """The true savings effect at which path ``a``'s ten-year present value equals path
    ``b``'s (same seed, same futures; bisection on the sign of the difference after a scan of
    nine points). ``value`` is NaN when the two never cross in [lo, hi]; ``status`` says why;
    ``below`` names the path ahead below the crossing."""
    from ..model.montecarlo import _with

    paths = [_path_named(a), _path_named(b)]

    def diff(x: float) -> float:
        pv = _pv(_with(scenario, "performance.savings_effect", x), paths, trials)
        return pv[a] - pv[b]

    xs = np.linspace(lo, hi, 9)
    ds = [diff(float(x)) for x in xs]
    for i in range(len(xs) - 1):
        if ds[i] == 0 or np.sign(ds[i]) != np.sign(ds[i + 1]):
            x0, x1, d0 = float(xs[i]), float(xs[i + 1]), ds[i]
            while x1 - x0 > tol:
                m = 0.5 * (x0 + x1)
                dm = diff(m)
                if np.sign(dm) == np.sign(d0):
                    x0, d0 = m, dm
                else:
                    x1 = m
            return {"a": a, "b": b, "value": 0.5 * (x0 + x1), "status": "crosses",
                    "below": a if ds[i] > 0 else b, "trials": trials}
    ahead = a if ds[0] > 0 else b
    return {"a": a, "b": b, "value": math.nan, "status": f"{ahead} is ahead everywhere from {lo:.0%} to {hi:.0%}",
            "below": ahead, "trials": trials}


def ten_year_tornado(scenario, path: str, *, trials: int = 3_000) -> pd.DataFrame:
    """Each main input's swing (montecarlo.TORNADO_INPUTS) on ``path``'s ten-year present
    value, the other inputs as in the scenario (same seed). Columns as montecarlo.tornado's,
    with ``net_*`` the present values."""
    from ..model.montecarlo import TORNADO_INPUTS, _with
    from ..model.scenario import get_path

    paths = [_path_named(path)]
    base = _pv(scenario, paths, trials)[path]
    rows = []
    for name, label, swing in TORNADO_INPUTS:
        v = get_path(scenario, name)
        low, high = swing(v)
        if isinstance(v, int):
            low, high = round(low), round(high)
        got = {side: _pv(_with(scenario, name, value), paths, trials)[path]
               for side, value in (("low", low), ("high", high))}
        rows.append({"input": name, "label": label, "base_value": v, "low_value": low, "high_value": high,
                     "track": path, "base_net": base, "net_low": got["low"], "net_high": got["high"],
                     "swing": abs(got["high"] - got["low"])})
    return pd.DataFrame(rows)


def break_even_sentence(be: dict[str, object]) -> str:
    """The ten-year break-even in words."""
    if math.isnan(float(cast(float, be["value"]))):
        return f"Over ten years, in present value: {be['status']}."
    other = be["b"] if be["below"] == be["a"] else be["a"]
    return (f"Over ten years, in present value, {other} beats {be['below']} once the true savings effect "
            f"is above {be['value']:.1%} (below it, {be['below']} keeps more); {be['trials']:,} futures a run.")
