"""Real ACOs (consultant workflow): CMS's published results for one ACO, where it stands among
all ACOs each year, and a scenario pre-filled from its history."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import fields, links, state, widgets
from simulation import __version__
from simulation.cms import acos as realdata
from simulation.model.scenario import ScenarioError
from simulation.reports import charts
from simulation.rules.catalog import load_catalog
from simulation.text import pct

links.deep_link_guard()

SHARED = links.ROOT.parent / "shared" / "data"
DEFAULT_FOLDER = "../shared/data" if SHARED.is_dir() else ""


def _folder(text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else (links.ROOT / path).resolve()


def _track(code: object) -> str:
    tracks = load_catalog().tracks
    return tracks[code].short_label if isinstance(code, str) and code in tracks else str(code or "–")


st.title("Real ACOs")
st.markdown("Look up an ACO in CMS's published Shared Savings Program results: its track, size, savings "
            "and quality over the years, where it stood among all ACOs, and a scenario pre-filled from "
            "its recent results.")

text = st.text_input("Folder of CMS results files", value=DEFAULT_FOLDER, key="real.folder",
                     placeholder="e.g. ~/data/cms (CSV files named with their year, such as PY2023.csv)",
                     help="The folder holding CMS's 'Performance Year Financial and Quality Results' CSV "
                          "files (or a mssp_puf/ folder of them). Relative paths start at the app's folder.")
if not text.strip():
    st.info("Name the folder that holds CMS's results files. To get them, run "
            "`acosim data download --dest FOLDER` (from data.cms.gov), then type that folder here.",
            icon=":material/folder_open:")
    st.stop()
folder = _folder(text.strip())
try:
    with st.spinner("Reading CMS's results files…"):
        results, warnings = realdata.load_results(folder)
except realdata.RealDataError as exc:
    st.warning(f"No CMS results could be read there: {exc}", icon=":material/folder_off:")
    st.markdown("Download them with:")
    st.code(f"acosim data download --dest {folder}", language="bash")
    st.caption(f"Or save the CSV files from {realdata.DATASET_PAGE} into the folder by hand.")
    st.stop()
years = sorted(results["performance_year"].unique())
st.caption(f"{results['aco_key'].nunique():,} ACOs, {len(results):,} ACO-years, PY{years[0]}–PY{years[-1]}, "
           f"from {folder}.")
if warnings:
    with st.expander(f"{len(warnings)} file{'s' * (len(warnings) != 1)} skipped", icon=":material/warning:"):
        st.markdown("\n".join(f"- {w}" for w in warnings))

query = st.text_input("Find an ACO by name or ID", key="real.query", placeholder="e.g. Palm Beach, or A1001")
if not query.strip():
    st.info("Type part of an ACO's name or its ID (from PY2018 CMS publishes IDs like A1001).",
            icon=":material/search:")
    st.stop()
found = realdata.search_acos(results, query)
if found.empty:
    st.warning(f"No ACO's name or ID contains “{query.strip()}”. Try a shorter part of the name.")
    st.stop()
labels = {r.aco_id: (f"{r.aco_name} ({r.aco_id}) · PY{r.first_year}–PY{r.latest_year} · {_track(r.track)} · "
                     f"{int(r.n_ab):,} beneficiaries") for r in found.itertuples()}
widgets.page_choice("real.aco", list(labels), next(iter(labels)))
aco_id = st.selectbox(f"{len(found)} match{'es' * (len(found) != 1)}", list(labels), key="real.aco",
                      format_func=labels.get)

history = realdata.aco_history(results, aco_id)
dist = realdata.program_distribution(results)
name = str(history.attrs.get("aco_name", aco_id))
last = history.iloc[-1]
st.subheader(name)
st.caption(f"ACO ID {history.attrs.get('aco_id', aco_id)} · {len(history)} year{'s' * (len(history) != 1)} "
           f"published · latest PY{int(last.performance_year)}: {_track(last.track)}, "
           f"{int(last.n_ab):,} assigned beneficiaries"
           + (" · years before 2018 linked by the ACO's name" if (history["linked_by"] == "name").any() else ""))

left, right = st.columns([1.2, 1], gap="large")
with left:
    st.markdown("**Its published results**")
    rows = []
    for r in history.itertuples():
        short = bool(r.months_in_py and r.months_in_py < 12)
        rows.append([f"{int(r.performance_year)}" + (" *" if short else ""), html.escape(_track(r.track)),
                     f"{int(r.n_ab):,}", pct(r.sav_rate, 1),
                     "–" if pd.isna(r.qual_score) else f"{r.qual_score:.2f}",
                     widgets.money_cell(None if pd.isna(r.earned_save_loss) else float(r.earned_save_loss))])
    widgets.html_table(rows, [("Year", None), ("Track", None), ("Size", "Assigned beneficiaries."),
                             ("Savings rate", "Benchmark minus spending, as a share of the benchmark."),
                             ("Quality", "Quality score (0–1) where published."),
                             ("Earned", "Shared savings paid (+) or shared losses owed (−).")], left=2)
    if (history["months_in_py"] < 12).any():
        st.caption("\\* a performance year shorter than 12 months.")
with right:
    st.markdown("**Where its savings rate sat among all ACOs**")
    years = history["performance_year"]
    widgets.chart(charts.aco_position(history, dist, name, _track), "real_position",
                 provenance=f"{name} · CMS Shared Savings Program results PY{years.min()}–PY{years.max()} · "
                            f"acosim {__version__} · {date.today().isoformat()}")
    st.caption("CMS's savings rate: the benchmark minus spending, as a share of the benchmark. Bands: the "
               "middle half and 9 in 10 of all ACOs that year; hover a point for its percentile.")

st.subheader("Start a scenario from this ACO")
base = state.get_scenario()
try:
    items = realdata.prefill(history, base)
except realdata.RealDataError as exc:
    st.warning(str(exc))
    st.stop()
rows = []
for item in items:
    if item.path == "tracks":
        value = f"{item.value[0].key} first, then the sidebar's other {len(item.value) - 1}"
    else:
        value = fields.field_text(item.path, item.value)
    rows.append([f'<span class="wrap">{html.escape(fields.field_label(item.path))}</span>',
                 f'<b class="wrap">{html.escape(value)}</b>',
                 f'<span class="src">{html.escape(item.reason)}</span>'])
widgets.html_table(rows, [("Input", None), ("Value", None), ("Where it comes from", None)], left=3)
st.caption("The uncertainty of the savings effect combines the ACO's own history with the calibrated model: "
           "how far its true effect can move is the larger of its own published rates' spread across all its "
           "years and the drift of a typical ACO's true effect in a year (fitted on CMS results, "
           "docs/calibration.md#persistence); to that is added how well its recent mean is known. An ACO whose "
           "rate swung widely gets a wide range; a steady one gets the model's. Everything else — costs, market, "
           "noise, the other tracks, futures and seed — stays as in the sidebar's scenario.")
if st.button("Start a scenario from this ACO", type="primary", icon=":material/rocket_launch:",
             key="real.start", help="Puts these values in the sidebar and opens Compare tracks."):
    try:
        scenario = realdata.scenario_from_aco(history, base)
    except (ScenarioError, realdata.RealDataError) as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        st.error("The scenario could not be made from this ACO: " + "; ".join(problems))
    else:
        state.set_scenario(scenario)
        state.notify("success", f"Started a scenario from {name}'s published results: "
                                 f"{len(items)} inputs pre-filled (see Real ACOs for their sources).", scenario)
        st.switch_page("pages/compare.py")
