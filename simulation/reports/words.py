"""The one recommendation: which track to take, among those the ACO can actually enter.

Compare tracks, the exports (CSV/HTML report, deck, PDF) and ``acosim simulate --format json``
all word it here. It reads the summary's ``open`` and ``why`` columns
(:func:`simulation.model.montecarlo.summary`, from :mod:`simulation.model.eligibility`): a closed track
is never the recommended one, never the "safest" alternative, and when no compared track is
open the text says why the ACO cannot enter instead of recommending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from ..model.montecarlo import SimulationResult
from ..model.scenario import Scenario
from ..text import money, pct
from . import charts
from .tables import value_text


@dataclass(frozen=True)
class Recommendation:
    """The recommended track (None when no compared track is open), the sentences in
    markdown, and the closed tracks with their reasons."""

    track: str | None
    paragraphs: list[str]
    closed: list[tuple[str, str]]  # (track, why), in the summary's order
    reason: str | None = None  # why there is no recommendation (track is None)

    @property
    def text(self) -> str:
        """The sentences without markdown (for a deck, a PDF, a JSON field)."""
        return " ".join(p.replace("**", "") for p in self.paragraphs)

    @property
    def markdown(self) -> str:
        return "\n\n".join(self.paragraphs)


def _years(summary: pd.DataFrame, years: int | None) -> int:
    return years or len(summary.attrs.get("years", ())) or 1


def open_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of the tracks open to the ACO (every row of a summary without the column)."""
    if "open" not in summary:
        return summary
    return summary[summary["open"].astype(bool)]


def not_open(scenario) -> list[tuple[str, str]]:
    """(track, why) of each compared track the scenario's ACO cannot enter in its start year."""
    from ..model.eligibility import assess

    return [(v.key, v.why or "not open to this ACO.") for v in assess(scenario) if not v.open]


def closed_rows(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """(track, why) of each track not open to the ACO."""
    if "open" not in summary:
        return []
    out = []
    for r in summary[~summary["open"].astype(bool)].itertuples():
        out.append((str(r.track), str(r.why) if isinstance(r.why, str) else "not open to this ACO."))
    return out


def no_entry_text(summary: pd.DataFrame, start_year: int | None = None) -> str:
    """Why no compared track is open: each distinct reason once, with the tracks it closes."""
    start = start_year or (summary.attrs.get("years") or [None])[0]
    when = f" for an agreement starting in {start}" if start else ""
    reasons: dict[str, list[str]] = {}
    for track, why in closed_rows(summary):
        reasons.setdefault(why, []).append(track)
    lead = f"None of the compared tracks is open to this ACO{when}, so there is no recommendation."
    if len(reasons) == 1:
        return f"{lead} {next(iter(reasons))}"
    return lead + " " + " ".join(f"{', '.join(ts)}: {why}" for why, ts in reasons.items())


def recommend(summary: pd.DataFrame, years: int | None = None) -> Recommendation:
    """The recommendation from a summary with ``open``/``why`` columns (a summary without
    them is taken as all open). ``years`` defaults to the agreement length in its attrs."""
    n = _years(summary, years)
    closed = closed_rows(summary)
    df = open_rows(summary)
    if summary.empty:
        return Recommendation(None, [], [], "No track is being compared.")
    if df.empty:
        reason = no_entry_text(summary)
        return Recommendation(None, [reason], closed, reason)
    paragraphs = charts.tradeoff_text(df, n)
    best = df.sort_values("expected_net", ascending=False, kind="stable").iloc[0]
    better = [(t, float(summary.loc[summary["track"] == t, "expected_net"].iloc[0])) for t, _ in closed]
    better = [(t, v) for t, v in better if v > best.expected_net]
    if better:
        names = ", ".join(f"{t} ({money(v, signed=True)})" for t, v in better)
        paragraphs.append(f"Not open to this ACO, so not recommended, though run here as a what-if they average "
                          f"more: {names}.")
    return Recommendation(str(best.track), paragraphs, closed)


def recommendation_text(summary: pd.DataFrame, years: int | None = None) -> str:
    """The recommendation in plain words (no markdown), for a board."""
    return recommend(summary, years).text


def summary_json(summary: pd.DataFrame, years: int | None = None) -> dict:
    """``acosim simulate --format json``'s summary: the recommended track among the open
    ones (null, with the reason, when none is open) and the closed tracks with their reasons."""
    rec = recommend(summary, years)
    return {"recommended": rec.track, "recommendation": rec.text,
            "reason": rec.reason, "not_open": [{"track": t, "why": w} for t, w in rec.closed]}


def tracks_json(summary: pd.DataFrame) -> list[dict]:
    """Each track's row for JSON: ``open`` true/false and, when false, ``why``."""
    import json

    rows = json.loads(summary.to_json(orient="records"))
    for r in rows:
        if r.get("open"):
            r.pop("why", None)
    return rows


# --------------------------------------------------------------------------- for a board


NOT_OPEN_TITLE = "Not open to this ACO"


def board_sentence(summary: pd.DataFrame, years: int | None = None) -> str:
    """The recommendation in one sentence, with the chance of ending behind: the track that
    pays the most on average among the rows of ``summary`` (pass only the open tracks)."""
    n = years or len(summary.attrs.get("years", ())) or 1
    if open_rows(summary).empty:
        return no_entry_text(summary)
    best = open_rows(summary).sort_values("expected_net", ascending=False, kind="stable").iloc[0]
    span = f"the {n}-year agreement" if n > 1 else "the year"
    return (f"Recommended: {best['track']}, which averages {money(best['expected_net'], signed=True)} over "
            f"{span} after the ACO's own costs, with a {pct(best['p_net_loss'], 1)} chance of ending behind.")


def key_assumptions(scenario: Scenario) -> list[str]:
    """The few assumptions that move the result most, as sentences a board can check."""
    a, p, c, m = scenario.aco, scenario.performance, scenario.costs, scenario.market
    years = scenario.years
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])
    lo, hi = p.savings_effect - 2 * p.savings_effect_sd, p.savings_effect + 2 * p.savings_effect_sd
    return [
        f"{a.beneficiaries:,} assigned beneficiaries at {money(a.benchmark_pc)} of Medicare spending "
        f"each a year, over an agreement of {a.agreement_years} years ({span}).",
        f"The ACO's programmes cut spending by {pct(p.savings_effect, 1)} once fully working "
        f"(after {p.ramp_years} years); we are not sure of it: in 19 of 20 futures the true effect lies "
        f"between {pct(lo, 1)} and {pct(hi, 1)}.",
        f"Quality: an average score of {p.quality_mean:.2f} (0 to 1) and a {pct(p.qps_probability, 0)} "
        "chance of meeting the quality standard each year.",
        f"Running the ACO costs {money(c.annual_operating_cost)} a year, after a start-up investment of "
        f"{money(c.startup_investment)}.",
        f"National spending grows {pct(m.trend_mean, 1)} a year on average, give or take "
        f"{pct(m.trend_sd, 1)}.",
    ]


def drivers_table(result: SimulationResult, track: str, *, trials: int = 2_000) -> pd.DataFrame:
    """Each main assumption's swing on ``track``'s expected net (the tornado), on fewer
    futures and settling only that track, for the deck and the report."""
    from ..model.montecarlo import only_tracks
    from ..model.montecarlo import tornado as mc_tornado

    scenario = only_tracks(result.scenario, [track])
    df = mc_tornado(scenario, trials=min(trials, result.trials))
    for side in ("low", "high"):
        df[f"{side}_text"] = [_input_text(p, v) for p, v in zip(df["input"], df[f"{side}_value"], strict=True)]
    return df


def _input_text(path: str, value: Any) -> str:
    """An input's value as a reader sees it ('3.8%', '$1.50M', '20,000'), from its unit."""
    section, name = path.split(".", 1)
    model = Scenario.model_fields[section].annotation
    field = model.model_fields[name]  # type: ignore[union-attr]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    unit = str(extra.get("unit", ""))
    if unit.startswith("$"):
        return money(float(value))
    percent = ("share", "share of benchmark", "share of avoided spending", "per year", "probability")
    if unit not in percent and float(value).is_integer():
        return f"{int(value):,}"
    if isinstance(value, float) and unit not in ("share", "share of benchmark", "share of avoided spending",
                                                 "per year", "probability"):
        return f"{value:.3g}"
    text = value_text(value, unit)
    return text[:-3] + "%" if text.endswith(".00%") else text


def drivers_text(tdf: pd.DataFrame, track: str, n: int = 3) -> list[str]:
    """The ``n`` assumptions that move ``track``'s expected net most, in words."""
    rows = tdf[(tdf["track"] == track) & (tdf["low_value"] != tdf["high_value"])]
    if "low_text" not in rows:
        rows = rows.assign(low_text=rows["low_value"].map(str), high_text=rows["high_value"].map(str))
    rows = rows.sort_values("swing", ascending=False, kind="stable").head(n)
    out = []
    for r in cast(Iterable[Any], rows.itertuples()):
        out.append(f"{r.label}: at {r.low_text} the expected net is {money(r.net_low, signed=True)}, at "
                   f"{r.high_text} it is {money(r.net_high, signed=True)} (as assumed: "
                   f"{money(r.base_net, signed=True)}).")
    return out
