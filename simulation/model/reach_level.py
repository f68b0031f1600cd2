"""The level of a prospective benchmark (REACH, and LEAD until it has results), read from the
REACH fit that ``acosim calibrate`` writes (data/calibration/reach_defaults.json).

The fit itself is in simulation/calibration/reach.py; the engine only reads its result, so
this loader sits on the model floor and the Monte Carlo and the horizon never import the
calibration package.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .scenario import calibrated_defaults

DEFAULTS_PATH = Path(__file__).resolve().parents[2] / "data" / "calibration" / "reach_defaults.json"


def load_defaults(path: Path = DEFAULTS_PATH) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=8)
def benchmark_factor(key: str) -> float:
    """Level of a prospective benchmark relative to the simulator's common one, from REACH
    results: an ACO whose true effect is MSSP's calibrated mean (``true_effect_mean``) shows,
    against this benchmark, REACH's fitted mean gross savings rate g for ``key``:
    1 - (1 - theta) / k = g, so k = (1 - theta) / (1 - g). 1.0 when no fit exists."""
    try:
        g = float(load_defaults()[key]["gross_rate_mean"])
    except (OSError, ValueError, KeyError):
        return 1.0
    theta = float(calibrated_defaults()["true_effect_mean"][0])
    return (1.0 - theta) / (1.0 - g)
