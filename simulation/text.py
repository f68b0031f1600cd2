"""Plain-language formatting shared by the dashboard, the exports and the CLI (no streamlit)."""

from __future__ import annotations

import math
import re


def money(x: float | None, *, signed: bool = False, digits: int | None = None) -> str:
    """Dollars in $K/$M/$B with a real minus sign: -$1.25M, $850K, +$3.4M (``signed``)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    sign = "−" if x < 0 else ("+" if signed and x > 0 else "")
    a = abs(x)
    for div, suffix, d in ((1e9, "B", 2), (1e6, "M", 2), (1e3, "K", 0)):
        if a >= div:
            return f"{sign}${a / div:,.{d if digits is None else digits}f}{suffix}"
    return f"{sign}${a:,.0f}"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x * 100:.{digits}f}%".replace("-", "−")


def odds(p: float) -> str:
    """A probability as '1 in N' for small chances, else a percentage."""
    if p <= 0:
        return "never"
    if p < 0.2:
        return f"1 in {round(1 / p):,}"
    return pct(p, 0)


def headline(text: str, limit: int = 70) -> str:
    """The first clause of a description, for a table cell: up to the first dash, semicolon,
    colon, parenthesis or sentence end, cut with an ellipsis beyond ``limit`` characters."""
    first = re.split(r" [-–] |; |: |\. |\(", " ".join(text.split()), maxsplit=1)[0].strip().rstrip(".,")
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
