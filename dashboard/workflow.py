"""The consultant workflow's state and helpers: presets, saved files, snapshots, side by side,
exports. Used by the sidebar (:func:`sidebar_tools`) and the Scenarios, Real ACOs and Export
pages; the engine side lives in ``simulation/`` (model.presets, model.io, model.share,
model.compare, reports).

Uploads are handled by :func:`read_upload`, a plain function of bytes (no streamlit), so every
kind of bad file is tested directly: it returns the scenario (or None) and the messages to show.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st
from pydantic import ValidationError

from dashboard import a11y, engine, horizon_view, links, widgets
from dashboard.fields import field_label, field_text
from dashboard.state import (
    HORIZON,
    PRESETS_POPOVER,
    SHARE_POPOVER,
    SIDE_PRESET,
    SIDE_SAVE,
    SNAPSHOT_NAME,
    SNAPSHOT_NOTE,
    SNAPSHOTS,
    UPLOAD,
    UPLOAD_MESSAGES,
    get_scenario,
    notify,
    set_scenario,
    snapshots,
)
from simulation import reports
from simulation.model import presets
from simulation.model.compare import compare_results, scenario_diff, simulate_named
from simulation.model.io import (
    MAX_SCENARIO_BYTES,
    is_scenario_set,
    read_saved,
    read_scenario_set,
    scenario_set_to_json,
    scenario_to_json,
)
from simulation.model.montecarlo import SimulationResult
from simulation.model.scenario import Scenario, ScenarioError, TrackChoice, format_errors
from simulation.reports import charts
from simulation.reports.words import open_rows, recommend
from simulation.text import md_escape, plain_label, printable

KEEP = ""  # the preset choice that leaves the scenario as it is
MAX_SNAPSHOTS = 8
#: The upload limit in MB for st.file_uploader (a saved scenario is at most 1,000,000 bytes).
MAX_UPLOAD_MB = math.ceil(MAX_SCENARIO_BYTES / (1024 * 1024))
CONFIDENCE = {"REG": "read in 42 CFR", "CMS": "CMS data or documents",
              "SEC": "secondary source (an assumption)", "INF": "inferred (an assumption)"}


# --------------------------------------------------------------------------- presets


def preset_titles(kind: str) -> dict[str, str]:
    return {p["name"]: p["title"] for p in presets.list_presets(kind)}  # type: ignore[arg-type]


def preset_info(name: str) -> dict[str, str]:
    return next(p for p in presets.list_presets() if p["name"] == name)


def with_presets(scenario: Scenario, archetype: str = KEEP, assumptions: str = KEEP) -> Scenario:
    """``scenario`` with an archetype and then an assumption set applied (either may be KEEP)."""
    for name in (archetype, assumptions):
        if name:
            scenario = presets.apply_preset(scenario, name)
    return scenario


def preset_rows(name: str) -> list[list[str]]:
    """Every value a preset sets, for :func:`dashboard.widgets.html_table`: input, value,
    confidence label, source."""
    import html

    rows = []
    for r in presets.preset_table(name).itertuples(index=False):
        tip = CONFIDENCE.get(r.confidence, "")
        rows.append([f'<span class="wrap">{html.escape(field_label(r.path))}</span>',
                     f'<b class="wrap">{html.escape(field_text(r.path, r.value))}</b>',
                     f'<span class="tip" title="{tip}">{r.confidence}</span>',
                     f'<span class="src">{html.escape(r.source)}</span>'])
    return rows


def _apply_presets(prefix: str) -> None:
    state = st.session_state
    archetype, assumptions = state.get(f"{prefix}.archetype", KEEP), state.get(f"{prefix}.assumptions", KEEP)
    before = get_scenario()
    try:
        after = with_presets(before, archetype, assumptions)
    except (ScenarioError, presets.PresetError) as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        notify("error", "The preset could not be applied: " + "; ".join(map(md_escape, problems)), before)
        return
    set_scenario(after)
    titles = [preset_titles("archetype").get(archetype), preset_titles("assumptions").get(assumptions)]
    changed = [field_label(p) for p, _a, _b in scenario_diff(before, after)]
    what = (f"{len(changed)} input{'s' * (len(changed) != 1)} changed: " + ", ".join(changed[:8])
            + (f" and {len(changed) - 8} more" if len(changed) > 8 else "") + ".") if changed else \
        "It matches the scenario already: nothing changed."
    notify("success", f"Applied {' + '.join(t for t in titles if t)}. {what}", after)
    if prefix == SIDE_PRESET:  # the sidebar's popover closes, so it no longer covers the page
        state[PRESETS_POPOVER] = False


def preset_picker(prefix: str, *, detailed: bool = False) -> None:
    """Two choices (archetype, assumption set), each with its description and where its
    numbers come from, and an Apply button. ``detailed`` also lists every value and source."""
    kinds = (("archetype", "ACO like the client", "An archetype sets the ACO's size, benchmark, revenue, "
              "enrollment mix, experience and costs from the median CMS ACO of its kind."),
             ("assumptions", "Assumptions", "An assumption set sets performance, market and noise: "
              "worst, realistic or best, each observed in CMS's results."))
    cols = st.columns(2, gap="large") if detailed else [st.container(), st.container()]
    for col, (kind, title, help_) in zip(cols, kinds, strict=True):
        with col:
            options = [KEEP, *preset_titles(kind)]
            names = {KEEP: "— keep the current values —", **preset_titles(kind)}
            choice = st.selectbox(title, options, key=f"{prefix}.{kind}", format_func=names.get, help=help_)
            if choice:
                info = preset_info(choice)
                st.markdown(widgets.md(info["description"]))
                st.caption(widgets.md(f"Where the numbers come from: {info['source']}"))
                if detailed:
                    with st.expander(f"Every value of “{info['title']}” and its source"):
                        widgets.html_table(preset_rows(choice),
                                          [("Input", None), ("Value", None),
                                           ("Label", "REG: regulation; CMS: CMS data; SEC: secondary "
                                                     "source; INF: inferred — SEC and INF are assumptions."),
                                           ("Source", None)], left=4)
    state = st.session_state
    none = not state.get(f"{prefix}.archetype") and not state.get(f"{prefix}.assumptions")
    st.button("Apply to the scenario", key=f"{prefix}.apply", type="primary", disabled=none,
              icon=":material/done_all:", on_click=_apply_presets, args=(prefix,),
              width="stretch" if not detailed else "content",
              help="Sets the chosen preset's inputs in the sidebar; everything else (tracks, "
                   "futures, seed, other inputs) stays as it is. Edit any value afterwards.")


# --------------------------------------------------------------------------- saved files


class Loaded(NamedTuple):
    """What an uploaded file gave: the scenario (None if unusable), messages to show as
    (kind, text) with kind 'success', 'warning' or 'error', and any snapshots it held."""

    scenario: Scenario | None
    messages: list[tuple[str, str]]
    snapshots: dict[str, Scenario]


def scenario_file(scenario: Scenario) -> bytes:
    """The scenario as a saved file (simulation.model.io; also read by ``acosim simulate``)."""
    return scenario_to_json(scenario)


def scenario_set_file(current: Scenario, snapshots: Mapping[str, Scenario]) -> bytes:
    """The current scenario and the snapshots in one JSON file (simulation.model.io's
    scenario-set format, which ``acosim simulate --scenario FILE [--snapshot NAME]`` reads)."""
    return scenario_set_to_json(current, dict(snapshots))


def _problems(name: str, exc: ScenarioError) -> str:
    items = exc.problems or [str(exc)]
    return f"**{md_escape(name)}** could not be opened:\n\n" + "\n".join(f"- {md_escape(p)}" for p in items)


def read_upload(raw: bytes, name: str = "upload.json") -> Loaded:
    """Validate an uploaded file: a saved scenario, a bare scenario object, or a scenario set.

    Never raises for bad input: a file that is too large, not UTF-8 JSON, not a scenario, of
    another schema version, or with values out of range gives ``scenario=None`` and an error
    message naming each problem; warnings (made under other rules, fields left to defaults)
    come with a usable scenario.
    """
    if len(raw) > MAX_SCENARIO_BYTES:
        return Loaded(None, [("error", f"**{name}** could not be opened: the file is {len(raw):,} bytes; "
                                       f"the limit is {MAX_SCENARIO_BYTES:,} (a scenario file is a few "
                                       "kilobytes).")], {})
    try:
        peek = json.loads(raw.decode("utf-8-sig"))
    except Exception:  # read_saved below names the problem precisely
        peek = None
    if is_scenario_set(peek):
        return _read_set(peek, name)
    try:
        saved = read_saved(raw, name)
    except ScenarioError as exc:
        return Loaded(None, [("error", _problems(name, exc))], {})
    return Loaded(saved.scenario, _opened(name, saved), {})


def _opened(name: str, saved) -> list[tuple[str, str]]:
    when = f", saved {saved.created_at[:10]}" if saved.created_at else ""
    out = [("success", f"Opened **{md_escape(saved.scenario.name)}** from {md_escape(name)}{when} (seed {saved.scenario.seed}, "
                       f"{saved.scenario.trials:,} simulated futures).")]
    return out + [("warning", w) for w in saved.warnings]


def _read_set(doc: dict, name: str) -> Loaded:
    try:
        sset = read_scenario_set(doc, name)
    except ScenarioError as exc:
        return Loaded(None, [("error", _problems(name, exc))], {})
    messages = _opened(name, sset.current)
    snapshots: dict[str, Scenario] = {}
    for snap_name, why in sset.skipped:
        messages.append(("warning", f"Snapshot “{md_escape(snap_name)}” was left out: {md_escape(why)}."))
    for snap_name, saved in list(sset.snapshots.items())[:MAX_SNAPSHOTS]:
        snapshots[snap_name] = saved.scenario
        messages += [("warning", f"Snapshot “{md_escape(snap_name)}”: {w}") for w in saved.warnings]
    if sset.listed > MAX_SNAPSHOTS:
        messages.append(("warning", f"The file holds {sset.listed} snapshots; the first {MAX_SNAPSHOTS} "
                                    "were kept."))
    if snapshots:
        messages.append(("success", f"{len(snapshots)} snapshot{'s' * (len(snapshots) != 1)} loaded for "
                                    "side by side: " + ", ".join(f"“{md_escape(n)}”" for n in snapshots) + "."))
    return Loaded(sset.current.scenario, messages, snapshots)


def _on_upload() -> None:
    """file_uploader callback: runs once per newly chosen file."""
    upload = st.session_state.get(UPLOAD)
    if upload is None:
        return
    loaded = read_upload(upload.getvalue(), upload.name)
    st.session_state[UPLOAD_MESSAGES] = loaded.messages
    if loaded.scenario is None:
        return
    set_scenario(loaded.scenario)
    if loaded.snapshots:
        st.session_state[SNAPSHOTS] = dict(loaded.snapshots)


def upload_widget() -> None:
    """The 'open a saved file' uploader and the messages of the last file opened."""
    st.file_uploader("Open a saved scenario (JSON)", type=["json"], key=UPLOAD, on_change=_on_upload,
                     max_upload_size=MAX_UPLOAD_MB, label_visibility="collapsed",
                     help="A file saved here or written by `acosim scenario --example`; a file with "
                          f"snapshots restores them too. At most {MAX_SCENARIO_BYTES:,} bytes.")
    for kind, text in st.session_state.get(UPLOAD_MESSAGES, []):
        getattr(st, kind)(widgets.md(printable(text)), icon=widgets.NOTICE_ICONS[kind])


def safe_file_name(text: str, suffix: str) -> str:
    import re

    stem = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "scenario"
    return f"acosim-{stem}{suffix}"


def share_box(scenario: Scenario, *, key: str) -> None:
    """The share link in a copyable code box, and the save-as-JSON button."""
    link = links.share_link(scenario)
    st.code(link, language=None, wrap_lines=False)
    a11y.copy_button(link, "Copy link")
    st.caption("It holds the whole scenario and its seed (nothing is stored on a server): whoever opens "
               "it sees the same numbers.")
    snaps = st.session_state.get(SNAPSHOTS) or {}
    if snaps:
        try:
            link = links.share_link_with_snapshots(scenario, dict(snaps))
        except ScenarioError as exc:
            st.warning("No link with the snapshots: " + "; ".join(exc.problems) + ".", icon=":material/link_off:")
        else:
            st.markdown(f"**Link with the {len(snaps)} snapshot{'s' if len(snaps) > 1 else ''}** "
                        "(opens the side-by-side comparison too):")
            st.code(link, language=None, wrap_lines=False)
            a11y.copy_button(link, "Copy link with snapshots")
    st.download_button("Save the scenario (JSON)", data=lambda s=scenario: scenario_file(s),
                       file_name=safe_file_name(scenario.name, ".json"), mime="application/json",
                       key=key, icon=":material/download:", on_click="ignore",
                       help="Open it again on the Scenarios page, or run it with "
                            "`acosim simulate --scenario FILE`.")


# --------------------------------------------------------------------------- sidebar


def sidebar_tools() -> None:
    """Presets and sharing at the top of the sidebar, each in a popover (drawn when opened)."""
    left, right = st.columns(2)
    with left:
        pop = st.popover("Presets", icon=":material/bookmarks:", width="stretch", key=PRESETS_POPOVER,
                         on_change="rerun", help="Start from an ACO like the client and a worst, "
                                                 "realistic or best set of assumptions.")
        with pop:
            if pop.open:
                preset_picker(SIDE_PRESET)
                st.page_link("pages/scenarios.py", label="Every value and its source",
                              icon=":material/arrow_forward:")
    with right:
        pop = st.popover("Share", icon=":material/link:", width="stretch", key=SHARE_POPOVER,
                         on_change="rerun", help="A link to this scenario, or a file to save.")
        with pop:
            if pop.open:
                share_box(get_scenario(), key=SIDE_SAVE)


# --------------------------------------------------------------------------- snapshots


def take_snapshot(name: str, scenario: Scenario) -> str:
    """Keep ``scenario`` under ``name`` (replacing a snapshot of that name); returns a note."""
    name = " ".join(str(name).split())[:80] or scenario.name
    snaps = snapshots()
    replaced = name in snaps
    if not replaced and len(snaps) >= MAX_SNAPSHOTS:
        return f"At most {MAX_SNAPSHOTS} snapshots: remove one first."
    snaps[name] = scenario.model_copy(update={"name": name})
    return f"Replaced the snapshot “{name}”." if replaced else f"Saved the snapshot “{name}”."


def snapshot_clicked() -> None:
    state = st.session_state
    state[SNAPSHOT_NOTE] = take_snapshot(state.get(SNAPSHOT_NAME, ""), get_scenario())
    state[SNAPSHOT_NAME] = ""


def load_snapshot(name: str) -> None:
    s = snapshots().get(name)
    if s is not None:
        set_scenario(s)
        notify("info", f"The sidebar now holds the snapshot “{md_escape(name)}”: edit it, then snapshot it "
                              "again under a new name to compare.", s)


def drop_snapshot(name: str) -> None:
    snapshots().pop(name, None)


@st.cache_data(max_entries=16, show_spinner=False)
def _side_by_side(items: tuple[tuple[str, str], ...], tracks: tuple[tuple[str, str], ...]):
    named = {n: Scenario.model_validate_json(j) for n, j in items}
    runs = simulate_named(named, dict(tracks))
    table = compare_results(runs)
    labels, columns, rows = [], [], []
    for name, res in runs.items():
        for k, key in enumerate(res.keys):
            label = plain_label(f"{name} · {key}")
            x = res.net_total[:, k]
            q = np.percentile(x, [5, 25, 50, 75, 95])
            labels.append(label)
            columns.append(x)
            rows.append({"track": label, "code": res.choices[k].track, "expected_net": float(x.mean()),
                         "p5": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p95": q[4],
                         "p_owe_cms": float((res.earned[:, :, k] < 0).any(axis=1).mean())})
    quant = charts.quantile_table(np.column_stack(columns), labels)
    return table, quant, pd.DataFrame(rows)


def side_by_side(named: Mapping[str, Scenario], tracks: Mapping[str, str]):
    """Named scenarios, one track each, on the same draws: (compare table, quantiles and a
    summary per 'scenario · track' label for the distribution chart). Cached."""
    items = tuple((n, s.model_dump_json()) for n, s in named.items())
    return _side_by_side(items, tuple(tracks.items()))


def diff_rows(named: Mapping[str, Scenario]) -> tuple[list[str], list[list[str]]]:
    """The inputs in which any scenario differs from the first: (paths, one row per path with
    the formatted value in each scenario; values different from the first are highlighted)."""
    import html

    scenarios = list(named.values())
    base = scenarios[0]
    paths: list[str] = []
    for other in scenarios[1:]:
        for path, _a, _b in scenario_diff(base, other, ignore=("name",)):
            if path not in paths:
                paths.append(path)
    flat = [_flat(s) for s in scenarios]
    rows = []
    for path in paths:
        cells = [html.escape(field_label(path))]
        for i, f in enumerate(flat):
            text = html.escape(field_text(path, f.get(path)))
            cells.append(f'<span class="changed">{text}</span>' if i and f.get(path) != flat[0].get(path)
                         else text)
        rows.append(cells)
    return paths, rows


def changes(base: Scenario, other: Scenario, limit: int = 4) -> str:
    """'Annual operating cost $1.50M (was $860K); Tracks …' — how ``other`` differs from ``base``."""
    diff = scenario_diff(base, other)
    parts = [f"{field_label(p)} {field_text(p, b)} (was {field_text(p, a)})" for p, a, b in diff[:limit]]
    more = f"; and {len(diff) - limit} more" if len(diff) > limit else ""
    return "; ".join(parts) + more if parts else "the same inputs"


def _flat(s: Scenario) -> dict[str, Any]:
    data = s.model_dump(mode="json")
    out: dict[str, Any] = {}
    tracks = data.pop("tracks")
    for section, value in data.items():
        if isinstance(value, dict):
            for k, v in value.items():
                out[f"{section}.{k}"] = v
        else:
            out[section] = value
    out["tracks"] = [t.key for t in s.tracks]
    for t, raw in zip(s.tracks, tracks, strict=True):
        for k, v in raw.items():
            out[f"tracks[{t.key}].{k}"] = v
    return out


# --------------------------------------------------------------------------- exports


@dataclass(frozen=True)
class ExportFile:
    """One download: what it is, its file name and type, and how to make its bytes (called
    when the user clicks, so nothing is built for a page view)."""

    label: str
    file_name: str
    mime: str
    make: Callable[[], bytes]
    help: str


def recommendation(result: SimulationResult, summary: pd.DataFrame) -> str:
    """The board's sentence, worded as on Compare tracks (:mod:`simulation.reports.words`):
    the best track among those open to the ACO, or why none is."""
    return recommend(summary, len(result.years)).text


def open_summary(result: SimulationResult, summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of the tracks open to the ACO when the agreement starts (what the deck
    and the reports show; the CSV and Excel files keep every track, what-ifs included)."""
    keep = open_rows(summary)
    if keep.empty:
        return summary
    out = keep.reset_index(drop=True)
    out.attrs.update(summary.attrs)
    return out


def export_files(result: SimulationResult, summary: pd.DataFrame, by_year: pd.DataFrame,
                 comparison: pd.DataFrame | None = None, text: str | None = None) -> list[ExportFile]:
    """The tables and the interactive report of ``result``, each with its provenance
    (scenario, seed, trials, rules version, date) stamped when it is made."""
    s = result.scenario
    text = text or recommendation(result, summary)

    def prov() -> reports.Provenance:
        return reports.provenance(result)

    extra = {"Side by side": comparison} if comparison is not None and len(comparison) else None
    return [
        ExportFile("Summary (CSV)", safe_file_name(s.name, "-summary.csv"), "text/csv",
                   lambda: reports.summary_csv(summary, prov()),
                   "One row per track: expected net, chances, percentiles. Provenance in # lines."),
        ExportFile("Every future (CSV)", safe_file_name(s.name, "-trials.csv"), "text/csv",
                   lambda: reports.trials_csv(result, prov()),
                   f"Net result of each of the {result.trials:,} simulated futures per track."),
        ExportFile("Excel workbook", safe_file_name(s.name, ".xlsx"),
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                   lambda: reports.xlsx_bytes(result, summary=summary, by_year=by_year, prov=prov(),
                                              extra_sheets=extra),
                   "Summary, year by year, every future, assumptions"
                   + (", the latest side-by-side comparison" if extra else "")
                   + " and a provenance sheet (takes a few seconds)."),
        ExportFile("HTML report", safe_file_name(s.name, "-report.html"), "text/html",
                   lambda: reports.report_html(result, summary=open_summary(result, summary), prov=prov(),
                                               recommendation_text=text).encode("utf-8"),
                   "One file that opens in any browser, offline: recommendation, tables, interactive "
                   "charts, assumptions, provenance."),
    ]


@st.cache_data(max_entries=4, show_spinner=False, ttl=3600)
def _chart_pack(scenario_json: str, comparison_json: str | None = None, ten_years: bool = False) -> dict[str, Any]:
    s = Scenario.model_validate_json(scenario_json)
    result = engine.simulate_cached(s)
    summary = engine.summary_cached(s)
    prov = reports.provenance(result)
    summary = open_summary(result, summary)
    figs = reports.key_figures(result, summary, engine.by_year_cached(s))
    best = recommend(summary, len(result.years)).track  # None when no track is open to the ACO
    drivers: list[str] = []
    if best is not None:
        tdf = reports.drivers_table(result, best, trials=DECK_DRIVER_TRIALS)
        shown = tdf[(tdf["track"] == best) & (tdf["low_value"] != tdf["high_value"])]
        drivers = reports.drivers_text(tdf, best)
        if len(shown):
            figs[reports.DRIVERS_TITLE] = charts.tornado(shown)
    comparison = pd.read_json(io.StringIO(comparison_json), orient="split") if comparison_json else None
    try:
        images = reports.figures_png(figs)
    except reports.ReportError as exc:
        return {"error": str(exc), "prov": prov}
    text = recommendation(result, summary)
    extra = {"comparison": comparison, "drivers": drivers}
    ten = {"horizon": horizon_view.simulate_cached(s)} if ten_years else {}  # the ten-year slide
    pack: dict[str, Any] = {"prov": prov, "images": images,
                            "pngs": {t: reports.png_with_provenance(png, prov.line()) for t, png in images.items()},
                            "pptx": reports.pptx_bytes(result, summary=summary, images=images, prov=prov,
                                                       recommendation_text=text, **extra, **ten)}
    try:
        pack["pdf"] = reports.report_pdf(result, summary=summary, images=images, prov=prov,
                                         recommendation_text=text, **extra)
    except reports.ReportError as exc:
        pack["pdf_error"] = str(exc)
    return pack


#: Futures per run of the deck's drivers chart (each of about 20 reruns settles one track).
DECK_DRIVER_TRIALS = 2_000


def chart_pack(scenario: Scenario, comparison: pd.DataFrame | None = None) -> dict[str, Any]:
    """The key charts as PNGs (with provenance), the PowerPoint deck and the PDF report of
    ``scenario`` (with the side-by-side ``comparison`` of the scenarios compared, if any):
    drawn by a headless browser (kaleido, 10–20 s), so behind a button; cached."""
    cj = comparison.to_json(orient="split") if comparison is not None and len(comparison) else None
    return _chart_pack(scenario.model_dump_json(), cj, st.session_state.get(HORIZON) == horizon_view.TEN)


# --------------------------------------------------------------------------- what-ifs


def with_override(scenario: Scenario, track_key: str | None, name: str | None,
                  value: float | None) -> Scenario:
    """``scenario`` with one track's parameter changed as a what-if (validated), or with
    every what-if cleared when ``track_key`` is None. Raises ValueError with the message."""
    tracks = []
    for choice in scenario.tracks:
        if track_key is None:
            tracks.append(choice.model_copy(update={"overrides": {}}))
        elif choice.key == track_key:
            data = choice.model_dump()
            data["overrides"] = {**choice.overrides, name: value}
            try:
                tracks.append(TrackChoice.model_validate(data))
            except ValidationError as exc:
                raise ValueError("; ".join(format_errors(exc, TrackChoice))) from None
        else:
            tracks.append(choice)
    try:
        return Scenario.model_validate({**scenario.model_dump(), "tracks": [t.model_dump() for t in tracks]})
    except ValidationError as exc:
        raise ValueError("; ".join(format_errors(exc))) from None
