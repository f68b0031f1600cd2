"""The result and the scenario as tables: for a reader (friendly headings, formatted values)
and as files (CSV with provenance in ``#`` lines, an Excel workbook). Every text cell of a file
goes through :func:`simulation.text.cell_safe`, so a label such as ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..model.montecarlo import SimulationResult
from ..model.montecarlo import by_year as mc_by_year
from ..model.montecarlo import summary as mc_summary
from ..model.scenario import Scenario, calibrated_defaults, default_source
from ..text import cell_safe, money, pct
from .provenance import Provenance, provenance

EXCEL_MAX_ROWS = 1_048_576


#: Trials written to the workbook's *Per trial* sheet (the CSV export has every trial).
XLSX_TRIAL_ROWS = 200_000


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


def value_text(value: Any, unit: str) -> str:
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
                text = value_text(value, unit)
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


#: The side-by-side columns a reader needs: column -> (heading, kind).
COMPARISON_COLUMNS: dict[str, tuple[str, str]] = {
    "scenario": ("Scenario", "text"), "track": ("Track", "text"),
    "expected_net": ("Expected net", "money"), "delta_expected_net": ("Difference", "money"),
    "p_net_loss": ("Chance of ending behind", "prob"), "p_owe_cms": ("Chance of owing CMS", "prob"),
    "p5": ("Bad case (1 in 20)", "money"), "p95": ("Good case (1 in 20)", "money"),
    "p_better": ("Better than the first in", "prob"),
}


def display_table(df: pd.DataFrame, columns: Mapping[str, tuple[str, str, int]]) -> pd.DataFrame:
    """``df`` as a reader sees it: ``columns`` maps each heading to (column, kind, digits);
    money ('money') signed in $K/$M, chances ('prob') as percentages with ``digits``, text as
    it is, '–' where empty. Columns ``df`` does not have are left out."""
    out = {}
    for heading, (col, kind, digits) in columns.items():
        if col not in df:
            continue
        values = df[col]
        if kind == "money":
            values = values.map(lambda v: money(v, signed=True))
        elif kind == "prob":
            values = values.map(lambda v, d=digits: pct(v, d))
        out[heading] = values.map(lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return pd.DataFrame(out)


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table (:func:`simulation.model.compare.compare_results`) as a reader sees
    it: the columns that matter, money in $K/$M, chances as percentages, '–' where empty."""
    return display_table(comparison, {heading: (col, kind, 1)
                                      for col, (heading, kind) in COMPARISON_COLUMNS.items()})


def _plain_source(text: str) -> str:
    """A default's source for a reader: the document named, without links or anchors."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", str(text))       # markdown links -> their words
    text = re.sub(r"\S*(?:\.md|\.yaml|\.csv)#?\S*", "", text)        # file paths and anchors
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"(?<![\d.])\d+\.\d{4,}", lambda m: f"{float(m.group()):.3g}", text)  # 0.0344 -> 0.0344
    text = " ".join(text.replace(" ,", ",").split()).strip(" ;,·-–")
    return text or "acosim calibration (see the Excel file)"


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
