"""Plotly figures of simulation results: pure functions (DataFrame or arrays -> go.Figure).

The house look (colours, fonts, money axes, the layout) is :mod:`simulation.style`; the
placement of a scatter's labels is :mod:`simulation.reports.label_layout`. The style's names
are importable from here too (``charts.TRACK_COLORS``, ``charts.house_style``), since every
page that draws a figure uses both. tests/test_charts_fast.py builds every chart here both
ways (with and without plotly's validation) and requires the same JSON.
No streamlit here; the dashboard passes the figures to ``st.plotly_chart``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..model.stats import quantiles_of_sorted
from ..style import (
    CONFIG,
    FEATURED,
    FONT,
    GRID,
    INK,
    LOSS,
    LOSS_TINT,
    NEUTRAL,
    SAVINGS,
    SAVINGS_TINT,
    TRACK_COLORS,
    ZERO,
    _axis,
    _figure,
    _hline,
    _layout,
    _side_labels,
    _template,
    _tints,
    _vline,
    color_distance,
    color_map,
    house_style,
    money_axis,
    money_color,
    money_tick,
    money_ticks,
    rgba,
    track_color,
)
from ..text import money, odds, pct
from .label_layout import (
    _DOT_R,
    LABEL_FONT,
    LABEL_PLOT_WIDTH,
    _anchors,
    label_box,
    label_overlaps,
    place_labels,
)

# --------------------------------------------------------------------------- compare page

__all__ = [  # the figures, and the house style and label placement they are drawn with
    "CONFIG",
    "FEATURED",
    "FONT",
    "GRID",
    "INK",
    "LABEL_FONT",
    "LABEL_PLOT_WIDTH",
    "LOSS",
    "LOSS_TINT",
    "NEUTRAL",
    "SAVINGS",
    "SAVINGS_TINT",
    "TRACK_COLORS",
    "ZERO",
    "_axis",
    "_figure",
    "_hline",
    "_layout",
    "_template",
    "_vline",
    "benchmark_path",
    "break_even_chart",
    "color_distance",
    "color_map",
    "distribution",
    "exceedance",
    "fan",
    "heatmap",
    "house_style",
    "label_box",
    "label_overlaps",
    "money_axis",
    "money_color",
    "money_tick",
    "money_ticks",
    "place_labels",
    "quantile_table",
    "rgba",
    "risk_return",
    "tornado",
    "track_color",
    "tradeoff_text",
]



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


# --------------------------------------------------------------------------- ten-year view


def horizon_cumulative(df: pd.DataFrame, colors: dict[str, str], renewal: int | None, *,
                      present_value: bool = False, height: int = 400) -> go.Figure:
    """Cumulative net (or its present value) year by year, one line per path; the renewal year
    marked with a vertical line."""
    col = "cumulative_pv" if present_value else "cumulative_net"
    d = df[df[col].notna()]
    data = []
    for path_name, g in d.groupby("path", sort=False):
        name = str(path_name)
        g = g.sort_values("year")
        data.append({"type": "scatter", "x": g["year"].tolist(), "y": g[col].tolist(), "mode": "lines+markers",
                     "name": name, "line": {"color": colors.get(name, NEUTRAL), "width": 2.6,
                                            "dash": "solid" if g["lead"].iloc[0] else "dot"},
                     "hovertemplate": "%{x}: %{customdata}<extra>" + html.escape(name) + "</extra>",
                     "customdata": [money(v, signed=True) for v in g[col]]})
    lo, hi = float(min(0.0, d[col].min())), float(max(0.0, d[col].max()))
    years = sorted(d["year"].unique().tolist())
    lay = _layout(height, top=56, xaxis=_axis(tickvals=years, ticktext=[str(y) for y in years],
                                                             showgrid=False),
                         yaxis=_axis(title=("Present value, cumulative" if present_value
                                                   else "Cumulative net, after costs"),
                                            **money_axis(lo, hi)))
    lay["shapes"] = [_hline(0.0)]
    if renewal is not None:
        lay["shapes"].append(_vline(renewal - 0.5, dash="dash", color=NEUTRAL))
        lay["annotations"] = [{"x": renewal - 0.5, "y": 0.99, "yref": "paper", "yanchor": "top", "xanchor": "right",
                               "text": f"MSSP renewal {renewal}: benchmark rebased  ", "showarrow": False,
                               "font": {"size": 12, "color": NEUTRAL}}]
    return _figure(data, lay)


def horizon_benchmark(df: pd.DataFrame, colors: dict[str, str], renewal: int | None, *,
                     height: int = 380) -> go.Figure:
    """The benchmark per beneficiary each path settles against (one line per distinct
    benchmark: MSSP's paths share theirs) and the expected spending."""
    data = []
    seen: list[tuple[float, ...]] = []
    for path_name, g in df.groupby("path", sort=False):
        name = str(path_name)
        g = g.sort_values("year")
        key = tuple(round(v, 2) for v in g["benchmark_pc"])
        if key in seen:
            continue
        seen.append(key)
        lead = bool(g["lead"].iloc[0])
        label = f"{name} benchmark" if lead else "MSSP benchmark (rebased at renewal)"
        data.append({"type": "scatter", "x": g["year"].tolist(), "y": g["benchmark_pc"].tolist(),
                     "mode": "lines+markers", "name": label,
                     "line": {"color": colors.get(name, INK) if lead else INK, "width": 2.6,
                              "dash": "solid" if lead else "dot"},
                     "hovertemplate": "%{x}: $%{y:,.0f} per beneficiary<extra>" + html.escape(label) + "</extra>"})
    sp = df.drop_duplicates("year").sort_values("year")
    data.append({"type": "scatter", "x": sp["year"].tolist(), "y": sp["spending_pc"].tolist(), "mode": "lines",
                 "name": "Expected spending", "line": {"color": SAVINGS, "width": 2.2},
                 "hovertemplate": "%{x}: $%{y:,.0f} per beneficiary<extra>Expected spending</extra>"})
    years = sp["year"].tolist()
    lay = _layout(height, top=56, xaxis=_axis(tickvals=years, ticktext=[str(y) for y in years],
                                                             showgrid=False),
                         yaxis=_axis(title="Per beneficiary per year", tickprefix="$", tickformat=",.0f"))
    if renewal is not None:
        lay["shapes"] = [_vline(renewal - 0.5, dash="dash", color=NEUTRAL)]
        lay["annotations"] = [{"x": renewal - 0.5, "y": 0.99, "yref": "paper", "yanchor": "top", "xanchor": "left",
                               "text": f"  {renewal}: MSSP renewal", "showarrow": False,
                               "font": {"size": 12, "color": NEUTRAL}}]
    return _figure(data, lay)


# --------------------------------------------------------------------------- real ACOs

_ACO_LINE = "#1f4e79"


def aco_position(history: pd.DataFrame, dist: pd.DataFrame, name: str,
                 track_label: Callable[[object], str] = str) -> go.Figure:
    """A real ACO's savings rate each year over the program's spread (5th–95th percentile and
    middle half of ACOs), from CMS's results (Real ACOs page); ``track_label`` names a track code."""
    d = dist.sort_values("performance_year")
    x = d["performance_year"].tolist()
    band = "rgba(95, 107, 122, {a})"
    data = [
        go.Scatter(x=x, y=d["p95"], mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False),
        go.Scatter(x=x, y=d["p5"], mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor=band.format(a=0.12), name="9 in 10 ACOs", hoverinfo="skip"),
        go.Scatter(x=x, y=d["p75"], mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False),
        go.Scatter(x=x, y=d["p25"], mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor=band.format(a=0.28), name="Middle half of ACOs", hoverinfo="skip"),
        go.Scatter(x=x, y=d["p50"], mode="lines", line={"color": NEUTRAL, "width": 1.5, "dash": "dash"},
                   name="Median ACO", hovertemplate="Median ACO: %{y:.1%}<extra></extra>"),
    ]
    h = history.dropna(subset=["sav_rate"])
    hover = [f"<b>{html.escape(name)}</b> · PY{int(year)}<br>{track_label(track)}"
             f"<br>Savings rate {pct(float(rate), 1)} — above {float(rank):.0f}% of ACOs"
             for year, track, rate, rank in zip(h["performance_year"], h["track"], h["sav_rate"],
                                                h["sav_rate_percentile"], strict=True)]
    data.append(go.Scatter(x=h["performance_year"], y=h["sav_rate"], mode="lines+markers", name=html.escape(name[:40]),
                           line={"color": _ACO_LINE, "width": 3}, marker={"size": 9, "color": _ACO_LINE},
                           hovertext=hover, hoverinfo="text"))
    fig = go.Figure(data)
    house_style(fig, height=400)
    fig.update_yaxes(tickformat=".0%", title="Savings rate (share of benchmark)", zeroline=True,
                     zerolinecolor=ZERO)
    fig.update_xaxes(dtick=1 if len(x) <= 7 else 2, tickangle=0, title="Performance year")
    fig.update_layout(legend={"orientation": "h", "y": -0.28, "yanchor": "top", "x": 0})
    return fig
