"""One journey through every page of the dashboard in headless Chromium.

Starts ``streamlit run app.py`` on a free port, opens each page from the navigation, changes
an input, enters an invalid one, and fails on any Streamlit exception box. Needs
/usr/bin/chromium (skipped otherwise; never ``playwright install``). The first page waits
long enough for a cold start, when the settlement kernel is compiled (~20 s, more on a busy
machine).
"""

from __future__ import annotations

import pytest

from .browser_support import COLD_START_S, PAGE_S, _page, _ready, require_chromium

pytestmark = pytest.mark.browser

SIGNATURE_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .map(p => JSON.stringify((p.data || []).map(t => [t.x, t.y]))).join('|')"""

require_chromium()


@pytest.fixture(scope="module")
def page(browser):
    return _page(browser)


def _open(pg, title: str, plots: int, heading: str | None = None) -> None:
    """Open a page from the top menu (``title``) and wait for its heading and charts."""
    pg.locator('[data-testid="stTopNavLink"]', has_text=title).first.click()
    pg.get_by_role("heading", name=heading or title, exact=True).wait_for()
    _ready(pg, plots)


def test_journey_through_every_page(page, url):
    pg = page
    pg.goto(url)
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
