"""The board-ready PowerPoint deck (python-pptx): the recommendation, the charts, what drives
the result, the scenarios compared, the assumptions; provenance in every footer, speaker
notes on every slide.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..model.montecarlo import SimulationResult
from ..model.montecarlo import summary as mc_summary
from ..text import money
from . import words
from .images import DRIVERS_TITLE, figures_png, key_figures
from .provenance import Provenance, provenance
from .tables import appendix_table, comparison_display, display_table
from .words import NOT_OPEN_TITLE, board_sentence, key_assumptions, not_open, open_rows


def _key_numbers(summary: pd.DataFrame, n: int = 6) -> pd.DataFrame:
    top = open_rows(summary).sort_values("expected_net", ascending=False, kind="stable").head(n)
    return display_table(top, {
        "Track": ("track", "text", 0), "Expected net": ("expected_net", "money", 0),
        "Chance of ending behind": ("p_net_loss", "prob", 1), "Chance of owing CMS": ("p_owe_cms", "prob", 0),
        "Bad case (1 in 20)": ("p5", "money", 0), "Good case (1 in 20)": ("p95", "money", 0),
    })


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
    text = recommendation_text or words.recommendation_text(summary, len(result.years))
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
