"""The ten-year view in headless Chromium: open Compare tracks, choose "Ten years", see the two
charts and the ratchet sentence, screenshot it (/tmp/hview-*.png), copy the share link and open
it in a fresh browser context: the ten-year view again, with the same numbers."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from benchmarks.bench_ui import CHROMIUM, CHROMIUM_ARGS, READY_JS, serve

pytestmark = pytest.mark.browser

START_S = 300
EXCEPTION = '[data-testid="stException"]'

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not found", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(START_S * 1000)
    return pg


def _ready(pg, plots: int = 0) -> None:
    pg.wait_for_timeout(400)
    pg.wait_for_function(READY_JS, arg=plots, timeout=START_S * 1000, polling=100)
    assert pg.locator(EXCEPTION).count() == 0, pg.locator(EXCEPTION).first.inner_text()


def _story(pg) -> str:
    return pg.locator(".st-key-horizon_story").inner_text()


def _table(pg) -> list[str]:
    return [r.inner_text() for r in pg.locator('[data-testid="stMainBlockContainer"] table tr').all()]


def test_ten_year_view_screenshot_and_share_link(browser, url):
    pg = _page(browser)
    pg.goto(url, wait_until="commit")
    _ready(pg, 2)
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
