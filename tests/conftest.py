"""Shared test fixtures: the catalog and the CMS reference data beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.rules.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA


def put_scenario(at, scenario) -> None:
    """Give an AppTest session ``scenario`` as a preset or an opened file would: the pages show
    it and the sidebar refills from it on the next run (keys owned by dashboard/state.py)."""
    from dashboard import state

    at.session_state[state.SCENARIO] = scenario
    at.session_state[state.PENDING] = True
