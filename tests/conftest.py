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


# --------------------------------------------------------------------------- the browser tests
# (helpers in tests/browser_support.py)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """A ``streamlit run app.py`` server for the test module; its address."""
    from benchmarks.bench_ui import serve

    with serve(log=tmp_path_factory.mktemp("streamlit") / "server.log") as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the test module (skipped where /usr/bin/chromium is missing)."""
    from browser_support import ARGS, CHROMIUM, require_chromium

    sync_api = require_chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
