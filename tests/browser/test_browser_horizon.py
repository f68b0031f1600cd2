"""The ten-year view in headless Chromium: open Compare tracks, choose "Ten years", see the two
charts and the ratchet sentence, screenshot it (/tmp/hview-*.png), copy the share link and open
it in a fresh browser context: the ten-year view again, with the same numbers. Uses the shared
fixtures (tests/browser/conftest.py) and helpers (tests/browser/browser_support.py)."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from .browser_support import COLD_START_S, _page, _ready, require_chromium

pytestmark = pytest.mark.browser

require_chromium()


def _story(pg) -> str:
    return pg.locator(".st-key-horizon_story").inner_text()


def _table(pg) -> list[str]:
    return [r.inner_text() for r in pg.locator('[data-testid="stMainBlockContainer"] table tr').all()]


def test_ten_year_view_screenshot_and_share_link(browser, url):
    pg = _page(browser)
    pg.goto(url, wait_until="commit")
    _ready(pg, 2, COLD_START_S)
    pg.get_by_role("radio", name="Ten years (2027–2036)").click()
    pg.wait_for_selector(".st-key-horizon_story")
    _ready(pg, 2)
    assert "h=10" in pg.url
    story = _story(pg)
    assert "After renewal in 2032" in story and "rebuilt from your own 2029–2031 spending" in story
    plots = pg.locator(".js-plotly-plot")
    assert plots.count() == 2
    texts = pg.locator(".js-plotly-plot").first.inner_text()
    assert "MSSP renewal 2032" in texts
    pg.screenshot(path="/tmp/hview-compare-ten-years.png", full_page=True)
    plots.nth(1).screenshot(path="/tmp/hview-benchmark.png")
    rows = _table(pg)
    assert any("LEAD Global" in r for r in rows)

    pg.get_by_role("button", name="Share").click()
    code = pg.locator('[data-testid="stPopoverBody"] code').first
    code.wait_for()
    link = code.inner_text().strip()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    assert query["h"] == ["10"] and query["s"]
    pg.context.close()

    other = _page(browser)
    other.goto(link, wait_until="commit")
    other.wait_for_selector(".st-key-horizon_story")
    _ready(other, 2)
    assert _story(other) == story
    assert _table(other) == rows
    assert re.search(r"h=10", other.url)
    other.screenshot(path="/tmp/hview-shared.png", full_page=True)
    other.context.close()
