"""CMS's ACO REACH "Financial and Quality Results" file: reading it and reconciling it.

The file (one row per REACH entity) differs from the MSSP PUF: headers carry footnote numbers
and line breaks ("Risk\\nArrangement2"), money is printed as "$ 1,234.56" with losses in
parentheses ("$ (1,234.56)"), rates and the total quality score as "7.4%". Gross savings are
the pre-discount benchmark less the total cost of care.

:func:`reconcile_reach` settles every entity with the catalog's REACH rules (pre-discount
benchmark, total cost of care, total quality score, CMS's published discount) and compares
the net savings or losses with CMS's, like :func:`simulation.cms.reconcile.reconcile` does for MSSP.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..rules.catalog import Catalog, load_catalog
from ..rules.settlement import settle

#: Canonical column -> header (footnote digits, line breaks and hyphenation removed), lower case.
_HEADERS = {
    "entity_id": "aco id",
    "entity_name": "aco name",
    "state": "state",
    "entity_type": "aco type",
    "arrangement": "risk arrangement",
    "gross_savings": "gross savings (loss)",
    "net_savings": "net savings (loss)",
    "gross_rate": "gross savings rate",
    "net_rate": "net savings rate",
    "beneficiaries": "total beneficiaries",
    "eligible_months": "total eligible months",
    "hpp_payout": "high performers pool payout",
    "benchmark_pre_discount": "pre-discount benchmark",
    "benchmark_final": "final benchmark",
    "total_cost": "total cost of care",
    "quality_score": "total quality score",
}
_MONEY = ("gross_savings", "net_savings", "hpp_payout", "benchmark_pre_discount",
          "benchmark_final", "total_cost")
_RATES = ("gross_rate", "net_rate", "quality_score")
_COUNTS = ("beneficiaries", "eligible_months")
_REQUIRED = ("entity_id", "arrangement", "net_savings", "benchmark_pre_discount",
             "benchmark_final", "total_cost", "quality_score")
#: Risk arrangement -> catalog track.
TRACKS = {"global": "REACH_GLOBAL", "professional": "REACH_PROFESSIONAL"}
TOLERANCE = 0.001  # 0.1% of CMS's amount (or $10)


class ReachFormatError(ValueError):
    """The file is not a readable REACH results file; the message is one line."""


def _clean_header(name: str) -> str:
    s = str(name).replace("-\n", "").replace("\n", " ")
    s = re.sub(r"\d+\s*$", "", s.strip())  # footnote number glued to the end
    return " ".join(s.split()).lower()


def is_reach_file(path: str | Path) -> bool:
    """True when the file's header names a risk arrangement and a pre-discount benchmark."""
    try:
        head = pd.read_csv(path, nrows=0, dtype=str, encoding_errors="replace")
    except (OSError, ValueError, pd.errors.ParserError):
        return False
    cols = {_clean_header(c) for c in head.columns}
    return {"risk arrangement", "pre-discount benchmark"} <= cols


def _money(raw: pd.Series, field: str, ids: pd.Series) -> pd.Series:
    s = raw.fillna("").astype(str).str.replace(r"[\$,\s]", "", regex=True)
    neg = s.str.startswith("(") & s.str.endswith(")")
    body = s.str.strip("()")
    blank = body.isin(["", "-"])
    num = pd.to_numeric(body.where(~blank), errors="coerce")
    bad = num.isna() & ~blank
    if bad.any():
        i = bad.idxmax()
        raise ReachFormatError(f"{field}: {str(raw[i])[:20]!r} for {str(ids[i])[:12]} is not an amount")  # type: ignore[call-overload]
    return num.where(~neg, -num)


def _rate(raw: pd.Series, field: str, ids: pd.Series) -> pd.Series:
    s = raw.fillna("").astype(str).str.strip()
    pct = s.str.endswith("%")
    num = pd.to_numeric(s.str.rstrip("%").where(s != ""), errors="coerce")
    bad = num.isna() & (s != "")
    if bad.any():
        i = bad.idxmax()
        raise ReachFormatError(f"{field}: {str(raw[i])[:20]!r} for {str(ids[i])[:12]} is not a rate")  # type: ignore[call-overload]
    return num.where(~pct, num / 100.0)


def load_reach_results(path: str | Path, year: int | None = None) -> pd.DataFrame:
    """Read a REACH results CSV into canonical columns (money in dollars, rates as fractions).

    The performance year comes from ``year`` or from "PY20xx" in the file name. Raises
    :class:`ReachFormatError` naming the problem for a file that is not one.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ReachFormatError(f"{path.name}: cannot read ({str(exc)[:80]})") from None
    cols = {_clean_header(c): c for c in raw.columns}
    missing = [f for f in _REQUIRED if _HEADERS[f] not in cols]
    if missing:
        raise ReachFormatError(f"{path.name}: no column {_HEADERS[missing[0]]!r} (not a REACH results file)")
    if year is None:
        m = re.search(r"PY[\s_-]*(20\d{2})", path.name, re.IGNORECASE)
        if not m:
            raise ReachFormatError(f"{path.name}: no performance year in the name; pass --year")
        year = int(m.group(1))
    out = pd.DataFrame({f: raw[cols[h]] for f, h in _HEADERS.items() if h in cols})
    out = out[out["entity_id"].str.strip() != ""].reset_index(drop=True)
    ids = out["entity_id"].str.strip()
    # CMS marks some IDs with a footnote symbol (e.g. "D0120\u25ca"): kept apart, not in the ID
    out["id_footnote"] = ids.str.extract(r"([^A-Za-z0-9]+)$", expand=False).fillna("")
    ids = ids.str.replace(r"[^A-Za-z0-9]+$", "", regex=True)
    out["entity_id"] = ids
    for f in _MONEY:
        if f in out:
            out[f] = _money(out[f], _HEADERS[f], ids)
    for f in _RATES:
        if f in out:
            out[f] = _rate(out[f], _HEADERS[f], ids)
    for f in _COUNTS:
        if f in out:
            out[f] = pd.to_numeric(out[f].astype(str).str.replace(",", ""), errors="coerce")
    arr = out["arrangement"].str.strip().str.lower()
    unknown = ~arr.isin(list(TRACKS))
    if unknown.any():
        i = unknown.idxmax()
        raise ReachFormatError(f"risk arrangement: {str(out['arrangement'][i])[:20]!r} for {ids[i]} "  # type: ignore[call-overload]
                               "is neither Global nor Professional")
    out["track"] = arr.map(TRACKS)
    out["performance_year"] = int(year)
    out.attrs["source"] = path.name
    return out


@dataclass(frozen=True)
class ReachSummary:
    """Match counts of one reconciled REACH file (by arrangement and overall)."""

    source: str
    performance_year: int
    rows: int
    compared: int
    match: int
    global_rows: int
    global_match: int
    professional_rows: int
    professional_match: int
    discount_rows: int
    discount_at_catalog: int
    catalog_discount: float
    mismatches: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        def frac(m: int, n: int) -> str:
            return f"{m}/{n} ({100.0 * m / n:.1f}%)" if n else "0/0"

        return [
            f"REACH PY{self.performance_year} ({self.source}): {self.rows} entities",
            f"  net savings or losses: {frac(self.match, self.compared)} of the entities with a "
            "published amount match within 0.1% (or $10)"
            + (f"; {self.rows - self.compared} without one" if self.rows > self.compared else ""),
            f"    Global:       {frac(self.global_match, self.global_rows)}",
            f"    Professional: {frac(self.professional_match, self.professional_rows)}",
            f"  Global discount: {frac(self.discount_at_catalog, self.discount_rows)} within 0.05 pp "
            f"of the catalog's {self.catalog_discount:.1%}",
            f"  mismatches:   {self.mismatches} (each explained in the reason column)",
        ]


OUTPUT_COLUMNS = ["performance_year", "entity_id", "track", "entity_type", "id_footnote", "quality_score",
                  "benchmark_pre_discount", "discount_published", "discount_catalog",
                  "benchmark_final", "total_cost", "gross_vs_final", "net_published",
                  "net_computed", "difference", "match", "reason"]


def reconcile_reach(
    path: str | Path, year: int | None = None, catalog: Catalog | None = None
) -> tuple[pd.DataFrame, ReachSummary]:
    """Reconcile one REACH results file: (one row per entity in :data:`OUTPUT_COLUMNS`, summary)."""
    return reconcile_reach_frame(load_reach_results(path, year), catalog)


def reconcile_reach_frame(df: pd.DataFrame, catalog: Catalog | None = None):
    """Reconcile a frame read by :func:`load_reach_results` (or built like one, for tests).

    Each entity is settled with its track's rules for the year: the benchmark is the
    pre-discount benchmark less CMS's published discount (1 - final / pre-discount, which
    differs from the catalog's rounded 3% by up to 0.03 pp), the quality withhold as the
    catalog settles it, corridors and sequestration from the catalog.
    """
    catalog = catalog or load_catalog()
    year = int(df["performance_year"].iloc[0])
    rows = []
    for track, idx in df.groupby("track", sort=False).groups.items():
        part = df.loc[idx]
        rules = catalog.rules(str(track), year)
        pre = part["benchmark_pre_discount"].to_numpy(float)
        disc = 1.0 - part["benchmark_final"].to_numpy(float) / pre
        res = settle(rules, benchmark=pre, expenditure=part["total_cost"].to_numpy(float),
                     beneficiaries=1.0, person_years=1.0,
                     quality_score=part["quality_score"].fillna(0.0).to_numpy(float),
                     benchmark_discount=disc)
        earned = np.asarray(res.earned, dtype=float).reshape(-1)
        bench = np.asarray(res.benchmark_total, dtype=float).reshape(-1)
        for k, i in enumerate(idx):
            r = df.loc[i]
            pub = float(r["net_savings"])
            diff = earned[k] - pub
            ok = bool(abs(diff) <= max(TOLERANCE * abs(pub), 10.0))
            reason = ""
            if pub != pub:  # blank: CMS published no net amount to compare
                reason = "net_not_published"
            elif not ok:
                reason = _reason(r, earned[k], bench[k], rules)
            rows.append({
                "performance_year": year, "entity_id": r["entity_id"], "track": track,
                "entity_type": r.get("entity_type", ""),
                "id_footnote": r.get("id_footnote", ""), "quality_score": r["quality_score"],
                "benchmark_pre_discount": pre[k], "discount_published": disc[k],
                "discount_catalog": rules.benchmark_discount, "benchmark_final": r["benchmark_final"],
                "total_cost": r["total_cost"], "gross_vs_final": r["benchmark_final"] - r["total_cost"],
                "net_published": pub, "net_computed": earned[k], "difference": diff,
                "match": bool(ok), "reason": reason,
            })
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    compared = out["reason"] != "net_not_published"
    g = (out["track"] == "REACH_GLOBAL") & compared
    p = (out["track"] == "REACH_PROFESSIONAL") & compared
    cat_disc = catalog.rules("REACH_GLOBAL", year).benchmark_discount
    summary = ReachSummary(
        source=str(df.attrs.get("source", "(data frame)")), performance_year=year, rows=len(out),
        compared=int(compared.sum()), match=int(out["match"][compared].sum()), global_rows=int(g.sum()), global_match=int(out["match"][g].sum()),
        professional_rows=int(p.sum()), professional_match=int(out["match"][p].sum()),
        discount_rows=int((out["track"] == "REACH_GLOBAL").sum()),
        discount_at_catalog=int((abs(out["discount_published"][out["track"] == "REACH_GLOBAL"] - cat_disc)
                                 <= 0.0005).sum()),
        catalog_discount=cat_disc, mismatches=int((out["reason"] != "").sum()))
    out.attrs["summary"] = summary
    return out, summary


def _reason(r: pd.Series, computed: float, bench: float, rules) -> str:
    """Why one entity's recomputed net differs from CMS's (the codes of :data:`REASONS`)."""
    pub = float(r["net_savings"])
    gross_final = float(r["benchmark_final"] - r["total_cost"])
    if pub == 0.0 and gross_final != 0.0:
        return "published_zero"
    if gross_final and abs(pub / gross_final) > 1.0 + 1e-9:
        return "net_exceeds_gross"
    if np.sign(pub) != np.sign(computed):
        return "sign_differs"
    return "amount_differs"


#: The vocabulary of ``reason`` for REACH rows.
REASONS = {
    "net_not_published": "CMS publishes no net savings or losses for this entity (blank cell; "
                         "its ID carries a footnote mark), so there is nothing to compare.",
    "published_zero": "CMS publishes no net savings or losses although benchmark and cost differ "
                      "(e.g. an entity that terminated and was not settled).",
    "net_exceeds_gross": "CMS's net amount exceeds the gross result against the final benchmark, "
                         "which no corridor can give (an adjustment the file does not show).",
    "sign_differs": "CMS's net amount has the opposite sign to the recomputed one.",
    "amount_differs": "Same sign, different amount: an adjustment the file does not explain "
                      "(e.g. a stop-loss or a corridor band not in the catalog).",
}


def report_section(out: pd.DataFrame, summary: ReachSummary, command: str) -> str:
    """The REACH part of docs/reconciliation.md (Markdown)."""
    buf = io.StringIO()
    w = buf.write
    w(f"## ACO REACH PY{summary.performance_year}\n\n")
    w(f"Produced by `{command}` from CMS's ACO REACH PY{summary.performance_year} financial and "
      "quality results. Each entity is settled with the catalog's REACH rules: pre-discount "
      "benchmark less CMS's published discount, corridors on the result against that final "
      "benchmark, 2% sequestration on savings (not losses); the quality withhold does not "
      "enter the corridors (`quality_withhold_in_settlement: false`, [INF] from this file: "
      "the final benchmark is 0.970 x the pre-discount one for every Global entity and "
      "1.000 x for every Professional one, whatever the total quality score).\n\n")
    w("| | Entities | Net savings or losses within 0.1% |\n|---|---:|---:|\n")
    w(f"| Global | {summary.global_rows} | {summary.global_match} |\n")
    w(f"| Professional | {summary.professional_rows} | {summary.professional_match} |\n")
    w(f"| All with a published amount | {summary.compared} | {summary.match} "
      f"({100.0 * summary.match / max(summary.compared, 1):.1f}%) |\n\n")
    if summary.rows > summary.compared:
        w(f"{summary.rows - summary.compared} of the {summary.rows} entities have no published net "
          "amount (reason `net_not_published`).\n\n")
    w(f"The published Global discount is within 0.05 pp of the catalog's {summary.catalog_discount:.1%} "
      f"for {summary.discount_at_catalog} of {summary.discount_rows} entities "
      f"(range {out.loc[out.track == 'REACH_GLOBAL', 'discount_published'].min():.4%}"
      f"–{out.loc[out.track == 'REACH_GLOBAL', 'discount_published'].max():.4%}).\n\n")
    bad = out[out["reason"] != ""]
    if len(bad):
        w("Mismatches:\n\n| Entity | Track | Published | Computed | Reason |\n|---|---|---:|---:|---|\n")
        for _, r in bad.iterrows():
            pub = "not published" if r.net_published != r.net_published else f"{r.net_published:,.0f}"
            w(f"| {r.entity_id} | {r.track} | {pub} | {r.net_computed:,.0f} | "
              f"{r.reason}: {REASONS[r.reason]} |\n")
        w("\n")
    return buf.getvalue()
