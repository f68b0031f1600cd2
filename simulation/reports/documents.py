"""Exports with provenance: CSV, Excel, PNG, a board-ready PowerPoint, one-file HTML and PDF.

Every export carries its provenance — scenario name, seed, trials, rules version
(:func:`simulation.rules.catalog.rules_version`), acosim version and the date — so that any number
in it can be reproduced: CSV files start with ``# key: value`` lines (read them back with
``pandas.read_csv(..., comment="#")``), the workbook has a *Provenance* sheet and document
properties, every slide has a footer, and the HTML and PDF reports a provenance block.

All functions return bytes (or text for HTML) so the dashboard can hand them to a download
button; nothing here imports streamlit. Charts come from :mod:`simulation.reports.charts` (the
house look); PNG and PDF rendering needs Chrome or Chromium (kaleido finds
``/usr/bin/chromium``), and every failure there is a one-line :class:`ReportError`.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import html
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import __version__
from ..model.montecarlo import SimulationResult
from ..model.montecarlo import by_year as mc_by_year
from ..model.montecarlo import summary as mc_summary
from ..model.scenario import SCHEMA_VERSION, Scenario, calibrated_defaults, default_source
from ..rules.catalog import rules_version
from ..text import cell_safe, money, pct
from . import charts
from .words import no_entry_text, not_open, open_rows, recommendation_text

EXCEL_MAX_ROWS = 1_048_576
#: Trials written to the workbook's *Per trial* sheet (the CSV export has every trial).
XLSX_TRIAL_ROWS = 200_000


#: The title of the drivers chart in an ``images`` mapping (its own slide, with the words).
DRIVERS_TITLE = "What drives the result"
NOT_OPEN_TITLE = "Not open to this ACO"


class ReportError(RuntimeError):
    """An export could not be produced (e.g. no browser to draw charts); one line."""


# --------------------------------------------------------------------------- provenance


@dataclass(frozen=True)
class Provenance:
    """Where a set of numbers comes from: enough to reproduce every one of them."""

    scenario: str
    seed: int
    trials: int
    rules_version: str
    created: str          # ISO 8601, UTC, to the second
    acosim_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    years: str = ""

    @property
    def date(self) -> str:
        return self.created[:10]

    def items(self) -> list[tuple[str, str]]:
        """(label, value) pairs in reading order."""
        out = [("Scenario", self.scenario), ("Seed", str(self.seed)),
               ("Simulated futures (trials)", f"{self.trials:,}")]
        if self.years:
            out.append(("Agreement years", self.years))
        out += [("Rules version", self.rules_version), ("acosim version", self.acosim_version),
                ("Scenario schema version", str(self.schema_version)), ("Created (UTC)", self.created)]
        return out

    def line(self) -> str:
        """One line for footers: scenario · seed · trials · rules · date."""
        return (f"{self.scenario} · seed {self.seed} · {self.trials:,} futures · rules "
                f"{self.rules_version} · acosim {self.acosim_version} · {self.date}")

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "seed": self.seed, "trials": self.trials,
                "years": self.years, "rules_version": self.rules_version,
                "acosim_version": self.acosim_version, "schema_version": self.schema_version,
                "created": self.created}


def provenance(source: SimulationResult | Scenario, *, name: str | None = None,
               created: datetime | None = None) -> Provenance:
    """The provenance of a simulation result (or of a scenario about to be simulated)."""
    scenario = source.scenario if isinstance(source, SimulationResult) else source
    seed = source.seed if isinstance(source, SimulationResult) else scenario.seed
    trials = source.trials if isinstance(source, SimulationResult) else scenario.trials
    years = scenario.years
    stamp = (created or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    return Provenance(scenario=name or scenario.name, seed=int(seed), trials=int(trials),
                      rules_version=rules_version(), created=stamp,
                      years=f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0]))


# --------------------------------------------------------------------------- words and tables


def recommendation(summary: pd.DataFrame, years: int | None = None) -> str:
    """The result in plain words, for a board: which track pays the most on average, how
    often it means owing CMS and how bad the bad case is, and the safest alternative.

    :func:`simulation.reports.words.recommend` (one wording everywhere, only open tracks),
    without its markdown. ``years`` defaults to the agreement length in ``summary.attrs``.
    """
    return recommendation_text(summary, years)  # the one wording: only open tracks are named


#: Summary columns as a reader sees them: machine name -> (label, kind).
SUMMARY_LABELS: dict[str, tuple[str, str]] = {
    "track": ("Track", "text"),
    "code": ("Catalog code", "text"),
    "expected_net": ("Expected net ($)", "money"),
    "mcse": ("Monte Carlo error of expected net ($)", "money"),
    "expected_earned": ("Expected settlement ($)", "money"),
    "expected_shared_savings": ("Expected shared savings ($)", "money"),
    "expected_shared_losses": ("Expected shared losses ($)", "money"),
    "p_any_payment": ("Chance of any payment", "prob"),
    "p_owe_cms": ("Chance of owing CMS", "prob"),
    "p_net_loss": ("Chance of ending behind", "prob"),
    "p5": ("Bad case, 5th percentile ($)", "money"),
    "p25": ("25th percentile ($)", "money"),
    "p50": ("Median ($)", "money"),
    "p75": ("75th percentile ($)", "money"),
    "p95": ("Good case, 95th percentile ($)", "money"),
    "es5": ("Average of the worst 5% ($)", "money"),
    "largest_allowed_loss": ("Largest loss the rules allow ($)", "money"),
    "rules_carried": ("Rules carried past the catalog's years", "bool"),
    "open": ("Open to this ACO", "bool"),
    "why": ("Why not open", "text"),
}


def summary_for_export(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with reader-friendly column names (unknown columns keep their name)."""
    return summary.rename(columns={k: v[0] for k, v in SUMMARY_LABELS.items()})


def _fmt_value(value: Any, unit: str) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if unit.startswith("$"):
        return f"${value:,.0f}"
    if unit in ("share", "share of benchmark", "share of avoided spending", "per year", "probability"):
        return pct(float(value), 2)
    if unit in ("year", "agreement year"):
        return str(value)
    if unit == "score 0-1":
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"


def assumptions_table(scenario: Scenario) -> pd.DataFrame:
    """Every input of the scenario as a reader sees it: section, input, value, unit, path
    and, for a calibrated default left unchanged, its source."""
    rows = []
    calibrated = calibrated_defaults()
    for section, info in Scenario.model_fields.items():
        if section in ("schema_version", "tracks", "name", "trials", "seed"):
            continue
        model = info.annotation
        obj = getattr(scenario, section)
        for name, field_info in model.model_fields.items():  # type: ignore[union-attr]
            extra = field_info.json_schema_extra if isinstance(field_info.json_schema_extra, dict) else {}
            value = getattr(obj, name)
            unit = str(extra.get("unit", ""))
            key = extra.get("default_source")
            source = default_source(key) if key and value == calibrated[key][0] else ""
            if name == "enrollment_mix" and value is not None:
                text = ", ".join(f"{k.replace('_', ' ')} {pct(v, 1)}" for k, v in value.model_dump().items())
            else:
                text = _fmt_value(value, unit)
            rows.append({"section": section.capitalize() if section != "aco" else "ACO",
                         "input": extra.get("label", name), "value": text, "unit": unit,
                         "path": f"{section}.{name}", "source": source})
    for i, choice in enumerate(scenario.tracks, 1):
        rows.append({"section": "Tracks", "input": f"Track {i}", "value": choice.key, "unit": "",
                     "path": f"tracks[{i - 1}]", "source": choice.track})
    rows.append({"section": "Simulation", "input": "Simulated futures", "value": f"{scenario.trials:,}",
                 "unit": "trials", "path": "trials", "source": ""})
    rows.append({"section": "Simulation", "input": "Random seed", "value": str(scenario.seed),
                 "unit": "", "path": "seed", "source": ""})
    return pd.DataFrame(rows)


def per_trial_table(result: SimulationResult) -> pd.DataFrame:
    """Net result over the agreement per trial (rows, numbered from 1) and track (columns)."""
    df = pd.DataFrame(result.net_total, columns=list(result.keys))
    df.index = pd.RangeIndex(1, result.trials + 1, name="trial")
    return df


# --------------------------------------------------------------------------- CSV


def _csv(df: pd.DataFrame, prov: Provenance, *, index: bool = False, what: str = "") -> bytes:
    buf = io.StringIO()
    buf.write(f"# acosim export{': ' + what if what else ''}\n")
    for label, value in prov.items():
        buf.write(f"# {label}: {value}\n")
    _cells_safe(df).to_csv(buf, index=index, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _cells_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell, column name and index label neutralised for spreadsheets
    (:func:`simulation.text.cell_safe`): a label such as ``=HYPERLINK(...)`` stays text."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(cell_safe)
    out.columns = [cell_safe(str(c)) for c in out.columns]
    if not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(cell_safe)
    return out


def summary_csv(summary: pd.DataFrame, prov: Provenance) -> bytes:
    """The per-track summary as CSV (machine column names), provenance in ``#`` lines."""
    return _csv(summary, prov, what="summary per track")


def trials_csv(result: SimulationResult, prov: Provenance | None = None) -> bytes:
    """Net over the agreement per trial and track as CSV, provenance in ``#`` lines."""
    return _csv(per_trial_table(result), prov or provenance(result), index=True,
                what="net result per trial and track ($)")


# --------------------------------------------------------------------------- Excel


_SHEET_BAD = str.maketrans(dict.fromkeys("[]:*?/\\", " "))


def _sheet_name(name: str, taken: set[str]) -> str:
    base = name.translate(_SHEET_BAD).strip()[:31] or "Sheet"
    out, i = base, 2
    while out.lower() in taken:
        out = f"{base[:28]} {i}"
        i += 1
    taken.add(out.lower())
    return out


def xlsx_bytes(result: SimulationResult, *, summary: pd.DataFrame | None = None,
               by_year: pd.DataFrame | None = None, prov: Provenance | None = None,
               extra_sheets: Mapping[str, pd.DataFrame] | None = None,
               max_trial_rows: int = XLSX_TRIAL_ROWS) -> bytes:
    """An Excel workbook: *Summary* (friendly headers, money and % formats), *By year*,
    *Per trial* (net per trial per track; the first ``max_trial_rows`` trials, which the
    *Provenance* sheet then says), *Assumptions*, any ``extra_sheets`` (e.g. the side-by-side
    table of :func:`simulation.model.compare.compare_scenarios`) and *Provenance*. Numbers are
    stored unrounded so they equal the engine's values."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    summary = summary if summary is not None else mc_summary(result)
    by_year = by_year if by_year is not None else mc_by_year(result)
    prov = prov or provenance(result)
    wb = Workbook(write_only=True)
    wb.properties.title = f"acosim results: {prov.scenario}"
    wb.properties.creator = f"acosim {prov.acosim_version}"
    wb.properties.description = prov.line()
    wb.properties.keywords = f"seed={prov.seed}; trials={prov.trials}; rules={prov.rules_version}"
    bold = Font(bold=True)
    taken: set[str] = set()

    def header(ws, labels):
        cells = []
        for label in labels:
            c = WriteOnlyCell(ws, value=cell_safe(str(label)))
            c.font = bold
            cells.append(c)
        ws.append(cells)

    def table(title: str, df: pd.DataFrame, kinds: Mapping[str, str] | None = None, widths: int = 16):
        ws = wb.create_sheet(_sheet_name(title, taken))
        cols = list(df.columns)
        for i in range(len(cols)):
            ws.column_dimensions[_col_letter(i)].width = widths if i else max(widths, 24)
        header(ws, cols)
        formats = {"money": '"$"#,##0;[Red]-"$"#,##0', "prob": "0.0%"}
        fmt = [formats.get((kinds or {}).get(c, "")) for c in cols]
        for row in df.itertuples(index=False, name=None):
            cells = []
            for value, f in zip(row, fmt, strict=True):
                value = _excel_value(value)
                if f and isinstance(value, float):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = f
                    cells.append(cell)
                else:
                    cells.append(value)
            ws.append(cells)
        return ws

    friendly = summary_for_export(summary)
    kinds = {v[0]: v[1] for v in SUMMARY_LABELS.values()}
    table("Summary", friendly, kinds)
    if by_year is not None and len(by_year):
        money_cols = [c for c in by_year.columns if c.startswith(("expected_", "cum_net_")) or c.endswith("_pc")]
        prob_cols = [c for c in by_year.columns if c.startswith("p_")]
        table("By year", by_year, {**dict.fromkeys(money_cols, "money"), **dict.fromkeys(prob_cols, "prob")})
    trials = per_trial_table(result)
    shown = trials.iloc[:min(max_trial_rows, EXCEL_MAX_ROWS - 1)]
    ws = wb.create_sheet(_sheet_name("Per trial", taken))
    ws.column_dimensions["A"].width = 10
    header(ws, ["trial", *shown.columns])
    for i, row in zip(shown.index, shown.to_numpy(), strict=True):
        ws.append([int(i), *(float(v) for v in row)])
    table("Assumptions", assumptions_table(result.scenario).drop(columns="path"), widths=22)
    for title, df in (extra_sheets or {}).items():
        table(title, df)
    ws = wb.create_sheet(_sheet_name("Provenance", taken))
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 60
    header(ws, ["Item", "Value"])
    for label, value in prov.items():
        ws.append([cell_safe(label), cell_safe(value)])
    if len(shown) < len(trials):
        ws.append(["Per trial sheet", f"the first {len(shown):,} of {len(trials):,} trials (the CSV export "
                                      "has every trial)"])
    ws.append(["Reproduce", "acosim simulate --scenario FILE --seed "
                            f"{prov.seed} --trials {prov.trials} (same rules version)"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _excel_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, list | tuple | dict):
        return cell_safe(json.dumps(value))
    return cell_safe(value)


# --------------------------------------------------------------------------- charts


def key_figures(result: SimulationResult, summary: pd.DataFrame | None = None,
                by_year: pd.DataFrame | None = None, *, max_tracks: int = 6) -> dict[str, go.Figure]:
    """The charts a board needs, titled: the range of outcomes, average against bad case,
    and the cumulative net year by year (the best tracks by expected net)."""
    summary = summary if summary is not None else mc_summary(result)
    colors = charts.color_map(result.keys, [c.track for c in result.choices])
    shown = open_rows(summary) if len(open_rows(summary)) else summary  # the tracks the ACO can enter
    top = shown.sort_values("expected_net", ascending=False, kind="stable")["track"].head(max_tracks).tolist()
    quant = charts.quantile_table(result.sorted_net, result.keys, presorted=True)
    figs = {"Range of outcomes over the agreement": charts.distribution(quant, summary, colors, tracks=top)}
    if len(top) > 1:
        # every track on the chart with its values: a document cannot be hovered or zoomed
        figs["Average result against the bad case"] = charts.risk_return(
            summary[summary["track"].isin(top)], colors, focus=False, values=True,
            height=600, plot_width=EXPORT_WIDTH - 120)  # the image's width less the money axis
    if result.scenario.aco.agreement_years > 1:
        by_year = by_year if by_year is not None else mc_by_year(result)
        figs["Cumulative net, year by year"] = charts.fan(by_year, colors, top[:3])
    return figs


def _run_async(coro_factory):
    """Run an async function to completion from sync code, even inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


#: The width in pixels of the charts drawn for the documents.
EXPORT_WIDTH = 1100


def figures_png(figures: Mapping[str, go.Figure], *, width: int = EXPORT_WIDTH, height: int | None = None,
                scale: float = 2.0, fmt: str = "png", timeout: float = 120.0) -> dict[str, bytes]:
    """Each figure as a PNG (or ``fmt``: 'svg', 'pdf', 'jpeg'), all in one browser session.

    ``height`` defaults to each figure's own layout height (else 500 px). Raises
    :class:`ReportError` if Chrome/Chromium cannot be started or a figure cannot be drawn.
    """
    if not figures:
        return {}
    try:
        import kaleido
    except ImportError:
        raise ReportError("chart images need the kaleido package (pip install kaleido)") from None

    async def render():
        out = {}
        async with kaleido.Kaleido(n=1, timeout=timeout, mathjax=False) as k:
            for title, fig in figures.items():
                h = height or (fig.layout.height if fig.layout.height else 500)
                out[title] = await k.calc_fig(fig, opts={"format": fmt, "width": width, "height": h,
                                                         "scale": scale})
        return out

    try:
        return _run_async(render)
    except Exception as exc:  # kaleido/choreographer raise many kinds; the user needs one line
        message = " ".join(str(exc).split())[:200] or exc.__class__.__name__
        raise ReportError(f"cannot draw the charts as images ({exc.__class__.__name__}: {message}); "
                          "kaleido needs Chrome or Chromium (e.g. /usr/bin/chromium)") from None


def figure_png(fig: go.Figure, **kw: Any) -> bytes:
    """One figure as PNG bytes (see :func:`figures_png`)."""
    return figures_png({"figure": fig}, **kw)["figure"]


def png_with_provenance(png: bytes, line: str) -> bytes:
    """A chart image with a provenance footer under it and in its PNG text fields."""
    from PIL import Image, ImageDraw, ImageFont
    from PIL.PngImagePlugin import PngInfo

    image = Image.open(io.BytesIO(png)).convert("RGB")
    size = max(13, image.width // 85)
    font = ImageFont.load_default(size=size)
    text = f"Source: acosim · {line}"
    pad = int(size * 2.2)
    out = Image.new("RGB", (image.width, image.height + pad), "white")
    out.paste(image, (0, 0))
    ImageDraw.Draw(out).text((size, image.height + (pad - size) // 2), text, fill=(95, 107, 122), font=font)
    info = PngInfo()
    info.add_text("Title", "acosim chart")
    info.add_text("Description", text)
    buf = io.BytesIO()
    out.save(buf, "PNG", pnginfo=info, optimize=True)
    return buf.getvalue()


# --------------------------------------------------------------------------- PowerPoint


def _short_source(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain_source(text: str) -> str:
    """A default's source for a reader: the document named, without links or anchors."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", str(text))       # markdown links -> their words
    text = re.sub(r"\S*(?:\.md|\.yaml|\.csv)#?\S*", "", text)        # file paths and anchors
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"(?<![\d.])\d+\.\d{4,}", lambda m: f"{float(m.group()):.3g}", text)  # 0.0344 -> 0.0344
    text = " ".join(text.replace(" ,", ",").split()).strip(" ;,·-–")
    return text or "acosim calibration (see the Excel file)"


def _key_numbers(summary: pd.DataFrame, n: int = 6) -> pd.DataFrame:
    top = open_rows(summary).sort_values("expected_net", ascending=False, kind="stable").head(n)
    return pd.DataFrame({
        "Track": top["track"],
        "Expected net": top["expected_net"].map(lambda v: money(v, signed=True)),
        "Chance of ending behind": top["p_net_loss"].map(lambda v: pct(v, 1)),
        "Chance of owing CMS": top["p_owe_cms"].map(lambda v: pct(v, 0)),
        "Bad case (1 in 20)": top["p5"].map(lambda v: money(v, signed=True)),
        "Good case (1 in 20)": top["p95"].map(lambda v: money(v, signed=True)),
    })


def board_sentence(summary: pd.DataFrame, years: int | None = None) -> str:
    """The recommendation in one sentence, with the chance of ending behind: the track that
    pays the most on average among the rows of ``summary`` (pass only the open tracks)."""
    n = years or len(summary.attrs.get("years", ())) or 1
    if open_rows(summary).empty:
        return no_entry_text(summary)
    best = open_rows(summary).sort_values("expected_net", ascending=False, kind="stable").iloc[0]
    span = f"the {n}-year agreement" if n > 1 else "the year"
    return (f"Recommended: {best['track']}, which averages {money(best['expected_net'], signed=True)} over "
            f"{span} after the ACO's own costs, with a {pct(best['p_net_loss'], 1)} chance of ending behind.")


def key_assumptions(scenario: Scenario) -> list[str]:
    """The few assumptions that move the result most, as sentences a board can check."""
    a, p, c, m = scenario.aco, scenario.performance, scenario.costs, scenario.market
    years = scenario.years
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])
    lo, hi = p.savings_effect - 2 * p.savings_effect_sd, p.savings_effect + 2 * p.savings_effect_sd
    return [
        f"{a.beneficiaries:,} assigned beneficiaries at {money(a.benchmark_pc)} of Medicare spending "
        f"each a year, over an agreement of {a.agreement_years} years ({span}).",
        f"The ACO's programmes cut spending by {pct(p.savings_effect, 1)} once fully working "
        f"(after {p.ramp_years} years); we are not sure of it: in 19 of 20 futures the true effect lies "
        f"between {pct(lo, 1)} and {pct(hi, 1)}.",
        f"Quality: an average score of {p.quality_mean:.2f} (0 to 1) and a {pct(p.qps_probability, 0)} "
        "chance of meeting the quality standard each year.",
        f"Running the ACO costs {money(c.annual_operating_cost)} a year, after a start-up investment of "
        f"{money(c.startup_investment)}.",
        f"National spending grows {pct(m.trend_mean, 1)} a year on average, give or take "
        f"{pct(m.trend_sd, 1)}.",
    ]


def drivers_table(result: SimulationResult, track: str, *, trials: int = 2_000) -> pd.DataFrame:
    """Each main assumption's swing on ``track``'s expected net (the tornado), on fewer
    futures and settling only that track, for the deck and the report."""
    from ..model.montecarlo import only_tracks
    from ..model.montecarlo import tornado as mc_tornado

    scenario = only_tracks(result.scenario, [track])
    df = mc_tornado(scenario, trials=min(trials, result.trials))
    for side in ("low", "high"):
        df[f"{side}_text"] = [_input_text(p, v) for p, v in zip(df["input"], df[f"{side}_value"], strict=True)]
    return df


def _input_text(path: str, value: Any) -> str:
    """An input's value as a reader sees it ('3.8%', '$1.50M', '20,000'), from its unit."""
    section, name = path.split(".", 1)
    model = Scenario.model_fields[section].annotation
    field = model.model_fields[name]  # type: ignore[union-attr]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    unit = str(extra.get("unit", ""))
    if unit.startswith("$"):
        return money(float(value))
    percent = ("share", "share of benchmark", "share of avoided spending", "per year", "probability")
    if unit not in percent and float(value).is_integer():
        return f"{int(value):,}"
    if isinstance(value, float) and unit not in ("share", "share of benchmark", "share of avoided spending",
                                                 "per year", "probability"):
        return f"{value:.3g}"
    text = _fmt_value(value, unit)
    return text[:-3] + "%" if text.endswith(".00%") else text


def drivers_text(tdf: pd.DataFrame, track: str, n: int = 3) -> list[str]:
    """The ``n`` assumptions that move ``track``'s expected net most, in words."""
    rows = tdf[(tdf["track"] == track) & (tdf["low_value"] != tdf["high_value"])]
    if "low_text" not in rows:
        rows = rows.assign(low_text=rows["low_value"].map(str), high_text=rows["high_value"].map(str))
    rows = rows.sort_values("swing", ascending=False, kind="stable").head(n)
    out = []
    for r in cast(Iterable[Any], rows.itertuples()):
        out.append(f"{r.label}: at {r.low_text} the expected net is {money(r.net_low, signed=True)}, at "
                   f"{r.high_text} it is {money(r.net_high, signed=True)} (as assumed: "
                   f"{money(r.base_net, signed=True)}).")
    return out


#: The side-by-side columns a reader needs: column -> (heading, kind).
COMPARISON_COLUMNS: dict[str, tuple[str, str]] = {
    "scenario": ("Scenario", "text"), "track": ("Track", "text"),
    "expected_net": ("Expected net", "money"), "delta_expected_net": ("Difference", "money"),
    "p_net_loss": ("Chance of ending behind", "prob"), "p_owe_cms": ("Chance of owing CMS", "prob"),
    "p5": ("Bad case (1 in 20)", "money"), "p95": ("Good case (1 in 20)", "money"),
    "p_better": ("Better than the first in", "prob"),
}


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table (:func:`simulation.model.compare.compare_results`) as a reader sees
    it: the columns that matter, money in $K/$M, chances as percentages, '–' where empty."""
    out = {}
    for col, (heading, kind) in COMPARISON_COLUMNS.items():
        if col not in comparison:
            continue
        values = comparison[col]
        if kind == "money":
            values = values.map(lambda v: money(v, signed=True))
        elif kind == "prob":
            values = values.map(lambda v: pct(v, 1))
        out[heading] = values.map(lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return pd.DataFrame(out)


def appendix_table(scenario: Scenario) -> pd.DataFrame:
    """The full assumptions table for an appendix: tracks by name, sources in words."""
    table = assumptions_table(scenario)
    # the tracks in one row, by the names the reader knows (catalog codes are for machines)
    tracks = table["section"] == "Tracks"
    first = int(np.flatnonzero(tracks.to_numpy())[0]) if tracks.any() else len(table)
    row = pd.DataFrame([{"section": "Tracks", "input": "Tracks compared", "unit": "", "source": "",
                         "value": ", ".join(c.key for c in scenario.tracks), "path": "tracks"}])
    table = pd.concat([table.iloc[:first], row, table[~tracks].iloc[first:]], ignore_index=True)
    mix = scenario.aco.enrollment_mix
    if mix is not None:
        from ..model.scenario import EnrollmentMix

        words = {n: str((f.json_schema_extra or {}).get("label", n))  # type: ignore[union-attr]
                 for n, f in EnrollmentMix.model_fields.items()}
        table.loc[table["input"] == "Enrollment mix", "value"] = ", ".join(
            f"{words[k]} {pct(v, 1)}" for k, v in mix.model_dump().items())

    def tidy(value: str, unit: str) -> str:
        if re.fullmatch(r"-?\d+\.\d{4,}", value):  # an unrounded float: three significant digits
            value = f"{float(value):.3g}"
        value = re.sub(r"\.0+%$", "%", value)  # 100.00% -> 100%
        return f"{value}×" if unit == "times" and value[:1].isdigit() else value

    table["value"] = [tidy(v, u) for v, u in zip(table["value"], table["unit"], strict=True)]
    table["source"] = table["source"].map(lambda t: _plain_source(t) if t else "")
    return table[["section", "input", "value", "source"]].rename(columns={
        "section": "Section", "input": "Input", "value": "Value", "source": "Source of the default"})


def _notes(slide, text: str) -> None:
    slide.notes_slide.notes_text_frame.text = text


def _ten_year_slide(new_slide, textbox, add_table, horizon, width, inches, grey) -> None:
    """The deck's ten-year slide: simulation/horizon_report's sentences and its table."""
    from . import horizon as horizon_report

    words = horizon_report.sentences(horizon)
    span = f"{horizon.years[0]}–{horizon.years[-1]}"
    slide = new_slide(f"Ten years ({span}): MSSP's renewal against LEAD's fixed benchmark",
                      " ".join(words) + f" {horizon.scenario.trials:,} simulated futures, seed {horizon.scenario.seed}; "
                      "every path settled on the same futures (acosim simulate --horizon 10).")
    textbox(slide, inches(0.6), inches(1.25), width - inches(1.2), inches(2.6), words, 15)
    rows = [{"Path": p["path"], "Ten-year net": money(p["ten_year_net"], signed=True),
             "Present value": money(p["present_value"], signed=True)}
            for p in horizon.summary() if p["settled"]]
    add_table(slide, pd.DataFrame(rows), inches(4.2), [0.5, 0.25, 0.25], size=13, row_height=0.36)


def pptx_bytes(result: SimulationResult, *, summary: pd.DataFrame | None = None,
               figures: Mapping[str, go.Figure] | None = None, images: Mapping[str, bytes] | None = None,
               prov: Provenance | None = None, recommendation_text: str | None = None,
               title: str | None = None, comparison: pd.DataFrame | None = None,
               drivers: Sequence[str] | None = None, horizon: Any = None) -> bytes:
    """A board-ready deck (``horizon``: a simulation.model.horizon.HorizonResult adds the ten-year slide): title; the recommendation in one sentence with the key numbers;
    the key chart and the others; what drives the result (``drivers``: sentences, with the
    'What drives the result' image if in ``images``); the side-by-side of the scenarios
    compared (``comparison``); the assumptions that matter in words; the full assumptions
    table as an appendix. Speaker notes on every slide; provenance in every footer.

    Charts: ``images`` (title -> PNG bytes, e.g. from :func:`figures_png`) if given, else
    ``figures`` rendered here, else :func:`key_figures`.
    """
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.util import Emu, Inches, Pt

    summary = summary if summary is not None else mc_summary(result)
    prov = prov or provenance(result)
    text = recommendation_text or recommendation(summary, len(result.years))
    if images is None:
        images = figures_png(figures if figures is not None else key_figures(result, summary))
    images = dict(images)
    drivers_png = images.pop(DRIVERS_TITLE, None)
    ink, grey = RGBColor(0x1F, 0x29, 0x33), RGBColor(0x5F, 0x6B, 0x7A)

    prs = Presentation()
    width, height = Inches(13.333), Inches(7.5)  # 16:9
    prs.slide_width, prs.slide_height = width, height
    blank = prs.slide_layouts[6]
    prs.core_properties.title = title or prov.scenario
    prs.core_properties.author = f"acosim {prov.acosim_version}"
    prs.core_properties.comments = prov.line()
    prs.core_properties.keywords = f"seed={prov.seed}; trials={prov.trials}; rules={prov.rules_version}"

    def textbox(slide, left, top, w, h, text, size, *, bold=False, color=ink):
        box = slide.shapes.add_textbox(left, top, w, h)
        frame = box.text_frame
        frame.word_wrap = True
        lines = text if isinstance(text, list) else [text]
        for i, line in enumerate(lines):
            para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            if i:
                para.space_before = Pt(size * 0.6)
            run = para.add_run()
            run.text = ("• " + line) if isinstance(text, list) else line
            run.font.size = Pt(size)
            run.font.bold = bold
            run.font.color.rgb = color
        return box

    def new_slide(heading: str | None, notes: str):
        slide = prs.slides.add_slide(blank)
        if heading:
            textbox(slide, Inches(0.6), Inches(0.35), width - Inches(1.2), Inches(0.9), heading, 30, bold=True)
        textbox(slide, Inches(0.6), height - Inches(0.55), width - Inches(1.2), Inches(0.4),
                "Source: acosim · " + prov.line(), 10, color=grey)
        _notes(slide, notes)
        return slide

    def add_table(slide, df: pd.DataFrame, top, col_widths=None, size=12, row_height=0.4):
        rows, cols = len(df) + 1, len(df.columns)
        shape = slide.shapes.add_table(rows, cols, Inches(0.6), top, width - Inches(1.2),
                                       Inches(row_height) * rows)
        tbl = shape.table
        if col_widths:
            total = width - Inches(1.2)
            for i, share in enumerate(col_widths):
                tbl.columns[i].width = Emu(int(total * share))
        for j, name in enumerate(df.columns):
            tbl.cell(0, j).text = str(name)
        for i, row in enumerate(df.itertuples(index=False, name=None), 1):
            for j, value in enumerate(row):
                tbl.cell(i, j).text = "" if value is None else str(value)
        for cell in (tbl.cell(i, j) for i in range(rows) for j in range(cols)):
            for para in cell.text_frame.paragraphs:
                for run in para.runs:
                    run.font.size = Pt(size)
        return tbl

    def picture(slide, png: bytes, top=None, box_h=None):
        top = Inches(1.3) if top is None else top
        pic = slide.shapes.add_picture(io.BytesIO(png), Inches(0.6), top)
        box_w, box_h = width - Inches(1.2), box_h or (height - top - Inches(0.8))
        ratio = min(box_w / pic.width, box_h / pic.height)
        pic.width, pic.height = int(pic.width * ratio), int(pic.height * ratio)
        pic.left = int((width - pic.width) / 2)

    sentence = board_sentence(summary, len(result.years))
    # 1. title
    slide = new_slide(None, f"This deck compares Medicare ACO risk tracks for {prov.scenario}. Every number "
                            f"comes from {prov.trials:,} simulated futures (seed {prov.seed}); the footer of "
                            "each slide says how to reproduce it.")
    textbox(slide, Inches(0.8), Inches(2.3), width - Inches(1.6), Inches(1.4), title or prov.scenario, 40, bold=True)
    textbox(slide, Inches(0.8), Inches(3.8), width - Inches(1.6), Inches(0.8),
            "Medicare ACO risk tracks: what we could win or lose", 22, color=grey)
    textbox(slide, Inches(0.8), Inches(4.6), width - Inches(1.6), Inches(0.8),
            f"{prov.trials:,} simulated futures · agreement {prov.years} · {prov.date}", 16, color=grey)
    # 2. recommendation
    slide = new_slide("Recommendation", f"{sentence} In more detail: {text} The table gives the same "
                                        "numbers for the other tracks the ACO can enter.")
    textbox(slide, Inches(0.6), Inches(1.25), width - Inches(1.2), Inches(1.2), sentence, 24, bold=True)
    if text != sentence:  # (no open track: the sentence already says why there is no recommendation)
        textbox(slide, Inches(0.6), Inches(2.45), width - Inches(1.2), Inches(1.3), text, 15, color=grey)
    add_table(slide, _key_numbers(summary), Inches(3.9), [0.22, 0.14, 0.17, 0.15, 0.16, 0.16], size=13,
              row_height=0.36)
    closed = not_open(result.scenario)
    if closed:
        slide = new_slide(NOT_OPEN_TITLE, "These tracks were simulated but the ACO cannot enter them for an "
                                          "agreement starting in " f"{result.years[0]}, so none is recommended.")
        textbox(slide, Inches(0.6), Inches(1.4), width - Inches(1.2), Inches(5.0),
                [f"{t}: {why}" for t, why in closed], 18 if len(closed) <= 6 else 13)
    # 3. charts, the key one first
    chart_notes = {
        "Average result against the bad case": "Each dot is a track: higher pays more on average, further "
            "right loses less in a bad year (1 future in 20 ends below the bad case). Every track is on the "
            "chart with its two values.",
        "Range of outcomes over the agreement": "How wide the outcomes are for each track: the shaded shape "
            "is where the futures fall; left of zero the ACO ends behind.",
        "Cumulative net, year by year": "The net result added up year after year for the leading tracks; "
            "the band holds the middle of the futures.",
    }
    order = sorted(images, key=lambda t: t != "Average result against the bad case")
    for heading in order:
        slide = new_slide(heading, chart_notes.get(heading, f"The chart {heading}, for the tracks open to the ACO."))
        picture(slide, images[heading])
    # 4. what drives the result
    if drivers:
        slide = new_slide(DRIVERS_TITLE, "Each assumption is set low and high while the others stay as assumed, "
                                         "on the same simulated futures. " + " ".join(drivers))
        if drivers_png is not None:
            picture(slide, drivers_png, top=Inches(1.2), box_h=Inches(3.9))
            textbox(slide, Inches(0.6), Inches(5.2), width - Inches(1.2), Inches(1.6), list(drivers), 14)
        else:
            textbox(slide, Inches(0.6), Inches(1.4), width - Inches(1.2), Inches(4.5), list(drivers), 20)
    # 4b. ten years (when the ten-year view was chosen): the ranking and the ratchet in words
    if horizon is not None:
        _ten_year_slide(new_slide, textbox, add_table, horizon, width, Inches, grey)
    # 5. the scenarios compared side by side
    if comparison is not None and len(comparison):
        shown = comparison_display(comparison).head(10)
        cols = len(shown.columns)
        slide = new_slide("The scenarios compared", "The same futures under each scenario the team compared "
                                                    "on the Scenarios page, one row per scenario and track.")
        add_table(slide, shown, Inches(1.3), [1 / cols] * cols, size=12 if cols <= 7 else 10, row_height=0.36)
    # 6. the assumptions that matter
    slide = new_slide("The assumptions that matter", "These are the inputs that move the result most; the "
                                                     "appendix and the Excel file list every input and its source.")
    textbox(slide, Inches(0.6), Inches(1.4), width - Inches(1.2), Inches(5.0), key_assumptions(result.scenario), 20)
    # 7. appendix: every input, 13 rows a slide
    table = appendix_table(result.scenario)
    per = 13
    pages = max(1, math.ceil(len(table) / per))
    for p in range(pages):
        slide = new_slide("Appendix: every assumption" + (f" ({p + 1} of {pages})" if pages > 1 else ""),
                          "The full list of inputs, for reference; the Excel file has the same table.")
        add_table(slide, table.iloc[p * per:(p + 1) * per], Inches(1.2), [0.12, 0.32, 0.2, 0.36],
                  size=11, row_height=0.34)
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML / PDF

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
    return pd.DataFrame({
        "Track": s["track"],
        "Expected net": s["expected_net"].map(lambda v: money(v, signed=True)),
        "Chance of owing CMS": s["p_owe_cms"].map(lambda v: pct(v, 1)),
        "Chance of ending behind": s["p_net_loss"].map(lambda v: pct(v, 1)),
        "Bad case (5th pct)": s["p5"].map(lambda v: money(v, signed=True)),
        "Median": s["p50"].map(lambda v: money(v, signed=True)),
        "Good case (95th pct)": s["p95"].map(lambda v: money(v, signed=True)),
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
    text = recommendation_text or recommendation(summary, len(result.years))
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
