"""What drives the result: each assumption's swing on expected net (tornado), two assumptions
at once (heatmap), and the true savings each track needs to break even."""

from __future__ import annotations

import streamlit as st

from dashboard import engine, fields, horizon_view, links, state, widgets
from simulation.model import asymmetry, horizon
from simulation.model.scenario import get_path
from simulation.reports import charts
from simulation.reports import horizon as horizon_report
from simulation.text import pct

links.deep_link_guard()
s = state.get_scenario()
result = engine.simulate_cached(s)
summ = engine.summary_cached(s)
colors = widgets.colors_for(result)
codes = widgets.key_codes(result)
by_code = {c: k for k, c in codes.items()}
keys = list(result.keys)

st.title("What drives the result")
st.caption(widgets.scenario_caption(s))
st.markdown("Which assumptions move the expected result most, and how much true savings each track needs. "
            "Every variation reruns the simulation on the **same seed**, so the changes come from the "
            "assumption, not from luck. These analyses rerun the engine many times, so they use fewer "
            "futures than the other pages (shown under each chart).")

best = summ.sort_values("expected_net", ascending=False).iloc[0]["track"]
default = by_code.get("ENHANCED", best)
widgets.page_choice("drivers.track", keys, default)
track = st.selectbox("Track", keys, key="drivers.track", persist_state="session",
                     help="The tornado and the heatmap show this track's expected net over the agreement.")

# ---------------------------------------------------------------- tornado
st.subheader(f"Which assumptions matter most for {track}")
with st.spinner("Rerunning the simulation with each assumption set low and high…"):
    tdf = engine.tornado_cached(s, track)
fixed = tdf[tdf["low_value"] == tdf["high_value"]]["label"].tolist()
widgets.chart(charts.tornado(tdf[tdf["low_value"] != tdf["high_value"]]), "tornado")
n_t = engine.few_trials(s, engine.TORNADO_TRIALS)
st.caption(f"Each pair of bars: the expected net when one assumption is set to the value shown (lighter: low, "
           f"darker: high) and all others stay as in the sidebar. Longest bars first. {n_t:,} futures per run, "
           f"seed {s.seed}." + (f" Not shown: {', '.join(fixed)} (its swing rule leaves the current value unchanged)." if fixed else ""))
note = asymmetry.uncertainty_note(tdf, track, result.plans[keys.index(track)][0].rules)
if note:
    st.info(widgets.md(note), icon=":material/balance:")

# ---------------------------------------------------------------- heatmap
st.subheader("Two assumptions at once")
options = list(engine.GRID_INPUTS)
names = {p: fields.label(fields.ALL_INPUTS[p]) for p in options}
c1, c2 = st.columns(2)
widgets.page_choice("drivers.x", options, "performance.savings_effect")
x = c1.selectbox("Across", options, format_func=names.get, key="drivers.x", persist_state="session")
y_options = [p for p in options if p != x]
y_default = "performance.quality_mean" if x != "performance.quality_mean" else "performance.savings_effect"
widgets.page_choice("drivers.y", y_options, y_default)
y = c2.selectbox("Down", y_options, format_func=names.get, key="drivers.y", persist_state="session")
with st.spinner("Simulating every cell of the grid…"):
    g = engine.grid_cached(s, track, x, y)
xi, yi = fields.ALL_INPUTS[x], fields.ALL_INPUTS[y]
fig = charts.heatmap(
    g[g["track"] == track], {v: xi.text(v) for v in g["x"].unique()}, {v: yi.text(v) for v in g["y"].unique()},
    x_title=names[x], y_title=names[y], current=(get_path(s, x), get_path(s, y)))
widgets.chart(fig, "heatmap")
n_g = engine.few_trials(s, engine.GRID_TRIALS)
st.caption(f"Expected net of {track} over the agreement for each pair of values (green: the ACO comes out "
           f"ahead on average; orange: behind). {n_g:,} futures per cell, seed {s.seed}.")

# ---------------------------------------------------------------- break-even
st.subheader("The true savings you need")
pairs: list[tuple[str, str | None]] = [(k, None) for k in keys]
enh, bas_e = by_code.get("ENHANCED"), by_code.get("BASIC_E")
if enh and bas_e:
    pairs.append((enh, bas_e))
with st.spinner("Finding each track's break-even point (root finding on the same futures)…"):
    be = engine.break_even_cached(s, pairs)
effect = s.performance.savings_effect
lo, hi = be.attrs.get("lo", -0.05), be.attrs.get("hi", 0.15)

if enh and bas_e:
    row = be[(be["track"] == enh) & (be["versus"] == bas_e)].iloc[0]
    if row.status == "found":
        verdict = "so under your assumption ENHANCED is ahead" if effect > row.value else \
            "so under your assumption BASIC E is ahead"
        st.markdown(f"**{enh}** beats **{bas_e}** on average once the true savings effect exceeds "
                    f"**{pct(row.value, 2)}** of the benchmark. You assume {pct(effect, 2)}, {verdict}.")
    elif row.status == "ahead throughout":
        st.markdown(f"**{enh}** is ahead of **{bas_e}** on average for any true savings effect from "
                    f"{pct(lo, 0)} to {pct(hi, 0)}.")
    else:
        st.markdown(f"**{enh}** stays behind **{bas_e}** on average for any true savings effect from "
                    f"{pct(lo, 0)} to {pct(hi, 0)}.")

solo = be[be["versus"].isna()].copy()
solo = solo.sort_values("value", na_position="last", kind="stable")
rows = []
for _, r in solo.iterrows():
    if r.status == "found":
        need = f"<b>{pct(r.value, 2)}</b>"
        margin = effect - r.value
        verdict = (f'<span style="color:{charts.SAVINGS}">{pct(margin, 2)} to spare</span>'
                   if margin >= 0 else
                   f'<span style="color:{charts.LOSS}">{pct(-margin, 2)} short</span>')
    elif r.status == "ahead throughout":
        need, verdict = f"below {pct(lo, 0)}", f'<span style="color:{charts.SAVINGS}">ahead at any effect</span>'
    else:
        need, verdict = f"above {pct(hi, 0)}", f'<span style="color:{charts.LOSS}">out of reach</span>'
    rows.append([widgets.track_cell(r.track, colors.get(r.track, charts.NEUTRAL),
                                   fields.track_summary(codes[r.track])), need, verdict])
left, right = st.columns([1, 1])
with left:
    widgets.html_table(rows, [
        ("Track", None),
        ("Break-even effect", "The true savings effect (share of the benchmark the ACO truly saves, once "
                              "ramped up) at which the track's expected net over the agreement, after the "
                              "ACO's own costs, is zero."),
        ("Your margin", f"Your assumed effect ({pct(effect, 2)}, set in the sidebar) minus the break-even effect."),
    ])
with right:
    widgets.chart(charts.break_even_chart(solo, colors, effect), "break_even")
n_b = engine.few_trials(s, engine.BREAK_EVEN_TRIALS)
st.caption(f"Found with scipy's Brent root finder on the same {n_b:,} futures (seed {s.seed}) for every value "
           f"tried, between {pct(lo, 0)} and {pct(hi, 0)}. Every other assumption stays as in the sidebar, "
           "including the uncertainty of the effect.")

# ---------------------------------------------------------------- over ten years
st.subheader("Over ten years (2027–2036)")
st.markdown("The same questions over ten years: MSSP's first agreement and its 2032 renewal on a benchmark "
            "rebuilt from your own spending, against LEAD's one benchmark base (the ten-year view of Compare "
            "tracks). Measured in present value.")
names = [p.name for p in horizon.default_paths()]
h1, h2 = st.columns(2)
widgets.page_choice("drivers.h_a", names, "LEAD Global" if "LEAD Global" in names else names[0])
a = h1.selectbox("Path", names, key="drivers.h_a", persist_state="session")
others = [n for n in names if n != a]
widgets.page_choice("drivers.h_b", others, "ENHANCED → ENHANCED" if "ENHANCED → ENHANCED" in others else others[0])
b = h2.selectbox("Against", others, key="drivers.h_b", persist_state="session")
with st.spinner("Finding the ten-year break-even (same futures for every value tried)…"):
    hbe = horizon_view.break_even_cached(s, a, b)
st.markdown(widgets.md(horizon_report.break_even_sentence(hbe))
            + (f" You assume {pct(effect, 2)}." if hbe["status"] == "crosses" else ""))
with st.spinner("Rerunning ten years with each assumption set low and high…"):
    htd = horizon_view.tornado_cached(s, a)
htd["low_text"] = [fields.ALL_INPUTS[p].text(v) if p in fields.ALL_INPUTS else f"{v:g}"
                   for p, v in zip(htd["input"], htd["low_value"], strict=True)]
htd["high_text"] = [fields.ALL_INPUTS[p].text(v) if p in fields.ALL_INPUTS else f"{v:g}"
                    for p, v in zip(htd["input"], htd["high_value"], strict=True)]
widgets.chart(charts.tornado(htd[htd["low_value"] != htd["high_value"]], base_label="Ten-year present value"),
             "tornado_ten_years")
st.caption(f"{a}: each assumption set low and high, the others as in the sidebar; ten-year present value at "
           f"the default discount rate. {hbe['trials']:,} futures per run, seed {s.seed}.")
