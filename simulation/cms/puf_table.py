"""The CMS results file as a table of strings: bytes, header, column vocabulary, cell parsers.

The lower half of :mod:`simulation.cms.puf`: decoding a file (UTF-8 or Latin-1, any delimiter,
title rows before the header), matching CMS's many spellings of each column to one canonical
field, and parsing cells (amounts, rates, flags, month-year dates) with errors that name the
file, the column, the first offending value and its row. :func:`simulation.cms.puf.load_puf`
assembles the canonical fields from these.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd


class PufFormatError(ValueError):
    """A PUF file is unreadable, malformed or in an unknown layout.

    The message is always a single line ("<file>: <what is wrong>") so that a command line or
    a dashboard can show it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))



# --------------------------------------------------------------------------------------------
# Column names. CMS names are matched case-, space- and punctuation-insensitively (see column_key),
# and each canonical field lists its source names in order of preference. The first name is
# the one quoted in error messages.
# --------------------------------------------------------------------------------------------

SOURCES: dict[str, tuple[str, ...]] = {
    "aco_id": ("ACO_ID", "ACO_Num", "ACO Identifier"),
    "aco_name": ("ACO_Name", "ACO Name"),
    "n_ab": ("N_AB", "Total number of assigned beneficiaries"),
    "person_years": ("N_AB_Year_PY", "N_AB_Year", "Total assigned beneficiary person years"),
    "total_benchmark": ("ABtotBnchmk", "Total benchmark expenditures ($)"),
    "total_expenditure": ("ABtotExp", "Total expenditures ($)"),
    "bnchmk_min_exp": ("BnchmkMinExp", "Total savings/losses ($)"),
    "sav_rate": ("Sav_rate",),
    "published_msr": ("MinSavPerc", "Minimum Savings Rate (%)"),
    "published_mlr": ("MinLossPerc", "Minimum Loss Rate (%)"),
    "gen_save_loss": ("GenSaveLoss",),
    "earned_save_loss": ("EarnSaveLoss",),
    "shared_savings_2013": ("Shared Savings ($)",),
    "shared_losses_2013": ("Shared Losses ($)",),
    "dis_adj": ("DisAdj",),
    "qual_score": ("QualScore", "Quality Score"),
    "met_qps": ("Met_QPS",),
    "met_alt_qps": ("Met_AltQPS",),
    "met_first_year": ("Met_FirstYear",),
    "final_share_rate": ("FinalShareRate", "Final sharing rate"),
    "final_loss_rate": ("FinalLossRate",),
    "max_share_rate": ("MaxShareRate",),
    "qual_perf_share": ("QualPerfShare", "Quality Performance Sharing Rate"),
    "rev_loss_limit": ("RevLossLimit",),
    "rev_exp_cat": ("Rev_Exp_Cat",),
    "current_start_date": ("Current_Start_Date",),
    "start_date": ("Start_Date", "Start Date"),
    "initial_start_date": ("Initial_Start_Date",),
    "agreement_period_num": ("Agreement_Period_Num",),
    "agree_type": ("Agree_Type",),
    "updated_benchmark_pc": ("UpdatedBnchmk",),
    "hist_benchmark_pc": ("HistBnchmk",),
    "prorate_shared_losses": ("Prorate_Shared_Losses",),
    "impact_mid_year_termination": ("Impact_Mid_Year_Termination",),
    "perc_dual": ("Perc_Dual",),
    "assign_type": ("Assign_Type",),
    "adv_pay_amt": ("Adv_Pay_Amt", "Advanced payment amount"),
    "adv_pay_recoup": ("Adv_Pay_Recoup",),
    "current_track": ("Current_Track",),
    "track2_flag_2013": ("Track 2 ACO",),
}

# 0/1 dummy columns naming the ACO's track (PY2014–PY2021). "Current_*" wins over the PY2014–
# PY2015 "Track1/Track2" pair when a file carries both.
TRACK_DUMMIES: tuple[tuple[str, str], ...] = (
    ("Current_Track_1", "TRACK_1"),
    ("Current_Track_1_Plus", "TRACK_1_PLUS"),
    ("Current_Track_2", "TRACK_2"),
    ("Current_Track_3", "TRACK_3"),
    ("Current_BASIC_A", "BASIC_A"),
    ("Current_BASIC_B", "BASIC_B"),
    ("Current_BASIC_C", "BASIC_C"),
    ("Current_BASIC_D", "BASIC_D"),
    ("Current_BASIC_E", "BASIC_E"),
    ("Current_ENHANCED", "ENHANCED"),
)
LEGACY_TRACK_DUMMIES: tuple[tuple[str, str], ...] = (
    ("Track1", "TRACK_1"),
    ("Track2", "TRACK_2"),
    ("Track3", "TRACK_3"),
)

# Codes seen in `Current_Track` (PY2022+: A–E, EN) plus spelled-out forms a later file may use;
# the code is upper-cased, stripped of punctuation and of a leading BASIC/LEVEL/TRACK first.
TRACK_CODES: dict[str, str] = {
    "A": "BASIC_A",
    "B": "BASIC_B",
    "C": "BASIC_C",
    "D": "BASIC_D",
    "E": "BASIC_E",
    "EN": "ENHANCED",
    "ENH": "ENHANCED",
    "ENHANCED": "ENHANCED",
    "1": "TRACK_1",
    "1+": "TRACK_1_PLUS",
    "1PLUS": "TRACK_1_PLUS",
    "2": "TRACK_2",
    "3": "TRACK_3",
}

# Columns whose presence means "this is the content's performance year".
YEAR_COLUMNS: tuple[str, ...] = ("performance_year", "year", "PY", "Perf_Year")

# Required source fields; each must resolve to a column (PY2013 earned savings come from the
# "Shared Savings"/"Shared Losses" pair instead of EarnSaveLoss).
REQUIRED: tuple[str, ...] = (
    "aco_id",
    "n_ab",
    "total_benchmark",
    "total_expenditure",
    "published_msr",
)

# Money and counts: parsed as plain numbers, never rescaled.
AMOUNT_FIELDS: tuple[str, ...] = (
    "n_ab",
    "person_years",
    "total_benchmark",
    "total_expenditure",
    "bnchmk_min_exp",
    "gen_save_loss",
    "earned_save_loss",
    "shared_savings_2013",
    "shared_losses_2013",
    "dis_adj",
    "rev_loss_limit",
    "updated_benchmark_pc",
    "hist_benchmark_pc",
    "adv_pay_amt",
    "adv_pay_recoup",
)

# Rates and the typical size of each as a fraction. A column is read as percent when its median
# non-zero magnitude is nearer 100× the typical value than the typical value itself (threshold
# 10× typical). This decides per column and per file, and it overrides a "%" sign: the PY2013
# export prints fractions with a "%" ("0.023373146%").
RATE_TYPICAL: dict[str, float] = {
    "published_msr": 0.02,
    "published_mlr": 0.02,
    "qual_score": 0.9,
    "final_share_rate": 0.5,
    "final_loss_rate": 0.5,
    "max_share_rate": 0.5,
    "qual_perf_share": 0.5,
    "perc_dual": 0.1,
}

# The fixed MSR/MLR a two-sided ACO may elect (42 CFR 425.605(b)(2), 425.610(b)(1)).
FIXED_MSR_CHOICES: tuple[float, ...] = (0.0, 0.005, 0.01, 0.015, 0.02)

FLAG_FIELDS: tuple[str, ...] = (
    "met_qps",
    "met_alt_qps",
    "met_first_year",
    "prorate_shared_losses",
    "impact_mid_year_termination",
)

_NULL_TOKENS = frozenset({"", "*", "-", "–", "—", ".", "NA", "N/A", "NAN", "NULL", "NONE"})
_TRUE_TOKENS = frozenset({"1", "1.0", "Y", "YES", "TRUE", "T"})
_FALSE_TOKENS = frozenset({"0", "0.0", "N", "NO", "FALSE", "F"})

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a ZIP archive or Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/OLE document"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not tab, CR or LF
_MAX_HEADER_SEARCH = 20  # rows searched for the header line (title rows may precede it)


def column_key(name: str) -> str:
    """Match key for a column name: lower-case letters and digits ("Sav_Rate" → "savrate")."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


# --------------------------------------------------------------------------------------------
# Reading the bytes into a table of strings
# --------------------------------------------------------------------------------------------


class Table:
    """The file's header labels and its data cells as strings, column positions kept."""

    def __init__(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        self.name = name
        self.header = header
        self.cells = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
        self.positions: dict[str, list[int]] = {}
        for i, label in enumerate(header):
            self.positions.setdefault(column_key(label), []).append(i)

    def find(self, names: tuple[str, ...]) -> int | None:
        """Position of the first of ``names`` present in the header, or None."""
        for name in names:
            hits = self.positions.get(column_key(name), [])
            if len(hits) > 1:
                raise PufFormatError(f"{self.name}: column '{name}' appears {len(hits)} times")
            if hits:
                return hits[0]
        return None

    def column(self, field: str) -> pd.Series | None:
        """Stripped string cells of a canonical source field, or None when the file lacks it."""
        pos = self.find(SOURCES[field])
        return None if pos is None else self.column_at(pos)

    def column_at(self, pos: int) -> pd.Series:
        """Stripped string cells of the column at ``pos`` (read_table strips and pads them)."""
        return self.cells[pos]

    def years(self) -> set[int]:
        """Distinct years in the file's `year`/`performance_year` column, if it has one."""
        pos = self.find(YEAR_COLUMNS)
        return set() if pos is None else years_in(self.column_at(pos))

    def label(self, field: str) -> str:
        """The file's own label of a field if present, else the field's usual CMS name."""
        pos = self.find(SOURCES[field])
        return self.header[pos] if pos is not None else SOURCES[field][0]


def read_bytes(path: Path) -> bytes:
    """The file's bytes; any OS error becomes a PufFormatError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PufFormatError(f"{path.name}: cannot read file ({exc.strerror or exc})") from None


def decode_text(name: str, data: bytes) -> str:
    """Decode CSV bytes: UTF-8/UTF-16 with BOM, else UTF-8, else Windows-1252; refuse binary."""
    if not data.strip():
        raise PufFormatError(f"{name}: file is empty")
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise PufFormatError(f"{name}: not a CSV file (looks like {kind})")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise PufFormatError(f"{name}: unreadable encoding (broken UTF-16)") from None
    else:
        if b"\x00" in data:
            raise PufFormatError(f"{name}: not a CSV file (binary data: contains NUL bytes)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise PufFormatError(
                    f"{name}: unreadable encoding (neither UTF-8 nor Windows-1252 text)"
                ) from None
    control = len(_CONTROL_CHARS.findall(text))
    if control > max(2, len(text) // 1000):
        raise PufFormatError(f"{name}: not a CSV file (binary data: {control} control characters)")
    return text


def _delimiter(text: str) -> str:
    """The most frequent of , ; tab | on the first non-blank line (CMS uses commas)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_header(row: list[str]) -> bool:
    """True when ``row`` names an ACO identifier column, i.e. is the header line."""
    keys = {column_key(cell) for cell in row}
    return any(column_key(name) in keys for name in SOURCES["aco_id"])


def _csv_records(name: str, text: str) -> list[list[str]]:
    """The CSV records of ``text``. CMS results files never hold a line break inside a
    field, so a field that runs over several lines is an unterminated quote: reading on would
    merge the ACOs that follow into one, so it is an error naming the line where it starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[list[str]] = []
    line = 1
    try:
        for row in reader:
            if any("\n" in cell or "\r" in cell for cell in row):
                raise PufFormatError(f"{name}: line {line}: a quoted field runs on over several lines "
                                     "(an unterminated quote?); fix the file and try again")
            rows.append(row)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise PufFormatError(f"{name}: line {line}: not a readable CSV line ({exc})") from None
    return rows


def read_table(name: str, text: str) -> Table:
    """Parse CSV text into a Table: find the header, drop blank and footnote rows, check widths."""
    rows = _csv_records(name, text)
    rows = [[cell.strip() for cell in row] for row in rows]
    nonblank = [(i, row) for i, row in enumerate(rows) if any(row)]
    if not nonblank:
        raise PufFormatError(f"{name}: file is empty")
    start = next(
        (k for k, (_, row) in enumerate(nonblank[:_MAX_HEADER_SEARCH]) if _is_header(row)), None
    )
    if start is None:
        raise PufFormatError(
            f"{name}: missing required column '{SOURCES['aco_id'][0]}' "
            f"(no header line naming an ACO identifier)"
        )
    header_line, header = nonblank[start]
    while header and not header[-1]:
        header = header[:-1]
    width = len(header)
    data: list[list[str]] = []
    for line, row in nonblank[start + 1 :]:
        if not any(row[1:]) and width > 3:
            continue  # a footnote or title line: text in the first cell only
        if len(row) > width:
            if any(row[width:]):
                raise PufFormatError(
                    f"{name}: line {line + 1} has {len(row)} fields but the header has {width}"
                )
            row = row[:width]
        data.append(row + [""] * (width - len(row)))
    if not data:
        raise PufFormatError(f"{name}: no data rows (header only, line {header_line + 1})")
    return Table(name, header, data)


def fix_socrata_2013(table: Table) -> Table:
    """Re-label the PY2013 Socrata export, whose labels for columns 13–34 are shifted by one.

    In that export the value after "Total benchmark expenditures ($)" is total expenditure but
    carries the next label ("Total savings/losses ($)"), and so on down to the race counts; the
    label "Total performance year spending per assigned beneficiary" has no column of its own.
    Inserting the missing "Total expenditures ($)" label and dropping the orphan label puts
    every label back over its values (the benchmark − expenditure identity is checked later).
    """
    bench = table.find(SOURCES["total_benchmark"][1:])
    if bench is None or table.find(("Total expenditures ($)",)) is not None:
        return table
    orphan = table.find(("Total performance year spending per assigned beneficiary",))
    if orphan is None or orphan <= bench:
        raise PufFormatError(
            f"{table.name}: PY2013 Socrata layout not recognised (cannot realign its labels)"
        )
    header = table.header
    labels = [
        *header[: bench + 1],
        "Total expenditures ($)",
        *header[bench + 1 : orphan],
        *header[orphan + 1 :],
    ]
    return Table(table.name, labels, table.cells.to_numpy().tolist())


# --------------------------------------------------------------------------------------------
# Cell parsers
# --------------------------------------------------------------------------------------------


def bad_cell_error(
    table: Table, field: str, raw: pd.Series | None, bad: pd.Series, what: str
) -> PufFormatError:
    """One-line error naming the column, the first offending value, its row and how many."""
    assert raw is not None  # the callers checked the column exists
    rows = np.flatnonzero(bad.to_numpy())
    first = rows[0]
    value = raw.iloc[first]
    value = value if len(value) <= 40 else value[:37] + "..."
    more = f" and {len(rows) - 1} more rows" if len(rows) > 1 else ""
    return PufFormatError(
        f"{table.name}: column '{table.label(field)}' must be {what} "
        f"but holds {value!r} (data row {first + 1}{more})"
    )


def parse_numbers(
    table: Table, field: str, raw: pd.Series, extra_null: frozenset[str] = frozenset()
) -> pd.Series:
    """Parse numbers such as "1,175,345,650", "$-9187354.55", "(1,234)", "7.57%"; nulls → NaN.

    A "%" sign is dropped here; the unit of a rate column is decided afterwards from its values.
    """
    upper = raw.str.upper()
    null = upper.isin(_NULL_TOKENS | extra_null)
    negative = raw.str.fullmatch(r"\(.*\)")
    cleaned = raw.str.replace(r"[\s$,%()]", "", regex=True)
    values = pd.to_numeric(cleaned.where(~null, None), errors="coerce").astype(float)
    bad = (values.isna() | ~np.isfinite(values.fillna(0.0))) & ~null
    if bad.any():
        raise bad_cell_error(table, field, raw, bad, "numeric")
    return values.where(~negative, -values.abs())


def parse_flags(table: Table, field: str, raw: pd.Series) -> pd.Series:
    """Parse 1/0 (also Y/N, Yes/No, True/False) into a nullable boolean; '-' and blank → NA."""
    upper = raw.str.upper()
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[upper.isin(_TRUE_TOKENS)] = True
    out[upper.isin(_FALSE_TOKENS)] = False
    bad = out.isna() & ~upper.isin(_NULL_TOKENS)
    if bad.any():
        raise bad_cell_error(table, field, raw, bad, "a 0/1 flag")
    return out


def parse_month_year(table: Table, field: str, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(year, month) of dates such as "07/01/2012", "7/1/12 00:00" or "2019-07-01"."""
    us = raw.str.extract(r"^(?P<m>\d{1,2})/\d{1,2}/(?P<y>\d{4}|\d{2})(?!\d)")
    iso = raw.str.extract(r"^(?P<y>\d{4})-(?P<m>\d{1,2})(?:-\d{1,2})?(?!\d)")
    year = pd.to_numeric(us["y"].fillna(iso["y"]), errors="coerce")
    month = pd.to_numeric(us["m"].fillna(iso["m"]), errors="coerce")
    year = year.where(year >= 100, year + 2000)
    null = raw.str.upper().isin(_NULL_TOKENS)
    bad = ~null & (year.isna() | ~month.between(1, 12))
    if bad.any():
        raise bad_cell_error(table, field, raw, bad, "a date (MM/DD/YYYY)")
    return year.astype("Int64"), month.astype("Int64")


def as_fraction(values: pd.Series, typical: float) -> tuple[pd.Series, bool]:
    """Return a rate column as fractions and whether it was in percent (see RATE_TYPICAL)."""
    nonzero = values[values.notna() & (values != 0)].abs()
    if nonzero.empty or nonzero.median() <= 10 * typical:
        return values, False
    return values / 100.0, True


def years_in(cells: pd.Series) -> set[int]:
    """Distinct whole years 2012–2099 among the cells of a year column."""
    values = pd.to_numeric(
        cells.astype(str).str.strip().str.replace(",", ""), errors="coerce"
    ).dropna()
    return {int(v) for v in values if float(v).is_integer() and 2012 <= v <= 2099}
