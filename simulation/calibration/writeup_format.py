"""Formatting for the calibration write-up: percentages, tables, band lists (no statistics)."""


from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from .fit import NoiseFit


def _pct(value: float, digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value * 100:.{digits}f}%"


def _num(value: float, digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _bands(names: Iterable[str]) -> str:
    """'the 5k–10k band' / 'the 10k–20k and 50k+ bands' / 'no band'."""
    names = list(names)
    if not names:
        return "no band"
    if len(names) == 1:
        return f"the {names[0]} band"
    return f"the {', '.join(names[:-1])} and {names[-1]} bands"


def _sd_pairs(table: pd.DataFrame) -> str:
    return ", ".join(
        f"{r.band} ({_pct(r.simulated_sd, 1)} simulated, {_pct(r.observed_sd, 1)} observed)"
        for r in cast(Iterable[Any], table.itertuples())
    )


def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    header = list(header)
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _versus(difference: float) -> str:
    """'0.12 below' / '0.30 above' for a difference of mean absolute errors (fractions)."""
    return f"{abs(difference) * 100:.2f} {'below' if difference < 0 else 'above'}"


def _fmt_value(key: str, value: float) -> str:
    if key in ("per_beneficiary_cv", "persistence", "shock_multiplier"):
        return _num(value, 3 if key == "per_beneficiary_cv" else 2)
    if key in ("quality_mean", "quality_sd", "qps_probability"):
        return _pct(value, 1)
    return _pct(value, 2)


def _common(study: dict) -> tuple:
    """The study's results each section reads (looked up, not computed)."""
    fit: NoiseFit = study["fit"]
    defaults = study["defaults"]
    f = study["findings"]
    return (
        fit,
        defaults,
        f,
        study["backtest"],
        f"PY{min(fit.years)}–PY{max(fit.years)}",
        defaults["true_effect_sd"]["value"],
        defaults["persistence"]["value"],
    )


