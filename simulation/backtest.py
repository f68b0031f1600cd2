"""The back-test now lives in :mod:`simulation.calibration.backtest`; this name stays importable."""

from .calibration.backtest import (
    MIN_FIT_YEARS,
    BacktestResult,
    recalibrate,
    run_backtest,
    shrinkage_forecast,
)

__all__ = ["MIN_FIT_YEARS", "BacktestResult", "recalibrate", "run_backtest", "shrinkage_forecast"]
