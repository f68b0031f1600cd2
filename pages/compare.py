"""Compare tracks (home): what each track pays on average, how often it costs money, and the
spread of results, all on the same simulated futures."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from dashboard import engine, fields, horizon_view, links, state, widgets
from simulation.model import eligibility
from simulation.model.scenario import AcoProfile
from simulation.reports import charts
from simulation.reports.words import recommend
from simulation.text import md_escape, money, pct

links.deep_link_guard()
s = state.get_scenario()
with st.spinner(f"Simulating {s.trials:,} futures under {len(s.tracks)} tracks…"):
    result = engine.simulate_cached(s)
    summ = engine.summary_cached(s)
    quant = engine.quantiles_cached(s)
colors = widgets.colors_for(result)
codes = widgets.key_codes(result)
years = len(s.years)
open_keys = [str(t) for t in summ.loc[summ["open"], "track"]]
why = dict(zip(summ["track"], summ["why"], strict=True))
rec = recommend(summ, years)
span = f"over {years} year{'s' * (years > 1)}"

st.title("Compare tracks")
st.caption(widgets.scenario_caption(s))
if horizon_view.choice() == horizon_view.TEN:  # the ten-year view (dashboard/horizon_view.py)
    horizon_view.show(s, widgets.chart)
    st.stop()

# ---------------------------------------------------------------- what the ACO can enter, first
CATEGORY_KEY = state.REVENUE_CATEGORY  # (ACO inputs, the revenue-category notice) of the last view


def _category_notice() -> None:
    """Name a change of revenue category since the ACO's last inputs, while those inputs hold
    (e.g. 'Decide from the numbers' turns 8,000 beneficiaries with $60M revenue high-revenue)."""
    aco = s.aco
    seen = st.session_state.get(CATEGORY_KEY)
    notice = None
    if seen is not None and seen[0] == aco.model_dump_json():
        notice = seen[1]
    elif seen is not None:
        notice = eligibility.category_change_text(AcoProfile.model_validate_json(seen[0]), aco)
    st.session_state[CATEGORY_KEY] = (aco.model_dump_json(), notice)
    if notice:
        st.info(widgets.md(notice), icon=":material/swap_horiz:")


_category_notice()
if rec.track is None:
    with st.container(key="story"):  # instead of a recommendation: why the ACO cannot enter
        st.error(widgets.md(rec.reason or ""), icon=":material/block:")
elif rec.closed:
    reasons: dict[str, list[str]] = {}
    for track, reason in rec.closed:
        reasons.setdefault(reason, []).append(track)
    with st.container(key="not_open"):
        st.warning("**Not open to you** (simulated as a what-if, never recommended):\n\n" + "\n".join(
            f"- **{md_escape(', '.join(tracks))}**: {widgets.md(reason)}" for reason, tracks in reasons.items()),
            icon=":material/gavel:")

# ---------------------------------------------------------------- the trade-off in words
if rec.track is not None:
    with st.container(key="story"):
        st.markdown(rec.markdown)

TIPS = {
    "net": "Shared savings CMS pays minus shared losses the ACO repays, minus the ACO's own costs "
           "(operating, start-up, lost revenue), summed over the agreement; the average over all futures.",
    "pm": "Monte Carlo standard error: how much this average could move with another set of random "
          "futures. Two tracks closer than about twice this are effectively tied.",
    "owe": "Share of futures in which CMS bills the ACO shared losses in at least one year.",
    "pay": "Share of futures in which CMS pays shared savings in at least one year.",
    "behind": "Share of futures in which the ACO ends the agreement behind, after its own costs.",
    "p5": "5th percentile of the net result: 1 in 20 futures end below it.",
    "p95": "95th percentile of the net result: 1 in 20 futures end above it.",
    "range": "The 5th and 95th percentiles of the net result: 1 in 20 futures end below the first "
             "number, 1 in 20 above the second.",
    "limit": "The most CMS can collect in shared losses over the agreement under the track's loss limits, "
             "at the expected benchmark (0 for one-sided tracks; REACH's risk corridors have no fixed limit).",
}


#: The terms on each card, in the order they appear, and their explanation in TIPS.
CARD_TERMS = (("Expected net", "net"), ("±", "pm"), ("Owe CMS", "owe"), ("Any payment", "pay"),
              ("5th–95th", "range"))


def _tip(text: str, key: str) -> str:
    return f'<span class="tip" title="{html.escape(TIPS[key])}">{text}</span>'


# ---------------------------------------------------------------- KPI cards
def _card(row: pd.Series) -> str:
    c = colors.get(row.track, charts.NEUTRAL)
    tip = html.escape(fields.track_summary(codes[row.track]))
    return f"""
<div class="kpi" style="--track:{c}">
  <div class="name" title="{tip}">{html.escape(row.track)}</div>
  <div class="value" style="color:{charts.money_color(row.expected_net)}">{money(row.expected_net, signed=True)}</div>
  <div class="sub">{_tip("expected net", "net")} {span}, after costs ·
    {_tip("± " + money(row.mcse), "pm")}</div>
  <div class="row">{_tip("Owe CMS", "owe")}: <b>{pct(row.p_owe_cms, 0)}</b> of futures</div>
  <div class="row">{_tip("Any payment", "pay")}: <b>{pct(row.p_any_payment, 0)}</b></div>
  <div class="row">{_tip("5th–95th", "range")}: {widgets.money_cell(row.p5)} to {widgets.money_cell(row.p95)}</div>
</div>"""


ranked = summ.sort_values("expected_net", ascending=False, kind="stable")
top = ranked[ranked["track"].isin(open_keys)].head(4)
if len(top):
    st.html('<div class="kpis">' + "".join(_card(row) for _, row in top.iterrows()) + "</div>")
st.caption(
    (f"The {len(top)} track{'s' * (len(top) != 1)} open to this ACO in {s.years[0]} with the highest expected net "
     "(hover a name for its terms). " if len(top) else
     f"No KPI cards: no compared track is open to this ACO in {s.years[0]} (see above). ")
    + "Averages over "
    f"{result.trials:,} simulated futures, seed {result.seed} — the same seed reproduces every number; "
    "± is the Monte Carlo standard error. All tracks are settled on the same futures, so differences "
    "between them are policy, not luck."
)
with st.expander("What the cards show", icon=":material/help:"):  # the tooltips, for touch and keyboard
    st.markdown(widgets.md("\n".join(f"- **{name}**: {TIPS[k]}" for name, k in CARD_TERMS)
                          + "\n- **Track name**: hover it, or see the table below, for the track's terms."))

# ---------------------------------------------------------------- risk and return
st.subheader("Risk and return")
# one widget kind (button groups) on the home page: each kind is a script the browser must load
left, right = st.columns(2, vertical_alignment="bottom")
widgets.page_choice("compare.downside", ["p5", "es5"], "p5")
downside = left.segmented_control(
    "Downside measure", ["p5", "es5"], key="compare.downside", persist_state="session", required=True,
    format_func={"p5": "Bad case (5th percentile)", "es5": "Worst 1 in 20, averaged"}.get,
    help="5th percentile: 1 in 20 futures end below it. 'Worst 1 in 20, averaged' (expected "
         "shortfall) is the average of those worst futures, so it also counts how bad they get.")
widgets.page_choice("compare.scale", ["focus", "all"], "focus")
focus = right.segmented_control(
    "Scale", ["focus", "all"], key="compare.scale", persist_state="session", required=True,
    format_func={"focus": "Zoom on the leaders", "all": "Every track to scale"}.get,
    help="Zoomed, tracks far below the rest are pinned to the chart's edge and their values listed under "
         "the chart, so the close contenders stay readable.") == "focus"
sj = s.model_dump_json()
fig = widgets.figure(("risk_return", sj, downside, focus),
                    lambda: charts.risk_return(summ, colors, downside=downside, focus=focus))
widgets.chart(fig, "risk_return")
off = (fig.layout.meta or {}).get("off_chart", [])
st.caption("Up = more money on average; right = a milder bad case. The best tracks sit high and to the "
           "right; a track both lower and further left than another is dominated."
           + (" Pinned to the edge, far off the chart: " + "; ".join(off) + "." if off else ""))

# ---------------------------------------------------------------- table
st.subheader("All tracks")
headers = [("Track", "Risk track with any election; hover a name for its terms."),
           ("Expected net", TIPS["net"]), ("±", TIPS["pm"]), ("Owe CMS", TIPS["owe"]),
           ("Any payment", TIPS["pay"]), ("Ends behind", TIPS["behind"]),
           ("Bad case (5th pct)", TIPS["p5"]), ("Good case (95th pct)", TIPS["p95"]),
           ("Most CMS can collect", TIPS["limit"])]
rows: list[list[str] | str] = []
for _, r in pd.concat([ranked[ranked["open"]], ranked[~ranked["open"]]]).iterrows():
    limit = r.largest_allowed_loss
    if not r["open"] and r.track == ranked[~ranked["open"]].iloc[0].track:
        rows.append(f"Not open to you in {s.years[0]} — simulated as a what-if, never recommended")
    rows.append([
        widgets.track_cell(r.track, colors.get(r.track, charts.NEUTRAL), fields.track_summary(codes[r.track]))
        + ("" if r["open"] else '<br><span class="notopen" style="color:#5f6b7a;font-size:0.8rem">Not open to you: '
           + html.escape(str(why[r.track])) + "</span>"),
        f"<b>{widgets.money_cell(r.expected_net)}</b>", money(r.mcse), pct(r.p_owe_cms, 0),
        pct(r.p_any_payment, 0), pct(r.p_net_loss, 0), widgets.money_cell(r.p5), widgets.money_cell(r.p95),
        "no fixed limit" if pd.isna(limit) else money(limit),
    ])
widgets.html_table(rows, headers)

# ---------------------------------------------------------------- distributions
st.subheader("The spread of results")
featured = ([k for k, c in codes.items() if c in charts.FEATURED and k in open_keys] or open_keys[:6]
            or list(result.keys)[:6])
widgets.page_choice("compare.tracks", list(result.keys), featured)
picked = st.pills(
    "Tracks in these charts", list(result.keys), selection_mode="multi", key="compare.tracks",
    persist_state="session",
    help="Six main tracks are shown first — BASIC A and E, ENHANCED, the glide path and the two REACH "
         "options; click any other to add it.")
order = [k for k in ranked["track"] if k in picked]
if not order:
    st.info("Pick at least one track.")
else:
    widgets.page_choice("compare.view", ["spread", "chance"], "spread")
    view = st.segmented_control(
        "View", ["spread", "chance"], key="compare.view", persist_state="session",
        required=True, label_visibility="collapsed",
        format_func={"spread": "How results spread", "chance": "Chance of ending ahead"}.get)
    if view == "chance":
        widgets.chart(widgets.figure(("exceedance", sj, *order), lambda: charts.exceedance(quant, colors, order)),
                     "exceedance")
        st.caption("Read up from a dollar amount: the height of a line is the chance of ending the agreement "
                   "at least that far ahead. Where lines cross, one track is likelier to do well and the "
                   "other likelier to do very well.")
    else:
        widgets.chart(widgets.figure(("distribution", sj, *order),
                                   lambda: charts.distribution(quant, summ, colors, tracks=order)), "distribution")
        st.caption("Each shape shows how the net result spreads over the simulated futures (the middle 98%); "
                   "the white box holds the middle half and the diamond is the average. A spike is many "
                   "futures ending on the same amount — often 'no payment: the costs alone'.")

# ---------------------------------------------------------------- notes
notes = widgets.notes_by_text(result)
for text, keys, whatif in notes:
    if not whatif:
        st.warning(f"**{', '.join(keys)}**: {text}", icon=":material/gavel:")
whatifs = [n for n in notes if n[2]]
if whatifs:
    with st.expander(f"Rules used beyond the years a track ran ({len(whatifs)} notes)", icon=":material/info:"):
        st.markdown("Where a track's published rules stop before the agreement ends, the nearest "
                    "year's rules are applied — a what-if, not a forecast of CMS policy.\n\n"
                    + "\n".join(f"- {text} *({', '.join(keys)})*" for text, keys, _ in whatifs))
st.caption(f"Simulated in {result.seconds:.2f} s.")
