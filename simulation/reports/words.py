"""The one recommendation: which track to take, among those the ACO can actually enter.

Compare tracks, the exports (CSV/HTML report, deck, PDF) and ``acosim simulate --format json``
all word it here. It reads the summary's ``open`` and ``why`` columns
(:func:`simulation.model.montecarlo.summary`, from :mod:`simulation.model.eligibility`): a closed track
is never the recommended one, never the "safest" alternative, and when no compared track is
open the text says why the ACO cannot enter instead of recommending.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..text import money
from . import charts


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
