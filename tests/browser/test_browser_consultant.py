"""The consultant workflow in headless Chromium: a share link opened first on a fresh server by
a deep URL; preset → edit → share link → the same numbers in a fresh browser; opening a
saved file. Uses the shared fixtures of tests/browser/conftest.py and helpers of tests/browser/browser_support.py (same Chromium, never
``playwright install``).
"""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from benchmarks.bench_ui import serve
from simulation.model import presets
from simulation.model.io import scenario_to_json
from simulation.model.scenario import Scenario
from simulation.model.share import decode_scenario, encode_scenario

from .browser_support import COLD_START_S, EXCEPTION, _page, _ready, require_chromium

pytestmark = pytest.mark.browser
require_chromium()


@pytest.fixture
def fresh_url(tmp_path):
    """A server of this test alone: its first request is the test's."""
    with serve(log=tmp_path / "server.log") as url:
        yield url


def _cards(pg) -> list[str]:
    """The KPI cards of Compare tracks: track name and expected net, as shown."""
    return [" ".join(c.inner_text().split()[:2]) for c in pg.locator(".kpi").all()]


def _main(pg) -> str:
    return pg.locator('[data-testid="stMain"]').inner_text()


def test_share_link_opened_first_by_a_deep_url_on_a_fresh_server(browser, fresh_url):
    """The pitfall: a fresh server's first request for /agreement runs that page alone. The
    guard sends it through app.py, which restores the scenario and opens the page."""
    s = presets.apply_preset(presets.apply_preset(Scenario(seed=777, trials=5_000), "small_rural"), "best")
    token = encode_scenario(s)
    pg = _page(browser)
    pg.goto(f"{fresh_url}/agreement?s={token}", wait_until="commit")
    pg.get_by_role("heading", name="Agreement period", exact=True).wait_for(timeout=COLD_START_S * 1000)
    _ready(pg, 2, COLD_START_S)
    main = _main(pg)
    assert "Small physician-led rural ACO · 6,480 beneficiaries" in main and "seed 777" in main
    assert "Opened the shared scenario" in main
    # the app's own menu and scenario panel, not the raw files of pages/
    nav = pg.locator('[data-testid="stTopNav"]').inner_text()
    assert "Compare tracks" in nav and "common" not in nav.lower()
    side = pg.locator('[data-testid="stSidebar"]').inner_text()
    assert "Scenario" in side and "learn content" not in side and "Tracks to compare" in side
    assert urllib.parse.urlsplit(pg.url).path == "/agreement"
    assert decode_scenario(pg.url)[0] == s  # the address still holds the same scenario
    pg.context.close()


def test_preset_edit_share_and_the_same_numbers_in_a_fresh_browser(browser, url):
    pg = _page(browser)
    pg.goto(url, wait_until="commit")
    _ready(pg, 2, COLD_START_S)

    # a preset close to the client, from the sidebar
    pg.get_by_role("button", name="Presets").click()
    pg.get_by_role("combobox", name="ACO like the client").click()
    pg.get_by_role("option", name="Large hospital-integrated ACO").click()
    pg.get_by_role("combobox", name="Assumptions").click()
    pg.get_by_role("option", name=re.compile("^Best case")).click()
    pg.get_by_role("button", name="Apply to the scenario").click()
    pg.locator('[data-testid="stAlert"]', has_text="Applied Large hospital-integrated ACO").wait_for()
    _ready(pg, 2)
    pg.keyboard.press("Escape")
    assert "Large hospital-integrated ACO" in _main(pg)

    # adjust it live: the charts redraw
    pg.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary', has_text="ACO").first.click()
    _ready(pg, 2)
    before = _cards(pg)
    shown = ",".join(c.inner_text() for c in pg.locator(".kpi").all())  # read before the edit: a
    box = pg.get_by_label("Assigned beneficiaries", exact=True)        # fast redraw cannot be missed
    box.fill("41000")
    box.press("Enter")
    pg.wait_for_function("(b) => Array.from(document.querySelectorAll('.kpi')).map(c => c.innerText).join() !== b",
                         arg=shown)
    _ready(pg, 2)
    assert "41,000 beneficiaries" in _main(pg)
    cards = _cards(pg)
    assert cards and cards != before

    # the share link: in the Share popover, pointing at the app's root
    pg.get_by_role("button", name="Share").click()
    code = pg.locator('[data-testid="stPopoverBody"] code').first
    code.wait_for()
    link = code.inner_text().strip()
    assert link.startswith(f"{url}/?s=")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(pg.url).query)["s"] == \
        urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["s"]  # the address bar is in sync
    scenario = decode_scenario(link)[0]
    assert scenario.aco.beneficiaries == 41_000 and scenario.name == "Large hospital-integrated ACO"
    pg.context.close()

    # a colleague opens it: a fresh browser, a new session, the same numbers
    other = _page(browser)
    other.goto(link, wait_until="commit")
    _ready(other, 2, COLD_START_S)
    assert _cards(other) == cards
    main = _main(other)
    assert "41,000 beneficiaries" in main and f"seed {scenario.seed}" in main
    assert other.locator(EXCEPTION).count() == 0
    other.context.close()


def test_open_a_saved_file_and_a_bad_one(browser, url, tmp_path):
    good = presets.apply_preset(Scenario(seed=99, trials=3_000), "mid_independent").model_copy(
        update={"name": "Board case from a file"})
    (tmp_path / "board.json").write_bytes(scenario_to_json(good))
    (tmp_path / "notes.json").write_text("these are my notes, not JSON")
    bad = json.loads(scenario_to_json(good))
    bad["scenario"]["aco"]["beneficiaries"] = 5
    (tmp_path / "bad.json").write_text(json.dumps(bad))

    pg = _page(browser)
    pg.goto(f"{url}/scenarios", wait_until="commit")
    pg.get_by_role("heading", name="Scenarios", exact=True).wait_for(timeout=COLD_START_S * 1000)
    _ready(pg, 0, COLD_START_S)
    upload = pg.locator('[data-testid="stFileUploader"] input[type="file"]')

    upload.set_input_files(str(tmp_path / "notes.json"))
    pg.locator('[data-testid="stAlert"]', has_text="not valid JSON").wait_for()
    _ready(pg)
    upload.set_input_files(str(tmp_path / "bad.json"))
    pg.locator('[data-testid="stAlert"]', has_text="aco.beneficiaries").wait_for()
    _ready(pg)
    assert "Board case from a file" not in pg.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()

    upload.set_input_files(str(tmp_path / "board.json"))
    pg.locator('[data-testid="stAlert"]', has_text="Opened Board case from a file").wait_for()
    _ready(pg)
    caption = pg.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()
    assert "Board case from a file" in caption and "seed 99" in caption
    assert decode_scenario(pg.url)[0] == good
    pg.context.close()
