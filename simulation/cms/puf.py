"""Reader for the CMS MSSP "Performance Year Financial and Quality Results" public-use files.

CMS publishes one CSV per performance year (PY2013 onward), and nearly every year spells,
orders and formats the columns differently: rates as fractions, percents or "7.57%" strings,
money with or without "$" and thousands separators, track as 0/1 dummies or a letter, and a
PY2013 Socrata export whose labels are shifted against its values. :func:`load_puf` turns any
of them into one row per ACO with canonical column names, rates as fractions and money in
dollars, so that calibration and validation code never needs to know a year's quirks.

Bad input of any kind raises :class:`PufFormatError` with a one-line message that names the
file and the problem; no pandas or Python traceback escapes for a malformed file.

This module assembles the canonical fields; reading the file into a table of strings (bytes,
header, the column vocabulary, cell parsers) is :mod:`simulation.cms.puf_table`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .puf_table import (
    AMOUNT_FIELDS,
    FIXED_MSR_CHOICES,
    FLAG_FIELDS,
    LEGACY_TRACK_DUMMIES,
    RATE_TYPICAL,
    REQUIRED,
    SOURCES,
    TRACK_CODES,
    TRACK_DUMMIES,
    YEAR_COLUMNS,
    PufFormatError,
    Table,
    as_fraction,
    bad_cell_error,
    column_key,
    decode_text,
    fix_socrata_2013,
    parse_flags,
    parse_month_year,
    parse_numbers,
    read_bytes,
    read_table,
    years_in,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "ONE_SIDED_TRACKS",
    "TRACKS",
    "PufFormatError",
    "detect_year",
    "load_puf",
]

TRACKS: tuple[str, ...] = (
    "TRACK_1",
    "TRACK_1_PLUS",
    "TRACK_2",
    "TRACK_3",
    "BASIC_A",
    "BASIC_B",
    "BASIC_C",
    "BASIC_D",
    "BASIC_E",
    "ENHANCED",
)
ONE_SIDED_TRACKS: frozenset[str] = frozenset({"TRACK_1", "BASIC_A", "BASIC_B"})

CANONICAL_COLUMNS: tuple[str, ...] = (
    "aco_id",
    "aco_name",
    "performance_year",
    "track",
    "risk_model",
    "n_ab",
    "person_years",
    "total_benchmark",
    "total_expenditure",
    "bnchmk_min_exp",
    "sav_rate",
    "published_msr",
    "published_mlr",
    "msr_basis",
    "gen_save_loss",
    "earned_save_loss",
    "dis_adj",
    "qual_score",
    "p4r",
    "met_qps",
    "met_alt_qps",
    "final_share_rate",
    "final_loss_rate",
    "max_share_rate",
    "qual_perf_share",
    "rev_loss_limit",
    "rev_exp_cat",
    "agreement_start_year",
    "agreement_start_month",
    "agreement_period_num",
    "agree_type",
    "initial_start_year",
    "updated_benchmark_pc",
    "hist_benchmark_pc",
    "months_in_py",
    "prorate_shared_losses",
    "impact_mid_year_termination",
    "perc_dual",
    "assign_type",
    "adv_pay_amt",
    "adv_pay_recoup",
)



# --------------------------------------------------------------------------------------------
# Year detection
# --------------------------------------------------------------------------------------------

_NAME_PY = re.compile(r"(?<![a-z])PY[\s_-]*(20\d{2})(?!\d)", re.IGNORECASE)
_NAME_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")


def _year_from_name(name: str) -> int | None:
    """Year in a file name: "PY2023" or "PY 2023", else its only distinct 20xx token."""
    match = _NAME_PY.search(name)
    if match:
        return int(match.group(1))
    years = {int(y) for y in _NAME_YEAR.findall(name) if 2012 <= int(y) <= 2099}
    return years.pop() if len(years) == 1 else None


def detect_year(path: str | Path, df: pd.DataFrame | None = None) -> int | None:
    """The performance year of a PUF file, or None when neither its name nor its content says.

    The file name is tried first ("PY2023.csv", "PY 2023 ACO Results PUF.csv", "2014_Shared_…",
    "…_PUF_2022_01_01.csv"); then a `year` or `performance_year` column of ``df`` (the file's
    rows, raw or loaded), reading the file when ``df`` is not given. A content column holding
    more than one year gives None.
    """
    path = Path(path)
    from_name = _year_from_name(path.name)
    if from_name is not None:
        return from_name
    if df is None:
        years = read_table(path.name, decode_text(path.name, read_bytes(path))).years()
    else:
        wanted = {column_key(name) for name in YEAR_COLUMNS}
        column = next((c for c in df.columns if column_key(str(c)) in wanted), None)
        years = set() if column is None else years_in(df[column])
    return years.pop() if len(years) == 1 else None


# --------------------------------------------------------------------------------------------
# Field assembly
# --------------------------------------------------------------------------------------------


def _tracks(table: Table) -> pd.Series:
    """Canonical track codes from `Current_Track`, the 0/1 dummies, or the PY2013 Track 2 flag."""
    code = table.column("current_track")
    if code is not None:
        keys = code.str.upper().str.replace(r"[^A-Z0-9+]", "", regex=True)
        keys = keys.str.replace(r"^(?:BASIC|LEVEL|TRACK)+", "", regex=True)
        tracks = keys.map(TRACK_CODES)
        bad = tracks.isna()
        if bad.any():
            raise bad_cell_error(
                table, "current_track", code, bad, "a known track code (A-E, EN, 1, 1+, 2, 3)"
            )
        return tracks
    for dummies in (TRACK_DUMMIES, LEGACY_TRACK_DUMMIES):
        present = [
            (pos, track) for name, track in dummies if (pos := table.find((name,))) is not None
        ]
        if not present:
            continue
        flags = pd.DataFrame(
            {
                track: parse_flags(table, "current_track", table.column_at(pos)).fillna(False)
                for pos, track in present
            }
        )
        count = flags.sum(axis=1)
        if (count != 1).any():
            row = int(np.flatnonzero((count != 1).to_numpy())[0])
            names = ", ".join(table.header[pos] for pos, _ in present)
            raise PufFormatError(
                f"{table.name}: data row {row + 1} sets {int(count.iloc[row])} of the track "
                f"columns ({names}); exactly one must be 1"
            )
        return flags.idxmax(axis=1)
    flag = table.column("track2_flag_2013")
    if flag is not None:
        is_two = parse_flags(table, "track2_flag_2013", flag).fillna(False)
        return pd.Series(np.where(is_two, "TRACK_2", "TRACK_1"), index=flag.index)
    raise PufFormatError(
        f"{table.name}: missing required column 'Current_Track' (or the Current_Track_*/"
        f"Current_BASIC_*/Track1 0/1 columns)"
    )


def _require(table: Table) -> None:
    """Refuse a file that lacks any required column, naming the first one missing."""
    for field in REQUIRED:
        if table.find(SOURCES[field]) is None:
            raise PufFormatError(f"{table.name}: missing required column '{SOURCES[field][0]}'")
    has_pair = table.find(SOURCES["shared_savings_2013"]) is not None
    if table.find(SOURCES["earned_save_loss"]) is None and not has_pair:
        raise PufFormatError(f"{table.name}: missing required column 'EarnSaveLoss'")


def _numeric_fields(table: Table) -> dict[str, pd.Series]:
    """Every present money/count/rate field parsed to floats (rates not yet rescaled)."""
    out: dict[str, pd.Series] = {}
    for field in (*AMOUNT_FIELDS, "sav_rate", *RATE_TYPICAL):
        raw = table.column(field)
        if raw is None:
            continue
        extra = frozenset({"P4R"}) if field == "qual_score" else frozenset()
        out[field] = parse_numbers(table, field, raw, extra)
    return out


def _check_complete(table: Table, values: dict[str, pd.Series], ids: pd.Series) -> None:
    """Every row needs an ACO id, N_AB, benchmark and expenditure; N_AB must be whole."""
    blank_id = ids.eq("")
    if blank_id.any():
        raise bad_cell_error(table, "aco_id", ids, blank_id, "a non-blank ACO identifier")
    for field in ("n_ab", "total_benchmark", "total_expenditure"):
        missing = values[field].isna()
        if missing.any():
            raise bad_cell_error(table, field, table.column(field), missing, "filled in every row")
    n_ab = values["n_ab"]
    fractional = (n_ab - n_ab.round()).abs() > 1e-6
    if fractional.any():
        raise bad_cell_error(table, "n_ab", table.column("n_ab"), fractional, "a whole number")
    negative = (n_ab < 0) | (values["total_benchmark"] <= 0)
    if negative.any():
        field = "n_ab" if (n_ab < 0).any() else "total_benchmark"
        raise bad_cell_error(table, field, table.column(field), negative, "positive")


def _savings_fields(
    table: Table, values: dict[str, pd.Series]
) -> tuple[dict[str, pd.Series], bool]:
    """Benchmark − expenditure, savings rate and earned savings/losses.

    Also says whether `Sav_rate` was published in percent, which is decided by comparing it
    with BnchmkMinExp / ABtotBnchmk (the rate it must equal) rather than by its magnitude.
    """
    bench, spend = values["total_benchmark"], values["total_expenditure"]
    gap = values.get("bnchmk_min_exp")
    if gap is None:
        gap = bench - spend
    mismatch = (gap - (bench - spend)).abs() > np.maximum(2.0, 1e-7 * bench)
    if mismatch.any():
        raise bad_cell_error(
            table,
            "bnchmk_min_exp",
            table.column("bnchmk_min_exp"),
            mismatch,
            "ABtotBnchmk − ABtotExp (columns mislabelled?)",
        )
    ratio = gap / bench
    rate = values.get("sav_rate")
    scale = 1.0
    if rate is None:
        rate = ratio
    else:
        errors = {scale: (rate * scale - ratio).abs().median() for scale in (1.0, 0.01)}
        scale = min(errors, key=lambda s: errors[s])
        off = (rate * scale - ratio).abs() > 1e-3
        if errors[scale] > 1e-3 or off.any():
            raise bad_cell_error(
                table,
                "sav_rate",
                table.column("sav_rate"),
                off | (errors[scale] > 1e-3),
                "BnchmkMinExp / ABtotBnchmk (as a fraction or a percent)",
            )
        rate = (rate * scale).fillna(ratio)  # a suppressed rate is the ratio it must equal
    if "earned_save_loss" in values:
        earned = values["earned_save_loss"]
    else:  # PY2013: earned savings and owed losses sit in two columns, one of them zero
        savings = values["shared_savings_2013"].fillna(0.0)
        losses = values.get("shared_losses_2013", pd.Series(0.0, index=bench.index)).fillna(0.0)
        earned = savings - losses.abs()
    return {"bnchmk_min_exp": gap, "sav_rate": rate, "earned_save_loss": earned}, scale != 1.0


def _rates(table: Table, values: dict[str, pd.Series]) -> tuple[dict[str, pd.Series], list[str]]:
    """Every rate column as fractions in [0, 1], with the list of columns that were in percent.

    The unit is decided by magnitude (see RATE_TYPICAL); for the MSR the two readings differ
    100-fold and no legal MSR is above 30% or (in percent) below 0.5%, so no file is ambiguous.
    PY2013 prints the minimum loss rate as a negative percent ("-0.02%"); its size is kept.
    """
    out: dict[str, pd.Series] = {}
    percent: list[str] = []
    for field, typical in RATE_TYPICAL.items():
        if field not in values:
            continue
        published = values[field].abs() if field == "published_mlr" else values[field]
        fractions, was_percent = as_fraction(published, typical)
        bad = (fractions < 0) | (fractions > 1)
        if bad.any():
            raise bad_cell_error(
                table, field, table.column(field), bad, "a rate between 0% and 100%"
            )
        out[field] = fractions
        if was_percent:
            percent.append(field)
    return out, percent


def _months(values: dict[str, pd.Series]) -> pd.Series:
    """6 for ACOs whose totals cover half a year (the PY2019 six-month periods), else 12.

    A six-month ACO's total benchmark is half its per-capita benchmark × full-year person-years.
    """
    index = values["total_benchmark"].index
    if "updated_benchmark_pc" not in values or "person_years" not in values:
        return pd.Series(12, index=index, dtype="int64")
    share = values["total_benchmark"] / (values["updated_benchmark_pc"] * values["person_years"])
    return pd.Series(np.where(share.between(0.45, 0.55), 6, 12), index=index, dtype="int64")


def _performance_year(table: Table, path: Path, year: int | None) -> int:
    """The year to stamp on every row: ``year`` if given, else detected; contradictions refused."""
    content = table.years()
    if len(content) > 1:
        listed = ", ".join(map(str, sorted(content)))
        raise PufFormatError(
            f"{table.name}: file holds several performance years ({listed}); pass one year's rows"
        )
    claimed = year if year is not None else _year_from_name(path.name)
    if claimed is not None and content and claimed not in content:
        raise PufFormatError(
            f"{table.name}: performance year {claimed} (from "
            f"{'the year argument' if year is not None else 'the file name'}) contradicts the "
            f"file's year column ({content.pop()})"
        )
    resolved = claimed if claimed is not None else (content.pop() if content else None)
    if resolved is None:
        raise PufFormatError(
            f"{table.name}: cannot tell the performance year from the file name or content; "
            f"pass year="
        )
    return int(resolved)


def _agreement(
    table: Table, performance_year: int
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(start year, start month, initial start year, agreement period number) of each ACO.

    The current agreement starts at `Current_Start_Date`; PY2013–PY2015 files only have
    `Start_Date`, and every ACO was then in its first agreement, so that date is also the
    initial start and the period number is 1.
    """
    index = table.cells.index
    na_int = pd.Series(pd.NA, index=index, dtype="Int64")
    field = "current_start_date" if table.column("current_start_date") is not None else "start_date"
    raw = table.column(field)
    start_year, start_month = (na_int, na_int) if raw is None else parse_month_year(table, field, raw)
    first_agreements = field == "start_date" and raw is not None and performance_year <= 2015
    initial_raw = table.column("initial_start_date")
    if initial_raw is not None:
        initial_year = parse_month_year(table, "initial_start_date", initial_raw)[0]
    else:
        initial_year = start_year if first_agreements else na_int
    period_raw = table.column("agreement_period_num")
    if period_raw is not None:
        period = parse_numbers(table, "agreement_period_num", period_raw).round().astype("Int64")
    else:
        period = pd.Series(1 if first_agreements else pd.NA, index=index, dtype="Int64")
    return start_year, start_month, initial_year, period


def _p4r(
    table: Table,
    year: int,
    first_year: pd.Series | None,
    initial_start: pd.Series,
) -> pd.Series:
    """Pay-for-reporting: the first performance year of an ACO's first agreement.

    PY2013 was P4R for every ACO; PY2014 prints 'P4R' as the score and PY2015 leaves it blank
    (both coincide with the start-date rule below); from PY2022 `Met_FirstYear` says it.
    Otherwise it is inferred from the initial start year (2012 starters' first performance
    year was 2013).
    """
    index = table.cells.index
    if year == 2013:
        return pd.Series(True, index=index)
    if first_year is not None:
        return first_year.fillna(False).astype(bool)
    first_py = initial_start.mask(initial_start.eq(2012).fillna(False), 2013)
    flag = first_py.eq(year).fillna(False).astype(bool)
    qual_raw = table.column("qual_score")
    if qual_raw is not None:
        flag |= qual_raw.str.upper().eq("P4R")
    return flag


def _msr_basis(tracks: pd.Series, msr: pd.Series, n_ab: pd.Series) -> pd.Series:
    """'size' when the MSR comes from the size scale, 'fixed' for an elected fixed MSR/MLR.

    One-sided tracks always use the scale. A two-sided ACO shows its election: 0, 0.5, 1, 1.5
    or 2% is fixed (legacy Track 2 had 2% by rule), anything else is the size-based value (it
    is never below 2%). 2% at 60,000 or more beneficiaries fits both and is left NaN.
    """
    fixed = pd.Series(False, index=msr.index)
    for choice in FIXED_MSR_CHOICES:
        fixed |= (msr - choice).abs() < 1e-6
    ambiguous = ((msr - 0.02).abs() < 1e-6) & (n_ab >= 60_000)
    basis = pd.Series(np.where(fixed, "fixed", "size"), index=msr.index, dtype=object)
    basis[tracks.isin(ONE_SIDED_TRACKS)] = "size"
    basis[~tracks.isin(ONE_SIDED_TRACKS) & (ambiguous | msr.isna())] = np.nan
    return basis


def _raw_columns(source: Table, taken: pd.Index) -> pd.DataFrame:
    """The file's own columns as strings, named raw_<label> (made unique with trailing '_')."""
    names: list[str] = []
    for label in source.header:
        name = f"raw_{label}"
        while name in names or name in taken:
            name += "_"
        names.append(name)
    return pd.DataFrame({n: source.column_at(i) for i, n in enumerate(names)})


def load_puf(path: str | Path, year: int | None = None, keep_raw: bool = False) -> pd.DataFrame:
    """Load one MSSP performance-year results PUF into one row per ACO with canonical columns.

    Columns are :data:`CANONICAL_COLUMNS`, NaN (or <NA>) where the file lacks the field. Rates
    are fractions, money is dollars, `n_ab` an integer, `track` one of :data:`TRACKS`.
    `dis_adj` is the disaster reduction of losses as a positive amount (0 when blank).
    `msr_basis` says whether the MSR is size-based or an elected fixed value (see _msr_basis).
    `p4r` is a plain bool; `met_qps`, `met_alt_qps`, `prorate_shared_losses` and
    `impact_mid_year_termination` are pandas nullable booleans. `rev_loss_limit` is published
    as a 0/1 flag (revenue-based loss limit applies) in every file seen, not dollars.
    `months_in_py` is 6 for an ACO whose totals cover half a year (the PY2019 cohorts).

    One row per ACO, except that a file mixing the two PY2019 six-month periods may list an
    ACO once per agreement; rows repeating an ACO and agreement start are refused.

    ``year`` overrides the year found in the file name (it must agree with a year column in the
    content). With ``keep_raw=True`` every original column is appended as ``raw_<label>``
    (string cells exactly as published; in PY2013 these carry the export's original, shifted
    labels). ``df.attrs["puf"]`` records the source file, the column each field came from and
    which rate columns were published in percent.

    Raises PufFormatError, with a one-line message, for any unreadable or malformed file.
    """
    path = Path(path)
    source = read_table(path.name, decode_text(path.name, read_bytes(path)))
    table = fix_socrata_2013(source)
    _require(table)
    performance_year = _performance_year(table, path, year)

    ids = table.column("aco_id")
    assert ids is not None  # _require(table) checked it
    values = _numeric_fields(table)
    _check_complete(table, values, ids)
    savings, sav_percent = _savings_fields(table, values)
    rates, percent = _rates(table, values)
    tracks = _tracks(table)
    start_year, start_month, initial_year, period = _agreement(table, performance_year)
    flags = {f: parse_flags(table, f, raw) for f in FLAG_FIELDS if (raw := table.column(f)) is not None}

    index = table.cells.index
    nan = pd.Series(np.nan, index=index)
    na_flag = pd.Series(pd.NA, index=index, dtype="boolean")

    def text(field: str, categories: tuple[str, ...] = ()) -> pd.Series:
        """A text field as published, or mapped to one of ``categories`` by its first word."""
        raw = table.column(field)
        if raw is None:
            return pd.Series(np.nan, index=index, dtype=object)
        if categories:
            first = raw.str.lower().str.extract(r"^([a-z-]+)")[0]
            return first.where(first.isin(categories), np.nan)
        return raw.where(raw != "", np.nan)

    out = pd.DataFrame(
        {
            "aco_id": ids,
            "aco_name": text("aco_name"),
            "performance_year": pd.Series(performance_year, index=index, dtype="int64"),
            "track": tracks,
            "risk_model": np.where(tracks.isin(ONE_SIDED_TRACKS), "one_sided", "two_sided"),
            "n_ab": values["n_ab"].round().astype("int64"),
            "person_years": values.get("person_years", nan),
            "total_benchmark": values["total_benchmark"],
            "total_expenditure": values["total_expenditure"],
            **savings,
            "published_msr": rates["published_msr"],
            "published_mlr": rates.get("published_mlr", nan),
            "msr_basis": _msr_basis(tracks, rates["published_msr"], values["n_ab"]),
            "gen_save_loss": values.get("gen_save_loss", nan),
            "dis_adj": values["dis_adj"].abs().fillna(0.0) if "dis_adj" in values else nan,
            "qual_score": rates.get("qual_score", nan),
            "p4r": _p4r(table, performance_year, flags.get("met_first_year"), initial_year),
            "met_qps": flags.get("met_qps", na_flag),
            "met_alt_qps": flags.get("met_alt_qps", na_flag),
            "final_share_rate": rates.get("final_share_rate", nan),
            "final_loss_rate": rates.get("final_loss_rate", nan),
            "max_share_rate": rates.get("max_share_rate", nan),
            "qual_perf_share": rates.get("qual_perf_share", nan),
            "rev_loss_limit": values.get("rev_loss_limit", nan),
            "rev_exp_cat": text("rev_exp_cat", ("low", "high")),
            "agreement_start_year": start_year,
            "agreement_start_month": start_month,
            "agreement_period_num": period,
            "agree_type": text("agree_type", ("initial", "renewal", "re-entering")),
            "initial_start_year": initial_year,
            "updated_benchmark_pc": values.get("updated_benchmark_pc", nan),
            "hist_benchmark_pc": values.get("hist_benchmark_pc", nan),
            "months_in_py": _months(values),
            "prorate_shared_losses": flags.get("prorate_shared_losses", na_flag),
            "impact_mid_year_termination": flags.get("impact_mid_year_termination", na_flag),
            "perc_dual": rates.get("perc_dual", nan),
            "assign_type": text("assign_type", ("prospective", "retrospective")),
            "adv_pay_amt": values.get("adv_pay_amt", nan),
            "adv_pay_recoup": values.get("adv_pay_recoup", nan),
        },
        columns=list(CANONICAL_COLUMNS),
    )
    duplicated = out.duplicated(["aco_id", "agreement_start_year", "agreement_start_month"])
    if duplicated.any():
        raise bad_cell_error(table, "aco_id", ids, duplicated, "unique (it repeats an ACO)")
    if keep_raw:
        out = pd.concat([out, _raw_columns(source, out.columns)], axis=1)
    out.attrs["puf"] = {
        "source": path.name,
        "performance_year": performance_year,
        "columns": {
            field: table.header[pos]
            for field, names in SOURCES.items()
            if (pos := table.find(names)) is not None
        },
        "percent_columns": (["sav_rate"] if sav_percent else []) + percent,
    }
    return out
