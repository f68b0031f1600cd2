"""The numbers the write-up states that are not a table of the study: derived once, here.

:func:`findings` reads the results of :func:`simulation.calibration.study.run_study` and
returns every figure the prose of :mod:`simulation.calibration.writeup` quotes beyond the
tables themselves (noise SDs at given sizes, which bands the model fits, the back-test's
comparisons …), so the prose only formats and tests can check each number.
"""

from __future__ import annotations

import math

import pandas as pd

from .base import COMMERCIAL_MAE
from .descriptive import _persistence_rebased
from .fit import NoiseFit

#: A band's model or simulated SD counts as close to the observed SD within this share.
CLOSE = 0.1
#: A band needs this many ACO-years for the write-up to judge the model's fit in it.
MIN_BAND_ACO_YEARS = 30
#: Mean shift (fraction of benchmark) above which a band's observed mean is called out.
MEAN_SHIFT = 0.003
#: CMS's minimum-savings-rate table implies this cv (settlement-rules.md §8.2).
CMS_CV = 2.15


def _dispersion(study: dict, fit: NoiseFit, effect_sd: float) -> dict:
    decomposition = study["decomposition"].set_index("band")
    dec = decomposition[decomposition.aco_years >= MIN_BAND_ACO_YEARS]
    gap = dec.model_sd / dec.observed_sd - 1
    overall = study["dispersion_all"].set_index("performance_year")
    return {
        "noisy_bands": [b for b, r in dec.iterrows() if r.noise_sd > r.implied_effect_sd],
        "quiet_bands": [b for b, r in dec.iterrows() if r.noise_sd < 0.5 * r.implied_effect_sd],
        "implied_effect_sd": {b: float(r.implied_effect_sd) for b, r in dec.iterrows()},
        "model_close_bands": [b for b in dec.index if abs(gap[b]) <= CLOSE],
        "model_gap_off": {b: float(gap[b]) for b in dec.index if abs(gap[b]) > CLOSE},
        "sd_all_before_2018": float(overall.loc[overall.index < 2018, "std"].mean()),
        "sd_all_since_2018": float(overall.loc[overall.index >= 2018, "std"].mean()),
        "observed_change_sd_10k": (
            float(decomposition.loc["10k–20k", "change_sd"])
            if "10k–20k" in decomposition.index
            else float("nan")
        ),
    }


def _model(study: dict, fit: NoiseFit, effect_sd: float, persist: float) -> dict:
    q = study["boot"].quantile([0.05, 0.95])
    interval: dict[str, tuple[float, ...]] = {
        name: (float(q.loc[0.05, name]), float(q.loc[0.95, name])) for name in q.columns
    }
    interval["systemic_sd"] = tuple(float(v) for v in study["systemic_interval"])
    no_agr = [s for label, s in study["sensitivity"] if "no agreement" in label]
    era = [s for label, s in study["sensitivity"] if "ACO_Num" in label]
    return {
        "interval": interval,
        "cms_cv_inside": bool(interval["cv"][0] <= CMS_CV <= interval["cv"][1]),
        "innovation_sd": fit.true_effect_sd * math.sqrt(max(0.0, 1 - fit.persistence**2)),
        "drift_as_systemic_sd": math.sqrt(max(0.0, 1 - persist)) * effect_sd,
        "no_agreement": (
            {
                "loglik_gain": fit.loglik - no_agr[0].loglik,
                "cv": no_agr[0].cv,
                "shock_multiplier": no_agr[0].shock_multiplier,
            }
            if no_agr
            else None
        ),
        "era_cv_ratio": era[0].cv / fit.cv if era else None,
        "largest_systemic_sd": max(s.systemic_sd for _, s in study["sensitivity"]),
        "persistence_rebased": _persistence_rebased(fit),
    }


def _backtest(study: dict, fit: NoiseFit) -> dict:
    bt = study["backtest"]
    m = bt.metrics
    naive_by_year = study["naive_mae"]
    prior = {y: v for y, v in sorted(naive_by_year.items()) if y < bt.target_year}
    noise_median = float(fit.noise_sd(bt.table.n_ab.median()))
    return {
        "naive_prior_years": prior,
        "stable_year": bool(prior) and naive_by_year.get(bt.target_year, 1.0) < min(prior.values()),
        "noise_sd_median_size": noise_median,
        "noise_mae_median_size": noise_median * math.sqrt(2 / math.pi),
        "model_minus_naive": m["mae_model"] - m["mae_naive"],
        "model_minus_commercial": m["mae_model"] - COMMERCIAL_MAE,
        "commercial_within_se": bool(abs(m["mae_model"] - COMMERCIAL_MAE) < 2 * m["mae_model_se"]),
        "gain_significant": bool((m["mae_naive"] - m["mae_model"]) >= 2 * m["gain_over_naive_se"]),
        "coverage_near_nominal": bool(0.85 <= m["coverage"] <= 0.95),
    }


def _simulated(study: dict) -> dict:
    st: pd.DataFrame = study["sim_table"]
    ratio = st.simulated_sd / st.observed_sd - 1
    return {
        "close_bands": list(st[ratio.abs() <= CLOSE].band),
        "too_wide": st[ratio > CLOSE],
        "too_narrow": st[ratio < -CLOSE],
        "shifted": st[(st.simulated_mean - st.observed_mean).abs() > MEAN_SHIFT],
    }


def findings(study: dict) -> dict:
    """Every derived number the write-up's prose states, by section."""
    fit: NoiseFit = study["fit"]
    defaults = study["defaults"]
    effect_sd = defaults["true_effect_sd"]["value"]
    persist = defaults["persistence"]["value"]
    n10 = float(fit.noise_sd(10_000))
    shock = study["shock"]
    prog = study["program_benchmark"].set_index("performance_year").growth
    return {
        "noise_sd": {n: float(fit.noise_sd(n)) for n in (5_000, 10_000, 50_000)},
        "change_sd_10k": math.sqrt(2 * (1 - persist) * effect_sd**2 + 2 * n10**2),
        "dispersion": _dispersion(study, fit, effect_sd),
        "model": _model(study, fit, effect_sd, persist),
        "shock_benchmark_change": (
            float(prog.get(shock["year"], float("nan"))) if shock else float("nan")
        ),
        "backtest": _backtest(study, fit),
        "simulated": _simulated(study),
    }
