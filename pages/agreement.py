"""Agreement period: how the net result builds up year by year, the glide path's levels and
the benchmark path."""

from __future__ import annotations

import streamlit as st

from dashboard import engine, links, state, widgets
from simulation.model.scenario import GLIDE
from simulation.reports import charts
from simulation.rules.catalog import load_catalog
from simulation.text import money, pct

links.deep_link_guard()
s = state.get_scenario()
with st.spinner(f"Simulating {s.trials:,} futures…"):
    result = engine.simulate_cached(s)
    by = engine.by_year_cached(s)
colors = widgets.colors_for(result)
codes = widgets.key_codes(result)
by_code = {c: k for k, c in codes.items()}

st.title("Agreement period")
st.caption(widgets.scenario_caption(s))
st.markdown("How the net result builds up over the agreement: the line is the middle future, the dark "
            "band holds half of all futures and the light band 9 in 10. Costs come first (start-up and "
            "operating costs in year 1); settlements follow.")

default = [by_code[c] for c in (GLIDE, "BASIC_E", "ENHANCED") if c in by_code] or list(result.keys)[:3]
widgets.page_choice("agreement.tracks", list(result.keys), default)
picked = st.multiselect("Tracks", list(result.keys), key="agreement.tracks",
                        persist_state="session", max_selections=6,
                        help="Up to six tracks, one panel each, on the same money scale.")
if not picked:
    st.info("Pick at least one track.")
    st.stop()

sj = s.model_dump_json()
widgets.chart(widgets.figure(("fan", sj, *picked), lambda: charts.fan(by, colors, picked)), "fan")

# ---------------------------------------------------------------- the glide path
glide_keys = [k for k in picked if codes[k] == GLIDE]
if glide_keys:
    k = glide_keys[0]
    plans = result.plans[result.index(k)]
    st.subheader("The BASIC glide path, year by year")
    st.markdown(f"**{k}** moves up one BASIC level a year (42 CFR 425.600(a)(4)): more of the savings, "
                "and from Level C a share of the losses, within a limit that grows with each level.")
    rows = []
    for yr, yp in zip(result.years, plans, strict=True):
        r = yp.rules
        if r.two_sided:
            bench = r.loss_limit_benchmark[0] if r.loss_limit_benchmark else None
            limit = (f"{pct(r.loss_limit_revenue, 0)} of participant revenue, capped at "
                     f"{pct(bench, 0)} of benchmark" if r.loss_limit_revenue and bench else "–")
            loss = pct(r.shared_loss_rate, 0) if r.shared_loss_rate is not None else "–"
        else:
            limit, loss = "none (one-sided)", "none"
        rows.append([str(yr), f"<b>{load_catalog().tracks[yp.code].short_label}</b>" + (" †" if yp.carried else ""),
                     pct(r.max_share_rate, 0), loss, limit])
    widgets.html_table(rows, [("Year", None), ("Level in force", "The BASIC level whose rules settle this year."),
                             ("Share of savings", "Maximum share of the savings CMS pays once they reach the minimum savings "
                                                   "rate — shared from the first dollar, not only above the MSR."),
                             ("Share of losses", "Share of the losses the ACO repays once they reach the minimum loss rate — "
                                                  "from the first dollar, up to the loss limit."),
                             ("Loss limit", "The most CMS can collect in the year.")], left=2)
    if any(yp.carried for yp in plans):
        st.caption("† rules carried forward from the last published year (a what-if).")

# ---------------------------------------------------------------- benchmark path
st.subheader("Benchmark and spending per beneficiary")
programs = {k: load_catalog().tracks[codes[k] if codes[k] != GLIDE else "BASIC_A"].program for k in picked}
widgets.chart(widgets.figure(("benchmark", sj, *picked), lambda: charts.benchmark_path(by, programs, picked)),
             "benchmark")
st.caption("The benchmark is what CMS expects the ACO's beneficiaries to cost; savings are the gap down to "
           "actual spending (averaged over the futures). MSSP updates the benchmark with the trend that "
           "actually happened (blended with a prospective trend from 2024); REACH and NGACO set it "
           "prospectively and then apply their discount.")

# ---------------------------------------------------------------- per-year table
st.subheader("Year by year")
rows: list = []
d = by[by["track"].isin(picked)]
for t in picked:
    g = d[d["track"] == t].sort_values("year")
    levels = list(dict.fromkeys(load_catalog().tracks[c].short_label for c in g["level"]))
    rows.append(widgets.track_cell(t, colors.get(t, charts.NEUTRAL))
                + (f' <span style="font-weight:400;color:#5f6b7a">— {" → ".join(levels)}</span>'
                   if len(levels) > 1 else ""))
    for _, r in g.iterrows():
        rows.append([
            f'<span style="padding-left:19px">{r.year}{" †" if r.rules_carried else ""}</span>',
            widgets.money_cell(r.expected_shared_savings), widgets.money_cell(-r.expected_shared_losses),
            widgets.money_cell(-r.expected_costs), f"<b>{widgets.money_cell(r.expected_net)}</b>",
            pct(r.p_payment, 0), pct(r.p_owe_cms, 0),
            widgets.money_cell(r.cum_net_mean),
            f"{widgets.money_cell(r.cum_net_p5)} to {widgets.money_cell(r.cum_net_p95)}",
        ])
widgets.html_table(rows, [
    ("Year", None),
    ("Shared savings", "Expected shared savings CMS pays for the year."),
    ("Shared losses", "Expected shared losses the ACO repays for the year."),
    ("Own costs", "Operating cost, start-up (year 1) and revenue lost on avoided spending."),
    ("Net, year", "Expected shared savings minus shared losses minus own costs for the year."),
    ("Payment", "Chance CMS pays shared savings for the year."),
    ("Owe CMS", "Chance the ACO owes shared losses for the year."),
    ("Cumulative, expected", "Expected net from the start of the agreement to the end of the year."),
    ("Cumulative, 5th–95th", "9 in 10 futures end the year between these two amounts (cumulative)."),
])
st.caption(f"† rules carried forward from the last published year (a what-if). Expected values are averages "
           f"over {result.trials:,} futures (seed {result.seed}); shared losses and costs are shown negative. "
           f"Expected net over the whole agreement: "
           + "; ".join(f"{t} {money(float(d[d['track'] == t]['expected_net'].sum()), signed=True)}" for t in picked)
           + ".")
