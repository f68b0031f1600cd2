"""Compare tracks' ten-year view (2027–2036): MSSP's two agreements and their rebasing against
LEAD's one benchmark base, on the same simulated futures (simulation/model/horizon.py).

The choice "One agreement / Ten years" lives in the session and in the address bar (``?h=10``),
and share links carry it, so a link opens the view it was copied from; the scenario (``?s=``)
is never changed by it. Its figures are in simulation/reports/charts.py (``horizon_cumulative``, ``horizon_benchmark``);
:func:`show` lays them out with the words of simulation/reports/horizon.py.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.state import HORIZON, HORIZON_URL
from dashboard.widgets import md
from simulation.model import horizon
from simulation.model.scenario import Scenario
from simulation.reports import charts
from simulation.reports import horizon as horizon_report
from simulation.text import money

#: Session key of the choice and the query parameter that carries it (``?h=10``).
KEY = HORIZON
PARAM = "h"
ONE, TEN = "one", "ten"
LABELS = {ONE: "One agreement", TEN: "Ten years (2027–2036)"}
#: Futures of the ten-year view at most (5 paths × 10 years each; fits the run budget).
MAX_TRIALS = 50_000

# LEAD succeeds REACH: its options take REACH's hues unless the house palette names LEAD's own
_PATH_COLORS = {"ENHANCED": charts.track_color("ENHANCED"), "BASIC_GLIDE": charts.track_color("BASIC_GLIDE"),
                "BASIC_E": charts.track_color("BASIC_E"),
                "LEAD_GLOBAL": charts.TRACK_COLORS.get("LEAD_GLOBAL", charts.track_color("REACH_GLOBAL")),
                "LEAD_PROFESSIONAL": charts.TRACK_COLORS.get("LEAD_PROFESSIONAL",
                                                             charts.track_color("REACH_PROFESSIONAL"))}


def path_colors(result: horizon.HorizonResult) -> dict[str, str]:
    return {p.path.name: _PATH_COLORS.get(p.path.first, charts.NEUTRAL) for p in result.paths}


# --------------------------------------------------------------------------- state and URL


def from_url() -> None:
    """Seed the choice from ``?h=`` the first time this session sees it (a shared link)."""
    state = st.session_state
    asked = st.query_params.get(PARAM)
    if asked is not None and state.get(HORIZON_URL) != asked:
        state[HORIZON_URL] = asked
        state[KEY] = TEN if asked == "10" else ONE
    state.setdefault(KEY, ONE)


def to_url(choice: str) -> None:
    """Keep ``?h=10`` in the address bar while the ten-year view is chosen (only ``h``)."""
    if choice == TEN:
        if st.query_params.get(PARAM) != "10":
            st.query_params[PARAM] = "10"
        st.session_state[HORIZON_URL] = "10"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]
        st.session_state[HORIZON_URL] = None


def link_params() -> dict[str, str]:
    """Query parameters a share link adds for the view (``{"h": "10"}`` when chosen)."""
    return {PARAM: "10"} if st.session_state.get(KEY) == TEN else {}


def choice() -> str:
    """The horizon control on Compare tracks; returns ONE or TEN."""
    from_url()
    picked = st.segmented_control(
        "Horizon", [ONE, TEN], key=KEY, required=True, format_func=LABELS.get,
        help="One agreement: the tracks over the agreement in the sidebar. Ten years: MSSP's first agreement "
             "and its 2032 renewal, whose benchmark is rebuilt from your own spending, against LEAD's one "
             "benchmark base for 2027–2036. The scenario is the same in both.")
    to_url(picked or ONE)
    return picked or ONE


# --------------------------------------------------------------------------- engine (cached)


def horizon_scenario(s: Scenario) -> Scenario:
    """The scenario the ten-year view runs: the same, with its futures capped for the server."""
    return s if s.trials <= MAX_TRIALS else s.model_copy(update={"trials": MAX_TRIALS})


@st.cache_resource(max_entries=8, show_spinner=False)
def _simulate(scenario_json: str) -> horizon.HorizonResult:
    return horizon.simulate_horizon(Scenario.model_validate_json(scenario_json))


def simulate_cached(s: Scenario) -> horizon.HorizonResult:
    """The ten-year simulation of ``s`` (read-only, shared by sessions)."""
    return _simulate(horizon_scenario(s).model_dump_json())


#: Futures per run of the ten-year break-even and tornado (each reruns the horizon many times).
SENSITIVITY_TRIALS = 3_000


@st.cache_data(max_entries=16, show_spinner=False)
def _break_even(scenario_json: str, a: str, b: str, trials: int) -> dict[str, object]:
    return horizon_report.ten_year_break_even(Scenario.model_validate_json(scenario_json), a, b, trials=trials)


def break_even_cached(s: Scenario, a: str, b: str) -> dict[str, object]:
    """The savings effect at which path ``a``'s ten-year present value equals ``b``'s."""
    return _break_even(s.model_dump_json(), a, b, min(s.trials, SENSITIVITY_TRIALS))


@st.cache_data(max_entries=16, show_spinner=False)
def _tornado(scenario_json: str, path: str, trials: int) -> pd.DataFrame:
    return horizon_report.ten_year_tornado(Scenario.model_validate_json(scenario_json), path, trials=trials)


def tornado_cached(s: Scenario, path: str) -> pd.DataFrame:
    """Each main input's swing on ``path``'s ten-year present value."""
    return _tornado(s.model_dump_json(), path, min(s.trials, SENSITIVITY_TRIALS))


def table_rows(result: horizon.HorizonResult) -> list[dict[str, object]]:
    """Per path: ten-year net, present value and the 2027–2031 / 2032–2036 split (dollars)."""
    df = horizon_report.by_year(result)
    ren = horizon_report.renewal_index(result)
    out = []
    for p in result.summary():
        g = df[df["path"] == p["path"]]
        out.append({"path": p["path"], "ten_year_net": p["ten_year_net"], "present_value": p["present_value"],
                    "first_five": float(g.iloc[:ren]["net"].sum()) if ren else float("nan"),
                    "last_five": float(g.iloc[ren:]["net"].sum()) if ren else float("nan"),
                    "settled": p["settled"]})
    return out


# --------------------------------------------------------------------------- the view


def show(s: Scenario, chart) -> horizon.HorizonResult:
    """The ten-year view on Compare tracks. ``chart`` is dashboard.widgets.chart (draws a figure)."""
    hs = horizon_scenario(s)
    with st.spinner(f"Simulating {hs.trials:,} futures over ten years for every path…"):
        result = simulate_cached(s)
    df = horizon_report.by_year(result)
    colors = path_colors(result)
    ren = horizon_report.renewal_index(result)
    renewal = result.years[ren] if ren is not None else None
    with st.container(key="horizon_story"):
        st.markdown("\n\n".join(md(t) for t in horizon_report.sentences(result)))
    st.subheader("Money kept, year by year")
    pv = st.toggle("Show present value", key="compare.horizon_pv",
                   help=f"Each year's cash discounted at {result.discount_rate:.0%} a year to the start of "
                        f"{result.years[0]}, settlement cash arriving {result.cash_lag} year(s) after the "
                        "performance year (data/horizon/rebasing.yaml).")
    chart(charts.horizon_cumulative(df, colors, renewal, present_value=pv), "horizon_cumulative")
    st.caption("Dotted lines: MSSP paths (first agreement, then the renewal); solid: LEAD (one agreement). "
               "Each point is the average over the simulated futures of everything kept up to that year, "
               "after the ACO's costs. Look at the dashed line: after it, MSSP's lines bend down as the "
               "rebased benchmark leaves less to share.")
    st.subheader("The benchmark each path settles against")
    chart(charts.horizon_benchmark(df, colors, renewal), "horizon_benchmark")
    r = horizon_report.ratchet(result)
    if r is not None:
        st.caption(f"MSSP's benchmark steps down in {r.renewal_year}: it is rebuilt from your own "
                   f"{r.benchmark_years[0]}–{r.benchmark_years[1]} spending ({horizon_report.per_capita(r.history)} per "
                   f"beneficiary against {horizon_report.per_capita(r.before)} before), plus the {r.kind} "
                   f"({horizon_report.per_capita(r.adjustment)}). LEAD's "
                   "stays on its base, updated by the trend, for all ten years.")
    rows = table_rows(result)
    lines = ["| Path | 2027–2031 | 2032–2036 | Ten years | Present value |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        if row["settled"]:
            lines.append(f"| {md(row['path'])} | {money(row['first_five'], signed=True)} | "
                         f"{money(row['last_five'], signed=True)} | **{money(row['ten_year_net'], signed=True)}** | "
                         f"{money(row['present_value'], signed=True)} |")
    st.markdown(md("\n".join(lines)))
    lead_k = next((p.steps.get("reach_factor") for p in result.paths if p.path.lead), None)
    st.caption(f"{result.scenario.trials:,} simulated futures, seed {result.scenario.seed}; every path is settled "
               "on the same futures. Region spending relative to the ACO's: "
               f"{result.settings['region_ratio']:.3f} (1 / historical spending vs region). "
               + ("LEAD's benchmark level is fitted on ACO REACH results [INF], as in the one-agreement view. "
                  if lead_k is not None and float(lead_k.mean()) != 1.0 else "")
               + ("The CY2027 proposal (PROPOSED) is on: 75% prior savings adjustment, ENHANCED's regional "
                  "weight at most 35%." if result.settings["psa_proposal"] else ""))
    return result
