"""Calibration of the prospective-benchmark programs (ACO REACH) on CMS's REACH results.

MSSP's savings effect is fitted on a retrospective benchmark; REACH entities are measured
against a prospective one, and their gross savings rate against the pre-discount benchmark
differs. This module fits, per risk arrangement, the mean and spread of that gross savings
rate on CMS's published results (data only: the moments of the observed rates), then checks
the fit by settling simulated entities with the catalog's rules and comparing the share with
net savings and the median gross rate with the published ones (those are not fitted).

Tracks whose catalog ``benchmark_kind`` is ``prospective`` use this evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..cms.reach_results import load_reach_results
from ..model.reach_level import DEFAULTS_PATH
from ..rules.catalog import load_catalog
from ..rules.settlement import settle

ARRANGEMENTS = {"REACH_GLOBAL": "Global", "REACH_PROFESSIONAL": "Professional"}


def gross_rates(df: pd.DataFrame) -> pd.Series:
    """Gross savings rate against the pre-discount benchmark, one per entity."""
    return (df["benchmark_pre_discount"] - df["total_cost"]) / df["benchmark_pre_discount"]


def fit(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per track: mean, SD and median of the gross savings rate, and the entity count; also by
    entity type (Standard, New Entrant, High Needs) for the write-up."""
    out: dict[str, dict[str, float]] = {}
    rate = gross_rates(df)
    for track in ARRANGEMENTS:
        r = rate[df["track"] == track].dropna()
        out[track] = {"mean": round(float(r.mean()), 6), "sd": round(float(r.std(ddof=1)), 6),
                      "median": round(float(r.median()), 6), "n": len(r)}
        by_type = {}
        for kind, rr in rate[df["track"] == track].groupby(df["entity_type"]):
            by_type[str(kind)] = {"mean": round(float(rr.mean()), 6), "n": len(rr)}
        out[track]["by_entity_type"] = by_type  # type: ignore[assignment]
    return out


def published(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per track: CMS's share of entities with net savings and median gross rate."""
    rate = gross_rates(df)
    res = {}
    for track in ARRANGEMENTS:
        m = df["track"] == track
        net = df.loc[m, "net_savings"].dropna()
        res[track] = {"share_net_savings": float((net > 0).mean()),
                      "median_gross_rate": float(rate[m].median())}
    return res


def simulate(params: dict[str, dict[str, float]], year: int, *, n: int = 20_000, seed: int = 2023,
             quality: float = 0.75) -> dict[str, dict[str, float]]:
    """Settle ``n`` simulated entities per track with the fitted gross-rate distribution and
    the catalog's rules for ``year``: share with net savings and median gross rate."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    res = {}
    for track, p in params.items():
        g = p["mean"] + p["sd"] * rng.standard_normal(n)
        bench = np.full(n, 1_000_000.0)
        s = settle(catalog.rules(track, year), benchmark=bench, expenditure=bench * (1.0 - g),
                   beneficiaries=1.0, quality_score=quality, detail=False)
        earned = np.asarray(s.earned, dtype=float)
        res[track] = {"share_net_savings": float((earned > 0).mean()),
                      "median_gross_rate": float(np.median(g))}
    return res


def run(path: str | Path) -> dict:
    """Fit, simulate and compare; the dict :func:`write_defaults` stores and the report shows."""
    df = load_reach_results(path)
    year = int(df["performance_year"].iloc[0])
    params = fit(df)
    return {"performance_year": year, "source": Path(path).name, "fit": params,
            "published": published(df),
            "simulated": simulate({k: {"mean": v["mean"], "sd": v["sd"]} for k, v in params.items()}, year)}


def write_defaults(result: dict, path: Path = DEFAULTS_PATH) -> None:
    """Store the fitted gross-rate distribution per track with its source."""
    data = {
        track: {
            "gross_rate_mean": v["mean"], "gross_rate_sd": v["sd"], "entities": v["n"],
            "unit": "fraction of the pre-discount benchmark",
            "confidence": "INF",
            "source": f"CMS ACO REACH PY{result['performance_year']} financial and quality results "
                      f"({result['source']}): mean and SD across {ARRANGEMENTS[track]} entities of "
                      "(pre-discount benchmark - total cost of care) / pre-discount benchmark; "
                      "docs/calibration.md#aco-reach",
        }
        for track, v in result["fit"].items()
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def lines(result: dict) -> list[str]:
    """``acosim calibrate`` lines: per arrangement, published vs simulated."""
    out = [f"ACO REACH PY{result['performance_year']} (prospective benchmark, {result['source']}):"]
    for track, name in ARRANGEMENTS.items():
        pub, sim, f = result["published"][track], result["simulated"][track], result["fit"][track]
        out.append(f"  {name:<12} net savings: published {pub['share_net_savings']:.1%}, simulated "
                   f"{sim['share_net_savings']:.1%}; median gross rate: published "
                   f"{pub['median_gross_rate']:.2%}, simulated {sim['median_gross_rate']:.2%} "
                   f"(fit: mean {f['mean']:.2%}, SD {f['sd']:.2%}, {f['n']} entities)")
    return out


def markdown_section(result: dict, figure: str | None = None) -> str:
    """The docs/calibration.md section on REACH (Markdown)."""
    rows = ["## ACO REACH", "",
            "REACH benchmarks are prospective (set before the year, with a discount); MSSP's "
            "savings effect, fitted on a retrospective benchmark, does not carry over. The gross "
            "savings rate against the pre-discount benchmark is fitted per risk arrangement on "
            f"CMS's PY{result['performance_year']} REACH results (mean and SD of the observed "
            "rates, nothing else); simulated entities drawn from it are then settled with the "
            "catalog's rules, and the share with net savings is compared with CMS's (not fitted).",
            "", "| Arrangement | Entities | Fitted mean | Fitted SD | Net savings: published | "
            "simulated | Median gross rate: published | simulated |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for track, name in ARRANGEMENTS.items():
        pub, sim, f = result["published"][track], result["simulated"][track], result["fit"][track]
        rows.append(f"| {name} | {f['n']} | {f['mean']:.2%} | {f['sd']:.2%} | "
                    f"{pub['share_net_savings']:.1%} | {sim['share_net_savings']:.1%} | "
                    f"{pub['median_gross_rate']:.2%} | {sim['median_gross_rate']:.2%} |")
    rows += ["", "Mean gross savings rate by entity type:", ""]
    for track, name in ARRANGEMENTS.items():
        parts = ", ".join(f"{k} {v['mean']:.2%} ({v['n']})"
                          for k, v in result["fit"][track]["by_entity_type"].items())
        rows.append(f"- {name}: {parts}")
    rows += ["", "How the simulator uses it [INF]: a track whose catalog entry has `benchmark_kind: "
             "prospective` and a `benchmark_calibration` key settles against the common benchmark "
             "times k = (1 − MSSP's calibrated mean true effect) / (1 − the key's fitted mean gross "
             "rate), so an ACO with MSSP's average effect shows REACH's average gross savings rate "
             "against the pre-discount benchmark; the track's discount applies on top. Defaults: "
             "data/calibration/reach_defaults.json. A successor model without results of its own "
             "(LEAD) opts in by naming a REACH key in its YAML."]
    if figure:
        rows += ["", f"![REACH published and simulated]({figure})"]
    return "\n".join(rows) + "\n"


def figure(result: dict):
    """Published and simulated share with net savings per arrangement (a Plotly figure)."""
    import plotly.graph_objects as go

    from ..style import house_style, track_color

    names = list(ARRANGEMENTS.values())
    fig = go.Figure()
    for key, label, alpha in (("published", "CMS published", 1.0), ("simulated", "Simulated", 0.55)):
        fig.add_bar(name=label, x=names, opacity=alpha,
                    marker_color=[track_color(t) for t in ARRANGEMENTS],
                    y=[100 * result[key][t]["share_net_savings"] for t in ARRANGEMENTS],
                    text=[f"{100 * result[key][t]['share_net_savings']:.1f}%" for t in ARRANGEMENTS],
                    textposition="outside")
    house_style(fig, height=420)
    fig.update_layout(yaxis_title=f"% of entities with net savings, PY{result['performance_year']}",
                      barmode="group", yaxis_range=[0, 105])
    return fig


def find_results(data: str | Path) -> Path | None:
    """CMS's REACH results beside an MSSP data folder (``other/reach_results_PY*.csv``)."""
    data = Path(data)
    for base in (data, data.parent):
        found = sorted((base / "other").glob("reach_results_PY*.csv"))
        if found:
            return found[-1]
    return None


def calibrate_reach(path: str | Path, *, out: Path = DEFAULTS_PATH, doc: Path | None = None,
                    figures: bool = True) -> tuple[dict, list[Path]]:
    """Fit, write ``out`` (JSON), the figure and the REACH section of ``doc`` (replacing an
    earlier one); returns the result and the paths written."""
    result = run(path)
    write_defaults(result, out)
    written = [out]
    fig_rel = None
    if doc is not None:
        doc = Path(doc)
        if figures:
            fig_path = doc.parent / "figures" / "calibration" / "reach_net_savings.png"
            fig_path.parent.mkdir(parents=True, exist_ok=True)
            figure(result).write_image(fig_path, width=700, height=420, scale=1)
            written.append(fig_path)
            fig_rel = "figures/calibration/reach_net_savings.png"
        text = doc.read_text(encoding="utf-8") if doc.exists() else ""
        start = text.find("\n## ACO REACH\n")
        if start >= 0:
            end = text.find("\n## ", start + 5)
            text = text[:start] + ("" if end < 0 else text[end:])
        doc.write_text(text.rstrip("\n") + "\n\n" + markdown_section(result, fig_rel), encoding="utf-8")
        written.append(doc)
    return result, written
