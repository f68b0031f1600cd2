"""The calibration's figures, in the house style of :mod:`simulation.style`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import style
from .base import COMMERCIAL_MAE, SHOCK_YEAR
from .descriptive import _persistence_same
from .fit import NoiseFit

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

# ============================================================================================
# Figures
# ============================================================================================

#: The house palette (:mod:`simulation.style`): observed data in the MSSP blue, the model's
#: noise in the loss colour, the persistent part in the savings colour, references in grey.
_DATA = style.TRACK_COLORS["BASIC_C"]
_LIGHT = style.TRACK_COLORS["BASIC_A"]
_MODEL = style.LOSS
_EFFECT = style.SAVINGS
_REFERENCE = style.ZERO
#: Size bands are ordered: the sequential blues of the BASIC levels, small to large.
_BAND_COLOURS = tuple(style.TRACK_COLORS[f"BASIC_{c}"] for c in "ABCDE")
_GROUP_COLOURS = (
    _DATA,
    _LIGHT,
    style.TRACK_COLORS["REACH_PROFESSIONAL"],
    _EFFECT,
    style.rgba(style.SAVINGS, 0.45),
    _MODEL,
    style.TRACK_COLORS["BASIC_GLIDE"],
)


def _layout(fig, title: str, height: int = 560, width: int = 1200) -> None:
    """The house look (:func:`simulation.style.house_style`), sized and titled for a PNG."""
    style.house_style(fig, height=height)
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left",
               "font": {"size": 20, "family": style.FONT, "color": style.INK}},
        width=width,
        margin={"l": 90, "r": 30, "t": 100, "b": 150},
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -0.2,
            "x": 0.0,
            "font": {"size": 14},
        },
    )
    fig.update_annotations(font={"size": 16, "family": style.FONT, "color": style.INK})


def figure_dispersion_by_size(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fit: NoiseFit = study["fit"]
    curve = study["size_curve"]
    change = study["change_curve"]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=(
            "Scatter of savings rates around the year mean",
            "Scatter of an ACO's change from one year to the next",
        ),
    )
    n = np.geomspace(3_000, 250_000, 120)
    effect = fit.true_effect_sd**2 + fit.agreement_sd**2
    persist = _persistence_same(fit)
    fig.add_trace(
        go.Scatter(
            x=curve.median_n,
            y=curve.sd,
            mode="markers",
            name="observed (size deciles, ±2 SE)",
            marker={"size": 10, "color": _DATA},
            error_y={"type": "data", "array": 2 * curve.se, "visible": True},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(x=n, y=fit.total_sd(n), name="model: total", line={"color": _DATA}),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=fit.noise_sd(n),
            name="model: noise cv/√N (shrinks with size)",
            line={"color": _MODEL, "dash": "dash"},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=np.full_like(n, math.sqrt(effect)),
            name="model: true effect (does not shrink)",
            line={"color": _EFFECT, "dash": "dot"},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=change.median_n,
            y=change.sd,
            mode="markers",
            showlegend=False,
            marker={"size": 10, "color": _DATA},
            error_y={"type": "data", "array": 2 * change.se, "visible": True},
        ),
        1,
        2,
    )
    model_change = np.sqrt(2 * (1 - persist) * effect + 2 * np.asarray(fit.noise_sd(n)) ** 2)
    fig.add_trace(
        go.Scatter(x=n, y=model_change, showlegend=False, line={"color": _DATA}), 1, 2
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=math.sqrt(2) * np.asarray(fit.noise_sd(n)),
            showlegend=False,
            line={"color": _MODEL, "dash": "dash"},
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=np.full_like(n, math.sqrt(2 * (1 - persist) * effect)),
            showlegend=False,
            line={"color": _EFFECT, "dash": "dot"},
        ),
        1,
        2,
    )
    for col in (1, 2):
        fig.update_xaxes(
            type="log",
            title_text="Assigned beneficiaries (log scale)",
            row=1,
            col=col,
            tickvals=[3000, 5000, 10000, 20000, 50000, 100000, 200000],
            ticktext=["3k", "5k", "10k", "20k", "50k", "100k", "200k"],
        )
        fig.update_yaxes(tickformat=".1%", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="SD of savings rate (% of benchmark)", row=1, col=1)
    fig.update_yaxes(title_text="SD of year-to-year change (points)", row=1, col=2)
    years = f"PY{min(fit.years)}–PY{max(fit.years)} except PY{fit.shock_year}"
    _layout(fig, f"Dispersion of MSSP savings rates by ACO size, {years}")
    return fig


def figure_dispersion_by_year(study: dict):
    import plotly.graph_objects as go

    table = study["dispersion"]
    fig = go.Figure()
    for colour, (band, grp) in zip(
        _BAND_COLOURS, table.groupby("band", observed=True), strict=False
    ):
        grp = grp[grp["count"] >= 8]
        fig.add_trace(
            go.Scatter(
                x=grp.performance_year,
                y=grp["std"],
                name=f"{band} beneficiaries",
                mode="lines+markers",
                line={"color": colour},
            )
        )
    overall = study["dispersion_all"]
    fig.add_trace(
        go.Scatter(
            x=overall.performance_year,
            y=overall["std"],
            name="all ACOs",
            mode="lines+markers",
            line={"color": style.INK, "width": 4},
        )
    )
    shock = study["fit"].shock_year or SHOCK_YEAR
    fig.add_vrect(
        x0=shock - 0.4,
        x1=shock + 0.4,
        fillcolor=style.NEUTRAL,
        opacity=0.15,
        line_width=0,
        annotation_text="COVID-19",
        annotation_position="top left",
    )
    fig.update_xaxes(title_text="Performance year", dtick=1)
    fig.update_yaxes(
        title_text="SD of savings rate (% of benchmark)", tickformat=".1%", rangemode="tozero"
    )
    _layout(
        fig,
        "Dispersion of savings rates by performance year and size band (12-month ACOs)",
        width=1100,
    )
    return fig


def figure_persistence(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pairs = study["pairs"]
    auto = study["autocorrelation"]
    first, last = int(pairs.performance_year.min()), int(pairs.performance_year.max()) + 1
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.1,
        subplot_titles=(
            f"Same ACO, consecutive years (PY{first}–PY{last})",
            "Correlation with the rate k years later",
        ),
    )
    fig.add_trace(
        go.Scattergl(
            x=pairs.sav_rate,
            y=pairs.sav_rate_next,
            mode="markers",
            name="ACO-year pairs",
            marker={"size": 5, "opacity": 0.35, "color": _DATA},
        ),
        1,
        1,
    )
    lim = [-0.15, 0.2]
    fig.add_trace(
        go.Scatter(x=lim, y=lim, name="same as last year", line={"color": _REFERENCE, "dash": "dash"}),
        1,
        1,
    )
    slope, intercept = np.polyfit(pairs.sav_rate, pairs.sav_rate_next, 1)
    fig.add_trace(
        go.Scatter(
            x=lim,
            y=[intercept + slope * v for v in lim],
            name=f"least squares: slope {slope:.2f}",
            line={"color": _MODEL},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Bar(
            x=auto.lag,
            y=auto.corr_all,
            name="observed, PY2013–PY2023 linked",
            marker_color=_LIGHT,
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Bar(x=auto.lag, y=auto.corr_window, name="observed, fit window", marker_color=_DATA),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            x=auto.lag,
            y=auto.corr_model,
            name="model (same pairs)",
            mode="lines+markers",
            line={"color": _MODEL},
        ),
        1,
        2,
    )
    ticks = [-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2]
    fig.update_xaxes(
        title_text="Savings rate in year t",
        tickformat=".0%",
        tickvals=ticks,
        range=lim,
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text="Savings rate in year t+1",
        tickformat=".0%",
        tickvals=ticks,
        range=lim,
        row=1,
        col=1,
    )
    fig.update_xaxes(title_text="Lag k (years)", dtick=1, row=1, col=2)
    fig.update_yaxes(
        title_text="Correlation of rates around the year mean", range=[0, 1], row=1, col=2
    )
    _layout(fig, "Persistence: an ACO's savings rate next year given this year", height=600)
    return fig


def figure_quality(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = study["quality"]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("Mean quality score by track", "Share meeting the quality standard"),
    )
    groups = [g for g in table.track_group.unique() if g != "all"]
    colours = _GROUP_COLOURS
    for colour, group in zip(colours, groups, strict=False):
        grp = table[(table.track_group == group) & (table.scored >= 5)]
        fig.add_trace(
            go.Scatter(
                x=grp.year,
                y=grp.quality_mean,
                name=group,
                mode="lines+markers",
                line={"color": colour},
            ),
            1,
            1,
        )
    overall = table[table.track_group == "all"]
    fig.add_trace(
        go.Scatter(
            x=overall.year,
            y=overall.quality_mean,
            name="all ACOs",
            mode="lines+markers",
            line={"color": style.INK, "width": 4},
        ),
        1,
        1,
    )
    met = overall.dropna(subset=["met_qps_share"])
    fig.add_trace(
        go.Bar(
            x=met.year,
            y=met.met_qps_share,
            name="met the standard (all ACOs)",
            marker_color=_DATA,
            text=[f"{v:.1%}" for v in met.met_qps_share],
            textposition="outside",
        ),
        1,
        2,
    )
    fig.update_xaxes(title_text="Performance year", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="Performance year", dtick=1, row=1, col=2)
    fig.update_yaxes(
        title_text="Quality score (0–100%)", tickformat=".0%", range=[0.6, 1.02], row=1, col=1
    )
    fig.update_yaxes(title_text="Share of ACOs", tickformat=".0%", range=[0.9, 1.015], row=1, col=2)
    _layout(
        fig, "Quality scores and the quality performance standard (MSSP results files)", height=600
    )
    return fig


def figure_benchmark(study: dict):
    import plotly.graph_objects as go

    growth = study["growth"]
    program = study["program_benchmark"].dropna(subset=["growth"])
    same = growth[growth.same_agreement]
    by_year = same.groupby("to_year").growth
    stats_by_year = pd.DataFrame({q: by_year.quantile(q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)})
    fig = go.Figure()
    fig.add_trace(
        go.Box(
            x=stats_by_year.index,
            q1=stats_by_year[0.25],
            median=stats_by_year[0.5],
            q3=stats_by_year[0.75],
            lowerfence=stats_by_year[0.05],
            upperfence=stats_by_year[0.95],
            name="same ACO, same agreement: box = quartiles, whiskers = 5th–95th percentile",
            marker_color=_DATA,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=program.performance_year,
            y=program.growth,
            name="program mean per-capita benchmark",
            mode="lines+markers",
            line={"color": _MODEL, "width": 3},
        )
    )
    fig.add_hline(y=0, line={"color": _REFERENCE, "width": 1})
    fig.update_xaxes(title_text="Performance year (growth from the year before)", dtick=1)
    fig.update_yaxes(title_text="Growth of per-capita updated benchmark", tickformat=".0%")
    _layout(fig, "Benchmark growth year to year (UpdatedBnchmk per capita)", width=1100)
    return fig


def figure_backtest(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bt = study["backtest"]
    table = bt.table[bt.table.naive.notna()]
    m = bt.metrics
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.12,
        subplot_titles=(
            f"PY{bt.target_year} forecast vs actual ({len(table)} ACOs with a PY{bt.through} rate)",
            "Mean absolute error (percentage points)",
        ),
    )
    inside = table[table.covered]
    outside = table[~table.covered]
    for part, name, colour in (
        (inside, "actual inside the 90% interval", _DATA),
        (outside, "actual outside the 90% interval", _MODEL),
    ):
        fig.add_trace(
            go.Scattergl(
                x=part.forecast,
                y=part.actual,
                mode="markers",
                name=name,
                marker={"size": 6, "opacity": 0.6, "color": colour},
            ),
            1,
            1,
        )
    lim = [-0.1, 0.2]
    fig.add_trace(
        go.Scatter(x=lim, y=lim, name="forecast = actual", line={"color": _REFERENCE, "dash": "dash"}),
        1,
        1,
    )
    labels = [
        "model",
        "naive (same<br>as last year)",
        "model before<br>recalibration",
        "program<br>mean",
        "commercial<br>model",
    ]
    values = [m["mae_model"], m["mae_naive"], m["mae_uncalibrated"], m["mae_mean"], COMMERCIAL_MAE]
    colours = [_DATA, style.NEUTRAL, _LIGHT, style.GRID, style.rgba(style.LOSS, 0.45)]
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[v * 100 for v in values],
            marker_color=colours,
            showlegend=False,
            text=[f"{v * 100:.2f}" for v in values],
            textposition="outside",
        ),
        1,
        2,
    )
    fig.update_xaxes(
        title_text=f"Forecast PY{bt.target_year} savings rate",
        tickformat=".0%",
        range=lim,
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text=f"Actual PY{bt.target_year} savings rate",
        tickformat=".0%",
        range=lim,
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="MAE (points)", range=[0, max(values) * 100 * 1.2], row=1, col=2)
    fig.update_xaxes(tickfont={"size": 13}, tickangle=0, row=1, col=2)
    _layout(
        fig,
        f"Back-test: PY{bt.target_year} savings rates forecast from "
        f"PY{min(bt.fit.years)}–PY{bt.through} "
        f"(coverage of 90% intervals {m['coverage']:.0%})",
        height=620,
    )
    return fig


def figure_simulated(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = study["sim_table"].set_index("band")
    samples = study["sim_samples"]
    bands = list(samples)
    fig = make_subplots(
        rows=1,
        cols=len(bands),
        shared_yaxes=True,
        horizontal_spacing=0.025,
        subplot_titles=[
            f"{b}<br>n={table.loc[b, 'observed']}, KS={table.loc[b, 'ks']:.2f}" for b in bands
        ],
    )
    for j, band in enumerate(bands, start=1):
        obs, sim = samples[band]
        for values, name, colour, dash in (
            (np.sort(sim), "simulated (defaults + noise.py)", _MODEL, "dash"),
            (np.sort(obs), "observed", _DATA, "solid"),
        ):
            if len(values) > 2000:
                values = np.quantile(values, np.linspace(0, 1, 2000))
            fig.add_trace(
                go.Scatter(
                    x=values,
                    y=np.linspace(0, 1, len(values)),
                    name=name,
                    showlegend=j == 1,
                    line={"color": colour, "dash": dash, "width": 2.5},
                ),
                1,
                j,
            )
        fig.update_xaxes(
            tickformat=".0%", range=[-0.13, 0.2], tickvals=[-0.1, 0.0, 0.1], row=1, col=j
        )
    fig.update_xaxes(title_text="Savings rate", row=1, col=(len(bands) + 1) // 2)
    fig.update_yaxes(title_text="Cumulative share of ACOs", tickformat=".0%", row=1, col=1)
    years = "PY{}–PY{}".format(*study["windows"]["mean"])
    _layout(
        fig,
        f"Simulated vs observed savings rates by size band (assigned beneficiaries), {years}",
        height=580,
        width=1400,
    )
    fig.update_layout(margin={"t": 130})
    return fig


FIGURES: dict[str, Callable[[dict], go.Figure]] = {
    "dispersion_by_size": figure_dispersion_by_size,
    "dispersion_by_year": figure_dispersion_by_year,
    "persistence": figure_persistence,
    "quality": figure_quality,
    "benchmark_growth": figure_benchmark,
    "backtest": figure_backtest,
    "simulated_vs_observed": figure_simulated,
}


def write_figures(study: dict, folder: Path) -> list[Path]:
    """Render every figure of :data:`FIGURES` to ``folder/<name>.png`` with one browser."""
    import kaleido

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    figures = [(name, make(study)) for name, make in FIGURES.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaleido.start_sync_server(silence_warnings=True)
        try:
            for name, fig in figures:
                path = folder / f"{name}.png"
                fig.write_image(path, width=fig.layout.width, height=fig.layout.height, scale=1)
                paths.append(path)
        finally:
            kaleido.stop_sync_server(silence_warnings=True)
    return paths


