"""Plotly figures of simulation results: pure functions (DataFrame or arrays -> go.Figure).

One place for the house look, so that a colour or an axis means the same thing on every
chart of the dashboard and of the exports:

* money is on a $K/$M/$B axis with a real sign (−$5M, $0, +$5M), ticks computed here;
* :data:`SAVINGS` (bluish green) always means money to the ACO, :data:`LOSS` (vermillion)
  money the ACO loses or owes; both from the Okabe–Ito colour-blind-safe palette, and every
  figure also carries the sign in its text, so colour is never the only cue;
* each track has one colour everywhere (:func:`track_color`), grouped by family: BASIC
  levels in blues and cyans (A light to E dark, each hue apart), the glide path purple, ENHANCED magenta, the legacy
  tracks greys, NGACO browns, REACH golds and LEAD light gold and olive. No track colour is
  green or red; :func:`color_distance` checks that they stay apart.

Figures are assembled as plain dicts and handed to plotly without its per-property
validation (:func:`_figure`): about 3 ms a figure instead of 25 ms, which matters on every
rerun of every session. tests/test_charts_fast.py builds every chart here both ways and
requires the same JSON, so a misspelt property still fails a test.
No streamlit here; the dashboard passes the figures to ``st.plotly_chart``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from ..model.stats import quantiles_of_sorted
from ..text import money, odds, pct

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


# --------------------------------------------------------------------------- compare page


def quantile_table(net_total: np.ndarray, keys: Sequence[str], points: int = 401, *,
                   presorted: bool = False) -> pd.DataFrame:
    """Evenly spaced quantiles of each track's agreement net, ``net_total`` (trials, tracks).

    A few hundred quantiles draw a distribution as faithfully as all the trials, at a
    fraction of the bytes sent to the browser. Columns: one per track; index: probability.
    ``presorted``: each column of ``net_total`` is already sorted (``SimulationResult.sorted_net``).
    """
    net_total = np.asarray(net_total)
    if net_total.ndim != 2 or net_total.shape[1] != len(keys):
        raise ValueError(f"net_total must be (trials, {len(keys)}), got {net_total.shape}")
    q = np.linspace(0.0, 1.0, points)
    values = quantiles_of_sorted(net_total if presorted else np.sort(net_total, axis=0), q)
    return pd.DataFrame(values, index=pd.Index(q, name="probability"), columns=list(keys))


def distribution(quantiles: pd.DataFrame, summary: pd.DataFrame, colors: Mapping[str, str], *,
                 tracks: Sequence[str] | None = None, height: int | None = None) -> go.Figure:
    """One horizontal violin per track (best expected net on top), on the same draws: the
    shape is the middle 98% of futures, the box the middle half, the diamond the average."""
    summ = summary.set_index("track")
    tracks = [t for t in (tracks or list(summ.index)) if t in quantiles.columns and t in summ.index]
    order = sorted(tracks, key=lambda t: summ.loc[t, "expected_net"])  # type: ignore[arg-type,return-value]  # bottom to top
    inner = (quantiles.index >= 0.01) & (quantiles.index <= 0.99)
    data: list[dict[str, Any]] = []
    for t in order:
        c = colors.get(t, NEUTRAL)
        x = quantiles.loc[inner, t].to_numpy()
        data.append({
            "type": "violin", "x": x, "y0": t, "orientation": "h", "name": t, "side": "both",
            "width": 0.85, "line": {"color": c, "width": 1.2}, "fillcolor": rgba(c, 0.4),
            "points": False, "box": {"visible": True, "width": 0.18, "fillcolor": "white",
                                     "line": {"color": INK, "width": 1}},
            "meanline": {"visible": False}, "spanmode": "hard", "hoverinfo": "skip",
            "showlegend": False, "scalemode": "width", "bandwidth": _bandwidth(x),
        })
    r = summ.loc[order]
    hover = [
        f"<b>{t}</b><br>Expected net: {money(row.expected_net, signed=True)}"
        f"<br>Bad case (5th pct): {money(row.p5, signed=True)}"
        f"<br>Middle half: {money(row.p25, signed=True)} to {money(row.p75, signed=True)}"
        f"<br>Good case (95th pct): {money(row.p95, signed=True)}"
        f"<br>Owe CMS in some year: {pct(row.p_owe_cms, 0)}"
        for t, row in r.iterrows()
    ]
    data.append({
        "type": "scatter", "x": r["expected_net"].to_numpy(), "y": order, "mode": "markers",
        "name": "Expected net", "hovertext": hover, "hoverinfo": "text", "showlegend": False,
        "marker": {"symbol": "diamond", "size": 12, "color": INK, "line": {"color": "white", "width": 1.5}},
    })
    lo = float(min((quantiles.loc[inner, t].min() for t in order), default=-1.0))
    hi = float(max((quantiles.loc[inner, t].max() for t in order), default=1.0))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    n = len(order)
    lay = _layout(height or max(260, 90 + 46 * n), legend=False, top=36, violingap=0.15,
                  xaxis=_axis(title="Net result over the agreement, after costs", **money_axis(lo, hi)),
                  yaxis=_axis(categoryorder="array", categoryarray=order, showgrid=False, ticksuffix="  ",
                              type="category"))
    lay["shapes"] = [*_tints(lo, hi), _vline(0)]
    lay["annotations"] = _side_labels("ACO ends behind", "ACO ends ahead")
    return _figure(data, lay)


def _bandwidth(x: np.ndarray) -> float:
    """A kernel width that keeps the shapes smooth but shows point masses as spikes."""
    spread = float(np.subtract(*np.percentile(x, [90, 10])))
    return max(spread / 40.0, 1.0)


def exceedance(quantiles: pd.DataFrame, colors: Mapping[str, str], tracks: Sequence[str], *,
               height: int = 420) -> go.Figure:
    """Chance of ending the agreement at least $x ahead, per track (a reversed ECDF)."""
    p_at_least = 1.0 - quantiles.index.to_numpy()
    data = []
    for t in tracks:
        x = quantiles[t].to_numpy()
        data.append({
            "type": "scatter", "x": x, "y": p_at_least, "mode": "lines", "name": t,
            "line": {"color": colors.get(t, NEUTRAL), "width": 2.6},
            "customdata": [money(v, signed=True) for v in x],
            "hovertemplate": f"<b>{t}</b><br>%{{y:.0%}} chance of ending at least %{{customdata}}<extra></extra>",
        })
    band = (quantiles.index >= 0.005) & (quantiles.index <= 0.995)
    lo = float(min((quantiles.loc[band, t].min() for t in tracks), default=-1.0))
    hi = float(max((quantiles.loc[band, t].max() for t in tracks), default=1.0))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    lay = _layout(height, top=40,
                  xaxis=_axis(title="Net result over the agreement, after costs", **money_axis(lo, hi, pad=0.0)),
                  yaxis=_axis(title="Chance of ending at least this far ahead", tickformat=".0%",
                              range=[0, 1.02]))
    lay["shapes"] = [*_tints(lo, hi), _vline(0)]
    return _figure(data, lay)


#: The plot area the labels of :func:`risk_return` are placed for, in pixels: a 1280-px
#: laptop with the sidebar open draws it about 730 wide (the exports pass their own width).
LABEL_PLOT_WIDTH = 700
LABEL_FONT = 13
_CHAR_W = 0.56 * LABEL_FONT      # a generous average width of a character of the house font
_LINE_H = 1.3 * LABEL_FONT
_DOT_R = 9.0                     # a marker's radius plus its white ring and a little air


def label_box(text: str) -> tuple[float, float]:
    """The (width, height) in pixels of a point label (``<br>`` separates lines)."""
    lines = text.split("<br>")
    return _CHAR_W * max(map(len, lines)) + 6, _LINE_H * len(lines) + 4


def _boxes_overlap(a, b, pad: float = 0.0) -> float:
    return (max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + pad)
            * max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + pad))


def _anchored_box(x: float, y: float, dx: float, dy: float, w: float, h: float):
    """The box of a label whose anchor is (x + dx, y + dy), anchored by the side facing its
    point (left edge for a label to the right, bottom edge for one above, ...)."""
    cx = x + dx + (w / 2 if dx > 0 else -w / 2 if dx < 0 else 0.0)
    cy = y + dy + (h / 2 if dy > 0 else -h / 2 if dy < 0 else 0.0)
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _anchors(dx: float, dy: float) -> tuple[str, str]:
    return ("left" if dx > 0 else "right" if dx < 0 else "center",
            "top" if dy > 0 else "bottom" if dy < 0 else "middle")


def _box_distance(box, x: float, y: float) -> float:
    return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _segment_hits_box(p1, p2, box) -> bool:
    steps = max(8, int(math.hypot(p2[0] - p1[0], p2[1] - p1[1]) / 4))  # a sample every 4 px
    return any(box[0] <= p1[0] + (p2[0] - p1[0]) * t <= box[2] and box[1] <= p1[1] + (p2[1] - p1[1]) * t <= box[3]
               for t in np.linspace(0.1, 1.0, steps))


#: Plot widths, as multiples of the one the labels are placed for, at which they must stay
#: apart: a wider window moves the points apart while the labels keep their size.
LABEL_SCALES = (1.0, 1.35, 1.8)
#: How much further out than next to its point a label may go, in pixels (then a leader line).
LABEL_RINGS = (0, 14, 30, 50, 75, 105, 140, 180)


def place_labels(px: np.ndarray, py: np.ndarray, labels: Sequence[str], width: float,
                 height: float) -> list[tuple[float, float]]:
    """Pixel offsets (dx, dy; y down) from each point to its label's anchor, chosen so that no
    two labels overlap, no label covers a point or leaves the plot, no label sits nearer
    another point than its own, and no leader line crosses another or runs through a label:
    next to the point where there is room, else further out along one of eight directions
    (drawn with a leader line). ``px``/``py`` are the points in pixels of a plot area
    ``width`` x ``height`` (y down); a label is anchored by its side facing the point
    (:func:`_anchors`). The checks hold at every width of :data:`LABEL_SCALES`.

    Greedy, the labels in the most crowded places first; each takes the first free place,
    nearest first. Where nothing is free the least-covered place is taken
    (:func:`label_overlaps` then reports it)."""
    n = len(labels)
    sizes = [label_box(t) for t in labels]
    dirs = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (1, 1), (-1, -1), (-1, 1))
    crowd = [sum(1 for j in range(n) if j != i and abs(px[j] - px[i]) < 160 and abs(py[j] - py[i]) < 60)
             for i in range(n)]
    order = sorted(range(n), key=lambda i: (-crowd[i], -sizes[i][0]))
    placed: list[tuple[int, float, float]] = []
    out: dict[int, tuple[float, float]] = {}

    def scene(k: float):
        x = px * k
        boxes = [_anchored_box(x[j], py[j], ex, ey, *sizes[j]) for j, ex, ey in placed]
        dots = [(x[j] - _DOT_R, py[j] - _DOT_R, x[j] + _DOT_R, py[j] + _DOT_R) for j in range(n)]
        return k, x, boxes, dots

    def cost_at(i: int, dx: float, dy: float, sc, leader: bool) -> float:
        k, x, boxes, dots = sc
        w, h = sizes[i]
        box = _anchored_box(x[i], py[i], dx, dy, w, h)
        c = sum(_boxes_overlap(box, b, 2.0) for b in boxes) * 100
        c += sum(_boxes_overlap(box, d) for d in dots) * 100
        c += 500 * sum(_segment_hits_box((x[j], py[j]), (x[j] + ex, py[j] + ey), box)  # another's leader line
                       for j, ex, ey in placed if ex * ex + ey * ey > (_DOT_R + 5) ** 2 * 2)
        if not leader:  # no leader line: the label must sit nearer its own point than any other
            own = _box_distance(box, x[i], py[i])
            c += 2000 * any(_box_distance(box, x[j], py[j]) < own + 6 for j in range(n) if j != i)
        else:  # a leader line must not cross another or run through a label or a point
            start, end = (x[i], py[i]), (x[i] + dx, py[i] + dy)
            c += 500 * sum(_segments_cross(start, end, (x[j], py[j]), (x[j] + ex, py[j] + ey))
                           for j, ex, ey in placed if ex * ex + ey * ey > (_DOT_R + 5) ** 2 * 2)
            c += 500 * sum(_segment_hits_box(start, end, b) for b in boxes)
            c += 500 * sum(_segment_hits_box(start, end, d) for j, d in enumerate(dots) if j != i)
        if k == 1.0:  # inside the plot (a wider one only adds room)
            c += (max(0.0, -box[0]) + max(0.0, box[2] - width) + max(0.0, -box[1])
                  + max(0.0, box[3] - height)) * 1000
        return c

    for i in order:
        best, best_cost = (_DOT_R + 4, 0.0), math.inf
        scenes = [scene(k) for k in LABEL_SCALES]
        for ring, extra in enumerate(LABEL_RINGS):
            for rank, (ux, uy) in enumerate(dirs):
                dx, dy = ux * (_DOT_R + 4 + extra), uy * (_DOT_R + 2 + extra * 0.6)
                cost = ring * 1.0 + rank * 0.01
                for sc in scenes:
                    if cost >= best_cost:
                        break
                    cost += cost_at(i, dx, dy, sc, bool(extra))
                if cost < best_cost:
                    best, best_cost = (dx, dy), cost
            if best_cost < ring + 1:  # a free place on this ring: nearer ones were taken
                break
        out[i] = best
        placed.append((i, *best))
    return [out[i] for i in range(n)]


def label_overlaps(fig: go.Figure, width: float = LABEL_PLOT_WIDTH) -> list[tuple[str, str]]:
    """The pairs of point labels of a :func:`risk_return` figure that overlap each other (or
    a label and a point, as (label, 'point'), or a label and the plot's edge, (label,
    'edge')), computed from the labels' pixel positions in a plot area ``width`` wide —
    empty when every label is readable."""
    meta = fig.layout.meta or {}
    height = meta.get("plot_height", 400)
    xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
    boxes, dots = [], []
    for a in fig.layout.annotations:
        if getattr(a, "name", None) != "label":
            continue
        x = (a.x - xr[0]) / (xr[1] - xr[0]) * width
        y = (yr[1] - a.y) / (yr[1] - yr[0]) * height
        w, h = label_box(a.text)
        # the offsets are in pixels, so a wider plot only moves the points further apart
        boxes.append((a.text, _anchored_box(x, y, a.ax, a.ay, w, h)))
        dots.append((x - _DOT_R + 1, y - _DOT_R + 1, x + _DOT_R - 1, y + _DOT_R - 1))
    out = []
    for i, (ti, bi) in enumerate(boxes):
        if bi[0] < -1 or bi[2] > width + 1 or bi[1] < -1 or bi[3] > height + 1:
            out.append((ti, "edge"))
        out += [(ti, tj) for tj, bj in boxes[i + 1:] if _boxes_overlap(bi, bj) > 0]
        out += [(ti, "point") for d in dots if _boxes_overlap(bi, d) > 0]
    return out


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


def _focus_cut(values: np.ndarray) -> float:
    """Lower edge of the 'leading group': values far below the median of the better half."""
    v = np.asarray(values, float)
    med, top = float(np.median(v)), float(v.max())
    return med - 2.0 * max(top - med, 1e-9)


def risk_return(summary: pd.DataFrame, colors: Mapping[str, str], *, downside: str = "p5",
                focus: bool = True, height: int = 480, values: bool = False,
                plot_width: float = LABEL_PLOT_WIDTH) -> go.Figure:
    """Expected net (up is better) against a downside measure (right is milder), one dot per
    track; tracks with identical results share a dot and a label. With ``focus``, the axes
    zoom on the leading group and far-off tracks sit on the edge as arrows with their values.
    For a document (``focus=False, values=True``) the axes hold every track and each label
    carries its two values, so nothing is off the chart and nothing needs hovering."""
    label = {"p5": "Bad case: 1 in 20 futures end below this",
             "es5": "Average of the worst 1 in 20 futures"}[downside]
    df = summary[["track", "expected_net", downside, "p_owe_cms"]].copy()
    # tracks not open to the ACO (summary column "open") stay on the chart, hollow and grey
    df["_open"] = summary["open"].astype(bool) if "open" in summary else True
    df["_k"] = (df["expected_net"].round(-3).astype(str) + "|" + df[downside].round(-3).astype(str)
                + "|" + df["_open"].astype(str))
    merged = (df.groupby("_k", sort=False)
              .agg(track=("track", " = ".join), first=("track", "first"), expected_net=("expected_net", "mean"),
                   d=(downside, "mean"), p_owe_cms=("p_owe_cms", "mean"), open=("_open", "first"))
              .reset_index(drop=True))
    merged.loc[~merged["open"], "track"] += " (not open)"
    x = merged["d"].to_numpy(float)
    y = merged["expected_net"].to_numpy(float)
    inside = np.ones(len(x), bool)
    if focus and len(x) >= 4:
        inside = (x >= _focus_cut(x)) & (y >= _focus_cut(y))
    xin, yin = (x[inside], y[inside]) if inside.any() else (x, y)
    xlo, xhi = float(xin.min()), float(xin.max())
    ylo, yhi = min(float(yin.min()), 0.0), max(float(yin.max()), 0.0)
    xspan, yspan = (xhi - xlo) or abs(xhi) or 1.0, (yhi - ylo) or 1.0
    xr = [xlo - 0.10 * xspan, xhi + 0.10 * xspan]
    yr = [ylo - 0.10 * yspan, yhi + 0.12 * yspan]
    # off-chart tracks: pinned to the edge they lie beyond; those pinned together share a marker
    px = np.where(inside, x, np.clip(x, xr[0] + 0.02 * xspan, xr[1]))
    py = np.where(inside, y, np.clip(y, yr[0] + 0.03 * yspan, yr[1]))
    groups: dict[tuple, list[int]] = {}
    for i in range(len(x)):
        key = (i,) if inside[i] else ("edge", x[i] < xr[0], y[i] < yr[0], round(float(py[i]) / yspan, 1),
                                      round(float(px[i]) / xspan, 1))
        groups.setdefault(key, []).append(i)
    points = [(idx[0], ", ".join(merged["track"].iloc[j] for j in idx), idx) for idx in groups.values()]
    if values:
        points = [(i, f"{text}<br>{money(y[i], signed=True)} avg · {money(x[i], signed=True)} bad", idx)
                  for i, text, idx in points]
    plot_h = height - 28 - 62  # the top margin and the x axis's ticks and title
    first = [p[0] for p in points]
    offsets = place_labels((px[first] - xr[0]) / (xr[1] - xr[0]) * plot_width,
                           (yr[1] - py[first]) / (yr[1] - yr[0]) * plot_h, [p[1] for p in points],
                           plot_width, plot_h)
    data = []
    off = []
    labels = []
    for (i, text, idx), (dx, dy) in zip(points, offsets, strict=True):
        near = math.hypot(dx, dy) < (_DOT_R + 5) * 1.5
        xanchor, yanchor = _anchors(dx, dy)
        labels.append({"name": "label", "x": px[i], "y": py[i], "xref": "x", "yref": "y", "text": text,
                       "ax": dx, "ay": dy, "showarrow": True, "arrowhead": 0, "arrowwidth": 1,
                       "arrowcolor": "rgba(0,0,0,0)" if near else ZERO, "standoff": _DOT_R - 1,
                       "xanchor": xanchor, "yanchor": yanchor, "align": "left", "borderpad": 1,
                       "font": {"size": LABEL_FONT, "color": INK}})
        c = colors.get(merged["first"].iloc[i], NEUTRAL)
        symbol = "circle"
        closed = not merged["open"].iloc[i]
        if not inside[i]:
            symbol = "triangle-left" if x[i] < xr[0] else "triangle-down"
            off += [f"{merged['track'].iloc[j]} {money(y[j], signed=True)} (downside {money(x[j], signed=True)})"
                    for j in idx]
        hover = "<br>".join(
            f"<b>{merged['track'].iloc[j]}</b><br>Expected net: {money(y[j], signed=True)}"
            f"<br>{label}: {money(x[j], signed=True)}<br>Owe CMS in some year: {pct(merged['p_owe_cms'].iloc[j], 0)}"
            for j in idx)
        data.append({  # the label is an annotation (above), placed in pixels; the text stays for reading
            "type": "scatter", "x": [px[i]], "y": [py[i]], "mode": "markers", "name": text, "text": [text],
            "marker": {"size": 15, "color": NEUTRAL if closed else c, "symbol": symbol + ("-open" if closed else ""),
                       "line": {"color": NEUTRAL if closed else "white", "width": 2.5 if closed else 1.5}},
            "hovertemplate": hover + "<extra></extra>", "showlegend": False, "cliponaxis": False,
        })
    xa = money_axis(*xr, pad=0.0) | {"range": xr}
    ya = money_axis(*yr, pad=0.0) | {"range": yr}
    lay = _layout(height, legend=False, top=28,
                  xaxis=_axis(title=f"{label}  (further right = milder)", **xa),
                  yaxis=_axis(title="Expected net over the agreement", **ya))
    lay["shapes"] = [*_tints(yr[0], yr[1], axis="y"), _hline(0)]
    lay["annotations"] = [*labels, {"x": 1, "y": 1, "xref": "paper", "yref": "paper", "xanchor": "right",
                           "yanchor": "bottom", "showarrow": False, "font": {"size": 12, "color": NEUTRAL},
                           "text": "best corner: top right ↗"}]
    if off:
        lay["annotations"].append({
            "x": 0, "y": 1, "xref": "paper", "yref": "paper", "xanchor": "left", "yanchor": "bottom",
            "showarrow": False, "font": {"size": 12, "color": NEUTRAL},
            "text": "◀ ▼ far off the chart, at the edge (values below the chart)"})
    lay["meta"] = {"off_chart": off, "plot_height": plot_h}
    return _figure(data, lay)


def tradeoff_text(summary: pd.DataFrame, years: int, available: Iterable[str] | None = None) -> list[str]:
    """The trade-off between tracks in plain words (markdown sentences), from the numbers.

    ``available``: the tracks open to the ACO; the best and the safest are chosen among them,
    and a retired track (run as a what-if) that would do better is mentioned after them."""
    if summary.empty:
        return []
    allowed = set(summary["track"]) if available is None else set(available)
    ranked = summary.sort_values(["expected_net"], ascending=False, kind="stable")
    df = ranked[ranked["track"].isin(allowed)]
    if df.empty:
        df = ranked
    best = df.iloc[0]
    span = f"the {years}-year agreement" if years > 1 else "the year"
    out = []
    if best.expected_net >= 0:
        out.append(f"**{best.track}** pays the most on average: **{money(best.expected_net, signed=True)}** "
                   f"over {span}, after the ACO's own costs.")
    else:
        out.append(f"No track covers the ACO's costs on average. The least bad is **{best.track}**, at "
                   f"**{money(best.expected_net, signed=True)}** over {span}.")
    risk = []
    if best.p_owe_cms > 0:
        risk.append(f"in **{_in_futures(best.p_owe_cms)}** futures you owe CMS money in at least one year")
    else:
        risk.append("it never asks you to repay CMS")
    if best.p5 < 0:
        risk.append(f"in **1 in 20** you end more than **{money(-best.p5)}** behind")
    else:
        risk.append(f"even in a bad case (1 in 20 futures) you end **{money(best.p5, signed=True)}** ahead")
    joiner = "But " if best.p_owe_cms > 0 or best.p5 < 0 else "And "
    out.append(joiner + risk[0] + ", and " + risk[1] + ".")
    safest = df.sort_values(["p5", "expected_net"], ascending=False, kind="stable").iloc[0]
    if safest.track != best.track and safest.p5 > best.p5:
        out.append(
            f"The safest, **{safest.track}**"
            + (" (never owes CMS)" if safest.p_owe_cms == 0 else "")
            + f", averages **{money(safest.expected_net, signed=True)}**: it gives up "
            f"**{money(best.expected_net - safest.expected_net)}** on average to keep the bad case at "
            f"**{money(safest.p5, signed=True)}** instead of **{money(best.p5, signed=True)}**."
        )
    better = ranked[~ranked["track"].isin(set(df["track"])) & (ranked["expected_net"] > best.expected_net)]
    if len(better):
        names = ", ".join(f"{r.track} ({money(r.expected_net, signed=True)})" for r in better.itertuples())
        out.append(f"Retired or future tracks run here as a what-if would average more: {names}.")
    return out


def _in_futures(p: float) -> str:
    o = odds(p)
    return o if o.startswith("1 in") else f"{o} of"


# --------------------------------------------------------------------------- agreement page


def _short_level(code: str) -> str:
    return code.removeprefix("BASIC_") if code.startswith("BASIC_") else code


def fan(by_year: pd.DataFrame, colors: Mapping[str, str], tracks: Sequence[str], *,
        per_row: int = 3, height: int | None = None) -> go.Figure:
    """Cumulative net over the agreement years, one panel per track (shared money axis):
    median line, 25–75% band (darker) and 5–95% band (lighter), expected value dashed.
    A track whose level changes over the years (the BASIC glide path) is labelled with the
    level in force each year."""
    present = set(by_year["track"])
    tracks = [t for t in tracks if t in present]
    n = max(1, len(tracks))
    cols = min(per_row, n)
    rows = math.ceil(n / cols)
    hgap, vgap = 0.035, 0.16 / max(rows, 1) if rows > 1 else 0.0
    d = by_year[by_year["track"].isin(tracks)]
    lo = min(float(d["cum_net_p5"].min()) if len(d) else -1.0, 0.0)
    hi = max(float(d["cum_net_p95"].max()) if len(d) else 1.0, 0.0)
    ya = money_axis(lo, hi, pad=0.08)
    ya["range"][1] += 0.06 * (hi - lo)  # room for the level labels
    years = sorted(d["year"].unique().tolist()) if len(d) else []
    height = height or (110 + 290 * rows)
    lay = _layout(height, top=70)
    data: list[dict[str, Any]] = []
    cell_w = (1 - hgap * (cols - 1)) / cols
    cell_h = (1 - vgap * (rows - 1)) / rows
    for i, t in enumerate(tracks):
        r, c = divmod(i, cols)
        k = "" if i == 0 else str(i + 1)
        xa, yaname = f"x{k}", f"y{k}"
        x0 = c * (cell_w + hgap)
        y1 = 1 - r * (cell_h + vgap)
        lay[f"xaxis{k}"] = _axis(domain=[x0, x0 + cell_w], anchor=yaname, tickvals=years,
                                 ticktext=[str(v) for v in years], showgrid=False,
                                 **({"matches": "x"} if i else {}))
        lay[f"yaxis{k}"] = _axis(domain=[y1 - cell_h, y1], anchor=xa, **ya,
                                 showticklabels=c == 0, title="Cumulative net" if c == 0 else None,
                                 **({"matches": "y"} if i else {}))
        g = d[d["track"] == t].sort_values("year")
        col = colors.get(t, NEUTRAL)
        xs = g["year"].tolist()
        for lo_c, hi_c, alpha, name in (("cum_net_p5", "cum_net_p95", 0.16, "5–95% of futures"),
                                        ("cum_net_p25", "cum_net_p75", 0.38, "25–75% of futures")):
            data.append({"type": "scatter", "x": xs, "y": g[hi_c].tolist(), "xaxis": xa, "yaxis": yaname,
                         "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False})
            data.append({"type": "scatter", "x": xs, "y": g[lo_c].tolist(), "xaxis": xa, "yaxis": yaname,
                         "mode": "lines", "line": {"width": 0}, "fill": "tonexty",
                         "fillcolor": rgba(col, alpha),
                         "name": name, "hoverinfo": "skip", "showlegend": False})
        hover = [
            f"<b>{t}, {yr}</b><br>Cumulative net, expected: {money(m, signed=True)}"
            f"<br>Median: {money(p50, signed=True)}"
            f"<br>Middle half: {money(p25, signed=True)} to {money(p75, signed=True)}"
            f"<br>5th–95th pct: {money(p5, signed=True)} to {money(p95, signed=True)}"
            for yr, m, p50, p25, p75, p5, p95 in zip(g["year"], g["cum_net_mean"], g["cum_net_p50"], g["cum_net_p25"],
                                                     g["cum_net_p75"], g["cum_net_p5"], g["cum_net_p95"], strict=True)
        ]
        data.append({"type": "scatter", "x": xs, "y": g["cum_net_p50"].tolist(), "xaxis": xa, "yaxis": yaname,
                     "mode": "lines", "line": {"color": col, "width": 2.5}, "name": "Median",
                     "showlegend": False, "hovertext": hover, "hoverinfo": "text"})
        data.append({"type": "scatter", "x": xs, "y": g["cum_net_mean"].tolist(), "xaxis": xa, "yaxis": yaname,
                     "mode": "lines+markers", "line": {"color": INK, "width": 1.6, "dash": "dash"},
                     "marker": {"size": 6}, "name": "Expected", "showlegend": False,
                     "hovertext": hover, "hoverinfo": "text"})
        lay["shapes"].append(_hline(0, xref=xa, yref=yaname))
        title = f"<b>{t}</b>" + (" (level each year)" if len(set(g["level"])) > 1 else "")
        lay["annotations"].append({"text": title, "x": x0 + cell_w / 2, "y": y1, "xref": "paper",
                                   "yref": "paper", "yanchor": "bottom", "showarrow": False,
                                   "font": {"size": 14, "color": INK}, "yshift": 4})
        levels = g["level"].tolist()
        if len(set(levels)) > 1:
            for yr, lv in zip(xs, levels, strict=True):
                lay["annotations"].append({"x": yr, "y": ya["range"][1], "xref": xa, "yref": yaname,
                                           "text": f"<b>{_short_level(lv)}</b>", "showarrow": False,
                                           "yanchor": "top", "font": {"size": 13, "color": col}})
    # a legend that explains the bands once, in neutral grey
    for name, kw in (("Median", {"line": {"color": NEUTRAL, "width": 2.5}}),
                     ("Expected (average)", {"line": {"color": INK, "width": 1.6, "dash": "dash"}}),
                     ("Middle half of futures", {"fill": "toself", "fillcolor": rgba(NEUTRAL, 0.38),
                                                 "line": {"color": rgba(NEUTRAL, 0.38), "width": 8}}),
                     ("5th–95th percentile", {"fill": "toself", "fillcolor": rgba(NEUTRAL, 0.16),
                                              "line": {"color": rgba(NEUTRAL, 0.16), "width": 8}})):
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines", "name": name,
                     "showlegend": True, "hoverinfo": "skip"} | kw)
    lay["legend"] |= {"y": 1 + 46 / height}
    return _figure(data, lay)


def benchmark_path(by_year: pd.DataFrame, programs: Mapping[str, str], tracks: Sequence[str], *,
                   height: int = 340) -> go.Figure:
    """Benchmark per beneficiary each year (one line per distinct benchmark among the picked
    tracks) against the expected spending; savings show as the green gap between them."""
    d = by_year[by_year["track"].isin(tracks)]
    seen: dict[str, pd.DataFrame] = {}
    names = {"MSSP": "MSSP benchmark", "REACH": "REACH benchmark (before discount)",
             "NGACO": "NGACO benchmark (before discount)"}
    for t in tracks:
        g = d[d["track"] == t].sort_values("year")
        if not g.empty:
            seen.setdefault(names.get(programs.get(t, ""), f"{t} benchmark"), g)
    spend = d.drop_duplicates("year").sort_values("year")
    styles = ["solid", "dot", "dashdot"]
    data = []
    for i, (name, g) in enumerate(seen.items()):
        data.append({"type": "scatter", "x": g["year"].tolist(), "y": g["benchmark_pc"].tolist(),
                     "mode": "lines+markers", "name": name,
                     "line": {"color": NEUTRAL if i else INK, "width": 2.4, "dash": styles[i % 3]},
                     "hovertemplate": "%{x}: $%{y:,.0f} per beneficiary<extra>" + name + "</extra>"})
    data.append({"type": "scatter", "x": spend["year"].tolist(), "y": spend["spending_pc"].tolist(),
                 "mode": "lines+markers", "name": "Expected spending", "line": {"color": SAVINGS, "width": 2.4},
                 "fill": "tonexty" if len(seen) == 1 else "none", "fillcolor": rgba(SAVINGS, 0.15),
                 "hovertemplate": "%{x}: $%{y:,.0f} per beneficiary<extra>Expected spending</extra>"})
    years = spend["year"].tolist()
    lay = _layout(height, top=40,
                  xaxis=_axis(tickvals=years, ticktext=[str(v) for v in years], showgrid=False),
                  yaxis=_axis(title="Per beneficiary per year", tickprefix="$", tickformat=",.0f"))
    return _figure(data, lay)


# --------------------------------------------------------------------------- drivers page


def tornado(df: pd.DataFrame, *, height: int | None = None, base_label: str = "Current assumptions") -> go.Figure:
    """Each input's swing on expected net for one track (largest at the top).

    ``df`` columns: label, base_net, net_low, net_high, low_text, high_text (the input
    values as shown to the user). Bars start at the base result; the darker bar is the input
    set high, the lighter one the input set low, each labelled with the value used."""
    d = df.assign(swing=(df["net_high"] - df["net_low"]).abs()).sort_values("swing", kind="stable")
    base = float(d["base_net"].iloc[0])
    data = []
    for side, colr, name in (("low", "#a9bdd6", "Input set low"), ("high", "#34495e", "Input set high")):
        vals = (d[f"net_{side}"] - base).to_numpy()
        data.append({
            "type": "bar", "y": d["label"].tolist(), "x": vals, "base": base, "orientation": "h", "name": name,
            "marker": {"color": colr}, "text": d[f"{side}_text"].tolist(), "textposition": "outside",
            "cliponaxis": False, "textfont": {"size": 12},
            "customdata": np.stack([d[f"{side}_text"], [money(v, signed=True) for v in d[f"net_{side}"]],
                                    [money(v, signed=True) for v in vals]], axis=-1),
            "hovertemplate": "<b>%{y}</b> = %{customdata[0]}<br>Expected net %{customdata[1]} "
                             "(%{customdata[2]} vs now)<extra></extra>",
        })
    lo = float(min(d["net_low"].min(), d["net_high"].min(), base, 0))
    hi = float(max(d["net_low"].max(), d["net_high"].max(), base, 0))
    lay = _layout(height or max(320, 100 + 34 * len(d)), top=60, barmode="overlay", bargap=0.35,
                  xaxis=_axis(title="Expected net over the agreement", **money_axis(lo, hi, pad=0.16)),
                  yaxis=_axis(showgrid=False, ticksuffix="  ", type="category"))
    lay["legend"] |= {"x": 1, "xanchor": "right"}
    lay["shapes"] = [*_tints(lo, hi), _vline(0), _vline(base, color=INK, width=2, dash="dot")]
    lay["annotations"] = [{"x": base, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom",
                           "showarrow": False, "text": f"{base_label}: {money(base, signed=True)}",
                           "font": {"size": 12}, "xanchor": "center"}]
    return _figure(data, lay)


def heatmap(grid: pd.DataFrame, x_labels: Mapping[float, str], y_labels: Mapping[float, str], *,
            x_title: str, y_title: str, current: tuple[float, float] | None = None,
            height: int = 460) -> go.Figure:
    """Expected net over a grid of two inputs (diverging: LOSS below zero, SAVINGS above)."""
    xs = sorted(grid["x"].unique())
    ys = sorted(grid["y"].unique())
    z = grid.pivot_table(index="y", columns="x", values="expected_net").reindex(index=ys, columns=xs)
    zv = z.to_numpy()
    zmax = float(np.nanmax(np.abs(zv))) if np.isfinite(zv).any() else 1.0
    zmax = zmax or 1.0
    text = [[money(v, signed=True) for v in row] for row in zv]
    xt = [x_labels.get(v, f"{v:g}") for v in xs]
    yt = [y_labels.get(v, f"{v:g}") for v in ys]
    vals, ticks = money_ticks(-zmax, zmax, 4)
    data: list[dict[str, Any]] = [{
        "type": "heatmap", "z": zv, "x": xt, "y": yt, "zmid": 0, "zmin": -zmax, "zmax": zmax, "text": text,
        "texttemplate": "%{text}", "textfont": {"size": 12},
        "colorscale": [[0, LOSS], [0.5, "#f7f7f7"], [1, SAVINGS]],
        "colorbar": {"title": {"text": "Expected net", "side": "right"}, "tickvals": vals, "ticktext": ticks,
                     "thickness": 14, "outlinewidth": 0},
        "hovertemplate": f"{x_title}: %{{x}}<br>{y_title}: %{{y}}<br>Expected net: %{{text}}<extra></extra>",
        "xgap": 2, "ygap": 2,
    }]
    lay = _layout(height, top=36,
                  xaxis=_axis(title=x_title, type="category", showgrid=False, categoryorder="array", categoryarray=xt),
                  yaxis=_axis(title=y_title, type="category", showgrid=False, categoryorder="array", categoryarray=yt))
    if current is not None and current[0] in xs and current[1] in ys:
        i, j = xs.index(current[0]), ys.index(current[1])
        lay["shapes"].append({"type": "rect", "xref": "x", "yref": "y", "x0": i - 0.5, "x1": i + 0.5,
                              "y0": j - 0.5, "y1": j + 0.5, "line": {"color": INK, "width": 3}})
        lay["annotations"].append({"x": 0, "y": 1, "xref": "paper", "yref": "paper", "xanchor": "left",
                                   "yanchor": "bottom", "showarrow": False, "font": {"size": 12, "color": NEUTRAL},
                                   "text": "▢ outlined: your current assumptions"})
    return _figure(data, lay)


def break_even_chart(df: pd.DataFrame, colors: Mapping[str, str], current: float, *,
                     height: int | None = None) -> go.Figure:
    """The true savings effect each track needs to break even (dots), against the assumed
    effect (dotted line): tracks left of the line break even under the assumption."""
    d = df.dropna(subset=["value"]).sort_values("value", ascending=False, kind="stable")
    vals = [*d["value"].tolist(), current, 0.0]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 0.01
    data = [{
        "type": "scatter", "x": d["value"].tolist(), "y": d["track"].tolist(), "mode": "markers+text",
        "marker": {"size": 14, "color": [colors.get(t, NEUTRAL) for t in d["track"]],
                   "line": {"color": "white", "width": 1.5}},
        "text": [pct(v, 1) for v in d["value"]], "textposition": "middle right", "cliponaxis": False,
        "hovertemplate": "<b>%{y}</b> breaks even at a true savings effect of %{text}<extra></extra>",
        "showlegend": False,
    }]
    lay = _layout(height or max(260, 90 + 30 * len(d)), legend=False, top=40,
                  xaxis=_axis(title="True savings effect needed to break even",
                              tickformat=".1%", range=[lo - 0.08 * span, hi + 0.2 * span]),
                  yaxis=_axis(showgrid=False, ticksuffix="  ", type="category",
                              categoryorder="array", categoryarray=d["track"].tolist()[::-1]))
    lay["shapes"] = [
        {"type": "rect", "x0": lo - span, "x1": current, "y0": 0, "y1": 1, "xref": "x", "yref": "paper",
         "fillcolor": SAVINGS_TINT, "line": {"width": 0}, "layer": "below"},
        _vline(current, color=INK, width=2, dash="dot"),
    ]
    lay["annotations"] = [{"x": current, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom",
                           "showarrow": False, "text": f"Your assumption: {pct(current, 1)}",
                           "font": {"size": 12}}]
    return _figure(data, lay)
