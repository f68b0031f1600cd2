"""The documents' charts: the key figures a board needs (from :mod:`simulation.reports.charts`,
the house look) and their images. PNG rendering needs Chrome or Chromium (kaleido finds
``/usr/bin/chromium``); every failure there is a one-line :class:`ReportError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..model.montecarlo import SimulationResult
from ..model.montecarlo import by_year as mc_by_year
from ..model.montecarlo import summary as mc_summary
from . import charts
from .provenance import ReportError
from .words import open_rows

#: The title of the drivers chart in an ``images`` mapping (its own slide, with the words).
DRIVERS_TITLE = "What drives the result"


#: The width in pixels of the charts drawn for the documents.
EXPORT_WIDTH = 1100


def key_figures(result: SimulationResult, summary: pd.DataFrame | None = None,
                by_year: pd.DataFrame | None = None, *, max_tracks: int = 6) -> dict[str, go.Figure]:
    """The charts a board needs, titled: the range of outcomes, average against bad case,
    and the cumulative net year by year (the best tracks by expected net)."""
    summary = summary if summary is not None else mc_summary(result)
    colors = charts.color_map(result.keys, [c.track for c in result.choices])
    shown = open_rows(summary) if len(open_rows(summary)) else summary  # the tracks the ACO can enter
    top = shown.sort_values("expected_net", ascending=False, kind="stable")["track"].head(max_tracks).tolist()
    quant = charts.quantile_table(result.sorted_net, result.keys, presorted=True)
    figs = {"Range of outcomes over the agreement": charts.distribution(quant, summary, colors, tracks=top)}
    if len(top) > 1:
        # every track on the chart with its values: a document cannot be hovered or zoomed
        figs["Average result against the bad case"] = charts.risk_return(
            summary[summary["track"].isin(top)], colors, focus=False, values=True,
            height=600, plot_width=EXPORT_WIDTH - 120)  # the image's width less the money axis
    if result.scenario.aco.agreement_years > 1:
        by_year = by_year if by_year is not None else mc_by_year(result)
        figs["Cumulative net, year by year"] = charts.fan(by_year, colors, top[:3])
    return figs


def _run_async(coro_factory):
    """Run an async function to completion from sync code, even inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


def figures_png(figures: Mapping[str, go.Figure], *, width: int = EXPORT_WIDTH, height: int | None = None,
                scale: float = 2.0, fmt: str = "png", timeout: float = 120.0) -> dict[str, bytes]:
    """Each figure as a PNG (or ``fmt``: 'svg', 'pdf', 'jpeg'), all in one browser session.

    ``height`` defaults to each figure's own layout height (else 500 px). Raises
    :class:`ReportError` if Chrome/Chromium cannot be started or a figure cannot be drawn.
    """
    if not figures:
        return {}
    try:
        import kaleido
    except ImportError:
        raise ReportError("chart images need the kaleido package (pip install kaleido)") from None

    async def render():
        out = {}
        async with kaleido.Kaleido(n=1, timeout=timeout, mathjax=False) as k:
            for title, fig in figures.items():
                h = height or (fig.layout.height if fig.layout.height else 500)
                out[title] = await k.calc_fig(fig, opts={"format": fmt, "width": width, "height": h,
                                                         "scale": scale})
        return out

    try:
        return _run_async(render)
    except Exception as exc:  # kaleido/choreographer raise many kinds; the user needs one line
        message = " ".join(str(exc).split())[:200] or exc.__class__.__name__
        raise ReportError(f"cannot draw the charts as images ({exc.__class__.__name__}: {message}); "
                          "kaleido needs Chrome or Chromium (e.g. /usr/bin/chromium)") from None


def figure_png(fig: go.Figure, **kw: Any) -> bytes:
    """One figure as PNG bytes (see :func:`figures_png`)."""
    return figures_png({"figure": fig}, **kw)["figure"]


def png_with_provenance(png: bytes, line: str) -> bytes:
    """A chart image with a provenance footer under it and in its PNG text fields."""
    from PIL import Image, ImageDraw, ImageFont
    from PIL.PngImagePlugin import PngInfo

    image = Image.open(io.BytesIO(png)).convert("RGB")
    size = max(13, image.width // 85)
    font = ImageFont.load_default(size=size)
    text = f"Source: acosim · {line}"
    pad = int(size * 2.2)
    out = Image.new("RGB", (image.width, image.height + pad), "white")
    out.paste(image, (0, 0))
    ImageDraw.Draw(out).text((size, image.height + (pad - size) // 2), text, fill=(95, 107, 122), font=font)
    info = PngInfo()
    info.add_text("Title", "acosim chart")
    info.add_text("Description", text)
    buf = io.BytesIO()
    out.save(buf, "PNG", pnginfo=info, optimize=True)
    return buf.getvalue()
