"""Reader for the CMS MSSP "Performance Year Financial and Quality Results" public-use files.

CMS publishes one CSV per performance year (PY2013 onward), and nearly every year spells,
orders and formats the columns differently: rates as fractions, percents or "7.57%" strings,
money with or without "$" and thousands separators, track as 0/1 dummies or a letter, and a
PY2013 Socrata export whose labels are shifted against its values. :func:`load_puf` turns any
of them into one row per ACO with canonical column names, rates as fractions and money in
dollars, so that calibration and validation code never needs to know a year's quirks.

Bad input of any kind raises :class:`PufFormatError` with a one-line message that names the
file and the problem; no pandas or Python traceback escapes for a malformed file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

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


class PufFormatError(ValueError):
    """A PUF file is unreadable, malformed or in an unknown layout.

    The message is always a single line ("<file>: <what is wrong>") so that a command line or
    a dashboard can show it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# --------------------------------------------------------------------------------------------
# Column names. CMS names are matched case-, space- and punctuation-insensitively (see _key),
# and each canonical field lists its source names in order of preference. The first name is
# the one quoted in error messages.
# --------------------------------------------------------------------------------------------

_SOURCES: dict[str, tuple[str, ...]] = {
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
_TRACK_DUMMIES: tuple[tuple[str, str], ...] = (
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
_LEGACY_TRACK_DUMMIES: tuple[tuple[str, str], ...] = (
    ("Track1", "TRACK_1"),
    ("Track2", "TRACK_2"),
    ("Track3", "TRACK_3"),
)

# Codes seen in `Current_Track` (PY2022+: A–E, EN) plus spelled-out forms a later file may use;
# the code is upper-cased, stripped of punctuation and of a leading BASIC/LEVEL/TRACK first.
_TRACK_CODES: dict[str, str] = {
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
_YEAR_COLUMNS: tuple[str, ...] = ("performance_year", "year", "PY", "Perf_Year")

# Required source fields; each must resolve to a column (PY2013 earned savings come from the
# "Shared Savings"/"Shared Losses" pair instead of EarnSaveLoss).
_REQUIRED: tuple[str, ...] = (
    "aco_id",
    "n_ab",
    "total_benchmark",
    "total_expenditure",
    "published_msr",
)

# Money and counts: parsed as plain numbers, never rescaled.
_AMOUNT_FIELDS: tuple[str, ...] = (
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
_RATE_TYPICAL: dict[str, float] = {
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
_FIXED_MSR_CHOICES: tuple[float, ...] = (0.0, 0.005, 0.01, 0.015, 0.02)

_FLAG_FIELDS: tuple[str, ...] = (
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


def _key(name: str) -> str:
    """Match key for a column name: lower-case letters and digits ("Sav_Rate" → "savrate")."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


# --------------------------------------------------------------------------------------------
# Reading the bytes into a table of strings
# --------------------------------------------------------------------------------------------


class _Table:
    """The file's header labels and its data cells as strings, column positions kept."""

    def __init__(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        self.name = name
        self.header = header
        self.cells = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
        self.positions: dict[str, list[int]] = {}
        for i, label in enumerate(header):
            self.positions.setdefault(_key(label), []).append(i)

    def find(self, names: tuple[str, ...]) -> int | None:
        """Position of the first of ``names`` present in the header, or None."""
        for name in names:
            hits = self.positions.get(_key(name), [])
            if len(hits) > 1:
                raise PufFormatError(f"{self.name}: column '{name}' appears {len(hits)} times")
            if hits:
                return hits[0]
        return None

    def column(self, field: str) -> pd.Series | None:
        """Stripped string cells of a canonical source field, or None when the file lacks it."""
        pos = self.find(_SOURCES[field])
        return None if pos is None else self.column_at(pos)

    def column_at(self, pos: int) -> pd.Series:
        """Stripped string cells of the column at ``pos`` (_read_table strips and pads them)."""
        return self.cells[pos]

    def years(self) -> set[int]:
        """Distinct years in the file's `year`/`performance_year` column, if it has one."""
        pos = self.find(_YEAR_COLUMNS)
        return set() if pos is None else _years_in(self.column_at(pos))

    def label(self, field: str) -> str:
        """The file's own label of a field if present, else the field's usual CMS name."""
        pos = self.find(_SOURCES[field])
        return self.header[pos] if pos is not None else _SOURCES[field][0]


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; any OS error becomes a PufFormatError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PufFormatError(f"{path.name}: cannot read file ({exc.strerror or exc})") from None


def _decode(name: str, data: bytes) -> str:
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
    keys = {_key(cell) for cell in row}
    return any(_key(name) in keys for name in _SOURCES["aco_id"])


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


def _read_table(name: str, text: str) -> _Table:
    """Parse CSV text into a _Table: find the header, drop blank and footnote rows, check widths."""
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
            f"{name}: missing required column '{_SOURCES['aco_id'][0]}' "
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
    return _Table(name, header, data)


def _fix_socrata_2013(table: _Table) -> _Table:
    """Re-label the PY2013 Socrata export, whose labels for columns 13–34 are shifted by one.

    In that export the value after "Total benchmark expenditures ($)" is total expenditure but
    carries the next label ("Total savings/losses ($)"), and so on down to the race counts; the
    label "Total performance year spending per assigned beneficiary" has no column of its own.
    Inserting the missing "Total expenditures ($)" label and dropping the orphan label puts
    every label back over its values (the benchmark − expenditure identity is checked later).
    """
    bench = table.find(_SOURCES["total_benchmark"][1:])
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
    return _Table(table.name, labels, table.cells.to_numpy().tolist())


# --------------------------------------------------------------------------------------------
# Cell parsers
# --------------------------------------------------------------------------------------------


def _bad_cell_error(
    table: _Table, field: str, raw: pd.Series | None, bad: pd.Series, what: str
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


def _numbers(
    table: _Table, field: str, raw: pd.Series, extra_null: frozenset[str] = frozenset()
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
        raise _bad_cell_error(table, field, raw, bad, "numeric")
    return values.where(~negative, -values.abs())


def _flags(table: _Table, field: str, raw: pd.Series) -> pd.Series:
    """Parse 1/0 (also Y/N, Yes/No, True/False) into a nullable boolean; '-' and blank → NA."""
    upper = raw.str.upper()
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[upper.isin(_TRUE_TOKENS)] = True
    out[upper.isin(_FALSE_TOKENS)] = False
    bad = out.isna() & ~upper.isin(_NULL_TOKENS)
    if bad.any():
        raise _bad_cell_error(table, field, raw, bad, "a 0/1 flag")
    return out


def _month_year(table: _Table, field: str, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(year, month) of dates such as "07/01/2012", "7/1/12 00:00" or "2019-07-01"."""
    us = raw.str.extract(r"^(?P<m>\d{1,2})/\d{1,2}/(?P<y>\d{4}|\d{2})(?!\d)")
    iso = raw.str.extract(r"^(?P<y>\d{4})-(?P<m>\d{1,2})(?:-\d{1,2})?(?!\d)")
    year = pd.to_numeric(us["y"].fillna(iso["y"]), errors="coerce")
    month = pd.to_numeric(us["m"].fillna(iso["m"]), errors="coerce")
    year = year.where(year >= 100, year + 2000)
    null = raw.str.upper().isin(_NULL_TOKENS)
    bad = ~null & (year.isna() | ~month.between(1, 12))
    if bad.any():
        raise _bad_cell_error(table, field, raw, bad, "a date (MM/DD/YYYY)")
    return year.astype("Int64"), month.astype("Int64")


def _as_fraction(values: pd.Series, typical: float) -> tuple[pd.Series, bool]:
    """Return a rate column as fractions and whether it was in percent (see _RATE_TYPICAL)."""
    nonzero = values[values.notna() & (values != 0)].abs()
    if nonzero.empty or nonzero.median() <= 10 * typical:
        return values, False
    return values / 100.0, True


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


def _years_in(cells: pd.Series) -> set[int]:
    """Distinct whole years 2012–2099 among the cells of a year column."""
    values = pd.to_numeric(
        cells.astype(str).str.strip().str.replace(",", ""), errors="coerce"
    ).dropna()
    return {int(v) for v in values if float(v).is_integer() and 2012 <= v <= 2099}


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
        years = _read_table(path.name, _decode(path.name, _read_bytes(path))).years()
    else:
        wanted = {_key(name) for name in _YEAR_COLUMNS}
        column = next((c for c in df.columns if _key(str(c)) in wanted), None)
        years = set() if column is None else _years_in(df[column])
    return years.pop() if len(years) == 1 else None


# --------------------------------------------------------------------------------------------
# Field assembly
# --------------------------------------------------------------------------------------------


def _tracks(table: _Table) -> pd.Series:
    """Canonical track codes from `Current_Track`, the 0/1 dummies, or the PY2013 Track 2 flag."""
    code = table.column("current_track")
    if code is not None:
        keys = code.str.upper().str.replace(r"[^A-Z0-9+]", "", regex=True)
        keys = keys.str.replace(r"^(?:BASIC|LEVEL|TRACK)+", "", regex=True)
        tracks = keys.map(_TRACK_CODES)
        bad = tracks.isna()
        if bad.any():
            raise _bad_cell_error(
                table, "current_track", code, bad, "a known track code (A-E, EN, 1, 1+, 2, 3)"
            )
        return tracks
    for dummies in (_TRACK_DUMMIES, _LEGACY_TRACK_DUMMIES):
        present = [
            (pos, track) for name, track in dummies if (pos := table.find((name,))) is not None
        ]
        if not present:
            continue
        flags = pd.DataFrame(
            {
                track: _flags(table, "current_track", table.column_at(pos)).fillna(False)
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
        is_two = _flags(table, "track2_flag_2013", flag).fillna(False)
        return pd.Series(np.where(is_two, "TRACK_2", "TRACK_1"), index=flag.index)
    raise PufFormatError(
        f"{table.name}: missing required column 'Current_Track' (or the Current_Track_*/"
        f"Current_BASIC_*/Track1 0/1 columns)"
    )


def _require(table: _Table) -> None:
    """Refuse a file that lacks any required column, naming the first one missing."""
    for field in _REQUIRED:
        if table.find(_SOURCES[field]) is None:
            raise PufFormatError(f"{table.name}: missing required column '{_SOURCES[field][0]}'")
    has_pair = table.find(_SOURCES["shared_savings_2013"]) is not None
    if table.find(_SOURCES["earned_save_loss"]) is None and not has_pair:
        raise PufFormatError(f"{table.name}: missing required column 'EarnSaveLoss'")


def _numeric_fields(table: _Table) -> dict[str, pd.Series]:
    """Every present money/count/rate field parsed to floats (rates not yet rescaled)."""
    out: dict[str, pd.Series] = {}
    for field in (*_AMOUNT_FIELDS, "sav_rate", *_RATE_TYPICAL):
        raw = table.column(field)
        if raw is None:
            continue
        extra = frozenset({"P4R"}) if field == "qual_score" else frozenset()
        out[field] = _numbers(table, field, raw, extra)
    return out


def _check_complete(table: _Table, values: dict[str, pd.Series], ids: pd.Series) -> None:
    """Every row needs an ACO id, N_AB, benchmark and expenditure; N_AB must be whole."""
    blank_id = ids.eq("")
    if blank_id.any():
        raise _bad_cell_error(table, "aco_id", ids, blank_id, "a non-blank ACO identifier")
    for field in ("n_ab", "total_benchmark", "total_expenditure"):
        missing = values[field].isna()
        if missing.any():
            raise _bad_cell_error(table, field, table.column(field), missing, "filled in every row")
    n_ab = values["n_ab"]
    fractional = (n_ab - n_ab.round()).abs() > 1e-6
    if fractional.any():
        raise _bad_cell_error(table, "n_ab", table.column("n_ab"), fractional, "a whole number")
    negative = (n_ab < 0) | (values["total_benchmark"] <= 0)
    if negative.any():
        field = "n_ab" if (n_ab < 0).any() else "total_benchmark"
        raise _bad_cell_error(table, field, table.column(field), negative, "positive")


def _savings_fields(
    table: _Table, values: dict[str, pd.Series]
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
        raise _bad_cell_error(
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
            raise _bad_cell_error(
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


def _rates(table: _Table, values: dict[str, pd.Series]) -> tuple[dict[str, pd.Series], list[str]]:
    """Every rate column as fractions in [0, 1], with the list of columns that were in percent.

    The unit is decided by magnitude (see _RATE_TYPICAL); for the MSR the two readings differ
    100-fold and no legal MSR is above 30% or (in percent) below 0.5%, so no file is ambiguous.
    PY2013 prints the minimum loss rate as a negative percent ("-0.02%"); its size is kept.
    """
    out: dict[str, pd.Series] = {}
    percent: list[str] = []
    for field, typical in _RATE_TYPICAL.items():
        if field not in values:
            continue
        published = values[field].abs() if field == "published_mlr" else values[field]
        fractions, was_percent = _as_fraction(published, typical)
        bad = (fractions < 0) | (fractions > 1)
        if bad.any():
            raise _bad_cell_error(
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


def _performance_year(table: _Table, path: Path, year: int | None) -> int:
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
    table: _Table, performance_year: int
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
    start_year, start_month = (na_int, na_int) if raw is None else _month_year(table, field, raw)
    first_agreements = field == "start_date" and raw is not None and performance_year <= 2015
    initial_raw = table.column("initial_start_date")
    if initial_raw is not None:
        initial_year = _month_year(table, "initial_start_date", initial_raw)[0]
    else:
        initial_year = start_year if first_agreements else na_int
    period_raw = table.column("agreement_period_num")
    if period_raw is not None:
        period = _numbers(table, "agreement_period_num", period_raw).round().astype("Int64")
    else:
        period = pd.Series(1 if first_agreements else pd.NA, index=index, dtype="Int64")
    return start_year, start_month, initial_year, period


def _p4r(
    table: _Table,
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
    for choice in _FIXED_MSR_CHOICES:
        fixed |= (msr - choice).abs() < 1e-6
    ambiguous = ((msr - 0.02).abs() < 1e-6) & (n_ab >= 60_000)
    basis = pd.Series(np.where(fixed, "fixed", "size"), index=msr.index, dtype=object)
    basis[tracks.isin(ONE_SIDED_TRACKS)] = "size"
    basis[~tracks.isin(ONE_SIDED_TRACKS) & (ambiguous | msr.isna())] = np.nan
    return basis


def _raw_columns(source: _Table, taken: pd.Index) -> pd.DataFrame:
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
    source = _read_table(path.name, _decode(path.name, _read_bytes(path)))
    table = _fix_socrata_2013(source)
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
    flags = {f: _flags(table, f, raw) for f in _FLAG_FIELDS if (raw := table.column(f)) is not None}

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
        raise _bad_cell_error(table, "aco_id", ids, duplicated, "unique (it repeats an ACO)")
    if keep_raw:
        out = pd.concat([out, _raw_columns(source, out.columns)], axis=1)
    out.attrs["puf"] = {
        "source": path.name,
        "performance_year": performance_year,
        "columns": {
            field: table.header[pos]
            for field, names in _SOURCES.items()
            if (pos := table.find(names)) is not None
        },
        "percent_columns": (["sav_rate"] if sav_percent else []) + percent,
    }
    return out
