"""Tests of the calibration study (simulation.calibration, simulation.backtest, the CLI).

The fitting code is checked on synthetic panels drawn through simulation/noise.py with known
parameters; the back-test runs on the CMS files in ../shared/data (skipped when absent); the
command-line error paths always run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import backtest as backtest_mod
from simulation import calibration as cal
from simulation.backtest import run_backtest, shrinkage_forecast
from simulation.cli import main

ROOT = Path(__file__).resolve().parents[1]
YEARS = range(2018, 2024)


# ---------------------------------------------------------------------------------------------
# The fit on synthetic data with known parameters
# ---------------------------------------------------------------------------------------------


def _synthetic(seed: int, **params) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return cal.simulate_panel(rng, 1_500, YEARS, **params)


def test_fit_recovers_noise_parameters() -> None:
    truth = {
        "cv": 2.0,
        "systemic_sd": 0.01,
        "true_effect_sd": 0.03,
        "persistence": 0.7,
        "shock_multiplier": 1.5,
    }
    panel = cal.make_panel(_synthetic(1, shock_year=2020, **truth))
    fit = cal.fit_noise_model(panel)
    assert fit.converged
    assert fit.cv == pytest.approx(truth["cv"], abs=0.25)
    assert fit.systemic_sd == pytest.approx(truth["systemic_sd"], abs=0.004)
    assert fit.true_effect_sd == pytest.approx(truth["true_effect_sd"], abs=0.004)
    assert fit.persistence == pytest.approx(truth["persistence"], abs=0.08)
    assert fit.shock_multiplier == pytest.approx(truth["shock_multiplier"], abs=0.2)
    assert fit.agreement_sd == 0.0
    assert fit.years == tuple(YEARS)
    assert fit.n_obs == int(panel.observed.sum())


def test_fit_recovers_agreement_component_and_zero_systemic_noise() -> None:
    truth = {
        "cv": 2.2,
        "systemic_sd": 0.0,
        "true_effect_sd": 0.03,
        "persistence": 0.85,
        "agreement_sd": 0.02,
    }
    panel = cal.make_panel(_synthetic(2, agreement_years=3, **truth))
    fit = cal.fit_noise_model(panel, shock_year=None, agreement=True)
    assert fit.cv == pytest.approx(truth["cv"], abs=0.25)
    assert fit.systemic_sd < 0.006
    assert fit.true_effect_sd == pytest.approx(truth["true_effect_sd"], abs=0.005)
    assert fit.persistence == pytest.approx(truth["persistence"], abs=0.08)
    assert fit.agreement_sd == pytest.approx(truth["agreement_sd"], abs=0.005)
    assert fit.shock_year is None and fit.shock_multiplier == 1.0


def test_bootstrap_intervals_cover_the_truth() -> None:
    truth = {"cv": 2.0, "systemic_sd": 0.01, "true_effect_sd": 0.03, "persistence": 0.7}
    panel = cal.make_panel(_synthetic(3, **truth))
    fit = cal.fit_noise_model(panel, shock_year=None)
    boot = cal.bootstrap_noise_model(panel, fit, 30, np.random.default_rng(0))
    assert len(boot) == 30
    low, high = boot.quantile(0.01), boot.quantile(0.99)
    for name, value in truth.items():
        assert boot[name].std() > 0
        assert low[name] - 0.5 * boot[name].std() <= value <= high[name] + 0.5 * boot[name].std()


def test_likelihood_gradient_matches_finite_differences() -> None:
    panel = cal.make_panel(
        _synthetic(
            4, cv=2.0, systemic_sd=0.005, true_effect_sd=0.03, persistence=0.8, agreement_sd=0.01
        )
    )
    like = cal._Likelihood(panel, 2020, True)
    x = np.array([2.1, 0.4, 3.1, 0.75, 1.2, 1.1])
    _value, grad = like(x)
    eps = 1e-6
    numeric = [
        (like(x + eps * np.eye(6)[j])[0] - like(x - eps * np.eye(6)[j])[0]) / (2 * eps)
        for j in range(6)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_shrinkage_forecast_beats_last_year_on_model_data() -> None:
    truth = {"cv": 2.0, "systemic_sd": 0.0, "true_effect_sd": 0.03, "persistence": 0.8}
    sim = _synthetic(5, dropout=0.0, **truth)
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


def test_size_bands_are_ordered_and_cover_every_size() -> None:
    bands = cal.size_band([0, 4_999, 5_000, 19_999, 20_000, 49_999, 50_000, 1_000_000])
    assert list(bands.astype(str)) == [
        "under 5k",
        "under 5k",
        "5k–10k",
        "10k–20k",
        "20k–50k",
        "20k–50k",
        "50k+",
        "50k+",
    ]
    assert list(bands.cat.categories) == [label for label, _, _ in cal.SIZE_BANDS]


# ---------------------------------------------------------------------------------------------
# The back-test on the real files
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_results(request) -> pd.DataFrame:
    shared = request.getfixturevalue("shared_data")
    return cal.load_results(shared)


def test_ids_link_within_schemes_and_by_name_across_2018(real_results) -> None:
    report = real_results.attrs["linkage"]
    by_pair = {(p["from"], p["to"]): p["same_id"] for p in report["pairs"]}
    assert by_pair[(2017, 2018)] == 0  # ACO_Num and ACO_ID never coincide
    assert by_pair[(2022, 2023)] > 300 and by_pair[(2016, 2017)] > 300
    bridge = report["bridge"]
    assert bridge["matched_by_name"] > 350
    assert 0.9 < bridge["median_size_ratio"] < 1.1
    assert bridge["rate_correlation"] > 0.5


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


def test_study_writes_the_defaults_and_the_write_up(
    real_results, shared_data, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(cal, "load_results", lambda data_dir: real_results)
    out, doc = tmp_path / "noise_defaults.json", tmp_path / "docs" / "calibration.md"
    study = cal.calibrate(
        shared_data,
        out=out,
        doc=doc,
        reps=20,
        figures=False,
        quick=True,
        command="acosim calibrate --data X",
    )
    payload = json.loads(out.read_text(encoding="utf-8"))
    _check_payload(payload, doc.read_text(encoding="utf-8"))
    assert payload["generated_by"] == "acosim calibrate --data X"
    assert payload["fitted_on"] == "PY2018-PY2023"
    assert 1.5 < payload["per_beneficiary_cv"]["value"] < 3.0
    assert study["backtest"].metrics["mae_model"] < study["backtest"].metrics["mae_naive"]


def _check_payload(payload: dict, markdown: str) -> None:
    expected = set(cal.DEFAULT_KEYS) | {"fitted_on", "generated_by", "generated_at"}
    assert set(payload) == expected
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', markdown))
    for key in cal.DEFAULT_KEYS:
        entry = payload[key]
        assert set(entry) == {"value", "low", "high", "unit", "source", "note"}, key
        assert all(isinstance(entry[k], float) for k in ("value", "low", "high")), key
        assert entry["low"] <= entry["value"] <= entry["high"], key
        path, anchor = entry["source"].split("#", 1)
        assert path.endswith("calibration.md") and anchor in anchors, key
        assert entry["unit"] and entry["note"], key
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", payload["generated_at"])


def test_committed_defaults_match_the_committed_write_up() -> None:
    path = ROOT / "data" / "calibration" / "noise_defaults.json"
    doc = ROOT / "docs" / "calibration.md"
    if not path.exists() or not doc.exists():
        pytest.skip("run `make calibration` to generate the defaults")
    payload = json.loads(path.read_text(encoding="utf-8"))
    markdown = doc.read_text(encoding="utf-8")
    _check_payload(payload, markdown)
    assert all(
        e["source"].startswith("docs/calibration.md#")
        for k, e in payload.items()
        if k in cal.DEFAULT_KEYS
    )
    for name in re.findall(r"\(figures/calibration/([^)]+\.png)\)", markdown):
        assert (doc.parent / "figures" / "calibration" / name).exists(), name


# ---------------------------------------------------------------------------------------------
# Command-line errors: exit code 2 and one line
# ---------------------------------------------------------------------------------------------


def _one_line_error(capsys, argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"acosim {argv[0]}: error:"), err
    assert needle in err


def test_calibrate_missing_folder(capsys, tmp_path) -> None:
    missing = tmp_path / "no-such-folder"
    _one_line_error(capsys, ["calibrate", "--data", str(missing)], "folder not found")


def test_calibrate_folder_without_results(capsys, tmp_path) -> None:
    _one_line_error(capsys, ["calibrate", "--data", str(tmp_path)], "no MSSP results files")


def test_backtest_missing_folder_and_file(capsys, tmp_path) -> None:
    missing = tmp_path / "nope"
    _one_line_error(
        capsys, ["backtest", "--through", "2022", "--data", str(missing)], "folder not found"
    )
    _one_line_error(
        capsys,
        ["backtest", "--through", "2022", "--data", str(tmp_path), "--actual", str(missing)],
        "file not found",
    )


def test_backtest_through_too_early(capsys, tmp_path) -> None:
    _one_line_error(
        capsys, ["backtest", "--through", "2019", "--data", str(tmp_path)], "must be 2020 or later"
    )
