"""Calibration of the uncertainty model (:mod:`simulation.model.noise`) on the CMS MSSP results PUFs.

The study behind ``docs/calibration.md`` and ``data/calibration/noise_defaults.json``:

The package, one module per step (each imports only the ones above it)::

    base         constants, CalibrationError, size bands
    loading      load_results: the CMS results folder (simulation.cms.results) as one frame
    fit          Panel, NoiseFit, fit_noise_model, bootstrap_noise_model, profile_interval
    descriptive  dispersion, persistence, quality, benchmark growth and shock tables
    backtest     run_backtest: forecast each ACO's rate from its own history
    defaults     build_defaults, write_defaults, simulate_observed
    findings     every derived number the write-up's prose states
    figures      the figures (house style of simulation.reports.charts)
    writeup      render_markdown: docs/calibration.md, one function per section, prose only
                 (later sections in writeup_checks, formatting in writeup_format)
    study        run_study, calibrate: every step with its own SeedSequence child

* :func:`load_results` reads every "Performance Year Financial and Quality Results" file of a
  folder with :func:`simulation.cms.puf.load_puf` and links ACOs across years (``ACO_Num`` before
  PY2018, ``ACO_ID`` from PY2018, bridged by a unique ACO name between PY2017 and PY2018).
* :func:`fit_noise_model` fits the noise model of :mod:`simulation.model.noise` together with a
  persistent, drifting true effect, by Gaussian maximum likelihood on the ACO × year panel::

      measured rate  r[i, t] = m[t] + u[i, t] + k[t] · (e_size + e_sys)
      u[i, ·]  stationary AR(1): sd true_effect_sd, year-to-year correlation persistence
      e_size ~ Normal(0, cv / sqrt(N[i, t])),  e_sys ~ Normal(0, systemic_sd)
      k[t] = shock_multiplier in the shock year (PY2020), else 1

  ``cv`` is identified by how the scatter falls with size, ``true_effect_sd`` and
  ``persistence`` by how an ACO's rates co-vary across years, and ``systemic_sd`` by what is
  left of each year's scatter that neither shrinks with size nor carries over to other years.
* :func:`bootstrap_noise_model` refits on ACOs resampled with replacement (90% intervals).
* :func:`calibrate` runs the whole study: descriptive tables, the fit, the bootstrap, the
  back-test (:mod:`simulation.calibration.backtest`), the simulated-vs-observed check drawn with
  :func:`simulation.model.noise.draw_rate_noise`, the JSON defaults, the figures and the write-up.

Rates are fractions of the benchmark throughout (0.02 = 2%).
"""

from .backtest import (
    MIN_FIT_YEARS,
    BacktestResult,
    recalibrate,
    run_backtest,
    shrinkage_forecast,
)
from .base import (
    COMMERCIAL_MAE,
    DEFAULT_KEYS,
    DOC_PATH,
    FIGURE_DIR,
    FIT_YEARS,
    JSON_PATH,
    MEAN_YEARS,
    SHOCK_YEAR,
    SIZE_BANDS,
    Z90,
    CalibrationError,
    size_band,
    windows,
)
from .defaults import (
    build_defaults,
    continuing_gain,
    disaster_flags,
    simulate_observed,
    write_defaults,
)
from .descriptive import (
    agreement_persistence,
    autocorrelation_table,
    band_decomposition,
    benchmark_growth,
    consecutive_pairs,
    dispersion_table,
    program_benchmark,
    quality_floors,
    quality_table,
    shock_table,
    size_curve,
)
from .figures import (
    FIGURES,
    figure_backtest,
    figure_benchmark,
    figure_dispersion_by_size,
    figure_dispersion_by_year,
    figure_persistence,
    figure_quality,
    figure_simulated,
    write_figures,
)
from .fit import (
    NoiseFit,
    Panel,
    bootstrap_noise_model,
    fit_noise_model,
    make_panel,
    profile_interval,
    simulate_panel,
)
from .loading import (
    link_ids,
    load_results,
    puf_files,
)
from .study import (
    RANDOM_STEPS,
    SEED,
    calibrate,
    run_study,
)
from .writeup import (
    render_markdown,
)

__all__ = [
    "COMMERCIAL_MAE",
    "DEFAULT_KEYS",
    "DOC_PATH",
    "FIGURES",
    "FIGURE_DIR",
    "FIT_YEARS",
    "JSON_PATH",
    "MEAN_YEARS",
    "MIN_FIT_YEARS",
    "RANDOM_STEPS",
    "SEED",
    "SHOCK_YEAR",
    "SIZE_BANDS",
    "Z90",
    "BacktestResult",
    "CalibrationError",
    "NoiseFit",
    "Panel",
    "agreement_persistence",
    "autocorrelation_table",
    "band_decomposition",
    "benchmark_growth",
    "bootstrap_noise_model",
    "build_defaults",
    "calibrate",
    "consecutive_pairs",
    "continuing_gain",
    "disaster_flags",
    "dispersion_table",
    "figure_backtest",
    "figure_benchmark",
    "figure_dispersion_by_size",
    "figure_dispersion_by_year",
    "figure_persistence",
    "figure_quality",
    "figure_simulated",
    "fit_noise_model",
    "link_ids",
    "load_results",
    "make_panel",
    "profile_interval",
    "program_benchmark",
    "puf_files",
    "quality_floors",
    "quality_table",
    "recalibrate",
    "render_markdown",
    "run_backtest",
    "run_study",
    "shock_table",
    "shrinkage_forecast",
    "simulate_observed",
    "simulate_panel",
    "size_band",
    "size_curve",
    "windows",
    "write_defaults",
    "write_figures",
]
