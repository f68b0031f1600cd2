"""The deck and the PDF a board reads: every track on the key chart with its values, the
recommendation in one sentence, words instead of codes, speaker notes, a print layout."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from simulation import reports
from simulation.model import montecarlo as mc
from simulation.model.compare import compare_results, simulate_named
from simulation.model.scenario import Scenario, TrackChoice
from simulation.reports import charts
from simulation.rules.catalog import load_catalog
from simulation.text import money, pct

TRACKS = [TrackChoice(track=c) for c in ("BASIC_A", "BASIC_C", "BASIC_E", "ENHANCED", "REACH_GLOBAL")]
RAW_CODE = re.compile(r"\b[A-Z]+_[A-Z0-9_]+\b")        # TRACK_1, BASIC_GLIDE, REACH_GLOBAL
DECIMAL = re.compile(r"(?<![\d.$])\d+\.\d+")  # money ($119.12M) is formatted on purpose


def raw_float(text: str) -> str | None:
    """A decimal with more than four significant digits (1.49049, 0.037795), if any."""
    for m in DECIMAL.finditer(text):
        if len(m.group().replace(".", "").lstrip("0")) > 4:
            return m.group()
    return None
LINK = re.compile(r"docs/|\.md#|\.yaml|https?://")


@pytest.fixture(scope="module")
def result():
    return mc.simulate(Scenario(trials=1_000, tracks=TRACKS))


@pytest.fixture(scope="module")
def summ(result):
    return mc.summary(result)


def tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (60, 30), (0, 158, 115)).save(buf, "PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- the key chart


def _points_inside(fig) -> None:
    xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
    for trace in fig.data:
        for x, y in zip(trace.x, trace.y, strict=True):
            assert xr[0] <= x <= xr[1] and yr[0] <= y <= yr[1], (trace.name, x, y, xr, yr)


def test_document_risk_return_holds_every_track_with_its_values():
    # one track far off the others (as ENHANCED is for the small rural ACO): the dashboard's
    # zoomed chart pins it to the edge; the document's chart must show it with its values
    summary = pd.DataFrame({
        "track": ["BASIC A", "BASIC C", "BASIC D", "BASIC E", "ENHANCED"],
        "expected_net": [2.7e6, 4.4e6, 4.3e6, 4.2e6, 7.5e7],
        "p5": [-4.4e6, -4.9e6, -5.3e6, -6.2e6, -7.7e7],
        "p_owe_cms": [0.0, 0.1, 0.12, 0.15, 0.17]})
    colors = dict.fromkeys(summary["track"], "#000000")
    zoomed = charts.risk_return(summary, colors)
    assert zoomed.layout.meta["off_chart"]  # the dashboard's zoom does pin it
    doc = charts.risk_return(summary, colors, focus=False, values=True)
    assert doc.layout.meta["off_chart"] == []
    _points_inside(doc)
    labels = " ".join(t.text[0] for t in doc.data)
    for r in summary.itertuples():
        assert r.track in labels
        assert money(r.expected_net, signed=True) in labels and money(r.p5, signed=True) in labels
    assert "far off" not in " ".join(a.text for a in doc.layout.annotations)


def test_key_figures_keep_every_track_on_the_chart(result, summ):
    fig = reports.key_figures(result, summ)["Average result against the bad case"]
    assert fig.layout.meta["off_chart"] == []
    _points_inside(fig)


def test_every_track_has_a_colour_of_its_own():
    # distinguishable: at least 40 (of 441) apart in RGB between any two tracks of a family
    def rgb(h: str) -> np.ndarray:
        return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)], float)

    codes = list(charts.TRACK_COLORS)
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            d = np.linalg.norm(rgb(charts.TRACK_COLORS[a]) - rgb(charts.TRACK_COLORS[b]))
            assert d >= 40, (a, b, d)


# --------------------------------------------------------------------------- the deck


def _deck_texts(data: bytes):
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    out = []
    for slide in deck.slides:
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts += [c.text for row in shape.table.rows for c in row.cells]
        notes = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        out.append(("\n".join(parts), notes))
    return out


@pytest.fixture(scope="module")
def comparison(result):
    s = result.scenario
    other = s.model_copy(update={"name": "Higher cost",
                                 "costs": s.costs.model_copy(update={"annual_operating_cost": 2.5e6})})
    return compare_results(simulate_named({"As assumed": s, "Higher cost": other},
                                          {"As assumed": "ENHANCED", "Higher cost": "ENHANCED"}))


def test_deck_reads_as_a_board_deck(result, summ, comparison):
    drivers = ["Savings effect: at 1.9% the expected net is +$1.00M, at 5.7% it is +$9.00M."]
    images = {"Range of outcomes over the agreement": tiny_png(), "Average result against the bad case": tiny_png(),
              reports.DRIVERS_TITLE: tiny_png()}
    slides = _deck_texts(reports.pptx_bytes(result, summary=summ, images=images, comparison=comparison,
                                            drivers=drivers))
    titles = [t.split("\n")[0] for t, _ in slides]
    # REACH Global takes no agreement starting 2027: the deck lists it, with the reason, after the recommendation
    assert titles[1:7] == ["Recommendation", reports.NOT_OPEN_TITLE, "Average result against the bad case",
                           "Range of outcomes over the agreement", reports.DRIVERS_TITLE, "The scenarios compared"]
    assert titles[7] == "The assumptions that matter" and titles[8].startswith("Appendix: every assumption")
    assert "REACH Global: ACO REACH - Global took agreements starting 2023 to 2026" in slides[2][0]
    for text, notes in slides:
        assert len(notes) > 40, text[:40]                      # speaker notes on every slide
        assert not RAW_CODE.search(text), RAW_CODE.search(text)
        assert not raw_float(text), raw_float(text)
        assert not LINK.search(text), LINK.search(text)
        assert "…" not in text                                  # nothing truncated
    best = summ[summ["open"]].sort_values("expected_net", ascending=False).iloc[0]
    sentence = next(line for line in slides[1][0].split("\n") if line.startswith("Recommended:"))
    assert sentence.startswith(f"Recommended: {best.track},")
    assert pct(best.p_net_loss, 1) in sentence and money(best.expected_net, signed=True) in sentence
    assert sentence.count(". ") == 0                            # one sentence
    assert drivers[0] in slides[5][0]
    assert "Higher cost" in slides[6][0] and "As assumed" in slides[6][0]
    assert "20,000 assigned beneficiaries" in slides[7][0]
    appendix = "\n".join(t for t, _ in slides[8:])
    names = [c.key for c in result.scenario.tracks]
    assert "Assigned beneficiaries" in appendix and ", ".join(names) in appendix


def test_board_sentence_by_hand():
    # BASIC A +$2.00M, 20.0% behind; ENHANCED +$3.50M, 49.6% behind -> ENHANCED (the higher average)
    s = pd.DataFrame({"track": ["BASIC A", "ENHANCED"], "expected_net": [2e6, 3.5e6], "p_net_loss": [0.2, 0.496]})
    assert reports.board_sentence(s, 5) == ("Recommended: ENHANCED, which averages +$3.50M over the 5-year "
                                            "agreement after the ACO's own costs, with a 49.6% chance of "
                                            "ending behind.")


def test_appendix_values_are_words():
    s = Scenario(tracks=TRACKS)
    s = s.model_copy(update={"noise": s.noise.model_copy(update={"shock_multiplier": 1.490495}),
                             "aco": s.aco.model_copy(update={"enrollment_mix": {
                                 "esrd": 0.005, "disabled": 0.1, "aged_dual": 0.1, "aged_nondual": 0.795}})})
    s = Scenario.model_validate(s.model_dump())
    table = reports.appendix_table(s)
    values = dict(zip(table["Input"], table["Value"], strict=True))
    assert values["Shock size"] == "1.49×"
    assert values["Enrollment mix"].startswith("ESRD 0.5%, Disabled 10.0%")
    assert values["Tracks compared"] == "BASIC A, BASIC C, BASIC E, ENHANCED, REACH Global"
    text = table.to_string()
    assert not RAW_CODE.search(text) and not LINK.search(text)
    codes = {c for c in load_catalog().tracks if "_" in c}
    assert not codes & set(" ".join(table["Value"]).replace(",", " ").split())


def test_comparison_display_formats_money_and_chances(comparison):
    shown = reports.comparison_display(comparison)
    assert list(shown.columns[:3]) == ["Scenario", "Track", "Expected net"]
    row = comparison.iloc[1]
    assert shown.iloc[1]["Expected net"] == money(row.expected_net, signed=True)
    assert shown.iloc[1]["Chance of ending behind"] == pct(row.p_net_loss, 1)
    assert not raw_float(shown.to_string())


# --------------------------------------------------------------------------- the PDF

needs_print = pytest.mark.skipif(reports.find_browser() is None or shutil.which("pdftotext") is None,
                                 reason="needs Chrome or Chromium and pdftotext")


@needs_print
def test_pdf_is_laid_out_for_print(result, summ, comparison, tmp_path):
    figs = reports.key_figures(result, summ)
    images = reports.figures_png(figs, scale=1.0)
    pdf = reports.report_pdf(result, summary=summ, images=images, comparison=comparison,
                             drivers=["Savings effect: at 1.9% the expected net is +$1.00M."])
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 3 <= pages <= 7
    subprocess.run(["pdftoppm", "-r", "20", "-gray", "-png", str(path), str(tmp_path / "p")], check=True)
    from PIL import Image

    for page in range(1, pages + 1):
        png = sorted(tmp_path.glob("p-*.png"))[page - 1]
        ink = np.asarray(Image.open(png).convert("L")) < 200
        rows = np.flatnonzero(ink.any(axis=1))
        filled = (rows.max() + 1) / ink.shape[0] if len(rows) else 0.0
        # every page but the last is filled at least halfway down; the last at least a quarter
        assert filled >= (0.25 if page == pages else 0.5), (page, filled)
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert len([line for line in text.splitlines() if line.strip()]) >= 2, page  # never a page of one line
    full = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    full = " ".join(full.split())
    assert "Recommended:" in full and "Appendix: every assumption" in full and "Higher cost" in full
    assert not RAW_CODE.search(full)
