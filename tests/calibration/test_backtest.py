"""The back-test (simulation/calibration/backtest.py) on model data, the real files and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import calibration as cal
from simulation.calibration import backtest as backtest_mod
from simulation.calibration.backtest import run_backtest, shrinkage_forecast
from simulation.cli import main

from .conftest import one_line_error, synthetic


def test_shrinkage_forecast_beats_last_year_on_model_data() -> None:
    truth = {"cv": 2.0, "systemic_sd": 0.0, "true_effect_sd": 0.03, "persistence": 0.8}
    sim = synthetic(5, dropout=0.0, **truth)
    history = sim[sim.performance_year <= 2022]
    actual = sim[sim.performance_year == 2023].set_index("link_id").sav_rate
    panel = cal.make_panel(history)
    fit = cal.fit_noise_model(panel, shock_year=None)
    table = shrinkage_forecast(panel, fit, 2023).set_index("link_id")
    forecast = fit.year_means[2022] + table.deviation
    mae_model = (actual - forecast).abs().mean()
    mae_naive = (actual - table.last_rate).abs().mean()
    assert mae_model < 0.9 * mae_naive
    # The predictive SD describes the errors: about 90% inside ±1.645 SD.
    sd = np.sqrt(table.effect_var + fit.noise_sd(table.last_n) ** 2)
    inside = ((actual - forecast).abs() <= cal.Z90 * sd).mean()
    assert 0.85 <= inside <= 0.95


def test_backtest_beats_naive_on_py2023(real_results, shared_data, capsys) -> None:
    result = run_backtest(shared_data, 2022, results=real_results, agreement=True)
    m = result.metrics
    print("\n".join(result.summary_lines()))
    assert result.target_year == 2023
    assert m["n_compared"] > 400
    assert m["mae_model"] < m["mae_naive"]
    assert m["mae_model"] < 0.021
    assert 0.85 <= m["coverage"] <= 0.97
    table = result.table
    assert (table.low < table.forecast).all() and (table.forecast < table.high).all()
    out = capsys.readouterr().out
    assert "mean absolute error, model" in out


def test_backtest_scores_a_later_file_via_cli(
    real_results, shared_data, tmp_path, monkeypatch, capsys
):
    """`acosim backtest --through 2023 --actual FILE`: PY2023's results renamed PY2024."""
    monkeypatch.setattr(backtest_mod, "load_results", lambda data_dir: real_results)
    calls = []
    original = backtest_mod.run_backtest

    def spy(*args, **kwargs):
        calls.append(original(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(backtest_mod, "run_backtest", spy)
    later = tmp_path / "PY2024.csv"  # the year changed by the file name
    shutil.copyfile(Path(shared_data) / "mssp_puf" / "PY2023.csv", later)
    out_csv = tmp_path / "forecasts.csv"
    argv = ["backtest", "--through", "2023", "--data", str(shared_data), "--actual", str(later)]
    assert main([*argv, "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "fit on PY2018–PY2023, forecast PY2024" in out and "mean absolute error" in out
    (result,) = calls
    assert result.target_year == 2024
    assert result.fit.years == tuple(range(2018, 2024))
    assert result.metrics["n_target"] == 453
    assert result.metrics["mae_naive"] == 0.0  # "same as last year" is exact for a copy
    assert result.calibration["years"] == [2022, 2023]
    forecasts = pd.read_csv(out_csv)
    assert len(forecasts) == 453 and {"forecast", "low", "high"} <= set(forecasts.columns)


def test_backtest_missing_folder_and_file(capsys, tmp_path) -> None:
    missing = tmp_path / "nope"
    one_line_error(
        capsys, ["backtest", "--through", "2022", "--data", str(missing)], "folder not found"
    )
    one_line_error(
        capsys,
        ["backtest", "--through", "2022", "--data", str(tmp_path), "--actual", str(missing)],
        "file not found",
    )


def test_backtest_through_too_early(capsys, tmp_path) -> None:
    one_line_error(
        capsys, ["backtest", "--through", "2019", "--data", str(tmp_path)], "must be 2020 or later"
    )
