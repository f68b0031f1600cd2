"""Page building blocks: charts with their PNG button, HTML tables and cells, the KPI card
styles, the notices above the page, and Markdown-safe text. Pages place them; the figures
themselves come from simulation/reports/charts.py.
"""

from __future__ import annotations

import html
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import streamlit as st

from dashboard.state import NOTICE_PAGES, NOTICES, get_scenario
from simulation import reports
from simulation.model import eligibility, montecarlo
from simulation.model.scenario import Scenario
from simulation.reports import charts
from simulation.text import md_escape, money, printable


@st.cache_resource(max_entries=1, show_spinner=False)
def _figures() -> OrderedDict:
    return OrderedDict()


def figure(key: tuple, build: Callable[[], Any]):
    """The figure ``build()`` makes, kept for ``key`` (name, scenario JSON, options): a new
    session or a page switch then sends it without rebuilding it (figures are read-only)."""
    store = _figures()
    if key in store:
        store.move_to_end(key)
        return store[key]
    fig = build()
    store[key] = fig
    while len(store) > 64:
        store.popitem(last=False)
    return fig


def page_choice(key: str, options: list, default: Any) -> None:
    """Seed a page widget's value (a list for a multiselect), dropping choices no longer offered
    (the tracks of the scenario may have changed since the user chose). Create the widget with
    ``key`` and without a default afterwards."""
    state = st.session_state
    if key not in state:
        state[key] = default
        return
    value = state[key]
    if isinstance(value, list):
        kept = [v for v in value if v in options]
        if kept != value:
            state[key] = kept or default
    elif value not in options:
        state[key] = default


def chart_image(fig, scenario: Scenario, provenance: str | None = None) -> bytes:
    """``fig`` as a PNG with a provenance footer: ``provenance``, or the scenario's line."""
    line = provenance or reports.provenance(scenario).line()
    return reports.png_with_provenance(reports.figure_png(fig), line)


def chart(fig, key: str, *, provenance: str | None = None) -> None:
    """Show a figure from simulation.reports.charts with the house look (not Streamlit's theme), and
    under it a button that saves it as a PNG with its provenance in a footer: by default the
    current scenario (name, seed, futures, rules version, date), else the line given. The
    image is drawn (headless Chromium, a few seconds) only when the button is pressed."""
    st.plotly_chart(fig, key=key, theme=None, config=charts.CONFIG)
    s = get_scenario()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", s.name).strip("-").lower()[:40] or "scenario"
    st.download_button("Save as PNG", data=partial(chart_image, fig, s, provenance),
                       file_name=f"acosim-{key}-{slug}-seed{s.seed}.png",
                       mime="image/png", key=f"chart.png.{key}", type="tertiary", icon=":material/image:",
                       on_click="ignore",
                       help="This chart as an image for a slide, with the scenario, seed, simulated futures, "
                            "rules version and date in its footer (drawn when pressed; a few seconds).")


def key_codes(result: montecarlo.SimulationResult) -> dict[str, str]:
    """Track key -> catalog code (BASIC_GLIDE for the glide path)."""
    return {k: c.track for k, c in zip(result.keys, result.choices, strict=True)}


def colors_for(result: montecarlo.SimulationResult) -> dict[str, str]:
    codes = key_codes(result)
    return charts.color_map(codes.keys(), codes.values())


def scenario_caption(s: Scenario) -> str:
    years = s.years
    rules = " · CY2027 proposed rule (PROPOSED, not final law)" if s.market.cy2027_proposal else ""
    return (f"**{md_escape(s.name)}** · {s.aco.beneficiaries:,} beneficiaries · {years[0]}–{years[-1]} · "
            f"{s.trials:,} simulated futures · seed {s.seed}{rules}")


def inject_css() -> None:
    """Small style additions (KPI cards, tooltips) shared by the pages."""
    st.html(
        """
<style>
.kpis {display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px;}
.kpi {border: 1px solid #e3e7ec; border-radius: 10px; padding: 12px 14px 10px 14px;
      border-left: 6px solid var(--track); background: #fff; height: 100%;}
.kpi .name {font-weight: 600; font-size: 1.0rem; color: #1f2933; white-space: nowrap;
            overflow: hidden; text-overflow: ellipsis;}
.kpi .value {font-size: 1.75rem; font-weight: 700; line-height: 1.15; margin-top: 2px;}
.kpi .pm {font-size: 0.8rem; color: #5f6b7a; font-weight: 400;}
.kpi .sub {font-size: 0.8rem; color: #5f6b7a; margin-bottom: 6px;}
.kpi .row {font-size: 0.88rem; color: #1f2933; line-height: 1.45;}
.kpi .row b {font-weight: 600;}
.tip {border-bottom: 1px dotted #8a94a3; cursor: help;}
.st-key-story p {font-size: 1.15rem; line-height: 1.55;}
.acotable-wrap {overflow-x: auto; margin-bottom: 0.5rem;}
.acotable {width: 100%; border-collapse: collapse; font-size: 0.92rem; font-variant-numeric: tabular-nums;}
.acotable th {text-align: right; font-weight: 600; color: #5f6b7a; border-bottom: 1px solid #cfd5dc;
              padding: 6px 8px; vertical-align: bottom; line-height: 1.25;}
.acotable tr.group td {font-weight: 600; padding-top: 9px; background: #fafbfc;}
.acotable td {text-align: right; padding: 5px 8px; border-bottom: 1px solid #eef0f3; white-space: nowrap;}
.acotable th:first-child, .acotable td:first-child {text-align: left;}
.acotable td.l, .acotable th.l {text-align: left;}
.acotable tr:hover td {background: #f6f8fa;}
.acotable .src {color: #5f6b7a; font-size: 0.84rem; white-space: normal;}
.acotable td:has(.src) {white-space: normal; min-width: 14rem; text-align: left;}
.acotable td:has(.wrap) {white-space: normal; min-width: 9rem;}
.acotable.fixed {table-layout: fixed;}
.acotable.fixed td, .acotable.fixed th {white-space: normal; min-width: 0; overflow-wrap: anywhere; vertical-align: top;}
.acotable .brk {overflow-wrap: anywhere;}
.acotable.fixed th {overflow-wrap: normal;}
.acotable code.brk {font-size: 0.78rem; padding: 0; background: none;}
.acotable .changed {background: #fff1d6; border-radius: 4px; padding: 1px 5px; font-weight: 600;}
dl.prov {display: grid; grid-template-columns: max-content auto; gap: 3px 14px; font-size: 0.92rem; margin: 0;}
dl.prov dt {color: #5f6b7a;} dl.prov dd {margin: 0;}
.sw {display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 8px;
     vertical-align: -1px;}
[data-testid="stMainBlockContainer"] {padding-top: 2.5rem; padding-bottom: 3rem;}
[data-testid="stSidebarContent"] [data-testid="stCaptionContainer"] {font-size: 0.75rem; line-height: 1.3;}
</style>
"""
    )


def money_cell(x: float | None, *, signed: bool = True) -> str:
    """A table cell with money coloured by its sign (gain/loss colours of the charts)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f'<span style="color:{charts.money_color(x)}">{money(x, signed=signed)}</span>'


def track_cell(name: str, color: str, tip: str | None = None) -> str:
    title = f' title="{html.escape(tip)}"' if tip else ""
    return f'<span class="sw" style="background:{color}"></span><span{title}>{html.escape(name)}</span>'


def html_table(rows: list[list[str] | str], headers: list[tuple[str, str | None]], *, left: int = 1,
               fixed: tuple[float, ...] | None = None) -> None:
    """A compact table (cells already formatted as HTML); ``headers`` are (title, tooltip).

    Lighter and more legible than a data grid for a dozen rows, and every header can carry
    its plain-language explanation as a tooltip. ``fixed``: each column's share of the width
    in percent; the table then keeps to the page's width and long text wraps in its cell."""
    head = "".join(
        f'<th class="{"l" if i < left else ""}"' + (f' title="{html.escape(tip)}"><span class="tip">' if tip else ">")
        + html.escape(title) + ("</span>" if tip else "") + "</th>"
        for i, (title, tip) in enumerate(headers))
    def row(r: list[str] | str) -> str:
        if isinstance(r, str):  # a group heading across the whole table
            return f'<tr class="group"><td colspan="{len(headers)}">{r}</td></tr>'
        return "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"

    body = "".join(row(r) for r in rows)
    cols = ("<colgroup>" + "".join(f'<col style="width:{w:g}%">' for w in fixed) + "</colgroup>") if fixed else ""
    cls = "acotable fixed" if fixed else "acotable"
    st.html(f'<div class="acotable-wrap"><table class="{cls}">{cols}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def available(result: montecarlo.SimulationResult) -> list[str]:
    """Track keys open to the ACO for an agreement starting when the scenario starts
    (:mod:`simulation.model.eligibility`: the program's years, the minimum size, 42 CFR 425.600(d));
    the others are simulated as a what-if and never recommended."""
    return eligibility.open_keys(result.scenario)


def notes_by_text(result: montecarlo.SimulationResult) -> list[tuple[str, list[str], bool]]:
    """Eligibility notes, each once, with the tracks it concerns and whether it is a what-if
    (rules carried beyond the years a track ran) rather than an eligibility problem."""
    out: dict[str, list[str]] = {}
    for key, notes in result.notes.items():
        for n in notes:
            out.setdefault(n, []).append(key)
    return [(n, ks, "nearest year's rules" in n) for n, ks in out.items()]



NOTICE_ICONS = {"success": ":material/check_circle:", "info": ":material/info:",
                "warning": ":material/warning:", "error": ":material/error:"}


def show_notices(page: str = "") -> None:
    """Draw the notices that still concern the current scenario (app.py, above the page).

    A notice stays while the user works on the page where it was first shown, and is gone
    once another page is opened: it was read, and repeating it on every page is noise."""
    notes = st.session_state.get(NOTICES)
    if not notes:
        return
    current = get_scenario().model_dump_json()
    first_shown = st.session_state.setdefault(NOTICE_PAGES, {})
    keep = []
    for note in notes:
        if note[2] != current:
            continue
        if first_shown.setdefault(note, page) != page:
            first_shown.pop(note, None)
            continue
        keep.append(note)
    st.session_state[NOTICES] = keep
    for kind, text, _ in keep:
        getattr(st, kind)(md(printable(text)), icon=NOTICE_ICONS.get(kind))


def md(text: str) -> str:
    """Text for st.markdown and alerts with its dollar signs escaped, so that "$860K … $1.5M"
    or "($M a year)" is not typeset as a formula."""
    return re.sub(r"(?<!\\)\$", r"\\$", text)
