"""Reconciliation against CMS: recompute every ACO of a CMS results file with the engine.

CMS publishes one "Performance Year Financial and Quality Results" file per performance year.
:func:`reconcile` reads one (any year from PY2013 on, through :func:`simulation.cms.puf.load_puf`),
takes from it only the *facts* of each ACO - track, assigned beneficiaries, total benchmark
and spending, quality fields, revenue category, agreement start, disaster adjustment - and the
ACO's *elections* (a two-sided ACO's fixed MSR/MLR), and settles the year with
:func:`simulation.rules.settlement.settle` under the catalog's rules for that (track, year). It
derives, never copies, the size-based MSR, the final sharing rate, the loss rate and the
earned savings or owed losses, and compares each with what CMS published.

Two inputs a rule needs are not in any CMS file, so CMS's own figure is used and the row's
``reason`` says so: the extreme-and-uncontrollable-circumstances (EUC) reduction of losses
(the file gives the dollar reduction, ``DisAdj``, not the share of months and beneficiaries
affected) and participant revenue (for the revenue-based loss limit; the file gives only the
``RevLossLimit`` flag). Every mismatch carries a reason from the fixed vocabulary
:data:`REASONS` (documented in ``docs/reconciliation.md``, which ``acosim reconcile --all``
writes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..model.eligibility import low_revenue_threshold
from ..rules.catalog import Catalog, CatalogError, load_catalog
from ..rules.settlement import settle
from .puf import PufFormatError, load_puf

__all__ = [
    "CAUSE_CODES",
    "DIAGNOSTIC_CODES",
    "NOTE_CODES",
    "OUTPUT_COLUMNS",
    "REASONS",
    "ReconcileError",
    "ReconcileSummary",
    "reconcile",
    "reconcile_directory",
    "reconcile_frame",
    "report_markdown",
]

#: Columns of the result, in order (earned is negative for owed losses).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "aco_id",
    "performance_year",
    "track",
    "published_msr",
    "computed_msr",
    "published_share_rate",
    "computed_share_rate",
    "published_earned",
    "computed_earned",
    "match",
    "reason",
)

# Tolerances. Earned: within 0.1% of CMS's figure or $10, whichever is larger. MSR: within
# 0.01 percentage point. Sharing rate: half a unit of the precision CMS printed it to (the
# PY2019-2020 files round it to 2 decimals), at least 1e-6.
EARNED_REL_TOL = 0.001
EARNED_ABS_TOL = 10.0
MSR_TOL = 1e-4

# A low-revenue ACO's participants bill less than a share of its assigned beneficiaries' Parts
# A and B spending (42 CFR 425.20, "low revenue ACO"; the share is eligibility.yaml's
# low_revenue_threshold); a participant revenue inferred from CMS's loss amount must agree
# with the published revenue category.

#: Notes: a rule input the file lacks was taken from what CMS published (or a rule that only
#: some rows meet was applied). They may appear on matching rows.
NOTE_CODES: dict[str, str] = {
    "euc_from_disadj": (
        "Losses were reduced by the disaster adjustment CMS published (DisAdj) as the extreme "
        "and uncontrollable circumstances reduction (42 CFR 425.605(f), 425.606(i), 425.610(i)): "
        "the file does not give the share of months and beneficiaries affected."
    ),
    "loss_limit_from_published": (
        "The revenue-based loss limit binds: owed losses plus DisAdj are below the loss the "
        "rules give, and RevLossLimit is 1 (or not published). Participant revenue is not "
        "published, so the limit is set to the amount CMS published."
    ),
    "low_revenue_exception": (
        "Savings below the MSR were paid at half the sharing rate under 42 CFR 425.605(h) "
        "(low-revenue BASIC ACO, agreement from 2024, at least 5,000 beneficiaries, quality "
        "standard met)."
    ),
    "acpt_unpublished": (
        "A 2024+ agreement owes losses: the two-way benchmark of the ACPT loss protection "
        "(42 CFR 425.652(b)(5)) is not published, so losses are settled against the published "
        "benchmark."
    ),
}

#: Known causes of a mismatch: the file lacks the fact that decided CMS's figure.
CAUSE_CODES: dict[str, str] = {
    "msr_unknown_below_500": (
        "Fewer assigned beneficiaries than the first row of the MSR scale (500): no rule is "
        "known for the MSR CMS applied (docs/msr-scale.md), so none is computed."
    ),
    "quality_failure_unpublished": (
        "CMS published a sharing rate of 0 (and paid nothing) although the file shows a "
        "positive quality score or pay-for-reporting: CMS found the quality standard unmet "
        "(e.g. incomplete reporting, or a domain below minimum attainment), which files before "
        "PY2016 do not record (no Met_QPS column). Savings above the MSR are then not paid."
    ),
}

#: Generic diagnostics: the first step where the recomputation departs from CMS, used only
#: when no known cause applies. None occurs in the PY2013-PY2023 files (tested).
DIAGNOSTIC_CODES: dict[str, str] = {
    "msr_differs": "The computed MSR differs from the published MinSavPerc.",
    "share_rate_differs": "The computed final sharing rate differs from FinalShareRate.",
    "loss_rate_differs": "The computed shared loss rate differs from FinalLossRate.",
    "amount_differs": (
        "MSR and rates agree but the earned amount differs (e.g. a loss limit, EUC or "
        "mid-year-termination proration the file does not explain)."
    ),
}

#: The whole vocabulary of ``reason`` (codes joined with "; ").
REASONS: dict[str, str] = {**NOTE_CODES, **CAUSE_CODES, **DIAGNOSTIC_CODES}


class ReconcileError(ValueError):
    """The file cannot be reconciled; the message is one line naming the file and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ReconcileSummary:
    """Match counts of one reconciled file.

    ``*_rows`` count the ACOs compared, ``*_match`` those within tolerance. Savings: ACOs CMS
    paid shared savings (published earned > 0); losses: ACOs that owed losses (published
    earned < 0), of which ``loss_limit_from_published`` had the revenue-based limit set to
    CMS's amount; zero: ACOs CMS neither paid nor charged. Forgiven: ACOs the rules make owe
    losses that CMS cancelled in full through the disaster adjustment (PY2020-2022, COVID-19);
    their DisAdj checks the recomputed loss: ``forgiven_disadj_equal`` of them have DisAdj
    equal to it within 0.1% (or $10), ``forgiven_via_limit`` equal to a revenue-limited loss.
    """

    source: str
    performance_year: int
    rows: int
    savings_rows: int
    savings_match: int
    loss_rows: int
    loss_match: int
    loss_limit_from_published: int
    zero_rows: int
    zero_match: int
    forgiven_rows: int
    forgiven_disadj_equal: int
    forgiven_via_limit: int
    msr_rows: int
    msr_match: int
    one_sided_msr_rows: int
    one_sided_msr_match: int
    share_rows: int
    share_match: int
    share_rate_tolerance: float
    mismatches: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The printed summary, one figure a line."""

        def frac(match: int, rows: int) -> str:
            return _pct(match, rows) if rows else "0/0"

        limit = (
            f"; {self.loss_limit_from_published} with the revenue-based loss limit taken from "
            "CMS's amount (participant revenue is not published)"
            if self.loss_limit_from_published
            else ""
        )
        forgiven = (
            [f"  forgiven:     {self.forgiven_rows} ACOs' losses cancelled in full by DisAdj; "
             f"DisAdj equals the recomputed loss for {self.forgiven_disadj_equal}, a "
             f"revenue-limited loss for {self.forgiven_via_limit}"]
            if self.forgiven_rows else []
        )
        return [
            f"PY{self.performance_year} ({self.source}): {self.rows} ACOs",
            f"  savings:      {frac(self.savings_match, self.savings_rows)} ACOs with earned "
            "savings match within 0.1% (or $10)",
            f"  losses:       {frac(self.loss_match, self.loss_rows)} ACOs owing losses match "
            f"within 0.1% (or $10){limit}",
            f"  no payment:   {frac(self.zero_match, self.zero_rows)} ACOs neither paid nor "
            "charged match",
            *forgiven,
            f"  MSR:          {frac(self.msr_match, self.msr_rows)} match within 0.01 pp "
            f"(one-sided: {frac(self.one_sided_msr_match, self.one_sided_msr_rows)})",
            f"  sharing rate: {frac(self.share_match, self.share_rows)} match within "
            f"{self.share_rate_tolerance:.2g} (CMS's printed precision)",
            f"  mismatches:   {self.mismatches} (each explained in the reason column)",
        ]


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------


def reconcile(
    path: str | Path, year: int | None = None, catalog: Catalog | None = None
) -> tuple[pd.DataFrame, ReconcileSummary]:
    """Reconcile one CMS results file; returns (one row per ACO in :data:`OUTPUT_COLUMNS`, summary).

    ``year`` overrides the performance year detected from the file name or content. Raises
    :class:`ReconcileError` (a one-line message) for a malformed file or a year or track the
    catalog has no rules for.
    """
    path = Path(path)
    try:
        puf = load_puf(path, year=year, keep_raw=True)
    except PufFormatError as exc:
        raise ReconcileError(str(exc)) from None
    return reconcile_frame(puf, catalog, source=path.name)


def reconcile_frame(
    puf: pd.DataFrame, catalog: Catalog | None = None, *, source: str | None = None
) -> tuple[pd.DataFrame, ReconcileSummary]:
    """Reconcile a file already loaded by :func:`simulation.cms.puf.load_puf` (or built like one).

    Needs the canonical columns of :data:`simulation.cms.puf.CANONICAL_COLUMNS` (missing optional
    ones are treated as unpublished). Useful for constructed rows in tests.
    """
    source = source or puf.attrs.get("puf", {}).get("source", "(data frame)")
    catalog = catalog or load_catalog()
    df = _prepare(puf, source)
    if df.empty:
        raise ReconcileError(f"{source}: no ACO rows to reconcile")
    years = df.performance_year.unique()
    if len(years) != 1:
        raise ReconcileError(f"{source}: holds several performance years; pass one year's rows")
    year = int(years[0])
    results = [_settle_track(df.loc[idx], catalog, str(track), year, source)
               for track, idx in df.groupby("track", sort=False).groups.items()]
    res = pd.concat(results).reindex(df.index)
    share_tol = _share_tolerance(df)
    out, flags = _compare(df, res, share_tol)
    summary = _summarise(source, year, df, out, flags, share_tol)
    out.attrs["summary"] = summary
    return out, summary


def _prepare(puf: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the frame has what reconciliation needs and fill optional columns with NaN."""
    needed = ("aco_id", "performance_year", "track", "n_ab", "total_benchmark",
              "total_expenditure", "earned_save_loss")
    missing = [c for c in needed if c not in puf.columns]
    if missing:
        raise ReconcileError(f"{source}: missing column(s) {', '.join(missing)}")
    df = puf.copy()
    if not df.index.is_unique:
        df.index = pd.RangeIndex(len(df))
    for col in ("published_msr", "msr_basis", "qual_score", "p4r", "met_qps", "met_alt_qps",
                "final_share_rate", "final_loss_rate", "dis_adj", "rev_loss_limit",
                "rev_exp_cat", "agreement_start_year", "sav_rate"):
        if col not in df.columns:
            df[col] = np.nan
    if df.qual_score.isna().all() and not df.p4r.fillna(False).astype(bool).all():
        raise ReconcileError(
            f"{source}: no quality score (column 'QualScore' missing or empty); it sets the "
            "sharing rate"
        )
    return df


def _agreement_year(df: pd.DataFrame) -> np.ndarray:
    """1 for the first performance year of the current agreement (2012 starts: PY2013 is 1)."""
    start = pd.to_numeric(df.agreement_start_year, errors="coerce").to_numpy(dtype=float)
    first_py = np.where(start == 2012, 2013, start)
    years = df.performance_year.to_numpy(dtype=float) - first_py + 1
    return np.where(np.isfinite(years), np.clip(years, 1, None), 1.0)


def _inputs(df: pd.DataFrame, rules) -> dict[str, Any]:
    """The settle() keyword inputs of each row: file facts and the ACO's elections."""
    q = df.qual_score.to_numpy(dtype=float)
    p4r = df.p4r.fillna(False).astype(bool).to_numpy()
    # Pay-for-reporting: a published score already reflects it (PY2013 prints 1 or 0; PY2020
    # first-year re-entering ACOs were scored); only where the score is not printed ("P4R" in PY2014,
    # blank in PY2015) does first-year reporting give full credit.
    first_year = p4r & np.isnan(q)
    q = np.where(np.isnan(q), 0.0, q)
    met = df.met_qps.astype("boolean")
    qps = np.where(met.isna().to_numpy(), (q > 0) | first_year,
                   met.fillna(False).to_numpy(dtype=bool))
    alt = df.met_alt_qps.astype("boolean").fillna(False).to_numpy(dtype=bool)
    msr = np.full(len(df), np.nan)
    if rules.msr_mode == "elected":  # a fixed election is the ACO's choice; else size-based
        fixed = df.msr_basis.eq("fixed").to_numpy()
        msr = np.where(fixed, df.published_msr.to_numpy(dtype=float), np.nan)
    start = pd.to_numeric(df.agreement_start_year, errors="coerce").to_numpy(dtype=float)
    return {
        "quality_score": q,
        "qps_met": qps,
        "alt_qps_met": alt,
        "first_year_reporting": first_year,
        "msr": msr,
        "low_revenue": df.rev_exp_cat.eq("low").to_numpy(),
        "agreement_start_year": start,
        "agreement_year": _agreement_year(df),
    }


def _settle_track(df: pd.DataFrame, catalog: Catalog, track: str, year: int,
                  source: str) -> pd.DataFrame:
    """Settle one track's rows in two passes (the second adds EUC and the revenue limit)."""
    try:
        rules = catalog.rules(track, year)
    except CatalogError as exc:
        raise ReconcileError(f"{source}: {exc}") from None
    kw = _inputs(df, rules)
    args = (rules, df.total_benchmark.to_numpy(float), df.total_expenditure.to_numpy(float),
            df.n_ab.to_numpy(float))
    first = settle(*args, person_years=1.0, **kw)
    owed0 = np.minimum(first.losses_before_limit, first.loss_limit)  # before any EUC
    published_owed = np.maximum(-df.earned_save_loss.to_numpy(float), 0.0)
    # DisAdj is a full-year figure: for the PY2019 six-month ACOs, whose totals (and so their
    # losses) are pro-rated to 6 months, CMS applied half of it (A1498: 3,870 -> 1,935).
    months = df.months_in_py.fillna(12).to_numpy(float) if "months_in_py" in df else 12.0
    dis = np.abs(df.dis_adj.fillna(0.0).to_numpy(float)) * months / 12.0
    target = published_owed + dis  # what CMS owed before its EUC reduction
    tol = np.maximum(EARNED_ABS_TOL, EARNED_REL_TOL * target)
    flag = df.rev_loss_limit.to_numpy(dtype=float)
    rev_limited = (
        (owed0 > 0)
        & (target < owed0 - tol)
        & (rules.loss_limit_revenue is not None)
        & (flag != 0)  # NaN (not published) or 1
    )
    revenue = np.full(len(df), np.nan)
    if rules.loss_limit_revenue:
        revenue = np.where(rev_limited, target / rules.loss_limit_revenue, np.nan)
        # the inferred revenue must fit the published revenue category (when there is one)
        low_cut = low_revenue_threshold() * df.total_expenditure.to_numpy(float)
        category = df.rev_exp_cat.to_numpy(dtype=object)
        fits = np.where(category == "low", revenue < low_cut,
                        np.where(category == "high", revenue >= low_cut, True))
        rev_limited &= fits
        revenue = np.where(rev_limited, revenue, np.nan)
    base = np.where(rev_limited, target, owed0)
    with np.errstate(divide="ignore", invalid="ignore"):
        euc = np.where(base > 0, np.clip(dis / base, 0.0, 1.0), 0.0)
    s = settle(*args, person_years=1.0, euc_share=euc, participant_revenue=revenue, **kw)
    notes: list[list[str]] = [[] for _ in range(len(df))]
    two_way_from = rules.acpt_loss_protection_from_agreement_year
    for i in range(len(df)):
        if rev_limited[i]:
            notes[i].append("loss_limit_from_published")
        if s.euc_reduction[i] > 0:
            notes[i].append("euc_from_disadj")
        if s.low_revenue_exception[i]:
            notes[i].append("low_revenue_exception")
        start = kw["agreement_start_year"][i]
        if s.shared_losses[i] > 0 and two_way_from is not None and start >= two_way_from:
            notes[i].append("acpt_unpublished")
    paid = s.met_msr | s.low_revenue_exception
    return pd.DataFrame({
        "computed_msr": s.msr,
        "computed_share_rate": np.where(paid, s.share_rate, s.quality_share_rate),
        "computed_loss_rate": np.where(s.loss_rate > 0, s.loss_rate, np.nan),
        "computed_earned": s.earned,
        "met_msr": s.met_msr,
        "below_scale": np.isnan(s.msr) & (rules.msr_mode != "none"),
        "one_sided": np.full(len(df), rules.risk == "one_sided"),
        "forgiven": (published_owed == 0) & (owed0 > 0),
        "disadj_equal": np.abs(dis - owed0) <= np.maximum(EARNED_ABS_TOL, EARNED_REL_TOL * owed0),
        "rev_limited": rev_limited,
        "notes": notes,
    }, index=df.index)


def _decimals(df: pd.DataFrame, field: str) -> int | None:
    """How many decimals (of a fraction) CMS printed a rate column to; None if unknown.

    Read from the file's own strings when the frame carries them (``load_puf(keep_raw=True)``:
    "50.00%" is 4 decimals of a fraction, PY2019-2020's "0.46" is 2, PY2013's "1" is 0), else
    from the values (at least 2).
    """
    info = df.attrs.get("puf", {})
    label = info.get("columns", {}).get(field)
    raw = df.get(f"raw_{label}") if label else None
    if raw is not None:
        text = raw.astype(str).str.strip()
        numeric = text.str.fullmatch(r"-?[\d,]*\.?\d+%?")
        if numeric.any():
            decimals = text[numeric].str.extract(r"\.(\d+)")[0].str.len().fillna(0)
            shift = 2 if field in info.get("percent_columns", ()) else 0
            return int(decimals.max()) + shift
    values = df[field].dropna().to_numpy(dtype=float)
    if values.size == 0:
        return None
    for decimals in range(2, 10):
        scaled = values * 10**decimals
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6):
            return decimals
    return 10


def _share_tolerance(df: pd.DataFrame) -> float:
    """Tolerance for the sharing rate: CMS's rounding of it plus that of the quality score.

    CMS multiplies the maximum rate (at most 75%) by an unrounded quality score and prints
    both rounded, so a rate recomputed from the printed score may differ by half a printed
    unit of the rate (taken as at most 2 decimals: PY2019-2020 print "0.46", PY2013's "0.5"
    is exact) plus 75% of half a printed unit of the score (none when printed as whole
    numbers, like PY2013's 1 and 0).
    """
    share = _decimals(df, "final_share_rate")
    tol = 0.5 * 10.0 ** -max(share if share is not None else 4, 2)
    quality = _decimals(df, "qual_score")
    if quality:
        tol += 0.75 * 0.5 * 10.0**-quality
    return tol + 1e-9


def _close(computed: np.ndarray, published: np.ndarray) -> np.ndarray:
    tol = np.maximum(EARNED_ABS_TOL, EARNED_REL_TOL * np.abs(published))
    return np.abs(computed - published) <= tol


def _compare(df: pd.DataFrame, res: pd.DataFrame, share_tol: float):
    """The output table and per-row match flags (earned, msr, share, loss rate)."""
    pub_earned = df.earned_save_loss.to_numpy(float)
    comp_earned = res.computed_earned.to_numpy(float)
    pub_msr = df.published_msr.to_numpy(float)
    comp_msr = res.computed_msr.to_numpy(float)
    pub_share = df.final_share_rate.to_numpy(float)
    comp_share = res.computed_share_rate.to_numpy(float)
    pub_loss = df.final_loss_rate.to_numpy(float)
    comp_loss = res.computed_loss_rate.to_numpy(float)
    earned_ok = _close(comp_earned, pub_earned)
    msr_cmp = ~np.isnan(pub_msr)
    msr_ok = ~msr_cmp | (np.abs(comp_msr - pub_msr) <= MSR_TOL + 1e-12)
    share_cmp = ~np.isnan(pub_share)
    share_ok = ~share_cmp | (np.abs(comp_share - pub_share) <= share_tol)
    loss_cmp = ~np.isnan(pub_loss) & ~np.isnan(comp_loss)
    loss_ok = ~loss_cmp | (np.abs(comp_loss - pub_loss) <= 5e-5 + 1e-9)
    match = earned_ok & msr_ok & share_ok & loss_ok

    bench = df.total_benchmark.to_numpy(float)
    sav = (bench - df.total_expenditure.to_numpy(float)) / bench
    no_qps_column = df.met_qps.isna().to_numpy()
    notes = res.notes.to_list()
    below_scale = res.below_scale.to_numpy(dtype=bool)
    reasons = []
    for i in range(len(df)):
        codes = list(notes[i])
        if not match[i]:
            cause = []
            if below_scale[i]:
                cause.append("msr_unknown_below_500")
            elif (no_qps_column[i] and pub_share[i] == 0 and pub_earned[i] == 0
                  and comp_share[i] > 0 and (comp_earned[i] <= 0 or sav[i] >= pub_msr[i] - 5e-5)):
                cause.append("quality_failure_unpublished")
            if not cause:
                if not msr_ok[i]:
                    cause.append("msr_differs")
                elif not share_ok[i]:
                    cause.append("share_rate_differs")
                elif not loss_ok[i]:
                    cause.append("loss_rate_differs")
                else:
                    cause.append("amount_differs")
            codes += cause
        reasons.append("; ".join(codes))
    out = pd.DataFrame({
        "aco_id": df.aco_id.to_numpy(),
        "performance_year": df.performance_year.to_numpy(dtype=int),
        "track": df.track.to_numpy(),
        "published_msr": pub_msr,
        "computed_msr": comp_msr,
        "published_share_rate": pub_share,
        "computed_share_rate": comp_share,
        "published_earned": pub_earned,
        "computed_earned": np.round(comp_earned, 2),
        "match": match,
        "reason": reasons,
    }, columns=list(OUTPUT_COLUMNS))
    flags = {
        "earned": earned_ok, "msr": msr_ok, "msr_compared": msr_cmp, "share": share_ok,
        "share_compared": share_cmp, "one_sided": res.one_sided.to_numpy(dtype=bool),
        "limit_from_published": res.rev_limited.to_numpy(dtype=bool),
        "forgiven": res.forgiven.to_numpy(dtype=bool),
        "disadj_equal": res.disadj_equal.to_numpy(dtype=bool),
    }
    return out, flags


def _summarise(source: str, year: int, df: pd.DataFrame, out: pd.DataFrame, flags,
               share_tol: float) -> ReconcileSummary:
    pub = out.published_earned.to_numpy(float)
    sav, loss, zero = pub > 0, pub < 0, pub == 0
    ok = flags["earned"]
    msr_cmp = flags["msr_compared"]
    one = flags["one_sided"] & msr_cmp
    return ReconcileSummary(
        source=source,
        performance_year=year,
        rows=len(out),
        savings_rows=int(sav.sum()),
        savings_match=int((ok & sav).sum()),
        loss_rows=int(loss.sum()),
        loss_match=int((ok & loss).sum()),
        loss_limit_from_published=int((flags["limit_from_published"] & loss).sum()),
        zero_rows=int(zero.sum()),
        zero_match=int((ok & zero).sum()),
        forgiven_rows=int((flags["forgiven"] & zero).sum()),
        forgiven_disadj_equal=int((flags["forgiven"] & zero & flags["disadj_equal"]).sum()),
        forgiven_via_limit=int((flags["forgiven"] & zero & flags["limit_from_published"]).sum()),
        msr_rows=int(msr_cmp.sum()),
        msr_match=int((flags["msr"] & msr_cmp).sum()),
        one_sided_msr_rows=int(one.sum()),
        one_sided_msr_match=int((flags["msr"] & one).sum()),
        share_rows=int(flags["share_compared"].sum()),
        share_match=int((flags["share"] & flags["share_compared"]).sum()),
        share_rate_tolerance=share_tol,
        mismatches=int((~out.match).sum()),
    )


# --------------------------------------------------------------------------------------------
# Several files and the report
# --------------------------------------------------------------------------------------------

_YEAR_IN_NAME = re.compile(r"(?<!\d)20\d{2}(?!\d)")


def reconcile_directory(
    directory: str | Path, catalog: Catalog | None = None
) -> list[tuple[pd.DataFrame, ReconcileSummary]]:
    """Reconcile every ``*.csv`` in ``directory`` whose name carries a year, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReconcileError(f"{directory}: not a directory")
    files = sorted(p for p in directory.glob("*.csv") if _YEAR_IN_NAME.search(p.name))
    if not files:
        raise ReconcileError(f"{directory}: no CSV file with a year in its name (e.g. PY2023.csv)")
    results = [reconcile(p, catalog=catalog) for p in files]
    return sorted(results, key=lambda r: r[1].performance_year)


def _pct(match: int, rows: int) -> str:
    """'9/10 (90.0%)'; a share short of 100% is never rounded up to 100.0%."""
    if not rows:
        return "–"
    text = f"{100 * match / rows:.1f}%"
    if text == "100.0%" and match < rows:
        text = "99.9%"
    return f"{match}/{rows} ({text})"


def _rate(x: float) -> str:
    return "" if pd.isna(x) else f"{100 * x:.4f}%"


def _money(x: float) -> str:
    return "" if pd.isna(x) else f"{x:,.0f}"


def report_markdown(results: Iterable[tuple[pd.DataFrame, ReconcileSummary]],
                    command: str) -> str:
    """The reconciliation report (docs/reconciliation.md): figures, mismatches, vocabulary."""
    results = list(results)
    summaries = [s for _, s in results]
    lines = [
        "# Reconciliation against CMS",
        "",
        "<!-- Generated by `" + command + "`; do not edit by hand. -->",
        "",
        "`acosim reconcile` recomputes every ACO in CMS's *Performance Year Financial and "
        "Quality Results* files from the file's facts (track, assigned beneficiaries, total "
        "benchmark and spending, quality fields, revenue category, agreement start, disaster "
        "adjustment) and the ACO's elections (a two-sided ACO's fixed MSR/MLR), with the "
        "settlement engine and the catalog's rules for that track and year. The size-based "
        "MSR, the final sharing rate, the loss rate and the earned savings or owed losses are "
        "derived, never copied. Code: `simulation/cms/reconcile.py`; command: "
        "`simulation/cli/reconcile.py`.",
        "",
        "Regenerate this page from the repository root with",
        "",
        "```bash",
        command,
        "```",
        "",
        "## Match figures",
        "",
        "Savings and losses match when the computed amount is within 0.1% of CMS's (or $10); "
        "the MSR within 0.01 percentage point; the sharing rate within half a unit of the "
        "precision CMS printed it to (PY2019–PY2020 print it to 2 decimals) plus 75% of half a "
        "printed unit of the quality score it is computed from. A row matches when all three "
        "(and, where published, the loss rate) do. Losses counted under *limit from CMS* had "
        "the revenue-based loss limit set to CMS's amount because participant revenue is not "
        "published; they match by construction.",
        "",
        "| PY | file | ACOs | savings match | losses match | of which limit from CMS "
        "| no payment match | MSR match | one-sided MSR match | sharing rate match "
        "| mismatches |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.performance_year} | {s.source} | {s.rows} | "
            f"{_pct(s.savings_match, s.savings_rows)} | {_pct(s.loss_match, s.loss_rows)} | "
            f"{s.loss_limit_from_published} | {_pct(s.zero_match, s.zero_rows)} | "
            f"{_pct(s.msr_match, s.msr_rows)} | "
            f"{_pct(s.one_sided_msr_match, s.one_sided_msr_rows)} | "
            f"{_pct(s.share_match, s.share_rows)} | {s.mismatches} |"
        )
    total = {k: sum(getattr(s, k) for s in summaries) for k in (
        "rows", "savings_match", "savings_rows", "loss_match", "loss_rows",
        "loss_limit_from_published", "zero_match", "zero_rows", "msr_match", "msr_rows",
        "one_sided_msr_match", "one_sided_msr_rows", "share_match", "share_rows", "mismatches")}
    lines.append(
        f"| all | | {total['rows']} | {_pct(total['savings_match'], total['savings_rows'])} | "
        f"{_pct(total['loss_match'], total['loss_rows'])} | "
        f"{total['loss_limit_from_published']} | {_pct(total['zero_match'], total['zero_rows'])} | "
        f"{_pct(total['msr_match'], total['msr_rows'])} | "
        f"{_pct(total['one_sided_msr_match'], total['one_sided_msr_rows'])} | "
        f"{_pct(total['share_match'], total['share_rows'])} | {total['mismatches']} |"
    )
    lines += ["", "## Every mismatch", ""]
    bad = pd.concat([df[~df.match] for df, _ in results]) if results else pd.DataFrame()
    if bad.empty:
        lines.append("None.")
    else:
        lines += [
            "| PY | ACO | track | published MSR | computed MSR | published sharing rate "
            "| computed sharing rate | published earned ($) | computed earned ($) | reason |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in cast(Iterable[Any], bad.itertuples()):
            lines.append(
                f"| {r.performance_year} | {r.aco_id} | {r.track} | {_rate(r.published_msr)} | "
                f"{_rate(r.computed_msr)} | {_rate(r.published_share_rate)} | "
                f"{_rate(r.computed_share_rate)} | {_money(r.published_earned)} | "
                f"{_money(r.computed_earned)} | {r.reason} |"
            )
    notes = pd.concat([df.reason for df, _ in results]) if results else pd.Series(dtype=str)
    counts = notes[notes != ""].str.split("; ").explode().value_counts()
    lines += [
        "",
        "## Reason vocabulary",
        "",
        "The `reason` column holds codes from this fixed list, joined with `; `. Every "
        "mismatching row has at least one *cause* (or, failing a known cause, a *diagnostic* "
        "naming the first step that departs from CMS); *notes* say where a rule input the "
        "file lacks was taken from CMS's published figures and may appear on matching rows.",
        "",
        "| code | kind | meaning | rows (all files) |",
        "|---|---|---|---:|",
    ]
    for kind, codes in (("note", NOTE_CODES), ("cause", CAUSE_CODES),
                        ("diagnostic", DIAGNOSTIC_CODES)):
        for code, meaning in codes.items():
            lines.append(f"| `{code}` | {kind} | {meaning} | {int(counts.get(code, 0))} |")
    lines += [
        "",
        "## Inputs taken from the file",
        "",
        "- Totals: `ABtotBnchmk` and `ABtotExp` settle the year directly (person-years = 1), "
        "so the PY2019 six-month cohort, whose totals are pro-rated, needs no special case.",
        "- Size: `N_AB` sets the size-based MSR (docs/msr-scale.md).",
        "- MSR elections: a two-sided ACO's published MSR of exactly 0, 0.5, 1, 1.5 or 2% is "
        "its fixed election and is passed to the engine; any other value is size-based and is "
        "recomputed. Below 5,000 beneficiaries the engine reverts a fixed election to the "
        "size-based value (42 CFR 425.110(b)(3)).",
        "- Quality: `QualScore` as published (it already reflects pay-for-reporting: PY2013 "
        "prints 1 or 0; PY2020 first-year re-entering ACOs were scored, not given pay-for-reporting "
        "credit); where no score is printed "
        "(PY2014 `P4R`, PY2015 blank) a first-year ACO gets full credit. `Met_QPS` where "
        "published; otherwise the standard counts as met when the score is positive. "
        "`Met_AltQPS` where published.",
        "- Revenue category (`Rev_Exp_Cat`) and agreement start (`Current_Start_Date`) for the "
        "2024+ low-revenue exception of 42 CFR 425.605(h); the agreement start also gives "
        "Track 2's agreement year for its loss limit.",
        "- EUC: `DisAdj` is the dollar reduction CMS made; it is converted to the engine's "
        "`euc_share` (DisAdj ÷ losses before the reduction). In PY2020–PY2022 it cancels every "
        "loss (COVID-19); in the other years it is partial.",
        "- DisAdj is a full-year figure: for the PY2019 six-month ACOs, whose totals (and so "
        "their losses) are pro-rated to 6 months, CMS applied half of it (A1498: DisAdj 3,870, "
        "owed 30% × 2,348,698 − 1,935 = 702,674 exactly).",
        "- Revenue-based loss limit: the only input no file carries. A loss row whose CMS "
        "amount plus DisAdj is below the rules' loss, with `RevLossLimit` 1 or unpublished, "
        "gets participant revenue = (owed + DisAdj) ÷ the track's revenue percentage, provided "
        "that revenue fits the published revenue category (a low-revenue ACO's participants "
        "bill less than 35% of its beneficiaries' spending, 42 CFR 425.20). In PY2013–PY2023 "
        "every such row is a low-revenue ACO, whose small participant revenue is what makes "
        "the revenue-based limit bind.",
        "",
        "## Losses cancelled by the disaster adjustment",
        "",
        "In PY2020–PY2022 CMS charged no losses (COVID-19 extreme and uncontrollable "
        "circumstances); `DisAdj` then records the whole loss it cancelled, which checks the "
        "recomputed loss (loss rate and limit) in years whose `EarnSaveLoss` is 0.",
        "",
        "| PY | ACOs whose losses were cancelled | DisAdj = recomputed loss | DisAdj = revenue-"
        "limited loss |",
        "|---|---:|---:|---:|",
        *[f"| {s.performance_year} | {s.forgiven_rows} | {s.forgiven_disadj_equal} | "
          f"{s.forgiven_via_limit} |" for s in summaries if s.forgiven_rows],
        "",
    ]
    return "\n".join(lines)
