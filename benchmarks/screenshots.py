"""Regenerate the dashboard screenshots in docs/screenshots/ (headless Chromium).

Each page at 1280 px wide (a laptop) and 1920 px wide (a projector), full height, on the
default scenario: ``docs/screenshots/<page>.png`` and ``<page>-1920.png``; plus the first
screen at 1280×800 (``<page>-1280x800.png``), what a laptop shows before scrolling.

The consultant pages are shown in use: Scenarios with two snapshots side by side (opened
from a saved file, as a consultant would), Real ACOs with an ACO looked up (needs the CMS
results in ../shared/data), Export with the charts, deck and PDF prepared.

Usage: ``.venv/bin/python benchmarks/screenshots.py [--url URL] [--pages compare,drivers]``
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import ROOT, browser, serve, wait_ready

OUT = ROOT / "docs" / "screenshots"
SIZES = ((1280, 800, ""), (1920, 1080, "-1920"))


def _settle(page, plots: int = 0) -> None:
    wait_ready(page, min_plots=plots, timeout_s=180)
    page.wait_for_timeout(500)


def _snapshots(page) -> None:
    """Open a saved file holding two snapshots; compare BASIC E against ENHANCED."""
    import streamlit.logger

    streamlit.logger.set_log_level("error")  # no "no runtime" warnings from importing the pages
    sys.path.insert(0, str(ROOT))
    from dashboard.workflow import scenario_set_file
    from simulation.model import presets
    from simulation.model.scenario import Scenario

    stay = presets.apply_preset(presets.apply_preset(Scenario(), "mid_independent"), "realistic")
    stay = stay.model_copy(update={"name": "Stay in BASIC"})
    go = stay.model_copy(update={
        "name": "Go ENHANCED with care management",
        "performance": stay.performance.model_copy(update={"savings_effect": stay.performance.savings_effect + 0.01}),
        "costs": stay.costs.model_copy(update={"annual_operating_cost": stay.costs.annual_operating_cost + 600_000,
                                               "startup_investment": 1_000_000.0})})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "client-scenarios.json"
        path.write_bytes(scenario_set_file(stay, {stay.name: stay, go.name: go}))
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
        page.get_by_text("2 snapshots loaded").wait_for(timeout=120_000)
    _settle(page, 1)
    for name, track in ((stay.name, "BASIC E"), (go.name, "ENHANCED")):
        box = page.get_by_role("combobox", name=f"Track in “{name}”")
        box.click()
        box.fill(track)  # filters the options to this one
        page.get_by_role("option", name=track, exact=True).click()
        _settle(page, 1)


def _real_aco(page) -> None:
    box = page.get_by_role("textbox", name="Find an ACO by name or ID")
    box.fill("Palm Beach")
    box.press("Enter")
    _settle(page, 1)


def _export(page) -> None:
    page.get_by_role("button", name="Prepare the charts, deck and PDF").click()
    page.get_by_role("button", name="PowerPoint deck").wait_for(timeout=180_000)
    page.mouse.move(5, 790)  # not hovering a button
    _settle(page)
    page.wait_for_timeout(1500)  # the chart images


PAGES: dict[str, tuple[str, int, Callable | None]] = {  # url path -> (file name, charts, set-up)
    "": ("compare", 2, None),
    "agreement": ("agreement", 2, None),
    "drivers": ("drivers", 3, None),
    "scenarios": ("scenarios", 0, _snapshots),
    "real_acos": ("real_acos", 0, _real_aco),
    "export": ("export", 0, _export),
    "walkthrough": ("walkthrough", 0, None),
    "learn": ("learn", 0, None),
}


def _content_height(page) -> int:
    return page.evaluate("""() => {
      const main = document.querySelector('[data-testid="stMain"]') || document.body;
      const block = main.querySelector('[data-testid="stMainBlockContainer"]') || main;
      const side = document.querySelector('[data-testid="stSidebarContent"]');
      return Math.ceil(Math.max(block.scrollHeight + 80, side ? 0 : 0));
    }""")


def shoot(url: str, only: set[str] | None = None) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with browser() as b:
        for path, (name, plots, setup) in PAGES.items():
            if only and name not in only:
                continue
            if not (ROOT / "pages" / f"{name}.py").exists():
                continue
            for width, height, suffix in SIZES:
                ctx = b.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
                page = ctx.new_page()
                page.set_default_timeout(120_000)
                page.goto(f"{url}/{path}", wait_until="commit")
                wait_ready(page, min_plots=plots, timeout_s=180)
                if setup is not None:
                    setup(page)
                    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
                page.wait_for_timeout(400)
                if suffix == "":
                    first = OUT / f"{name}-1280x800.png"
                    page.screenshot(path=str(first))
                    written.append(first)
                full = max(height, _content_height(page))
                page.set_viewport_size({"width": width, "height": full})
                page.wait_for_timeout(600)
                wait_ready(page, min_plots=plots, timeout_s=60)
                target = OUT / f"{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
                ctx.close()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url")
    ap.add_argument("--pages", help="comma-separated page names (default: all that exist)")
    args = ap.parse_args(argv)
    only = set(args.pages.split(",")) if args.pages else None
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(serve())
        for p in shoot(url, only):
            print(p.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
