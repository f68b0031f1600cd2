"""What the browser tests share: Chromium's settings, the page helpers and the time limits.

The fixtures ``url`` (a ``streamlit run app.py`` server per test module) and ``browser``
(headless Chromium per module) live in ``tests/browser/conftest.py``; a test module imports the
helpers from here. Needs /usr/bin/chromium (never ``playwright install``); a module that uses
them calls :func:`require_chromium` first, so it is skipped where Chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_ui import CHROMIUM, CHROMIUM_ARGS, READY_JS

ARGS = CHROMIUM_ARGS
COLD_START_S = 300   # the first page of a fresh server: the settlement kernel may compile
PAGE_S = 180
EXCEPTION = '[data-testid="stException"]'
VIEWPORT = {"width": 1280, "height": 800}


def require_chromium():
    """Skip the calling module without Chromium; return playwright's sync API."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def _page(browser, **kw):
    """A fresh browser context (its own session) at a 1280x800 laptop's size, and a page in it."""
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True, **kw)
    pg = ctx.new_page()
    pg.set_default_timeout(PAGE_S * 1000)
    return pg


def _ready(pg, plots: int = 0, timeout_s: float = PAGE_S) -> None:
    """Wait until the app has drawn (at least ``plots`` charts) and fail on an exception box."""
    pg.wait_for_function(READY_JS, arg=plots, timeout=timeout_s * 1000, polling=100)
    assert pg.locator(EXCEPTION).count() == 0, pg.locator(EXCEPTION).first.inner_text()
