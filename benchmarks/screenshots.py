"""Regenerate the dashboard screenshots in docs/screenshots/ (headless Chromium).

Each page at 1280 px wide (a laptop) and 1920 px wide (a projector), full height, on the
default scenario: ``docs/screenshots/<page>.png`` and ``<page>-1920.png``; plus the first
screen at 1280×800 (``<page>-1280x800.png``), what a laptop shows before scrolling.

Usage: ``.venv/bin/python benchmarks/screenshots.py [--url URL] [--pages compare,drivers]``
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import ROOT, browser, serve, wait_ready

OUT = ROOT / "docs" / "screenshots"
PAGES = {  # url path -> (file name, charts to wait for)
    "": ("compare", 2),
    "agreement": ("agreement", 2),
    "drivers": ("drivers", 3),
    "walkthrough": ("walkthrough", 0),
    "learn": ("learn", 0),
}
SIZES = ((1280, 800, ""), (1920, 1080, "-1920"))


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
        for path, (name, plots) in PAGES.items():
            if only and name not in only:
                continue
            if not (ROOT / "pages" / f"{name}.py").exists():
                continue
            for width, height, suffix in SIZES:
                ctx = b.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
                page = ctx.new_page()
                page.goto(f"{url}/{path}", wait_until="commit")
                wait_ready(page, min_plots=plots, timeout_s=180)
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
