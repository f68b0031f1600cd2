"""The browser tests' fixtures: a ``streamlit run app.py`` server and headless Chromium, one
each per test module (helpers in tests/browser/browser_support.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """A ``streamlit run app.py`` server for the test module; its address."""
    from benchmarks.bench_ui import serve

    with serve(log=tmp_path_factory.mktemp("streamlit") / "server.log") as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the test module (skipped where /usr/bin/chromium is missing)."""
    from .browser_support import ARGS, CHROMIUM, require_chromium

    sync_api = require_chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
