"""The uncertainty model: how an ACO's measured savings rate scatters around its true effect.

One place defines it, so the Monte Carlo engine, the calibration study and the back-test
all use the same model (settlement-rules.md section 8)::

    measured savings rate = true effect + e_size + e_sys
    e_size ~ Normal(0, cv / sqrt(N))   per-beneficiary noise, shrinks with size
    e_sys  ~ Normal(0, systemic_sd)    ACO-level noise that does not shrink with size
    in a shock year both standard deviations are multiplied by ``shock_multiplier``

All randomness is drawn from a ``numpy.random.Generator`` handed in by the caller.
"""

from __future__ import annotations

import numpy as np


def noise_sd(beneficiaries, cv: float, systemic_sd: float, multiplier=1.0):
    """Standard deviation of the measured savings rate around the true effect.

    ``beneficiaries`` and ``multiplier`` may be arrays (broadcast together).
    """
    n = np.asarray(beneficiaries, dtype=float)
    return np.asarray(multiplier, dtype=float) * np.sqrt(cv**2 / n + systemic_sd**2)


def draw_rate_noise(
    rng: np.random.Generator,
    beneficiaries,
    size,
    cv: float,
    systemic_sd: float,
    multiplier=1.0,
) -> np.ndarray:
    """Draw e_size + e_sys with the given ``size`` (e.g. ``(trials, years)``).

    The two terms are independent normals, so their sum is one normal draw with
    :func:`noise_sd` as its standard deviation; one draw per cell keeps sampling cheap.
    """
    sd = noise_sd(beneficiaries, cv, systemic_sd, multiplier)
    return rng.standard_normal(size) * sd
