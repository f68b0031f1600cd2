"""A team on one server: 20 browser sessions on the dashboard at once, timed on the server.

    python benchmarks/bench_load.py [--sessions 20] [--changes 3] [--think 5 15]

Starts ``streamlit run app.py`` with ``ACOSIM_RUN_LOG`` set, so that app.py writes one line
per script run (its session, whether it was the session's first run, and the run's seconds,
measured inside the server, so the browsers competing for the same cores do not count). Then:

1. *with think time*: each session opens the home page, then changes an input every 5–15 s
   (a team at work), ``--changes`` times;
2. *synchronised burst*: every session changes an input at the same moment, ``--changes`` times.

Prints, for each, server-side p50/p95 of page ready (a session's first run), of opening a
sidebar group and of an input change (its later runs), the browser errors, and the server's
peak memory (VmHWM). The server gets a core of its own and the browsers the rest
(``--shared-cores`` to let them mix), so the browsers rendering charts do not slow the server
down on a machine that would in practice serve remote users. Targets on
the 2-core machine: p95 ≤ 3 s with think time, no errors in either, peak < 4 GB. Every loop is
bounded in count and time and talks only to the local server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_ui import CHROMIUM, CHROMIUM_ARGS, READY_JS, serve

LIMIT_S = 600  # no phase runs longer than this


def _server_pid(port: int) -> int | None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and str(port).encode() in cmd:
            return int(proc.name)
    return None


def _peak_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _session(browser, url, k, changes, think, barrier, errors):
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    page.set_default_timeout(LIMIT_S * 1000)
    rng = random.Random(k)
    try:
        await page.goto(url, wait_until="commit")
        await page.wait_for_function(READY_JS, arg=2, polling=200)
        await page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary',
                           has_text="ACO").first.click()
        await page.wait_for_function(READY_JS, arg=2, polling=200)
        for i in range(changes):
            if barrier is None:
                await asyncio.sleep(rng.uniform(*think))
            else:
                await barrier.wait()
            box = page.get_by_label("Assigned beneficiaries", exact=True)
            await box.fill(str(10_000 + 1_000 * ((k + i) % 30)))
            await box.press("Enter")
            await page.wait_for_timeout(300)
            await page.wait_for_function(READY_JS, arg=2, polling=200)
            if await page.locator('[data-testid="stException"]').count():
                errors.append(f"session {k}: exception box")
    except Exception as exc:
        errors.append(f"session {k}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    finally:
        await ctx.close()


async def _phase(url, sessions, changes, think, burst):
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        barrier = asyncio.Barrier(sessions) if burst else None
        await asyncio.wait_for(asyncio.gather(*(
            _session(browser, url, k, changes, think, barrier, errors) for k in range(sessions))), LIMIT_S)
        await browser.close()
    return errors


#: A session's script runs in order: the page (0), opening the sidebar's ACO group (1), then
#: one run per input change.
INTERACTIONS = (("page ready", lambda i: i == 0), ("open a sidebar group", lambda i: i == 1),
                ("input change", lambda i: i >= 2))


def _split_cores(server_pid: int | None) -> str:
    """Give the server the last core and this process (and the browsers it starts) the rest,
    so browsers rendering charts do not compete with the server for the same cores; the
    server's threads, and the threads it starts later, stay on its core."""
    cores = sorted(os.sched_getaffinity(0))
    if server_pid is None or len(cores) < 2:
        return "server and browsers share every core"
    server, others = {cores[-1]}, set(cores[:-1])
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task.name), server)
    os.sched_setaffinity(0, others)
    return f"server on core {cores[-1]}, browsers on core(s) {','.join(map(str, sorted(others)))}"


def _stats(rows):
    order: dict[str, int] = {}
    indexed = []
    for r in sorted(rows, key=lambda r: r.get("at", 0.0)):
        i = order.get(r["session"], 0)
        order[r["session"]] = i + 1
        indexed.append((i, r["seconds"]))
    out = {}
    for name, which in INTERACTIONS:
        x = np.array([sec for i, sec in indexed if which(i)])
        out[name] = (len(x), *(np.percentile(x, [50, 95]) if len(x) else (float("nan"),) * 2))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--changes", type=int, default=3)
    ap.add_argument("--think", type=float, nargs=2, default=(5.0, 15.0))
    ap.add_argument("--shared-cores", action="store_true",
                    help="let the browsers use the server's core too (default: split the cores)")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 50 or not 1 <= args.changes <= 10:
        ap.error("--sessions 1..50, --changes 1..10")
    log = Path(tempfile.mkdtemp()) / "runs.jsonl"
    os.environ["ACOSIM_RUN_LOG"] = str(log)
    results = {}
    with serve(timeout=180) as url:
        port = int(url.rsplit(":", 1)[1])
        pid = _server_pid(port)
        placement = "server and browsers share every core" if args.shared_cores else _split_cores(pid)
        # warm the server once (kernel compiled, engine ready), as a team's server would be
        asyncio.run(_phase(url, 1, 1, (0.0, 0.0), False))
        for name, burst in (("with think time", False), ("synchronised burst", True)):
            log.write_text("")
            errors = asyncio.run(_phase(url, args.sessions, args.changes, tuple(args.think), burst))
            rows = [json.loads(line) for line in log.read_text().splitlines() if line]
            results[name] = (_stats(rows), errors)
        peak = _peak_mb(pid)
    print(f"{args.sessions} sessions, {args.changes} input changes each; server-side seconds per script run")
    print(f"cores: {placement}")
    for name, (stats, errors) in results.items():
        print(f"\n{name}:")
        for what, (n, p50, p95) in stats.items():
            print(f"  {what:20s} n={n:3d}  p50 {p50:6.2f} s  p95 {p95:6.2f} s")
        print(f"  errors: {len(errors)}" + "".join(f"\n    {e}" for e in errors[:10]))
    print(f"\npeak server memory (VmHWM): {peak:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
