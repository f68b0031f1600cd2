"""The smaller things users hit, in headless Chromium at a 1280x800 laptop's size: the share
link's copy button is visible without hovering and copies the link; the sidebar is a few Tab
stops from the top menu; "1e9" typed in a whole-number field is refused by name, not turned
into 1; the assumptions table is not cut at 1280 px. Screenshots of Compare tracks (every
track to scale) and What drives it go to /tmp/polish-*.png for a look.
"""

from __future__ import annotations

import pytest

from .browser_support import COLD_START_S, _page, _ready, require_chromium

pytestmark = pytest.mark.browser
require_chromium()

IN_SIDEBAR = "() => !!document.activeElement && !!document.activeElement.closest('[data-testid=stSidebar]')"
ON_SKIP = "() => !!document.activeElement && document.activeElement.classList.contains('acosim-skip')"
SHOTS = "/tmp/polish-{}.png"


@pytest.fixture(scope="module")
def pg(browser, url):
    page = _page(browser, permissions=["clipboard-read", "clipboard-write"])
    page.goto(url, wait_until="commit")
    _ready(page, 2, COLD_START_S)
    yield page
    page.context.close()


def _open(pg, title: str, heading: str, plots: int = 0) -> None:
    pg.locator('[data-testid="stTopNavLink"]', has_text=title).first.click()
    pg.get_by_role("heading", name=heading, exact=True).wait_for()
    _ready(pg, plots)


def _tabs_to_sidebar(pg, *, use_skip: bool, limit: int = 80) -> int:
    """Key presses from the top menu's first link until the focus is in the sidebar."""
    pg.locator('[data-testid="stTopNavLink"]').first.focus()
    for n in range(1, limit + 1):
        if use_skip and pg.evaluate(ON_SKIP):
            pg.keyboard.press("Enter")
        else:
            pg.keyboard.press("Tab")
        if pg.evaluate(IN_SIDEBAR):
            return n
    return limit + 1


def test_the_sidebar_is_a_few_tab_stops_from_the_top_menu(pg):
    before = _tabs_to_sidebar(pg, use_skip=False)  # tabbing through the whole page, as before
    after = _tabs_to_sidebar(pg, use_skip=True)    # the skip link, first in the page, then Enter
    print(f"\nKey presses from the top menu to the sidebar on Compare tracks: {before} without the skip "
          f"link, {after} with it")
    assert after <= 12 < before
    focused = pg.evaluate("() => document.activeElement.innerText")
    assert "ACO" in focused  # the first group of the scenario inputs
    skip = pg.locator("a.acosim-skip")
    assert skip.inner_text() == "Skip to scenario inputs"


def test_copy_button_is_visible_without_hover_and_copies_the_link(pg):
    pg.mouse.move(5, 790)
    pg.get_by_role("button", name="Share").click()
    button = pg.get_by_role("button", name="Copy link", exact=True)
    button.wait_for()
    pg.mouse.move(5, 790)  # away from the link: the button is there all the same
    assert button.is_visible()
    box = button.bounding_box()
    assert box and box["width"] > 40 and box["height"] > 20
    link = pg.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').first.inner_text().strip()
    button.click()
    pg.locator(".acosim-copied", has_text="Copied").first.wait_for()
    assert pg.evaluate("() => navigator.clipboard.readText()") == link and "?s=" in link
    pg.keyboard.press("Escape")


def test_1e9_in_a_whole_number_field_is_refused_by_name(pg):
    pg.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary', has_text="ACO").first.click()
    _ready(pg, 2)
    box = pg.get_by_label("Assigned beneficiaries", exact=True)
    box.fill("1e9")
    box.press("Enter")
    msg = pg.locator('[data-testid="stSidebar"] [data-testid="stAlert"]', has_text="Assigned beneficiaries:")
    msg.wait_for()
    text = msg.inner_text()
    assert "1,000,000,000" in text and "Allowed: 1,000 to 1,000,000" in text
    assert box.input_value() != "1"
    assert "20,000 beneficiaries" in pg.locator('[data-testid="stMain"]').inner_text()
    box.fill("20000")
    box.press("Enter")
    msg.wait_for(state="detached")
    _ready(pg, 2)


def test_screenshots_of_compare_and_drivers(pg):
    _open(pg, "Compare tracks", "Compare tracks", 2)
    pg.locator("button", has_text="Every track to scale").first.click()
    _ready(pg, 2)
    pg.wait_for_timeout(800)
    labels = pg.locator(".js-plotly-plot .annotation-text").all_text_contents()
    assert any("BASIC C" in t for t in labels)
    chart = pg.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    pg.screenshot(path=SHOTS.format("compare"), full_page=True)
    chart.screenshot(path=SHOTS.format("compare-chart"))
    # the labels drawn do not overlap one another (their boxes as the browser lays them out)
    texts = pg.locator(".js-plotly-plot").first.locator(".annotation-text")
    boxes = [b for b in (a.bounding_box() for a in texts.all()) if b]
    assert len(boxes) >= 8
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            ox = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            oy = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            assert ox <= 1 or oy <= 1, (a, b)
    pg.locator("summary", has_text="What the cards show").first.click()
    assert "Share of futures in which CMS bills the ACO" in pg.locator('[data-testid="stExpander"]',
                                                                       has_text="What the cards show").inner_text()
    _open(pg, "What drives it", "What drives the result", 3)
    pg.screenshot(path=SHOTS.format("drivers"), full_page=True)
    note = pg.locator('[data-testid="stAlert"]', has_text="More uncertainty earns more")
    assert note.count() == 1 and "$" in note.inner_text()
    note.scroll_into_view_if_needed()  # the page scrolls inside the app: shoot what is in view
    pg.screenshot(path=SHOTS.format("drivers-note"))


def test_assumption_table_is_not_cut_at_1280(pg):
    _open(pg, "Scenarios", "Scenarios")
    table = pg.locator("table.acotable.fixed").first
    table.scroll_into_view_if_needed()
    fits = table.evaluate("""t => {
        const wrap = t.closest('.acotable-wrap');
        const cells = Array.from(t.querySelectorAll('td, th'));
        return {table: t.scrollWidth, box: wrap.clientWidth,
                cut: cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText.slice(0, 40))};
    }""")
    assert fits["table"] <= fits["box"] + 1 and fits["cut"] == [], fits
    table.locator("xpath=ancestor::div[contains(@class,'st-key-assumptions')]").first.screenshot(
        path=SHOTS.format("assumptions"))
