"""Fixtures of the calibration tests: synthetic panels and the real CMS results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation import calibration as cal

YEARS = range(2018, 2024)


def synthetic(seed: int, **params) -> pd.DataFrame:
    """A synthetic ACO × year panel drawn through simulation/model/noise.py with known parameters."""
    rng = np.random.default_rng(seed)
    return cal.simulate_panel(rng, 1_500, YEARS, **params)


@pytest.fixture(scope="session")
def real_results(shared_data) -> pd.DataFrame:
    return cal.load_results(shared_data)


def one_line_error(capsys, argv: list[str], needle: str) -> None:
    """The command exits with code 2 and one line on stderr that holds ``needle``."""
    from simulation.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"acosim {argv[0]}: error:"), err
    assert needle in err


@pytest.fixture(scope="session")
def quick_study(shared_data) -> dict:
    """The whole study in its quick form (fewer resamples), no files written."""
    from simulation.calibration.study import run_study

    return run_study(shared_data, reps=20, quick=True)
