"""Back-test of the uncertainty model: forecast each ACO's savings rate from its own history.

For a target year Y and data through year H < Y:

1. :func:`simulation.calibration.fit.fit_noise_model` is fitted on the 12-month results of
   PY2018…H (the ACO_ID era).
2. Each ACO's rate deviation from the program mean in year Y is predicted by empirical-Bayes
   shrinkage (:func:`shrinkage_forecast`): the best linear predictor of its AR(1) true effect
   from its past rates, each weighted by its own noise, which depends on the ACO's size that
   year. An ACO with one noisy year is pulled far toward the program mean; a large ACO with a
   long record keeps most of its own level.
3. The forecasts are recalibrated on the years before Y (:func:`recalibrate`): for each earlier
   target year t ≤ H the same model, fitted on PY2018…t−1, forecast year t; a regression of
   what happened on what was forecast corrects the amount of shrinkage (slope) and scales the
   intervals. Only years up to H are used, so nothing about year Y leaks into its forecast.
4. Point forecast = program mean of year H + the average yearly gain of ACOs present in
   consecutive years (drift; pairs next to the shock year left out) + slope × shrunken
   deviation. The 90% interval is ±1.645 × the scaled predictive SD (true-effect
   uncertainty, the noise at the ACO's last known size, and the year-to-year movement of the
   program mean).

The naive benchmark forecast is the ACO's own rate in year H ("same as last year").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .base import FIT_YEARS, SHOCK_YEAR, Z90, CalibrationError
from .fit import NoiseFit, Panel, fit_noise_model, make_panel
from .loading import _read, load_results

__all__ = ["BacktestResult", "recalibrate", "run_backtest", "shrinkage_forecast"]

#: The variance model needs at least this many years of history before a target year.
MIN_FIT_YEARS = 3


def shrinkage_forecast(
    panel: Panel, fit: NoiseFit, target_year: int, target_agreement: pd.Series | None = None
) -> pd.DataFrame:
    """Empirical-Bayes forecast of each panel ACO's deviation from the program mean in a year.

    Returns one row per ACO with any observed year: ``link_id``, ``deviation`` (predicted
    rate minus program mean), ``effect_var`` (variance of the true effect given the history),
    ``last_year``, ``last_rate``, ``last_n`` (last observed size) and ``years_observed``.
    ``target_agreement`` (agreement start year by link id) is used only by a fit with an
    agreement component.
    """
    obs = panel.observed
    keep = obs.any(axis=1)
    panel = panel.take(np.flatnonzero(keep))
    obs = panel.observed
    years = panel.years
    means = np.array([fit.year_means[int(y)] for y in years])
    resid = np.where(obs, panel.rate - means, 0.0)
    t = len(years)
    lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    pair = obs[:, :, None] & obs[:, None, :]
    tau2, rho, tb2 = fit.true_effect_sd**2, fit.persistence, fit.agreement_sd**2
    agr = panel.agreement
    same = ((agr[:, :, None] == agr[:, None, :]) | np.eye(t, dtype=bool)) & pair
    sigma = pair * (tau2 * rho**lag) + tb2 * same
    k2 = np.where(years == fit.shock_year, fit.shock_multiplier**2, 1.0)
    n_safe = np.where(obs, panel.n_ab, 1.0)
    size_var = k2 * (fit.cv**2 / n_safe + fit.systemic_sd**2)
    idx = np.arange(t)
    sigma[:, idx, idx] += np.where(obs, size_var, 1.0)
    cov_target = np.where(obs, tau2 * rho ** (target_year - years), 0.0)
    if tb2 > 0 and target_agreement is not None:
        target_agr = pd.Series(panel.keys).map(target_agreement).to_numpy(dtype=float)
        cov_target = cov_target + np.where(obs & (agr == target_agr[:, None]), tb2, 0.0)
    weights = np.linalg.solve(sigma, cov_target[:, :, None])[:, :, 0]
    deviation = (weights * resid).sum(axis=1)
    effect_var = tau2 + tb2 - (weights * cov_target).sum(axis=1)
    last = t - 1 - np.argmax(obs[:, ::-1], axis=1)
    rows = np.arange(len(last))
    return pd.DataFrame(
        {
            "link_id": panel.keys,
            "deviation": deviation,
            "effect_var": np.maximum(effect_var, 0.0),
            "last_year": years[last],
            "last_rate": panel.rate[rows, last],
            "last_n": panel.n_ab[rows, last],
            "years_observed": obs.sum(axis=1),
        }
    )


def _continuing_drift(panel: Panel, shock_year: int | None = SHOCK_YEAR) -> tuple[float, float]:
    """Mean and SD over years of the average change in rate of ACOs present in both years.

    Changes into and out of the shock year are left out (PY2020 rose by 1.5 points and PY2021
    fell back by 0.5 as COVID-19 came and went).
    """
    changes = []
    for j in range(1, len(panel.years)):
        if shock_year in (panel.years[j], panel.years[j - 1]):
            continue
        both = panel.observed[:, j] & panel.observed[:, j - 1]
        if both.sum() >= 10:
            changes.append(float(np.mean(panel.rate[both, j] - panel.rate[both, j - 1])))
    if len(changes) < 2:
        return (changes[0] if changes else 0.0), 0.01
    return float(np.mean(changes)), float(np.std(changes, ddof=1))


def _raw_forecast(
    results: pd.DataFrame,
    through: int,
    target_year: int,
    agreement: bool,
    target_agreement: pd.Series | None,
) -> tuple[NoiseFit, pd.DataFrame, float, float]:
    """Fit on PY2018…through and forecast ``target_year`` (uncalibrated)."""
    years = list(range(FIT_YEARS[0], through + 1))
    panel = make_panel(results[results.performance_year <= through], years)
    fit = fit_noise_model(panel, agreement=agreement)
    table = shrinkage_forecast(panel, fit, target_year, target_agreement)
    drift_mean, drift_sd = _continuing_drift(panel)
    return fit, table, drift_mean, drift_sd


def recalibrate(results: pd.DataFrame, through: int, agreement: bool = False) -> dict:
    """Intercept, slope and interval scale of the forecasts, from the years up to ``through``.

    For every year t ≤ ``through`` that neither is nor follows the shock year and has at least
    :data:`MIN_FIT_YEARS` years of history from PY2018, the model fitted through t−1 forecasts
    t. ``(actual − program mean of t−1)`` is regressed on the shrunken deviation: the slope
    corrects the amount of shrinkage (the intercept is reported but not used; the level comes
    from the drift of continuing ACOs). The scale makes the standardised errors of those
    forecasts have mean square one. With no such year the forecasts are left uncalibrated
    (slope 1, scale 1).
    """
    xs, ys, vs, used = [], [], [], []
    for year in range(FIT_YEARS[0] + MIN_FIT_YEARS, through + 1):
        if SHOCK_YEAR in (year, year - 1):
            continue
        fit, table, _drift, drift_sd = _raw_forecast(
            results, year - 1, year, agreement, _agreement_of(results, year)
        )
        actual = _actual_rates(results, year)
        joined = table.merge(actual, on="link_id")
        joined = joined[joined.last_year == year - 1]
        if len(joined) < 30:
            continue
        base = fit.year_means[year - 1]
        xs.append(joined.deviation.to_numpy())
        ys.append(joined.sav_rate.to_numpy() - base)
        var = joined.effect_var + fit.noise_sd(joined.last_n) ** 2 + drift_sd**2
        vs.append(var.to_numpy())
        used.append(year)
    if not used:
        return {"years": [], "slope": 1.0, "intercept": None, "scale": 1.0, "n": 0}
    x, y, v = np.concatenate(xs), np.concatenate(ys), np.concatenate(vs)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    scale = math.sqrt(float(np.mean(resid**2 / v)))
    return {
        "years": used,
        "slope": float(slope),
        "intercept": float(intercept),
        "scale": scale,
        "n": len(x),
    }


def _agreement_of(results: pd.DataFrame, year: int) -> pd.Series:
    rows = results[(results.performance_year == year) & (results.months_in_py == 12)]
    return rows.drop_duplicates("link_id").set_index("link_id").agreement_start_year.astype(float)


def _actual_rates(results: pd.DataFrame, year: int) -> pd.DataFrame:
    rows = results[(results.performance_year == year) & (results.months_in_py == 12)]
    return rows.drop_duplicates("link_id")[["link_id", "aco_id", "n_ab", "sav_rate"]]


@dataclass
class BacktestResult:
    """Forecasts for one target year against what happened."""

    through: int
    target_year: int
    fit: NoiseFit
    calibration: dict
    drift: float
    table: pd.DataFrame
    metrics: dict = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        m = self.metrics

        def pts(value: float) -> str:
            return f"{value * 100:.2f} points"

        cal = self.calibration
        years = ", ".join(f"PY{y}" for y in cal["years"]) or "no earlier year"
        return [
            f"back-test: fit on PY{min(self.fit.years)}–PY{self.through}, "
            f"forecast PY{self.target_year}",
            f"  ACOs in PY{self.target_year}: {m['n_target']}; with a PY{self.through} rate: "
            f"{m['n_compared']}; new or returning: {m['n_target'] - m['n_compared']}",
            f"  mean absolute error, model (shrinkage, recalibrated): {pts(m['mae_model'])} "
            f"(standard error {pts(m['mae_model_se'])})",
            f"  mean absolute error, naive (same as PY{self.through}):  {pts(m['mae_naive'])} "
            f"(model's gain {pts(m['mae_naive'] - m['mae_model'])} ± {pts(m['gain_over_naive_se'])})",
            f"  mean absolute error, model before recalibration:  {pts(m['mae_uncalibrated'])}",
            f"  mean absolute error, program mean for everyone:   {pts(m['mae_mean'])}",
            f"  90% interval coverage, model: {m['coverage']:.1%} (all {m['n_target']} ACOs "
            f"incl. new: {m['coverage_all']:.1%}, MAE {pts(m['mae_model_all'])})",
            f"  recalibration on {years}: slope {cal['slope']:.2f}, drift "
            f"{self.drift * 100:+.2f} points a year, interval scale {cal['scale']:.2f}",
        ]


def run_backtest(
    data_dir: str | Path,
    through: int,
    actual: str | Path | None = None,
    agreement: bool = False,
    results: pd.DataFrame | None = None,
) -> BacktestResult:
    """Fit on PY2018…``through`` and forecast the next year's results.

    The actual results come from ``actual`` (a PUF of any later year, e.g. PY2024) or, by
    default, from the ``through + 1`` file in ``data_dir``. ``results`` may pass rows already
    read by :func:`simulation.calibration.loading.load_results` (through at least ``through``).
    """
    if through < FIT_YEARS[0] + MIN_FIT_YEARS - 1:
        raise CalibrationError(
            f"--through {through}: must be {FIT_YEARS[0] + MIN_FIT_YEARS - 1} or later (the "
            f"model is fitted on PY{FIT_YEARS[0]} onward and needs {MIN_FIT_YEARS} years)"
        )
    if results is None:
        results = load_results(data_dir)
    history = results[results.performance_year <= through]
    if not (history.performance_year == through).any():
        raise CalibrationError(f"--through {through}: no PY{through} results file in {data_dir}")
    if actual is not None:
        target = _read(Path(actual))
        target_year = int(target.performance_year.iloc[0])
        if target_year <= through:
            raise CalibrationError(
                f"--actual: {Path(actual).name} holds PY{target_year}, not a year after "
                f"--through {through}"
            )
        target = target.assign(link_id=target.aco_id.astype(str))
    else:
        target_year = through + 1
        target = results[results.performance_year == target_year]
        if target.empty:
            raise CalibrationError(
                f"--through {through}: no PY{target_year} file in {data_dir} to compare with "
                f"(pass --actual FILE)"
            )
    target = target[target.months_in_py == 12]
    target_agreement = (
        target.drop_duplicates("link_id").set_index("link_id").agreement_start_year.astype(float)
    )

    fit, table, drift_hist, drift_sd = _raw_forecast(
        history, through, target_year, agreement, target_agreement
    )
    calibration = recalibrate(history, through, agreement)
    horizon = target_year - through
    drift = drift_hist
    base = fit.year_means[through]
    slope, scale = calibration["slope"], calibration["scale"]

    out = target[["link_id", "aco_id", "n_ab", "sav_rate"]].drop_duplicates("link_id")
    out = out.merge(table, on="link_id", how="left")
    known = out.deviation.notna()
    mean_var = drift_sd**2 * horizon
    new_var = fit.total_sd(out.n_ab) ** 2 + mean_var
    out["forecast"] = np.where(
        known, base + drift * horizon + slope * out.deviation.fillna(0.0), base + drift * horizon
    )
    out["uncalibrated"] = np.where(known, base + out.deviation.fillna(0.0), base)
    sd_known = scale * np.sqrt(
        out.effect_var.fillna(0.0) + fit.noise_sd(out.last_n.fillna(out.n_ab)) ** 2 + mean_var
    )
    out["sd"] = np.where(known, sd_known, np.sqrt(new_var))
    out["low"] = out.forecast - Z90 * out.sd
    out["high"] = out.forecast + Z90 * out.sd
    out["naive"] = np.where(out.last_year == through, out.last_rate, np.nan)
    out["covered"] = (out.sav_rate >= out.low) & (out.sav_rate <= out.high)
    out = out.rename(columns={"sav_rate": "actual"})
    out["years_observed"] = out.years_observed.astype("Int64")

    cmp = out[out.naive.notna()]
    err_model = (cmp.actual - cmp.forecast).abs()
    gain = (cmp.actual - cmp.naive).abs() - err_model  # per ACO: how much closer than naive
    metrics = {
        "n_target": len(out),
        "n_compared": len(cmp),
        "mae_model": float(err_model.mean()),
        "mae_naive": float((cmp.actual - cmp.naive).abs().mean()),
        # sampling error over the ACOs scored: the standard error of the model's MAE and of
        # its (paired) gain over the naive forecast
        "mae_model_se": float(err_model.std(ddof=1) / math.sqrt(len(cmp))),
        "gain_over_naive_se": float(gain.std(ddof=1) / math.sqrt(len(cmp))),
        "mae_uncalibrated": float((cmp.actual - cmp.uncalibrated).abs().mean()),
        "mae_mean": float((cmp.actual - (base + drift * horizon)).abs().mean()),
        "coverage": float(cmp.covered.mean()),
        "coverage_all": float(out.covered.mean()),
        "mae_model_all": float((out.actual - out.forecast).abs().mean()),
    }
    return BacktestResult(
        through=through,
        target_year=target_year,
        fit=fit,
        calibration=calibration,
        drift=float(drift),
        table=out,
        metrics=metrics,
    )
