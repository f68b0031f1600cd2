"""The scenario never changes behind the user (headless Chromium).

One field is edited in every sidebar group (typed values and + clicks), then all eight pages
are visited twice in a shuffled order: on each, the address (which holds the whole scenario)
decodes to the edited scenario, the caption shows it, and Compare tracks shows the same
expected net every time. Then a consultant applies a preset, edits two inputs, snapshots on
Scenarios, opens Export and downloads the workbook: it holds the edited values.
"""

from __future__ import annotations

import io
import random
import time

import openpyxl
import pytest

from simulation.model.share import decode_scenario

from .browser_support import COLD_START_S, PAGE_S, _page, _ready, require_chromium

pytestmark = pytest.mark.browser

PAGES = {  # menu title -> page heading
    "Compare tracks": "Compare tracks", "Agreement period": "Agreement period",
    "What drives it": "What drives the result", "Scenarios": "Scenarios", "Real ACOs": "Real ACOs",
    "Export": "Export", "Walkthrough": "Settlement walkthrough",
    "Learn": "Learn: accountable care organizations",
}
CAPTIONED = {"Compare tracks", "Agreement period", "What drives it", "Scenarios", "Export"}

require_chromium()


def _settle(pg) -> None:
    """Wait until the app has finished the run an edit started."""
    pg.wait_for_timeout(600)
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                         timeout=PAGE_S * 1000)
    _ready(pg)


def _group(pg, title: str) -> None:
    summary = pg.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary', has_text=title).first
    summary.click()
    _settle(pg)


def _type(pg, label: str, value: str) -> None:
    box = pg.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    _settle(pg)


def _plus(pg, label: str) -> None:
    box = pg.get_by_label(label, exact=True)
    box.locator("xpath=ancestor::div[@data-testid='stNumberInput']").locator(
        '[data-testid="stNumberInputStepUp"]').click()
    _settle(pg)


def _until(pg, ok, timeout_s: float = 60) -> None:
    """Wait until the scenario in the address satisfies ``ok`` (the address follows the run)."""
    deadline = time.monotonic() + timeout_s
    while not ok(decode_scenario(pg.url)[0]):
        assert time.monotonic() < deadline, decode_scenario(pg.url)[0]
        pg.wait_for_timeout(250)


def _open(pg, title: str) -> None:
    pg.locator('[data-testid="stTopNavLink"]', has_text=title).first.click()
    pg.get_by_role("heading", name=PAGES[title], exact=True).wait_for()
    _settle(pg)


def _main(pg) -> str:
    return pg.locator('[data-testid="stMain"]').inner_text()


def test_edits_in_every_group_survive_every_page_twice(browser, url):
    pg = _page(browser)
    pg.goto(url, wait_until="commit")
    _ready(pg, 2, COLD_START_S)

    _group(pg, "Simulation")
    _type(pg, "Simulated futures (futures)", "4000")
    _type(pg, "Random seed", "4242")
    _group(pg, "ACO")
    _type(pg, "Assigned beneficiaries", "23000")
    _group(pg, "Performance")
    _plus(pg, "Years to full effect (years)")
    _group(pg, "Money beyond settlement")
    _type(pg, "Annual operating cost ($M a year)", "2.40")
    _group(pg, "Market")
    _plus(pg, "Spending trend (% a year)")
    _group(pg, "Uncertainty (noise)")
    _plus(pg, "Per-beneficiary variation (CV)")
    _group(pg, "Tracks to compare")
    # remove one of the default (2027) tracks
    pg.locator('[data-testid="stSidebar"] button', has_text="LEAD Professional").first.click()
    _settle(pg)
    _until(pg, lambda s: "LEAD_PROFESSIONAL" not in [c.track for c in s.tracks] and s.trials == 4_000)

    edited = decode_scenario(pg.url)[0]
    assert edited.trials == 4_000 and edited.seed == 4242 and edited.aco.beneficiaries == 23_000
    assert edited.performance.ramp_years == 3 and edited.costs.annual_operating_cost == 2_400_000
    assert "LEAD_PROFESSIONAL" not in [c.track for c in edited.tracks]
    _open(pg, "Compare tracks")
    story = pg.locator(".st-key-story").inner_text()
    assert "23,000 beneficiaries" in _main(pg)

    order = list(PAGES) * 2
    random.Random(7).shuffle(order)
    for title in order:
        _open(pg, title)
        assert decode_scenario(pg.url)[0] == edited, title  # the address holds the edited scenario
        main = _main(pg)
        if title in CAPTIONED:
            assert "23,000 beneficiaries" in main and "seed 4242" in main, title
        if title == "Compare tracks":
            assert pg.locator(".st-key-story").inner_text() == story  # the same expected net
    pg.context.close()


def test_preset_edits_snapshot_then_export_carries_the_edits(browser, url, tmp_path):
    pg = _page(browser)
    pg.goto(url, wait_until="commit")
    _ready(pg, 2, COLD_START_S)
    pg.get_by_role("button", name="Presets").click()
    pg.get_by_role("combobox", name="ACO like the client").click()
    pg.get_by_role("option", name="Small physician-led rural ACO").click()
    pg.get_by_role("button", name="Apply to the scenario").click()
    pg.locator('[data-testid="stAlert"]', has_text="Applied Small physician-led rural ACO").wait_for()
    pg.keyboard.press("Escape")
    _settle(pg)

    _group(pg, "ACO")
    _type(pg, "Assigned beneficiaries", "7100")
    _group(pg, "Money beyond settlement")
    _type(pg, "Annual operating cost ($M a year)", "0.90")

    _open(pg, "Scenarios")
    pg.get_by_label("Name of the snapshot", exact=True).fill("rural edited")
    pg.get_by_role("button", name="Snapshot the scenario").click()
    _settle(pg)
    _open(pg, "Export")
    assert "7,100 beneficiaries" in _main(pg)
    with pg.expect_download() as info:
        pg.get_by_role("button", name="Excel workbook").first.click()
    path = tmp_path / "export.xlsx"
    info.value.save_as(path)
    wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    header, *rows = wb["Assumptions"].iter_rows(values_only=True)
    col = {name: i for i, name in enumerate(header)}
    value = {r[col["input"]]: r[col["value"]] for r in rows}
    assert value["Assigned beneficiaries"] == "7,100"  # the preset had 6,480
    assert value["Annual operating cost"] == "$900,000"  # the preset had $860,000
    prov = {r[0]: r[1] for r in wb["Provenance"].iter_rows(values_only=True)}
    assert any("Small physician-led rural ACO" in str(v) for v in prov.values())
    pg.context.close()
