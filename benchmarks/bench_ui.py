"""Dashboard speed in a real browser (Playwright + headless Chromium), printed as figures.

Measures, on the default scenario:

1. cold open — a fresh server's first visit to the home page until every chart is drawn
   (includes importing the engine, loading the compiled settlement kernel and simulating);
2. open — a new session on the running server (the engine warm, the result cached), in a
   fresh browser profile (nothing cached: every script downloaded and compiled) and in a
   browser that has visited before (its HTTP and code caches warm), five of each;
3. one input changed — the sidebar's "Assigned beneficiaries" set to a new value (so the
   simulation really reruns: no cache hit) until every chart shows the new numbers, ten
   times; the median is the figure. Targets: open within 4 s, update within 1.5 s.

Usage: ``.venv/bin/python benchmarks/bench_ui.py [--url http://localhost:8501] [--changes 10]``
(without --url it starts its own server on a free port and stops it afterwards).
Chromium: /usr/bin/chromium (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

#: True once the script run has finished and every Plotly chart on the page has drawn.
READY_JS = """(minPlots) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]')) return false;
  // charts in a hidden tab are drawn when the tab opens: count the visible ones
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot')).filter(p => p.offsetParent !== null);
  if (plots.length < minPlots) return false;
  return plots.every(p => p._fullLayout && p.querySelector('.main-svg'));
}"""

#: A fingerprint of the data drawn in every chart (changes when any chart shows new numbers).
SIGNATURE_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(p => p.offsetParent !== null)
  .map(p => JSON.stringify((p.data || []).map(t => [t.x, t.y]))).join('|')"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(port: int | None = None, *, timeout: float = 90.0, log: Path | None = None) -> Iterator[str]:
    """Run ``streamlit run app.py`` headless on ``port`` (a free one by default); yield its URL."""
    port = port or free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}"
                                   + (f"; see {log}" if log else ""))
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if log:
            out.close()


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_ready(page, *, min_plots: int = 1, timeout_s: float = 60.0) -> None:
    page.wait_for_function(READY_JS, arg=min_plots, timeout=timeout_s * 1000, polling=50)


def open_page(b, url: str, *, width: int = 1280, height: int = 800, min_plots: int = 2,
              timeout_s: float = 120.0, ctx=None):
    """A new app session on ``url`` (in a fresh browser profile unless ``ctx`` is given);
    returns (page, seconds until every chart is drawn)."""
    ctx = ctx or b.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    wait_ready(page, min_plots=min_plots, timeout_s=timeout_s)
    return page, time.perf_counter() - t0


def open_group(page, title: str) -> None:
    """Open a sidebar group (expander) unless it is open already."""
    summary = page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary', has_text=title).first
    details = summary.locator("xpath=..")
    if details.get_attribute("open") is None:
        summary.click()
        wait_ready(page)


def change_and_wait(page, label: str, value: str, *, timeout_s: float = 30.0) -> float:
    """Type ``value`` into the number input labelled ``label``; seconds until the charts redraw."""
    box = page.get_by_label(label, exact=True)
    before = page.evaluate(SIGNATURE_JS)
    box.fill(value)
    t0 = time.perf_counter()
    box.press("Enter")
    page.wait_for_function(
        "([before, js]) => { const sig = eval(js)(); return sig !== before; }",
        arg=[before, SIGNATURE_JS], timeout=timeout_s * 1000, polling=20)
    wait_ready(page, timeout_s=timeout_s)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running app (default: start one on a free port)")
    ap.add_argument("--changes", type=int, default=10)
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} not found")
        return 0
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(serve())
        b = stack.enter_context(browser())
        page, cold = open_page(b, url)
        print(f"home page, first visit after server start: {cold:.2f} s (target 4 s)")
        page.context.close()
        fresh, returning = [], []
        for _ in range(5):
            page, t = open_page(b, url)
            fresh.append(t)
            _, t2 = open_page(b, url, ctx=page.context)  # the same browser, a second visit
            returning.append(t2)
            page.context.close()
        print(f"home page, new session, fresh browser profile: median {statistics.median(fresh):.2f} s "
              f"of {', '.join(f'{t:.2f}' for t in fresh)} (target 4 s)")
        print(f"home page, new session, returning browser (its cache warm): median "
              f"{statistics.median(returning):.2f} s of {', '.join(f'{t:.2f}' for t in returning)} (target 4 s)")
        page, _ = open_page(b, url)
        open_group(page, "ACO")
        label = "Assigned beneficiaries"
        times = []
        for i in range(args.changes):
            times.append(change_and_wait(page, label, str(20_000 + 500 * (i + 1))))
        print(f"one input changed -> charts updated: median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s over {len(times)} changes (target 1.5 s)")
        print("  each: " + ", ".join(f"{t:.2f}" for t in times))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
