"""Scenarios (consultant workflow): start from a preset close to the client, share or save the
scenario, and compare named snapshots side by side on the same simulated futures."""

from __future__ import annotations

import html

import streamlit as st

from dashboard import engine, links, state, widgets, workflow
from simulation.reports import charts
from simulation.text import headline, md_escape, money, pct

links.deep_link_guard()
s = state.get_scenario()


def _points(x: float) -> str:
    """A change in a probability in percentage points: +3 pts, −12 pts, ±0 pts."""
    v = round(x * 100)
    return "±0 pts" if v == 0 else f"{'+' if v > 0 else '−'}{abs(v)} pts"


st.title("Scenarios")
st.caption(widgets.scenario_caption(s))
st.markdown("Start from a preset close to the client, adjust it in the sidebar, then **snapshot** it; "
            "change it and snapshot again to compare the two on the same simulated futures. Share a "
            "link or save a file to come back to any of it.")

# ---------------------------------------------------------------- presets
st.subheader("Start from a preset")
with st.container(key="presets"):
    workflow.preset_picker(state.PAGE_PRESET, detailed=True)
st.caption("Archetypes are the median CMS ACO of their kind (PY2023 results); assumption sets come from "
           "the spread of ACOs' savings rates and quality (PY2016–PY2023) and the project's calibration. "
           "Labels: **CMS** from CMS data; **SEC** a secondary source and **INF** inferred — both "
           "assumptions. Tracks, futures and seed are left as they are.")

# ---------------------------------------------------------------- share and save
st.subheader("Share and save")
left, right = st.columns(2, gap="large")
with left:
    st.markdown("**Link to this scenario**")
    workflow.share_box(s, key="scenarios.save")
    snaps = state.snapshots()
    if snaps:
        st.download_button(f"Save the scenario and its {len(snaps)} snapshot{'s' * (len(snaps) != 1)} (JSON)",
                           data=lambda: workflow.scenario_set_file(s, dict(snaps)),
                           file_name=workflow.safe_file_name(s.name, "-with-snapshots.json"),
                           mime="application/json", key="scenarios.save_set", icon=":material/download:",
                           on_click="ignore")
with right:
    st.markdown("**Open a saved scenario**")
    workflow.upload_widget()

# ---------------------------------------------------------------- side by side
st.subheader("Side by side")
note = st.session_state.pop(state.SNAPSHOT_NOTE, None)
name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
with name_col:
    st.text_input("Name of the snapshot", key=state.SNAPSHOT_NAME, max_chars=80,
                  placeholder=f"e.g. Stay in BASIC — default: {s.name}",
                  help="Keeps a copy of the sidebar's scenario under this name (a snapshot of the same "
                       "name is replaced). Then change the sidebar and snapshot again.")
with button_col:
    st.button("Snapshot the scenario", key="scenarios.snapshot", icon=":material/photo_camera:",
              on_click=workflow.snapshot_clicked, width="stretch", type="primary")
if note:
    st.toast(note, icon=":material/photo_camera:")

snaps = state.snapshots()
if not snaps:
    st.info("No snapshots yet. Name the scenario and snapshot it, change something in the sidebar "
            "(say, the tracks or the operating cost), then snapshot it again.", icon=":material/info:")
first = next(iter(snaps.values()), None)
for i, (name, snap) in enumerate(snaps.items()):
    a, b, c = st.columns([6, 1.2, 1.2], vertical_alignment="center")
    what = (widgets.scenario_caption(snap).split(" · ", 1)[1] if i == 0 or first is None
            else "against the first: " + workflow.changes(first, snap))
    a.markdown(widgets.md(f"**{md_escape(name)}** — {md_escape(what)}"))
    b.button("Edit", key=f"scenarios.load.{i}", icon=":material/edit:", on_click=workflow.load_snapshot,
             args=(name,), width="stretch", help="Put this snapshot in the sidebar to change it.")
    c.button("Remove", key=f"scenarios.drop.{i}", icon=":material/delete:", on_click=workflow.drop_snapshot,
             args=(name,), width="stretch")

CURRENT = "Sidebar (not saved)"
candidates = dict(snaps)
if all(snap.model_copy(update={"name": s.name}) != s for snap in snaps.values()):
    candidates[CURRENT] = s
if len(candidates) >= 2:
    if st.session_state.get(state.COMPARE_CHOICES) != list(candidates):  # new snapshots: compare them all
        st.session_state[state.COMPARE_CHOICES] = list(candidates)
        st.session_state["scenarios.compare"] = list(candidates)[:4]
    picked = st.multiselect("Compare", list(candidates), key="scenarios.compare", max_selections=4,
                            help="Two to four scenarios; the first is the baseline the others are "
                                 "measured against.")
    if len(picked) < 2:
        st.info("Pick at least two scenarios to compare.")
    else:
        named = {n: candidates[n] for n in picked}
        cols = st.columns(len(named))
        tracks: dict[str, str] = {}
        for col, (n, sc) in zip(cols, named.items(), strict=True):
            keys = [t.key for t in sc.tracks]
            summ = engine.summary_cached(sc)
            best = summ.sort_values("expected_net", ascending=False)["track"].iloc[0]
            key = f"scenarios.track.{n}"
            widgets.page_choice(key, keys, best)
            tracks[n] = col.selectbox(f"Track in “{n}”", keys, key=key,
                                      help="Defaults to the track with the highest expected net.")
        with st.spinner("Simulating the scenarios on the same futures…"):
            table, quant, summary = workflow.side_by_side(named, tracks)
        st.session_state[state.COMPARISON] = table
        base_name = picked[0]
        base = table.iloc[0]
        lines = []
        for _, r in table.iloc[1:].iterrows():
            ahead = r.delta_expected_net >= 0
            lines.append(
                f"**{html.escape(r.scenario)}** ({r.track}) {'gains' if ahead else 'loses'} "
                f"**{money(abs(r.delta_expected_net))}** on average against **{html.escape(base_name)}** "
                f"({base.track})" + (f" (± {money(r.delta_mcse)})" if r.delta_mcse >= 1 else "")
                + " and ends ahead of it in "
                f"**{pct(r.p_better, 0)}** of the same futures; it owes CMS in some year in "
                f"{pct(r.p_owe_cms, 0)} of futures against {pct(base.p_owe_cms, 0)}.")
        with st.container(key="story"):
            st.markdown(widgets.md("\n\n".join(lines)))
        colors = {row.track: charts.track_color(row.code) for row in summary.itertuples()}
        headers = [("Scenario and track", None), ("Expected net", "Average net over the agreement, after costs."),
                   ("vs baseline", "Difference from the first row's expected net, on the same futures."),
                   ("Ahead in", "Share of the same futures in which it ends ahead of the baseline."),
                   ("Owe CMS", "Chance of owing CMS shared losses in some year (change from the baseline)."),
                   ("Bad case", "5th percentile: 1 in 20 futures end below it (change from the baseline)."),
                   ("Good case", "95th percentile: 1 in 20 futures end above it.")]

        def _delta(text: str) -> str:
            return f'<br><span style="color:#5f6b7a;font-size:0.8rem">{text}</span>'

        rows = []
        for (_, r), label in zip(table.iterrows(), summary["track"], strict=True):
            first = r.scenario == base_name and r.track == base.track
            rows.append([
                f'<span class="wrap">{widgets.track_cell(r.scenario, colors[label])}<br>'
                f'<span style="color:#5f6b7a;font-size:0.85rem;padding-left:19px">{html.escape(r.track)}</span></span>',
                f"<b>{widgets.money_cell(r.expected_net)}</b>",
                "baseline" if first else f"<b>{widgets.money_cell(r.delta_expected_net)}</b>",
                "–" if first else pct(r.p_better, 0),
                pct(r.p_owe_cms, 0) + ("" if first else _delta(_points(r.delta_p_owe_cms))),
                widgets.money_cell(r.p5) + ("" if first else _delta(money(r.delta_p5, signed=True))),
                widgets.money_cell(r.p95),
            ])
        widgets.html_table(rows, headers)
        sj = tuple(sc.model_dump_json() for sc in named.values())
        widgets.chart(widgets.figure(("side_by_side", sj, tuple(tracks.items())),
                                   lambda: charts.distribution(quant, summary, colors)), "side_by_side")
        st.caption(f"Every scenario runs on the first one's seed ({table.attrs['seed']}) and "
                   f"{table.attrs['trials']:,} futures, so each future is the same luck in all of them and the "
                   "differences are the assumptions and the track, not chance. ± is the Monte Carlo error of "
                   "the difference.")
        for w in table.attrs.get("warnings", []):
            st.warning(w)
        st.markdown("**What differs between them**")
        paths, diff = workflow.diff_rows(named)
        if diff:
            widgets.html_table(diff, [("Input", None)] + [(n, None) for n in named], left=1)
            st.caption("Highlighted: different from the baseline (the first column).")
        else:
            st.caption("Their inputs are the same; only the tracks compared differ.")
elif snaps:
    st.info("The sidebar holds the same scenario as the snapshot: change something in the sidebar to "
            "compare it, or snapshot another scenario.", icon=":material/info:")

# ---------------------------------------------------------------- assumptions
st.subheader("Assumptions behind the numbers")
st.markdown("Every value below is **not** regulation text: **SEC** comes from a secondary source and "
            "**INF** is inferred; **CMS** defaults are fitted on CMS's published results. Numeric ones "
            "can be changed for one track as a what-if; the track is then marked *what-if*.")
table = engine.assumptions_cached(s)
# one row per assumption and value, naming every track that uses it
shown = (table.groupby(["description", "parameter", "value", "confidence", "citation"], sort=False)["track"]
         .agg(lambda keys: ", ".join(dict.fromkeys(keys))).reset_index()
         .rename(columns={"track": "Tracks", "description": "Assumption", "parameter": "Key",
                          "value": "Value", "confidence": "Label", "citation": "Source"}))
shown["Assumption"] = shown["Assumption"].map(headline)
# an HTML table whose columns wrap (a data grid cuts long text at a laptop's width), in a
# scrolling box so that 70 rows do not push the what-if below the fold
with st.container(height=min(520, 60 + 48 * len(shown)), key="assumptions.table"):
    widgets.html_table(
        [[f'<span class="wrap">{html.escape(str(r.Assumption))}</span>',
          f'<span class="brk">{html.escape(str(r.Value))}</span>',
          html.escape(str(r.Label)),
          f'<span class="wrap">{html.escape(str(r.Tracks))}</span>',
          f'<span class="src brk">{html.escape(str(r.Source))}</span>',
          f'<code class="brk">{html.escape(str(r.Key))}</code>'] for r in shown.itertuples(index=False)],
        [("Assumption", None), ("Value", None),
         ("Label", "SEC: secondary source; INF: inferred; CMS: fitted on CMS's published results."),
         ("Tracks", "The tracks that use this value."), ("Source", None),
         ("Key", "The parameter's name in data/tracks/.")], left=6, fixed=(22, 14, 8, 15, 27, 14))
editable = table[table["overridable"]]
if not editable.empty:
    with st.container(border=True, key="whatif"):
        st.markdown("**Change one as a what-if**")
        c1, c2, c3, c4 = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
        track = c1.selectbox("Track", sorted(editable["track"].unique()), key="scenarios.whatif.track")
        params = sorted(editable.loc[editable["track"] == track, "parameter"].unique())
        param = c2.selectbox("Parameter (a fraction, 0-1)", params, key="scenarios.whatif.param")
        current = editable.loc[(editable["track"] == track) & (editable["parameter"] == param), "value"]
        try:
            start = min(1.0, max(0.0, float(current.iloc[0])))
        except (IndexError, ValueError):
            start = 0.0
        value = c3.number_input("New value", min_value=0.0, max_value=1.0, value=start, step=0.005,
                                format="%.3f", key=f"scenarios.whatif.value.{track}.{param}")
        if c4.button("Apply", key="scenarios.whatif.apply", type="primary"):
            try:
                state.set_scenario(workflow.with_override(s, track, param, value))
                st.rerun()
            except ValueError as exc:
                st.error(str(exc))
if any(c.overrides for c in s.tracks) and st.button("Clear every what-if", key="scenarios.whatif.clear"):
    state.set_scenario(workflow.with_override(s, None, None, None))
    st.rerun()
