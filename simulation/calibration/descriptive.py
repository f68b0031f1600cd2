"""Descriptive tables of the CMS results: dispersion, persistence, quality, benchmark growth, the 2020 shock."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from .base import SHOCK_YEAR
from .fit import NoiseFit

# ============================================================================================
# Descriptive analyses
# ============================================================================================


def _year_demeaned(rows: pd.DataFrame) -> pd.Series:
    return rows.sav_rate - rows.groupby("performance_year").sav_rate.transform("mean")


def dispersion_table(results: pd.DataFrame) -> pd.DataFrame:
    """SD of savings rates by performance year and size band (12-month rows)."""
    rows = results[results.months_in_py == 12]
    table = rows.groupby(["performance_year", "band"], observed=False).sav_rate.agg(
        ["count", "mean", "std"]
    )
    return table.reset_index()


def band_decomposition(results: pd.DataFrame, fit: NoiseFit) -> pd.DataFrame:
    """Observed and modelled scatter by size band, in the fit window, shock year left out.

    ``observed_sd`` is the SD of rates around their year's mean; ``noise_sd`` the model's
    size-and-systemic noise at the band's ACOs' sizes (root mean square); ``effect_sd`` the
    persistent part that does not shrink with size; ``change_sd`` / ``model_change_sd`` the SD
    of an ACO's change from one year to the next, observed and modelled.
    """
    rows = results[
        (results.months_in_py == 12)
        & results.performance_year.between(min(fit.years), max(fit.years))
        & (results.performance_year != fit.shock_year)
    ].copy()
    rows["dev"] = _year_demeaned(rows)
    nxt = rows[["link_id", "performance_year", "dev", "n_ab", "agreement_start_year"]].copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["change"] = pairs.dev_next - pairs.dev
    persist = _persistence_same(fit)
    effect = fit.true_effect_sd**2 + fit.agreement_sd**2
    out = []
    for band, grp in rows.groupby("band", observed=True):
        noise_var = float(np.mean(fit.noise_sd(grp.n_ab) ** 2))
        pb = pairs[pairs.band == band]
        model_change = np.sqrt(
            2 * (1 - persist) * effect
            + fit.noise_sd(pb.n_ab) ** 2
            + fit.noise_sd(pb.n_ab_next) ** 2
        )
        out.append(
            {
                "band": band,
                "aco_years": len(grp),
                "median_n": float(grp.n_ab.median()),
                "observed_sd": float(grp.dev.std()),
                "noise_sd": math.sqrt(noise_var),
                "effect_sd": math.sqrt(effect),
                "model_sd": math.sqrt(noise_var + effect),
                "implied_effect_sd": math.sqrt(max(0.0, float(grp.dev.var()) - noise_var)),
                "pairs": len(pb),
                "change_sd": float(pb.change.std()) if len(pb) > 2 else float("nan"),
                "model_change_sd": float(np.sqrt(np.mean(model_change**2)))
                if len(pb)
                else float("nan"),
            }
        )
    return pd.DataFrame(out)


def size_curve(results: pd.DataFrame, fit: NoiseFit, bins: int = 10) -> pd.DataFrame:
    """SD of rates (around the year mean) in ``bins`` equal-count size bins of the fit window."""
    rows = results[
        (results.months_in_py == 12)
        & results.performance_year.between(min(fit.years), max(fit.years))
        & (results.performance_year != fit.shock_year)
    ].copy()
    rows["dev"] = _year_demeaned(rows)
    rows["bin"] = pd.qcut(rows.n_ab, bins, duplicates="drop")
    grouped = rows.groupby("bin", observed=True)
    out = grouped.agg(n=("n_ab", "size"), median_n=("n_ab", "median"), sd=("dev", "std"))
    out["se"] = out.sd / np.sqrt(2 * (out.n - 1))
    return out.reset_index(drop=True)


def _persistence_same(fit: NoiseFit) -> float:
    """Lag-1 correlation of the true effect within one agreement period."""
    ta, tb = fit.true_effect_sd**2, fit.agreement_sd**2
    return (fit.persistence * ta + tb) / (ta + tb)


def _persistence_rebased(fit: NoiseFit) -> float:
    """Lag-1 correlation of the true effect across a change of agreement period."""
    ta, tb = fit.true_effect_sd**2, fit.agreement_sd**2
    return fit.persistence * ta / (ta + tb)


def autocorrelation_table(results: pd.DataFrame, fit: NoiseFit, max_lag: int = 5) -> pd.DataFrame:
    """Correlation of an ACO's rate (around the year mean) with its rate k years later.

    Observed over all linked years (PY2013–PY2023, 12-month rows, shock year left out) and in
    the fit window, with the correlation the fitted model implies for the same pairs.
    """
    rows = results[results.months_in_py == 12].copy()
    rows["dev"] = _year_demeaned(rows)
    rows = rows[rows.performance_year != fit.shock_year]
    keep = ["link_id", "performance_year", "dev", "n_ab", "agreement_start_year"]
    out = []
    effect = fit.true_effect_sd**2 + fit.agreement_sd**2
    lo, hi = min(fit.years), max(fit.years)
    for lag in range(1, max_lag + 1):
        later = rows[keep].copy()
        later["performance_year"] -= lag
        pairs = rows[keep].merge(later, on=["link_id", "performance_year"], suffixes=("", "_k"))
        window = pairs[pairs.performance_year.between(lo, hi - lag)]
        same = (window.agreement_start_year == window.agreement_start_year_k).to_numpy()
        cov = fit.true_effect_sd**2 * fit.persistence**lag + fit.agreement_sd**2 * same
        var_a = effect + fit.noise_sd(window.n_ab) ** 2
        var_b = effect + fit.noise_sd(window.n_ab_k) ** 2
        model = float(np.mean(cov / np.sqrt(var_a * var_b))) if len(window) else float("nan")
        out.append(
            {
                "lag": lag,
                "pairs_all": len(pairs),
                "corr_all": _corr(pairs.dev, pairs.dev_k),
                "pairs_window": len(window),
                "corr_window": _corr(window.dev, window.dev_k),
                "corr_model": model,
            }
        )
    return pd.DataFrame(out)


def _corr(a: pd.Series, b: pd.Series) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 else float("nan")


def agreement_persistence(results: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """Observed lag-1 correlation for pairs within one agreement period and across a renewal."""
    rows = results[(results.months_in_py == 12) & results.performance_year.between(*years)].copy()
    rows["dev"] = _year_demeaned(rows)
    nxt = rows[["link_id", "performance_year", "dev", "agreement_start_year"]].copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["same"] = pairs.agreement_start_year == pairs.agreement_start_year_next
    out = []
    for same, grp in pairs.groupby("same"):
        out.append(
            {
                "within_agreement": bool(same),
                "pairs": len(grp),
                "corr": _corr(grp.dev, grp.dev_next),
            }
        )
    return pd.DataFrame(out)


def consecutive_pairs(results: pd.DataFrame, first_year: int) -> pd.DataFrame:
    """(rate in t, rate in t+1) of the same ACO, t ≥ ``first_year`` (12-month rows)."""
    rows = results[(results.months_in_py == 12) & (results.performance_year >= first_year)]
    rows = rows[["link_id", "performance_year", "sav_rate", "n_ab"]]
    nxt = rows.copy()
    nxt["performance_year"] -= 1
    return rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))


_TRACK_GROUPS = {
    "TRACK_1": "Track 1",
    "TRACK_1_PLUS": "Track 1+",
    "TRACK_2": "Track 2/3",
    "TRACK_3": "Track 2/3",
    "BASIC_A": "BASIC A–B",
    "BASIC_B": "BASIC A–B",
    "BASIC_C": "BASIC C–E",
    "BASIC_D": "BASIC C–E",
    "BASIC_E": "BASIC C–E",
    "ENHANCED": "ENHANCED",
}


def quality_table(results: pd.DataFrame) -> pd.DataFrame:
    """Quality score and share meeting the quality standard by year and track group.

    Rows with no score (pay-for-reporting ACOs in PY2014–PY2015) are left out of the score.
    """
    rows = results.assign(
        track_group=results.track.map(_TRACK_GROUPS),
        met=results.met_qps.astype("Float64"),
    )
    out = []
    for keys, grp in rows.groupby(["performance_year", "track_group"]):
        year, group = keys
        out.append(_quality_row(int(year), str(group), grp))  # type: ignore[call-overload]
    for year, grp in rows.groupby("performance_year"):
        out.append(_quality_row(int(year), "all", grp))  # type: ignore[arg-type]
    return pd.DataFrame(out).sort_values(["year", "track_group"]).reset_index(drop=True)


def quality_floors(results: pd.DataFrame, first_year: int) -> dict[int, tuple[float, int]]:
    """Lowest quality score of each year from ``first_year`` and how many ACOs have it."""
    out = {}
    for year, grp in results[results.performance_year >= first_year].groupby("performance_year"):
        scores = grp.qual_score.dropna()
        if len(scores):
            low = float(scores.min())
            out[int(year)] = (low, int((scores - low).abs().lt(1e-6).sum()))  # type: ignore[arg-type]
    return out


def _quality_row(year: int, group: str, grp: pd.DataFrame) -> dict:
    met = grp.met.dropna()
    return {
        "year": year,
        "track_group": group,
        "acos": len(grp),
        "scored": int(grp.qual_score.notna().sum()),
        "quality_mean": float(grp.qual_score.mean()),
        "quality_sd": float(grp.qual_score.std()),
        "met_qps_share": float(met.mean()) if len(met) else float("nan"),
        "met_qps_n": len(met),
    }


def benchmark_growth(results: pd.DataFrame) -> pd.DataFrame:
    """Growth of the same ACO's per-capita updated benchmark from one year to the next.

    One row per ACO and pair of consecutive years (12-month rows with `UpdatedBnchmk`), with
    whether both years fall in one agreement period (an update by trend) or the benchmark
    was rebased for a new agreement.
    """
    cols = ["link_id", "performance_year", "updated_benchmark_pc", "agreement_start_year"]
    rows = results[(results.months_in_py == 12)][cols].dropna(subset=["updated_benchmark_pc"])
    nxt = rows.copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["to_year"] = pairs.performance_year + 1
    pairs["growth"] = pairs.updated_benchmark_pc_next / pairs.updated_benchmark_pc - 1
    pairs["same_agreement"] = pairs.agreement_start_year == pairs.agreement_start_year_next
    return pairs


def program_benchmark(results: pd.DataFrame) -> pd.DataFrame:
    """Person-year-weighted mean per-capita updated benchmark by year, and its growth."""
    rows = results[(results.months_in_py == 12)].dropna(
        subset=["updated_benchmark_pc", "person_years"]
    )
    weighted = rows.assign(w=rows.updated_benchmark_pc * rows.person_years)
    sums = weighted.groupby("performance_year")[["w", "person_years"]].sum()
    out = (sums.w / sums.person_years).rename("mean_benchmark_pc").to_frame()
    out["growth"] = out.mean_benchmark_pc.pct_change()
    return out.reset_index()


def shock_table(
    results: pd.DataFrame, fit: NoiseFit, rng: np.random.Generator, reps: int = 500
) -> dict:
    """Dispersion of PY2020 against its neighbours PY2019 and PY2021 (12-month rows).

    ``raw_ratio``: SD(2020) / mean(SD(2019), SD(2021)) over all ACOs of each year;
    ``balanced_ratio``: the same over ACOs present in all three years; ``noise_ratio``: the
    fitted multiplier of the noise SD (what :mod:`simulation.model.noise` applies). The intervals
    come from resampling ACOs.
    """
    year = fit.shock_year or SHOCK_YEAR
    rows = results[(results.months_in_py == 12)]
    by_year = {
        y: rows.loc[rows.performance_year == y, "sav_rate"].to_numpy()
        for y in (year - 1, year, year + 1)
    }
    if any(len(v) < 10 for v in by_year.values()):
        return {}
    wide = (
        rows[rows.performance_year.isin(by_year)]
        .pivot_table(index="link_id", columns="performance_year", values="sav_rate")
        .dropna()
    )
    bal = wide.to_numpy()

    def ratio(a, b, c) -> float:
        return float(np.std(b, ddof=1) / ((np.std(a, ddof=1) + np.std(c, ddof=1)) / 2))

    raw = ratio(by_year[year - 1], by_year[year], by_year[year + 1])
    balanced = ratio(bal[:, 0], bal[:, 1], bal[:, 2])
    raw_bs, bal_bs = [], []
    for _ in range(reps):
        raw_bs.append(
            ratio(
                *(
                    rng.choice(v, len(v))
                    for v in (by_year[year - 1], by_year[year], by_year[year + 1])
                )
            )
        )
        pick = bal[rng.integers(0, len(bal), len(bal))]
        bal_bs.append(ratio(pick[:, 0], pick[:, 1], pick[:, 2]))
    sds = {y: float(np.std(v, ddof=1)) for y, v in by_year.items()}
    return {
        "year": year,
        "sd": sds,
        "n": {y: len(v) for y, v in by_year.items()},
        "raw_ratio": raw,
        "raw_interval": tuple(np.quantile(raw_bs, [0.05, 0.95]).tolist()),
        "balanced_n": len(bal),
        "balanced_ratio": balanced,
        "balanced_interval": tuple(np.quantile(bal_bs, [0.05, 0.95]).tolist()),
    }


# ============================================================================================
# Two-level bootstrap for program-level means and SDs
# ============================================================================================


def _two_level(
    groups: list[np.ndarray],
    statistic: Callable[[list[np.ndarray]], float],
    rng: np.random.Generator,
    reps: int,
) -> tuple[float, float]:
    """5th and 95th percentiles of ``statistic`` when years, and ACOs within years, are drawn
    with replacement (the uncertainty of a program-level value for a coming year)."""
    values = []
    k = len(groups)
    for _ in range(reps):
        picked = [groups[j] for j in rng.integers(0, k, k)]
        values.append(statistic([g[rng.integers(0, len(g), len(g))] for g in picked]))
    low, high = np.quantile(values, [0.05, 0.95])
    return float(low), float(high)


def _mean_of_means(groups: list[np.ndarray]) -> float:
    return float(np.mean([g.mean() for g in groups]))


def _pooled_sd(groups: list[np.ndarray]) -> float:
    return float(np.std(np.concatenate(groups), ddof=1))


def _pooled_mean(groups: list[np.ndarray]) -> float:
    return float(np.concatenate(groups).mean())


def _robust_sd(groups: list[np.ndarray]) -> float:
    q1, q3 = np.quantile(np.concatenate(groups), [0.25, 0.75])
    return float((q3 - q1) / (2 * stats.norm.ppf(0.75)))


