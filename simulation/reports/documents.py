"""The report as one HTML file (interactive charts, plotly.js embedded once; or static
images) and as a PDF printed from it by headless Chrome or Chromium. All text is HTML-escaped;
the provenance is a block of the page and a ``<meta>`` field.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from ..model.montecarlo import SimulationResult
from ..model.montecarlo import summary as mc_summary
from . import charts, words
from .images import DRIVERS_TITLE, figures_png, key_figures
from .provenance import Provenance, ReportError, provenance
from .tables import appendix_table, comparison_display, display_table
from .words import NOT_OPEN_TITLE, board_sentence, key_assumptions, not_open, open_rows

_CSS = """
body { font-family: "Source Sans 3", "Helvetica Neue", Arial, sans-serif; color: #1f2933;
       max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 2rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #e6e9ee; }
h2, h3 { break-after: avoid; }
.prov { color: #5f6b7a; font-size: .9rem; } .rec { font-size: 1.3rem; font-weight: 600; } .detail { color: #3e4c59; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #e6e9ee; padding: .3rem .5rem; text-align: left; vertical-align: top; }
tr { break-inside: avoid; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.chart { width: 100%; height: auto; } section { break-inside: avoid; }
section.appendix { break-inside: auto; } section.appendix table { font-size: .8rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dt { color: #5f6b7a; }
footer { margin-top: 1.5rem; color: #5f6b7a; font-size: .8rem; }
@page { size: Letter; margin: 14mm 14mm 16mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  h1 { font-size: 20pt; } h2 { margin-top: 1.1rem; font-size: 14pt; }
  img.chart { max-height: 3.6in; width: auto; max-width: 100%; display: block; margin: 0 auto; }
}
"""


def _html_table(df: pd.DataFrame, numeric: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False, name=None):
        cells = "".join(
            f'<td class="num">{html.escape(str(v))}</td>' if c in numeric else f"<td>{html.escape(str(v))}</td>"
            for c, v in zip(df.columns, row, strict=True))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary_display(summary: pd.DataFrame) -> pd.DataFrame:
    s = open_rows(summary).sort_values("expected_net", ascending=False, kind="stable")
    return display_table(s, {
        "Track": ("track", "text", 0), "Expected net": ("expected_net", "money", 0),
        "Chance of owing CMS": ("p_owe_cms", "prob", 1), "Chance of ending behind": ("p_net_loss", "prob", 1),
        "Bad case (5th pct)": ("p5", "money", 0), "Median": ("p50", "money", 0),
        "Good case (95th pct)": ("p95", "money", 0),
    })


def _bullets(lines: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def report_html(result: SimulationResult, *, summary: pd.DataFrame | None = None,
                figures: Mapping[str, go.Figure] | None = None, images: Mapping[str, bytes] | None = None,
                prov: Provenance | None = None, recommendation_text: str | None = None,
                title: str | None = None, comparison: pd.DataFrame | None = None,
                drivers: Sequence[str] | None = None) -> str:
    """A one-file HTML report in the deck's order: the recommendation in one sentence and in
    detail, the summary table, the charts (the key one first), what drives the result
    (``drivers``), the scenarios compared (``comparison``), the assumptions that matter in
    words, and an appendix with every assumption and the provenance. Interactive Plotly
    charts with plotly.js embedded once in the page (works offline); with ``images`` (title
    -> PNG) static pictures instead and no script, which is what :func:`report_pdf` prints.
    All text is HTML-escaped."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    summary = summary if summary is not None else mc_summary(result)
    prov = prov or provenance(result)
    text = recommendation_text or words.recommendation_text(summary, len(result.years))
    heading = title or prov.scenario
    key = "Average result against the bad case"
    parts: dict[str, str] = {}
    if images is not None:
        for name, png in images.items():
            data = base64.b64encode(png).decode("ascii")
            parts[name] = (f'<img class="chart" alt="{html.escape(name)}" '
                           f'src="data:image/png;base64,{data}">')
        script = ""
    else:
        figs = figures if figures is not None else key_figures(result, summary)
        for i, (name, fig) in enumerate(figs.items()):
            parts[name] = pio.to_html(fig, full_html=False, include_plotlyjs=False, config=charts.CONFIG,
                                      div_id=f"chart-{i + 1}")
        script = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    drivers_part = parts.pop(DRIVERS_TITLE, "")
    chart_sections = "".join(f"<section><h2>{html.escape(n)}</h2>{parts[n]}</section>"
                             for n in sorted(parts, key=lambda t: t != key))
    drivers_section = (f"<section><h2>{DRIVERS_TITLE}</h2>{drivers_part}{_bullets(drivers)}</section>"
                       if drivers else "")
    compare_section = ""
    if comparison is not None and len(comparison):
        compare_section = ("<section><h2>The scenarios compared</h2>"
                           f"{_html_table(comparison_display(comparison))}</section>")
    meta = html.escape(json.dumps(prov.as_dict()), quote=True)
    prov_list = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in prov.items())
    sentence = board_sentence(summary, len(result.years))
    closed = not_open(result.scenario)
    closed_section = (f"<section><h2>{NOT_OPEN_TITLE}</h2>"
                      + _bullets([f"{t}: {why}" for t, why in closed]) + "</section>") if closed else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)} — acosim report</title>
<meta name="generator" content="acosim {html.escape(prov.acosim_version)}">
<meta name="acosim-provenance" content="{meta}">
<style>{_CSS}</style>
{script}
</head><body>
<header><h1>{html.escape(heading)}</h1>
<p class="prov">Medicare ACO risk tracks · {html.escape(prov.line())}</p></header>
<section><h2>Recommendation</h2><p class="rec">{html.escape(sentence)}</p>
{"" if text == sentence else f'<p class="detail">{html.escape(text)}</p>'}</section>
<section><h2>Summary by track</h2>
{_html_table(_summary_display(summary), numeric=("Expected net", "Chance of owing CMS", "Chance of ending behind", "Bad case (5th pct)", "Median", "Good case (95th pct)"))}
<p class="prov">Net result over the whole agreement after the ACO's own costs; chances and cases over
{prov.trials:,} simulated futures.</p></section>
{closed_section}
{chart_sections}
{drivers_section}
{compare_section}
<section><h2>The assumptions that matter</h2>{_bullets(key_assumptions(result.scenario))}</section>
<section id="provenance"><h2>Provenance</h2><dl>{prov_list}</dl></section>
<section class="appendix"><h2>Appendix: every assumption</h2>{_html_table(appendix_table(result.scenario))}
<footer>Made with acosim {html.escape(prov.acosim_version)}. Re-run with the same scenario, seed and
trials under rules {html.escape(prov.rules_version)} to reproduce every number.</footer></section>
</body></html>
"""


def find_browser() -> str | None:
    """Chrome or Chromium for printing PDFs: ``$ACOSIM_CHROMIUM``, else the first on PATH."""
    env = os.environ.get("ACOSIM_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def report_pdf(result: SimulationResult, *, summary: pd.DataFrame | None = None,
               figures: Mapping[str, go.Figure] | None = None, images: Mapping[str, bytes] | None = None,
               prov: Provenance | None = None, recommendation_text: str | None = None,
               title: str | None = None, browser: str | None = None, timeout: float = 120.0,
               comparison: pd.DataFrame | None = None, drivers: Sequence[str] | None = None) -> bytes:
    """The HTML report with static chart images, printed to PDF by headless Chrome/Chromium.

    Raises :class:`ReportError` (one line) if no browser is found or printing fails."""
    browser = browser or find_browser()
    if not browser:
        raise ReportError("PDF export needs Chrome or Chromium and none was found; install one or set "
                          "ACOSIM_CHROMIUM to its path (the HTML report needs neither)")
    summary = summary if summary is not None else mc_summary(result)
    if images is None:
        images = figures_png(figures if figures is not None else key_figures(result, summary), scale=1.5)
    page = report_html(result, summary=summary, images=images, prov=prov,
                       recommendation_text=recommendation_text, title=title, comparison=comparison,
                       drivers=drivers)
    with tempfile.TemporaryDirectory(prefix="acosim-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(page, encoding="utf-8")
        cmd = [browser, "--headless", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer",
               f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}", src.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"printing the PDF took longer than {timeout:g} s; try again") from None
        except OSError as exc:
            raise ReportError(f"cannot start {browser} to print the PDF ({exc.strerror or exc})") from None
        if not out.exists() or out.stat().st_size == 0:
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise ReportError(f"the browser did not print the PDF (exit {proc.returncode}: {detail[0][:160]})")
        return out.read_bytes()
