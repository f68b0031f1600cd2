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


# --------------------------------------------------------------------------- user text is text
# Text that came from a user (a scenario's name, a track label, a snapshot name, a key in an
# uploaded file) is shown as typed, never interpreted: as Markdown, HTML, a spreadsheet
# formula or chart markup.

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~$:])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG = re.compile(r"<[^>]*>?")


def printable(text: object) -> str:
    """``text`` as a string that can always be encoded and shown: lone surrogates (which a
    JSON file or a link may carry) are shown as their escape (``\\ud800``), control
    characters other than tab and newline are dropped."""
    s = text if isinstance(text, str) else str(text)
    s = s.encode("utf-8", "backslashreplace").decode("utf-8") if _has_surrogate(s) else s
    return _CONTROL.sub("", s)


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clip(text: object, limit: int = 80) -> str:
    """A short, printable piece of ``text`` for an error message: at most ``limit``
    characters, cut with an ellipsis and the full length when longer."""
    s = printable(text)
    if len(s) <= limit:
        return s
    return f"{s[: limit - 1]}… ({len(s):,} characters)"


def summarise(items: list[str], limit: int = 5) -> str:
    """'a, b, c and 59,997 more' — a long list summarised, each item clipped."""
    shown = [clip(i, 40) for i in items[:limit]]
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" and {rest:,} more" if rest > 0 else "")


def unknown_fields(names: list[str]) -> str:
    """One line for the unknown keys of a link or a file: 'x: unknown field', or
    '60,000 unknown fields: k0, k1, k2 and 59,997 more'."""
    if len(names) == 1:
        return f"{clip(names[0], 40)}: unknown field"
    return f"{len(names):,} unknown fields: {summarise(names, 3)}"


def md_escape(text: object) -> str:
    """User text for a Markdown context (st.markdown, captions, notices, pills): every
    character Markdown or HTML could act on is backslash-escaped, so ``![x](http://h/p)``
    shows as typed and fetches nothing."""
    return _MD_SPECIAL.sub(r"\\\1", printable(text)).replace("\n", " ")


def cell_safe(value: object) -> object:
    """A spreadsheet cell that can never be a formula (OWASP CSV injection): text starting
    with = + - @, a tab or a carriage return gets a leading apostrophe. Numbers pass through."""
    if isinstance(value, str):
        s = printable(value)
        if s and s[0] in "=+-@\t\r":
            return "'" + s
        return s
    return value


def plain_label(text: object) -> str:
    """User text for a chart label: markup tags removed (Plotly renders ``<a href>``, ``<b>``
    and friends in labels), what remains HTML-escaped."""
    s = _TAG.sub("", printable(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
