"""The reports floor: every figure (house style) and every document made from a result.

The rooms: :mod:`.charts` (the dashboard's figures), :mod:`.words` (the one recommendation
and the sentences for a board), :mod:`.provenance` (what every export carries),
:mod:`.tables` (reader tables, CSV, Excel), :mod:`.images` (the documents' charts as PNG),
:mod:`.deck` (PowerPoint) and :mod:`.documents` (HTML, PDF). The exports are gathered here,
so a caller writes ``from simulation import reports`` and ``reports.xlsx_bytes(...)``.
"""

from . import charts, words
from .deck import pptx_bytes
from .documents import find_browser, report_html, report_pdf
from .images import (
    DRIVERS_TITLE,
    EXPORT_WIDTH,
    figure_png,
    figures_png,
    key_figures,
    png_with_provenance,
)
from .provenance import Provenance, ReportError, provenance
from .tables import (
    appendix_table,
    assumptions_table,
    comparison_display,
    per_trial_table,
    summary_csv,
    summary_for_export,
    trials_csv,
    xlsx_bytes,
)
from .words import (
    NOT_OPEN_TITLE,
    board_sentence,
    drivers_table,
    drivers_text,
    key_assumptions,
    recommendation_text,
)

__all__ = [
    "DRIVERS_TITLE", "EXPORT_WIDTH", "NOT_OPEN_TITLE", "Provenance", "ReportError", "appendix_table",
    "assumptions_table", "board_sentence", "charts", "comparison_display", "drivers_table",
    "drivers_text", "figure_png", "figures_png", "find_browser", "key_assumptions", "key_figures",
    "per_trial_table", "png_with_provenance", "pptx_bytes", "provenance", "recommendation_text",
    "report_html", "report_pdf", "summary_csv", "summary_for_export", "trials_csv", "words",
    "xlsx_bytes",
]
