"""The house style of every figure: colours, fonts, money axes and the layout.

One place for the house look, so that a colour or an axis means the same thing on every
chart of the dashboard, the exports and the calibration write-up:

* money is on a $K/$M/$B axis with a real sign (−$5M, $0, +$5M), ticks computed here;
* :data:`SAVINGS` (bluish green) always means money to the ACO, :data:`LOSS` (vermillion)
  money the ACO loses or owes; both from the Okabe–Ito colour-blind-safe palette, and every
  figure also carries the sign in its text, so colour is never the only cue;
* each track has one colour everywhere (:func:`track_color`), grouped by family: BASIC
  levels in blues and cyans (A light to E dark, each hue apart), the glide path purple, ENHANCED magenta, the legacy
  tracks greys, NGACO browns, REACH golds and LEAD light gold and olive. No track colour is
  green or red; :func:`color_distance` checks that they stay apart.

Figures are assembled as plain dicts and handed to plotly without its per-property
validation (:func:`_figure`): about 3 ms a figure instead of 25 ms.

It sits on the ground floor beside :mod:`simulation.text` (it knows no result, only plotly),
so the calibration study draws its figures in the house style without climbing to the
reports floor; the figures themselves are in :mod:`simulation.reports.charts`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

SAVINGS = "#009E73"
LOSS = "#D55E00"
NEUTRAL = "#5f6b7a"
INK = "#1f2933"
GRID = "#e6e9ee"
ZERO = "#8a94a3"
FONT = '"Source Sans", "Source Sans Pro", "Source Sans 3", "Helvetica Neue", Arial, sans-serif'
SAVINGS_TINT = "rgba(0, 158, 115, 0.07)"
LOSS_TINT = "rgba(213, 94, 0, 0.07)"
CONFIG = {"displayModeBar": False, "responsive": True}

TRACK_COLORS: dict[str, str] = {
    # BASIC levels: light blue, blue, cyan, indigo, navy (hue and lightness both differ, so
    # neighbouring levels stay apart on a chart and in grey print)
    "BASIC_A": "#9ecae9", "BASIC_B": "#3182bd", "BASIC_C": "#0097a7", "BASIC_D": "#5c6bc0",
    "BASIC_E": "#0b2a5b", "BASIC_GLIDE": "#7b3fa0", "ENHANCED": "#e7298a",
    "TRACK_1": "#b8b8b8", "TRACK_1_PLUS": "#969696", "TRACK_2": "#6f6f6f", "TRACK_3": "#4a4a4a",
    "NGACO_A": "#c49a6c", "NGACO_B": "#8c6239",
    "REACH_PROFESSIONAL": "#e6ab02", "REACH_GLOBAL": "#a67c00",
    # LEAD, REACH's successor from 2027: the same yellow family, lighter and darker than REACH
    "LEAD_PROFESSIONAL": "#f6c85f", "LEAD_GLOBAL": "#4d4d00",
}
_SPARE = ("#17becf", "#7f7f7f", "#bcbd22", "#9467bd", "#8c564b")

#: The tracks shown first where many would crowd a chart (the rest stay one click away).
FEATURED = ("BASIC_A", "BASIC_E", "ENHANCED", "BASIC_GLIDE", "REACH_PROFESSIONAL", "REACH_GLOBAL")


def track_color(code: str) -> str:
    """The colour of a catalog track code (BASIC_GLIDE for the glide path)."""
    if code in TRACK_COLORS:
        return TRACK_COLORS[code]
    return _SPARE[sum(map(ord, code)) % len(_SPARE)]


def color_map(keys: Iterable[str], codes: Iterable[str]) -> dict[str, str]:
    """Track key (display name) -> colour, from each key's catalog code."""
    return {k: track_color(c) for k, c in zip(keys, codes, strict=True)}


def rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"


def money_color(x: float | None) -> str:
    """SAVINGS for money gained, LOSS for money lost, INK for zero or missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x == 0:
        return INK
    return SAVINGS if x > 0 else LOSS


# --------------------------------------------------------------------------- axes and layout


def _nice_step(span: float, n: int) -> float:
    raw = max(span, 1e-9) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw - 1e-12:
            return m * mag
    return 10 * mag


def money_tick(v: float, step: float, *, signed: bool = True) -> str:
    """One axis label: $0, +$2.5M, −$500K (decimals just enough for the step)."""
    if abs(v) < step * 1e-6:
        return "$0"
    a = abs(v)
    unit, suffix = next(((u, s) for u, s in ((1e9, "B"), (1e6, "M"), (1e3, "K"))
                         if max(a, step) >= u), (1.0, ""))
    digits = next((d for d in range(4) if abs(round(step / unit, d) - step / unit) < 1e-9), 3)
    text = f"{a / unit:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    sign = "−" if v < 0 else ("+" if signed else "")
    return f"{sign}${text}{suffix}"


def money_ticks(lo: float, hi: float, n: int = 6, *, signed: bool = True) -> tuple[list[float], list[str]]:
    """Round tick values covering [lo, hi] and their $K/$M labels."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    if hi <= lo:
        hi = lo + max(abs(lo) * 0.1, 1.0)
    step = _nice_step(hi - lo, n)
    start = math.floor(lo / step) * step
    vals = [start + i * step for i in range(math.ceil((hi - start) / step) + 1)]
    vals = [v for v in vals if lo - step * 0.5 <= v <= hi + step * 0.5]
    return vals, [money_tick(v, step, signed=signed) for v in vals]


def money_axis(lo: float, hi: float, *, n: int = 6, signed: bool = True, pad: float = 0.04) -> dict[str, Any]:
    """Axis settings (range, ticks) for money between ``lo`` and ``hi`` plus a margin."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    vals, text = money_ticks(lo, hi, n, signed=signed)
    return {"tickvals": vals, "ticktext": text, "range": [lo, hi]}


def _axis(**kw: Any) -> dict[str, Any]:
    base = {"gridcolor": GRID, "zeroline": False, "automargin": True, "linecolor": GRID,
            "title": {"font": {"size": 13}}, "tickfont": {"size": 13}}
    title = kw.pop("title", None)
    if title is not None:
        base["title"] = {"text": title, "font": {"size": 13}}
    return base | kw


def _layout(height: int, *, legend: bool = True, top: int = 24, **kw: Any) -> dict[str, Any]:
    lay = {
        "template": "plotly_white",
        "height": height,
        "font": {"family": FONT, "size": 14, "color": INK},
        "margin": {"l": 8, "r": 16, "t": top, "b": 8},
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                   "font": {"size": 13}},
        "hoverlabel": {"font": {"family": FONT, "size": 13}, "bgcolor": "white"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "shapes": [],
        "annotations": [],
    }
    return lay | kw


def house_style(fig: go.Figure, *, height: int = 420, legend: bool = True) -> go.Figure:
    """Apply the shared look to a figure built elsewhere."""
    lay = _layout(height, legend=legend)
    lay.pop("shapes")
    lay.pop("annotations")
    fig.update_layout(**lay)
    fig.update_xaxes(**_axis())
    fig.update_yaxes(**_axis())
    return fig


def _vline(x: float, *, color: str = ZERO, width: float = 1.5, dash: str = "solid", xref: str = "x",
           yref: str = "paper") -> dict[str, Any]:
    y1 = 1 if yref == "paper" else None
    return {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": y1, "xref": xref,
            "yref": "paper" if yref == "paper" else f"{yref} domain",
            "line": {"color": color, "width": width, "dash": dash}}


def _hline(y: float, *, xref: str = "paper", yref: str = "y", color: str = ZERO, width: float = 1.5) -> dict[str, Any]:
    return {"type": "line", "y0": y, "y1": y, "x0": 0, "x1": 1,
            "xref": "paper" if xref == "paper" else f"{xref} domain", "yref": yref,
            "line": {"color": color, "width": width}}


def _tints(lo: float, hi: float, *, axis: str = "x") -> list[dict[str, Any]]:
    """Tint the losing side of zero LOSS and the winning side SAVINGS (very lightly)."""
    span = (hi - lo) or 1.0
    lo, hi = lo - span, hi + span
    out = []
    for a, b, color in ((lo, 0.0, LOSS_TINT), (0.0, hi, SAVINGS_TINT)):
        if b <= a:
            continue
        if axis == "x":
            out.append({"type": "rect", "x0": a, "x1": b, "y0": 0, "y1": 1, "xref": "x", "yref": "paper",
                        "fillcolor": color, "line": {"width": 0}, "layer": "below"})
        else:
            out.append({"type": "rect", "y0": a, "y1": b, "x0": 0, "x1": 1, "yref": "y", "xref": "paper",
                        "fillcolor": color, "line": {"width": 0}, "layer": "below"})
    return out


def _side_labels(behind: str, ahead: str) -> list[dict[str, Any]]:
    common = {"x": 0, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom", "showarrow": False}
    return [common | {"text": f"◀ {behind}  ", "xanchor": "right", "font": {"size": 12, "color": LOSS}},
            common | {"text": f"  {ahead} ▶", "xanchor": "left", "font": {"size": 12, "color": SAVINGS}}]


#: Layout properties that hold a list of objects (plotly's validation drops an empty one).
_LAYOUT_ARRAYS = ("annotations", "shapes", "images", "sliders", "updatemenus", "selections")


@functools.cache
def _template(name: str) -> dict[str, Any]:
    """A named plotly template as the plain dict plotly would expand it to."""
    return pio.templates[name].to_plotly_json()


def _figure(data: list[dict[str, Any]], layout: dict[str, Any], *, validate: bool = False) -> go.Figure:
    """``go.Figure(spec)`` without plotly's property-by-property validation (unless
    ``validate``), with a named template expanded as validation would: the same JSON,
    eight times faster (tests/test_charts_fast.py checks every chart both ways)."""
    if validate:
        return go.Figure({"data": data, "layout": layout})
    template = layout.get("template")
    if isinstance(template, str):
        layout = layout | {"template": _template(template)}
    if any(layout.get(k) == [] for k in _LAYOUT_ARRAYS):  # validation drops empty ones
        layout = {k: v for k, v in layout.items() if not (k in _LAYOUT_ARRAYS and v == [])}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def color_distance(a: str, b: str) -> float:
    """How far apart two colours look: the CIE76 distance in CIELAB (about 2.3 is just
    noticeable; track colours of one chart should be 20 or more apart)."""
    def lab(hex_color: str) -> np.ndarray:
        h = hex_color.lstrip("#")
        rgb = np.array([int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)])
        lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
        xyz = xyz / np.array([0.95047, 1.0, 1.08883])
        f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    return float(np.linalg.norm(lab(a) - lab(b)))
