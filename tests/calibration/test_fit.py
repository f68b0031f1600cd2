"""The fit on synthetic panels with known parameters (simulation/calibration/fit.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import calibration as cal
from simulation.calibration.fit import _Likelihood

from .conftest import YEARS, synthetic


def test_fit_recovers_noise_parameters() -> None:
    truth = {
        "cv": 2.0,
        "systemic_sd": 0.01,
        "true_effect_sd": 0.03,
        "persistence": 0.7,
        "shock_multiplier": 1.5,
    }
    panel = cal.make_panel(synthetic(1, shock_year=2020, **truth))
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
    panel = cal.make_panel(synthetic(2, agreement_years=3, **truth))
    fit = cal.fit_noise_model(panel, shock_year=None, agreement=True)
    assert fit.cv == pytest.approx(truth["cv"], abs=0.25)
    assert fit.systemic_sd < 0.006
    assert fit.true_effect_sd == pytest.approx(truth["true_effect_sd"], abs=0.005)
    assert fit.persistence == pytest.approx(truth["persistence"], abs=0.08)
    assert fit.agreement_sd == pytest.approx(truth["agreement_sd"], abs=0.005)
    assert fit.shock_year is None and fit.shock_multiplier == 1.0


def test_bootstrap_intervals_cover_the_truth() -> None:
    truth = {"cv": 2.0, "systemic_sd": 0.01, "true_effect_sd": 0.03, "persistence": 0.7}
    panel = cal.make_panel(synthetic(3, **truth))
    fit = cal.fit_noise_model(panel, shock_year=None)
    boot = cal.bootstrap_noise_model(panel, fit, 30, np.random.default_rng(0))
    assert len(boot) == 30
    low, high = boot.quantile(0.01), boot.quantile(0.99)
    for name, value in truth.items():
        assert boot[name].std() > 0
        assert low[name] - 0.5 * boot[name].std() <= value <= high[name] + 0.5 * boot[name].std()


def test_likelihood_gradient_matches_finite_differences() -> None:
    panel = cal.make_panel(
        synthetic(
            4, cv=2.0, systemic_sd=0.005, true_effect_sd=0.03, persistence=0.8, agreement_sd=0.01
        )
    )
    like = _Likelihood(panel, 2020, True)
    x = np.array([2.1, 0.4, 3.1, 0.75, 1.2, 1.1])
    _value, grad = like(x)
    eps = 1e-6
    numeric = [
        (like(x + eps * np.eye(6)[j])[0] - like(x - eps * np.eye(6)[j])[0]) / (2 * eps)
        for j in range(6)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)
