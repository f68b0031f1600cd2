"""One journey through every page of the dashboard in headless Chromium.

Starts ``streamlit run app.py`` on a free port, opens each page from the navigation, changes
an input, enters an invalid one, and fails on any Streamlit exception box. Needs
/usr/bin/chromium (skipped otherwise; never ``playwright install``). The first page waits
long enough for a cold start, when the settlement kernel is compiled (~20 s, more on a busy
machine).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_ui import CHROMIUM, CHROMIUM_ARGS, READY_JS, serve

pytestmark = pytest.mark.browser

ARGS = CHROMIUM_ARGS
COLD_START_S = 300
PAGE_S = 180
EXCEPTION = '[data-testid="stException"]'

SIGNATURE_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .map(p => JSON.stringify((p.data || []).map(t => [t.x, t.y]))).join('|')"""

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not found", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with serve(log=tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = ctx.new_page()
        pg.set_default_timeout(PAGE_S * 1000)
        yield pg
        browser.close()


def _ready(pg, plots: int = 0, timeout_s: float = PAGE_S) -> None:
    pg.wait_for_function(READY_JS, arg=plots, timeout=timeout_s * 1000, polling=100)
    assert pg.locator(EXCEPTION).count() == 0, pg.locator(EXCEPTION).first.inner_text()


def _open(pg, title: str, plots: int, heading: str | None = None) -> None:
    """Open a page from the top menu (``title``) and wait for its heading and charts."""
    pg.locator('[data-testid="stTopNavLink"]', has_text=title).first.click()
    pg.get_by_role("heading", name=heading or title, exact=True).wait_for()
    _ready(pg, plots)


def test_journey_through_every_page(page, app_url):
    pg = page
    pg.goto(app_url)
    _ready(pg, 2, COLD_START_S)
    assert pg.get_by_role("heading", name="Compare tracks", exact=True).is_visible()
    story = pg.locator(".st-key-story").inner_text()
    assert "on average" in story

    # change one input: the charts redraw with new numbers
    pg.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary', has_text="ACO").first.click()
    _ready(pg, 2)
    before = pg.evaluate(SIGNATURE_JS)
    box = pg.get_by_label("Assigned beneficiaries", exact=True)
    box.fill("30000")
    box.press("Enter")
    pg.wait_for_function("([b, js]) => eval(js)() !== b", arg=[before, SIGNATURE_JS], timeout=PAGE_S * 1000)
    _ready(pg, 2)
    assert "30,000 beneficiaries" in pg.locator('[data-testid="stMain"]').inner_text()

    # an invalid input: a message beside the field, no traceback, the last valid results stay
    box.fill("500")
    box.press("Enter")
    message = pg.locator('[data-testid="stSidebar"] [data-testid="stAlert"]', has_text="you entered 500")
    message.wait_for()
    _ready(pg, 2)
    assert "30,000 beneficiaries" in pg.locator('[data-testid="stMain"]').inner_text()
    box.fill("20000")
    box.press("Enter")
    message.wait_for(state="detached")
    _ready(pg, 2)

    _open(pg, "Agreement period", 2)
    _open(pg, "What drives it", 3, "What drives the result")
    _open(pg, "Scenarios", 0)
    _open(pg, "Real ACOs", 0)
    _open(pg, "Export", 0)
    for title in ("Walkthrough", "Learn"):  # built alongside; present when their files are
        if pg.locator('[data-testid="stTopNavLink"]', has_text=title).count():
            pg.locator('[data-testid="stTopNavLink"]', has_text=title).first.click()
            pg.wait_for_timeout(500)
            _ready(pg)
    _open(pg, "Compare tracks", 2)
    assert "20,000 beneficiaries" in pg.locator('[data-testid="stMain"]').inner_text()
