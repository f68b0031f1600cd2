"""Constants, the error type and the size bands shared by every step of the calibration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

#: Size bands (label, lower bound inclusive, upper bound exclusive) in assigned beneficiaries.
SIZE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("under 5k", 0.0, 5_000.0),
    ("5k–10k", 5_000.0, 10_000.0),
    ("10k–20k", 10_000.0, 20_000.0),
    ("20k–50k", 20_000.0, 50_000.0),
    ("50k+", 50_000.0, math.inf),
)
SHOCK_YEAR = 2020
#: First year of the variance model behind the defaults (the ACO_ID era; see the write-up); the
#: window runs to the latest file. Other windows end at the latest year too (:func:`windows`).
FIT_YEARS = (2018, 2023)


def windows(latest: int) -> dict[str, tuple[int, int]]:
    """Year windows of the study when the latest results file is PY``latest``.

    ``fit``: the variance model; ``mean``: the program mean savings rate (last three years);
    ``quality``: the quality keys (last two years, from PY2022 when the score took its current
    scale); ``trend``: benchmark growth (pairs ending in these years).
    """
    return {
        "fit": (FIT_YEARS[0], latest),
        "mean": (latest - 2, latest),
        "quality": (max(2022, latest - 1), latest),
        "trend": (2014, latest),
    }


MEAN_YEARS = windows(FIT_YEARS[1])["mean"]
#: Mean absolute error on PY2023 savings rates reported by a commercial model.
COMMERCIAL_MAE = 0.0194
#: Every key of noise_defaults.json that holds a fitted value.
DEFAULT_KEYS: tuple[str, ...] = (
    "per_beneficiary_cv",
    "systemic_sd",
    "year_to_year_sd",
    "true_effect_mean",
    "true_effect_sd",
    "persistence",
    "trend_mean",
    "trend_sd",
    "quality_mean",
    "quality_sd",
    "qps_probability",
    "shock_multiplier",
)
DOC_PATH = "docs/calibration.md"
JSON_PATH = "data/calibration/noise_defaults.json"
FIGURE_DIR = "docs/figures/calibration"
Z90 = float(stats.norm.ppf(0.95))


class CalibrationError(ValueError):
    """Input the calibration cannot use (missing folder, no PUF files, too few years).

    The message is one line, so that the command line can print it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def size_band(n_ab) -> pd.Series:
    """Label of the size band of each number of assigned beneficiaries (ordered categorical)."""
    values = pd.Series(np.asarray(n_ab, dtype=float))
    edges = [lo for _, lo, _ in SIZE_BANDS] + [math.inf]
    labels = [label for label, _, _ in SIZE_BANDS]
    return pd.cut(values, edges, right=False, labels=labels)


