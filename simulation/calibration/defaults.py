"""The defaults written to ``noise_defaults.json`` and the simulated-against-observed check."""

from __future__ import annotations

import datetime as _dt
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..model import noise
from .base import DEFAULT_KEYS, DOC_PATH, MEAN_YEARS, SHOCK_YEAR, windows
from .descriptive import (
    _mean_of_means,
    _persistence_rebased,
    _persistence_same,
    _pooled_mean,
    _pooled_sd,
    _robust_sd,
    _two_level,
    band_decomposition,
    benchmark_growth,
    consecutive_pairs,
)
from .fit import NoiseFit

# ============================================================================================
# The defaults
# ============================================================================================


def _make_entry(value, low, high, unit: str, anchor: str, note: str, doc: str = DOC_PATH) -> dict:
    return {
        "value": round(float(value), 6),
        "low": round(float(low), 6),
        "high": round(float(high), 6),
        "unit": unit,
        "source": f"{doc}#{anchor}",
        "note": " ".join(note.split()),
    }


def _window(results: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    return results[results.performance_year.between(*years)]


def build_defaults(
    results: pd.DataFrame,
    fit: NoiseFit,
    boot: pd.DataFrame,
    systemic_interval: tuple[float, float],
    rng: np.random.Generator,
    reps: int,
    doc: str = DOC_PATH,
    disaster: dict[int, float] | None = None,
) -> dict[str, dict]:
    """Every key of noise_defaults.json as {value, low, high, unit, source, note}."""
    q = boot.quantile([0.05, 0.95])
    out: dict[str, dict] = {}
    win = windows(max(fit.years))
    mean_years, quality_years, trend_years = win["mean"], win["quality"], win["trend"]

    def _entry(value, low, high, unit, anchor, note):
        return _make_entry(value, low, high, unit, anchor, note, doc)

    fy = f"PY{min(fit.years)}–PY{max(fit.years)}"
    effect_sd = math.sqrt(fit.true_effect_sd**2 + fit.agreement_sd**2)
    boot_effect = np.sqrt(boot.true_effect_sd**2 + boot.agreement_sd**2)
    boot_persist = (boot.persistence * boot.true_effect_sd**2 + boot.agreement_sd**2) / (
        boot.true_effect_sd**2 + boot.agreement_sd**2
    )
    out["per_beneficiary_cv"] = _entry(
        fit.cv,
        q["cv"].loc[0.05],
        q["cv"].loc[0.95],
        "coefficient of variation per assigned beneficiary",
        "per-beneficiary-cv",
        f"Maximum-likelihood fit on the ACO × year panel {fy} (12-month rows); 90% interval "
        f"from {len(boot)} bootstrap resamples of ACOs. noise SD of the savings rate = cv / "
        f"sqrt(N) (N = assigned beneficiaries).",
    )
    out["systemic_sd"] = _entry(
        fit.systemic_sd,
        systemic_interval[0],
        systemic_interval[1],
        "fraction of benchmark",
        "systemic-sd",
        "Year-specific ACO noise that neither shrinks with size nor carries over to the next "
        "year; the fit puts it at its bound 0 (90% profile-likelihood interval). What does not "
        "shrink with size is the ACO's own drifting true effect (true_effect_sd, persistence). "
        f"A scenario that holds the true effect fixed for several years can use "
        f"sqrt(1 − persistence) × true_effect_sd = "
        f"{math.sqrt(max(0.0, 1 - _persistence_same(fit))) * effect_sd:.4f} here instead.",
    )
    # The Monte Carlo holds each trial's true effect fixed over the agreement, so the drift of
    # the true effect enters it as year-to-year noise that does not shrink with size.
    boot_yty = np.sqrt(np.maximum(0.0, 1 - boot_persist)) * boot_effect
    out["year_to_year_sd"] = _entry(
        math.sqrt(max(0.0, 1 - _persistence_same(fit))) * effect_sd,
        float(np.quantile(boot_yty, 0.05)),
        float(np.quantile(boot_yty, 0.95)),
        "fraction of benchmark",
        "systemic-sd",
        "Year-to-year movement of an ACO's true effect that does not shrink with size: "
        "sqrt(1 − persistence) × true_effect_sd. The scenario's 'ACO-wide variation' default, "
        "because the simulation holds each future's true effect fixed over the agreement; "
        f"90% interval from {len(boot)} bootstrap resamples of ACOs.",
    )
    # Program mean savings rate (the centre of the true-effect distribution).
    full = results[results.months_in_py == 12]
    first_year = int(full.performance_year.min())
    first_mean = float(full.loc[full.performance_year == first_year, "sav_rate"].mean())
    gain = continuing_gain(results)
    mean_rows = _window(full, mean_years)
    groups = [g.sav_rate.to_numpy() for _, g in mean_rows.groupby("performance_year")]
    low, high = _two_level(groups, _mean_of_means, rng, reps)
    out["true_effect_mean"] = _entry(
        _mean_of_means(groups),
        low,
        high,
        "fraction of benchmark",
        "true-effect",
        f"Mean savings rate of ACOs (unweighted) averaged over PY{mean_years[0]}–"
        f"PY{mean_years[1]} (year means "
        + ", ".join(f"{g.mean():.2%}" for g in groups)
        + f"); interval from resampling years and ACOs. The program mean rose from "
        f"{first_mean:.1%} in PY{first_year}; ACOs present in consecutive years gained "
        f"{gain * 100:.2f} points a year on average (years next to PY{SHOCK_YEAR} left out).",
    )
    out["true_effect_sd"] = _entry(
        effect_sd,
        np.quantile(boot_effect, 0.05),
        np.quantile(boot_effect, 0.95),
        "fraction of benchmark",
        "true-effect",
        f"SD across ACOs of the persistent true effect (savings rate net of measurement noise) "
        f"around the year's program mean, {fy}; includes the part tied to the agreement "
        f"period's benchmark (SD {fit.agreement_sd:.4f}) and the drifting part (SD "
        f"{fit.true_effect_sd:.4f}). One SD for all sizes; the spread the data imply by size "
        "band is "
        + ", ".join(
            f"{r.implied_effect_sd:.3f} ({r.band})"
            for r in band_decomposition(results, fit).itertuples()
        )
        + ".",
    )
    out["persistence"] = _entry(
        _persistence_same(fit),
        np.quantile(boot_persist, 0.05),
        np.quantile(boot_persist, 0.95),
        "correlation",
        "persistence",
        f"Year-to-year correlation of an ACO's true effect within one agreement period; across "
        f"a renewal (rebased benchmark) it is {_persistence_rebased(fit):.2f}. Lag-k "
        f"correlation of the drifting part: {fit.persistence:.2f}^k.",
    )
    # Benchmark growth.
    growth = benchmark_growth(results)
    normal = growth[
        growth.same_agreement
        & growth.to_year.between(*trend_years)
        & ~growth.performance_year.isin([SHOCK_YEAR - 1, SHOCK_YEAR])
    ]
    groups = [g.growth.to_numpy() for _, g in normal.groupby("to_year")]
    low, high = _two_level(groups, _pooled_mean, rng, reps)
    covid = growth[growth.same_agreement & growth.to_year.isin([SHOCK_YEAR, SHOCK_YEAR + 1])]
    covid_means = covid.groupby("to_year").growth.mean()
    out["trend_mean"] = _entry(
        _pooled_mean(groups),
        low,
        high,
        "annual growth, fraction",
        "benchmark-trend",
        f"Growth of the same ACO's per-capita updated benchmark (UpdatedBnchmk) from one year "
        f"to the next within one agreement period, pairs ending PY{trend_years[0]}–"
        f"PY{trend_years[1]} except those into and out of PY{SHOCK_YEAR} ("
        + ", ".join(f"PY{int(y)} {v:+.1%}" for y, v in covid_means.items())  # type: ignore[call-overload]
        + "); interval from resampling years and ACOs.",
    )
    low, high = _two_level(groups, _robust_sd, rng, reps)
    out["trend_sd"] = _entry(
        _robust_sd(groups),
        low,
        high,
        "annual growth, fraction",
        "benchmark-trend",
        f"Robust SD (interquartile range / 1.349) of the same growth across ACO-years, year "
        f"effects included; the plain SD is {_pooled_sd(groups):.4f} (a few ACOs' benchmarks "
        f"jump by 20–50%).",
    )
    # Quality.
    qrows = _window(results, quality_years)
    groups = [g.qual_score.dropna().to_numpy() for _, g in qrows.groupby("performance_year")]
    low, high = _two_level(groups, _pooled_mean, rng, reps)
    out["quality_mean"] = _entry(
        _pooled_mean(groups),
        low,
        high,
        "quality score, 0–1",
        "quality",
        f"Mean quality score PY{quality_years[0]}–PY{quality_years[1]} (the APP/MIPS-based "
        "score); the lowest score each year ("
        + ", ".join(
            f"PY{int(y)} {g.qual_score.min():.2%}"  # type: ignore[arg-type]
            for y, g in qrows.groupby("performance_year")
        )
        + ") is a floor many ACOs share.",
    )
    low, high = _two_level(groups, _pooled_sd, rng, reps)
    out["quality_sd"] = _entry(
        _pooled_sd(groups),
        low,
        high,
        "quality score, 0–1",
        "quality",
        f"SD of the quality score across ACOs, PY{quality_years[0]}–PY{quality_years[1]}.",
    )
    met = qrows.met_qps.dropna().astype(bool)
    k, n = int(met.sum()), len(met)
    low = float(stats.beta.ppf(0.05, k, n - k + 1)) if k > 0 else 0.0
    high = float(stats.beta.ppf(0.95, k + 1, n - k)) if k < n else 1.0
    out["qps_probability"] = _entry(
        k / n,
        low,
        high,
        "probability",
        "quality",
        f"{k} of {n} ACOs met the quality performance standard in PY{quality_years[0]}–"
        f"PY{quality_years[1]} (Clopper–Pearson interval). {_disaster_note(results, disaster)}",
    )
    out["shock_multiplier"] = _entry(
        fit.shock_multiplier,
        q["shock_multiplier"].loc[0.05],
        q["shock_multiplier"].loc[0.95],
        "multiplier of the noise SD",
        "shock-year",
        f"Fitted multiplier of the measurement-noise SD in PY{fit.shock_year} (COVID-19) "
        f"relative to the other years of {fy}; the SD of all rates rose much less (see the "
        "write-up), because the benchmark update absorbed most of the fall in spending. CMS "
        "had expected about 2.",
    )
    return out


def continuing_gain(results: pd.DataFrame) -> float:
    """Mean yearly change in savings rate of ACOs present in consecutive years (12-month rows),
    averaged over year pairs that do not touch the shock year."""
    pairs = consecutive_pairs(results, int(results.performance_year.min()))
    pairs = pairs[~pairs.performance_year.isin([SHOCK_YEAR - 1, SHOCK_YEAR])]
    by_year = (pairs.sav_rate_next - pairs.sav_rate).groupby(pairs.performance_year).mean()
    return float(by_year.mean())


def _disaster_note(results: pd.DataFrame, disaster: dict[int, float] | None) -> str:
    """Sentence on the extreme-and-uncontrollable-circumstances flag and the earlier QPS share."""
    flagged = sorted(y for y, share in (disaster or {}).items() if share >= 0.999)
    early = results[results.performance_year.between(2016, 2018)].met_qps.dropna().astype(bool)
    text = ""
    if flagged:
        text = (
            f"Every ACO was flagged as affected by an extreme and uncontrollable circumstance "
            f"(DisAffQual = 1) in PY{flagged[0]}–PY{flagged[-1]}, which protects the standard. "
        )
    if len(early):
        text += f"In PY2016–PY2018 {early.mean():.1%} of ACOs met it."
    return text


def disaster_flags(files: dict[int, str]) -> dict[int, float]:
    """Share of ACOs with DisAffQual = 1 in each file that has the column."""
    out: dict[int, float] = {}
    for year, path in files.items():
        try:
            flags = pd.read_csv(
                path, usecols=lambda c: str(c).strip().lower() == "disaffqual", dtype=str
            )
        except (ValueError, OSError, UnicodeDecodeError):
            continue
        if flags.shape[1] == 1 and len(flags):
            out[int(year)] = float(flags.iloc[:, 0].str.strip().eq("1").mean())
    return out


def write_defaults(path: Path, defaults: dict[str, dict], fit: NoiseFit, command: str) -> dict:
    """Write noise_defaults.json (keys of :data:`DEFAULT_KEYS` plus provenance)."""
    payload: dict = {key: defaults[key] for key in DEFAULT_KEYS}
    payload["fitted_on"] = f"PY{min(fit.years)}-PY{max(fit.years)}"
    payload["generated_by"] = command
    payload["generated_at"] = _dt.date.today().isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return payload


# ============================================================================================
# Simulated against observed distributions
# ============================================================================================


def simulate_observed(
    results: pd.DataFrame,
    defaults: dict[str, dict],
    rng: np.random.Generator,
    draws: int = 100,
    years: tuple[int, int] = MEAN_YEARS,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Savings rates simulated under the defaults for the observed ACOs, band by band.

    For every observed 12-month ACO-year of ``years`` the simulation draws ``draws`` rates:
    a true effect ~ Normal(true_effect_mean, true_effect_sd) plus
    :func:`simulation.model.noise.draw_rate_noise` at the ACO's size. Per band: two-sample
    Kolmogorov–Smirnov and Anderson–Darling statistics against the observed rates.
    """
    rows = _window(results[results.months_in_py == 12], years)
    cv = defaults["per_beneficiary_cv"]["value"]
    sys_sd = defaults["systemic_sd"]["value"]
    mean = defaults["true_effect_mean"]["value"]
    sd = defaults["true_effect_sd"]["value"]
    table, samples = [], {}
    for band, grp in rows.groupby("band", observed=True):
        n_ab = grp.n_ab.to_numpy(dtype=float)
        effect = rng.normal(mean, sd, (draws, len(n_ab)))
        sim = (effect + noise.draw_rate_noise(rng, n_ab, (draws, len(n_ab)), cv, sys_sd)).ravel()
        obs = grp.sav_rate.to_numpy()
        ks = stats.ks_2samp(obs, sim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ad = stats.anderson_ksamp([obs, sim])
        samples[str(band)] = (obs, sim)
        table.append(
            {
                "band": str(band),
                "observed": len(obs),
                "observed_mean": float(obs.mean()),
                "simulated_mean": float(sim.mean()),
                "observed_sd": float(obs.std(ddof=1)),
                "simulated_sd": float(sim.std(ddof=1)),
                "ks": float(ks.statistic),
                "ks_p": float(ks.pvalue),
                "ad": float(ad.statistic),
                "ad_p": float(ad.pvalue),
            }
        )
    return pd.DataFrame(table), samples


