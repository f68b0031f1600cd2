"""Only open tracks are recommended, in headless Chromium: start from a real high-revenue
experienced ACO (Essentia Health) on the Real ACOs page, then Compare tracks shows why the
other tracks are not open above the charts and KPI cards only for the open ones.
Uses the shared fixtures (tests/browser/conftest.py) and helpers (tests/browser/browser_support.py)."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATA

from .browser_support import COLD_START_S, _page, _ready, require_chromium
from .test_browser import _open

pytestmark = pytest.mark.browser

if not (SHARED_DATA / "mssp_puf").is_dir():
    pytest.skip("../shared/data/mssp_puf is not beside the project", allow_module_level=True)


require_chromium()


@pytest.fixture(scope="module")
def page(browser):
    return _page(browser)


def test_a_high_revenue_experienced_aco_sees_only_what_it_can_enter(page, url):
    pg = page
    pg.goto(url)
    _ready(pg, 2, COLD_START_S)
    _open(pg, "Real ACOs", 0)
    pg.get_by_label("Find an ACO by name or ID").fill("Essentia Health")
    pg.get_by_label("Find an ACO by name or ID").press("Enter")
    pg.get_by_role("heading", name="Essentia Health", exact=True).wait_for()
    _ready(pg)
    pg.get_by_role("button", name="Start a scenario from this ACO").click()
    pg.get_by_role("heading", name="Compare tracks", exact=True).wait_for()
    _ready(pg, 2)
    main = pg.locator('[data-testid="stMain"]')
    assert "24,837 beneficiaries" in main.inner_text()

    # KPI cards: the open tracks only (its own 2024 start: ENHANCED; LEAD opens in 2027)
    cards = [c.locator(".name").inner_text() for c in pg.locator(".kpi").all()]
    assert cards == ["ENHANCED"]
    # the reasons come first, above the charts
    reasons = pg.locator(".st-key-not_open")
    text = reasons.inner_text()
    assert "Not open to you" in text
    assert "A high-revenue ACO experienced with performance-based risk may enter only ENHANCED (42 CFR 425.600(d))" \
        in text
    assert "LEAD - Global takes its first agreements in 2027, not 2024 (CMS LEAD model page)" in text
    chart_top = pg.locator(".js-plotly-plot").first.bounding_box()["y"]
    assert reasons.bounding_box()["y"] < chart_top
    assert pg.locator(".st-key-story").inner_text().startswith("ENHANCED")
    pg.screenshot(path="/tmp/elig-compare-top.png")

    # the table keeps the closed tracks, labelled, with the reason
    table = pg.locator("table.acotable").first
    table.scroll_into_view_if_needed()
    assert table.locator(".notopen").count() == 8  # the 9 compared tracks but ENHANCED
    assert "Not open to you in 2024" in table.inner_text()
    pg.screenshot(path="/tmp/elig-compare-table.png")

    # the risk-return chart marks them hollow and "(not open)" rather than dropping them
    pg.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    pg.screenshot(path="/tmp/elig-compare-chart.png")
    names = pg.evaluate("""() => document.querySelector('.js-plotly-plot').data.map(t => t.name)""")
    assert any("(not open)" in n for n in names) and any(n == "ENHANCED" for n in names)
