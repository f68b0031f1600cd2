"""Export (consultant workflow): the results of the current scenario as CSV, Excel, an HTML
report, chart images, a board-ready PowerPoint and a PDF — every one with its provenance."""

from __future__ import annotations

import html
import math

import streamlit as st

from dashboard import engine, links, state, widgets, workflow
from simulation import reports

links.deep_link_guard()
s = state.get_scenario()
with st.spinner(f"Simulating {s.trials:,} futures…"):
    result = engine.simulate_cached(s)
    summary = engine.summary_cached(s)
    by_year = engine.by_year_cached(s)

st.title("Export")
st.caption(widgets.scenario_caption(s))
st.markdown("Leave the numbers behind: tables for the analysts, a deck for the board, a report to "
            "forward. Every file states where its numbers come from, so anyone can reproduce them.")

prov = reports.provenance(result)
text = workflow.recommendation(result, summary)
left, right = st.columns([1.25, 1], gap="large")
with left:
    st.markdown("**Provenance** (in every file)")
    st.html('<dl class="prov">' + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
                                        for k, v in prov.items()) + "</dl>")
with right:
    st.markdown("**The recommendation** (as the deck and the reports word it)")
    with st.container(key="story"):
        st.markdown(widgets.md(text))

# ---------------------------------------------------------------- tables and the HTML report
st.subheader("Tables and report")
comparison = st.session_state.get(state.COMPARISON)
files = workflow.export_files(result, summary, by_year, comparison, text)
# two buttons a row, so that each label fits on one line at 1280 px
cols = [c for _ in range(math.ceil(len(files) / 2)) for c in st.columns(2)]
for col, f in zip(cols, files, strict=False):
    with col:
        st.download_button(f.label, data=f.make, file_name=f.file_name, mime=f.mime, key=f"export.{f.file_name}",
                           icon=":material/download:", width="stretch", on_click="ignore", help=f.help)
        st.caption(f.help)

# ---------------------------------------------------------------- images, deck, PDF
st.subheader("Charts, PowerPoint and PDF")
st.markdown("The key charts — range of outcomes, average against the bad case, cumulative net year by "
            "year, what drives the result — drawn as images by a headless browser, then a board-ready deck "
            "(the recommendation in one sentence with the key numbers, the key chart, what drives the result, "
            "the scenarios compared side by side, the assumptions that matter in words, every assumption in "
            "an appendix; speaker notes on each slide) and a PDF report laid out for print. "
            "Any chart on the other pages also saves as a PNG, with the same provenance footer, from the "
            "**Save as PNG** button under it.")
ready = st.session_state.get(state.EXPORT_READY) == s.model_dump_json()
if not ready and st.button("Prepare the charts, deck and PDF", type="primary", icon=":material/slideshow:",
                           key="export.prepare", help="Takes 10–20 seconds the first time for a scenario."):
    with st.spinner("Drawing the charts and printing the PDF (10–20 s)…"):
        workflow.chart_pack(s, comparison)
    st.session_state[state.EXPORT_READY] = s.model_dump_json()
    st.rerun()
if ready:
    pack = workflow.chart_pack(s, comparison)
    if "error" in pack:
        st.error(f"The charts could not be drawn: {pack['error']}", icon=":material/error:")
    else:
        stem = workflow.safe_file_name(s.name, "")
        a, b = st.columns(2)
        a.download_button("PowerPoint deck", data=pack["pptx"], file_name=f"{stem}.pptx", key="export.pptx",
                          mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                          icon=":material/slideshow:", width="stretch", type="primary", on_click="ignore")
        if "pdf" in pack:
            b.download_button("PDF report", data=pack["pdf"], file_name=f"{stem}-report.pdf", key="export.pdf",
                              mime="application/pdf", icon=":material/picture_as_pdf:", width="stretch",
                              type="primary", on_click="ignore")
        else:
            b.warning(f"No PDF: {pack['pdf_error']}")
        cols = [c for _ in range(math.ceil(len(pack["pngs"]) / 2)) for c in st.columns(2)]
        for i, (col, (title, png)) in enumerate(zip(cols, pack["pngs"].items(), strict=False)):
            with col:
                st.markdown(f"**{title}**")
                st.download_button("Save as PNG", data=png, file_name=f"{stem}-chart-{i + 1}.png",
                                   mime="image/png", key=f"export.png.{i}", icon=":material/image:",
                                   on_click="ignore", width="stretch")
                st.image(png, width="stretch")
        st.caption(f"Prepared for this scenario at {pack['prov'].created} (UTC); change the scenario and "
                   f"they are prepared again. The deck and the reports cover the tracks open to an ACO "
                   f"starting in {s.years[0]}; the CSV and Excel files have every track.")
