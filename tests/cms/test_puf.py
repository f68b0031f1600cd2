"""Tests of simulation.cms.puf: every CMS results file in ../shared/data, and malformed input.

The CMS files are reference data beside the project, not in it; their tests skip when the
folder is absent. The malformed-file tests build small files in tmp_path and always run.
"""

from __future__ import annotations

import csv
import random
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation.cms.puf import (
    CANONICAL_COLUMNS,
    ONE_SIDED_TRACKS,
    TRACKS,
    PufFormatError,
    detect_year,
    load_puf,
)

PUF_DIR = Path(__file__).parents[2].parent / "shared" / "data" / "mssp_puf"
SOURCES = PUF_DIR / "SOURCES.csv"


def _sources() -> list[dict[str, str]]:
    """Rows of SOURCES.csv (file, performance_year, rows, ...), or [] without the data."""
    if not SOURCES.exists():
        return []
    with SOURCES.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


SOURCE_ROWS = _sources()
needs_data = pytest.mark.skipif(not SOURCE_ROWS, reason="../shared/data/mssp_puf not present")
by_file = pytest.mark.parametrize("source", SOURCE_ROWS, ids=[r["file"] for r in SOURCE_ROWS])


@cache
def _load(name: str) -> pd.DataFrame:
    """Each CMS file is parsed once per test session."""
    return load_puf(PUF_DIR / name)


def _by_id(name: str, aco_id: str) -> pd.Series:
    df = _load(name)
    return df.loc[df.aco_id == aco_id].iloc[0]


# ---------------------------------------------------------------------------------------------
# Every CMS file
# ---------------------------------------------------------------------------------------------


@needs_data
def test_every_listed_file_exists() -> None:
    listed = {r["file"] for r in SOURCE_ROWS}
    on_disk = {p.name for p in PUF_DIR.glob("PY*.csv")}
    assert listed == on_disk


@needs_data
@by_file
def test_rows_columns_and_year(source: dict[str, str]) -> None:
    df = _load(source["file"])
    year = int(source["performance_year"])
    assert len(df) == int(source["rows"])
    assert list(df.columns) == list(CANONICAL_COLUMNS)
    assert detect_year(PUF_DIR / source["file"]) == year
    assert (df.performance_year == year).all()
    assert df.attrs["puf"]["performance_year"] == year


@needs_data
@by_file
def test_money_identities(source: dict[str, str]) -> None:
    df = _load(source["file"])
    gap = df.total_benchmark - df.total_expenditure
    assert (df.bnchmk_min_exp - gap).abs().max() <= 1.0
    assert (df.sav_rate - df.bnchmk_min_exp / df.total_benchmark).abs().max() <= 1e-4
    # Dollars, not thousands: a year's benchmark per person-year is $5k–$60k (dialysis-heavy
    # ACOs reach $57k; the six-month PY2019 totals are scaled up to a year), and it matches
    # the published per-capita benchmark.
    per_capita = df.total_benchmark / df.person_years * 12 / df.months_in_py
    assert per_capita.between(5_000, 60_000).all()
    if df.updated_benchmark_pc.notna().any():
        assert ((per_capita / df.updated_benchmark_pc - 1).abs() < 0.01).all()


@needs_data
@by_file
def test_rates_are_fractions_in_sane_ranges(source: dict[str, str]) -> None:
    df = _load(source["file"])
    assert df.sav_rate.between(-0.6, 0.6).all()
    assert df.published_msr.between(0, 0.3).all()
    one_sided = df.track.isin(ONE_SIDED_TRACKS)
    assert (df.published_msr[one_sided] >= 0.02 - 1e-9).all()  # the scale's floor is 2%
    for column, low, high in [
        ("published_mlr", 0.0, 0.3),
        ("qual_score", 0.0, 1.0),
        ("final_share_rate", 0.0, 0.75),
        ("final_loss_rate", 0.3, 0.75),
        ("max_share_rate", 0.4, 0.75),
        ("perc_dual", 0.0, 1.0),
    ]:
        assert df[column].dropna().between(low, high).all(), column
    assert df.qual_perf_share.dropna().isin([0.4, 0.5, 0.6, 0.75]).all()
    # Earned savings imply the savings rate met the MSR (published rounding allowed).
    earned = df.earned_save_loss > 0
    assert (df.sav_rate[earned] >= df.published_msr[earned] - 5e-5).all()
    assert df.qual_score[earned & ~df.p4r].gt(0).all()


@needs_data
@by_file
def test_tracks_and_identity_columns(source: dict[str, str]) -> None:
    df = _load(source["file"])
    assert df.track.isin(TRACKS).all()
    assert (
        df.risk_model == np.where(df.track.isin(ONE_SIDED_TRACKS), "one_sided", "two_sided")
    ).all()
    assert df.aco_id.str.fullmatch(r"A\d+").all()
    assert df.aco_id.is_unique
    assert (df.n_ab > 0).all()
    assert df.n_ab.dtype == np.int64
    assert df.months_in_py.isin([6, 12]).all()
    assert df.p4r.dtype == bool
    assert (df.earned_save_loss[df.risk_model == "one_sided"] >= 0).all()
    assert df.msr_basis.dropna().isin(["size", "fixed"]).all()


# ---------------------------------------------------------------------------------------------
# Year-specific facts (values read from the CMS files by hand)
# ---------------------------------------------------------------------------------------------


@needs_data
def test_py2023_track_mix() -> None:
    counts = _load("PY2023.csv").track.value_counts().to_dict()
    assert counts == {
        "ENHANCED": 160,
        "BASIC_B": 124,
        "BASIC_E": 123,
        "BASIC_A": 27,
        "BASIC_D": 10,
        "BASIC_C": 9,
    }


@needs_data
def test_py2013_socrata_columns_are_read_by_position() -> None:
    df = _load("PY2013.csv")
    palm = _by_id("PY2013.csv", "A67373")
    # Printed under "Total savings/losses ($)", "Shared Savings ($)", "Shared Losses ($)",
    # "Total assigned beneficiary person years" and the ESRD person-years label respectively.
    assert palm.total_expenditure == pytest.approx(573_516_045.50)
    assert palm.bnchmk_min_exp == pytest.approx(39_568_834.84)
    assert palm.earned_save_loss == pytest.approx(19_388_729.07)
    assert palm.n_ab == 36_268
    assert palm.person_years == pytest.approx(29_883.83333)
    assert palm.published_msr == pytest.approx(0.023373146)  # printed "0.023373146%"
    assert palm.agreement_start_month == 7
    assert df.p4r.all()
    assert (df.track == "TRACK_2").sum() == 5
    assert df.published_mlr.dropna().eq(0.02).sum() == 5  # printed "-0.02%"
    owed = _by_id("PY2013.csv", "A14269")  # the one Track 2 ACO that owed losses
    assert owed.earned_save_loss == pytest.approx(-3_986_552.12)


@needs_data
def test_py2014_p4r_and_percent_units() -> None:
    df = _load("PY2014.csv")
    assert df.p4r.sum() == 119
    assert df.qual_score[df.p4r].isna().all()
    assert df.attrs["puf"]["percent_columns"] == ["sav_rate", "published_msr"]
    # N = 4,845: 5.0 − 1.1 × (4,845 − 3,000) / 1,999 = 3.984742% (printed 3.984742371)
    msr = (5.0 - 1.1 * (4845 - 3000) / 1999) / 100
    assert _by_id("PY2014.csv", "A09903").published_msr == pytest.approx(msr, abs=1e-11)


@needs_data
def test_py2015_blank_quality_is_p4r() -> None:
    df = _load("PY2015.csv")
    assert df.p4r.sum() == 89
    assert df.qual_score[df.p4r].isna().all()
    assert df.qual_score[~df.p4r].notna().all()
    assert _by_id("PY2015.csv", "A67373").qual_score == pytest.approx(0.9808)  # printed 98.08


@needs_data
def test_py2017_disaster_adjustment_and_tiny_aco() -> None:
    df = _load("PY2017.csv")
    assert (df.dis_adj >= 0).all()
    assert (df.dis_adj > 0).sum() == 11
    kcmpa = _by_id("PY2017.csv", "A05696")
    assert kcmpa.n_ab == 152
    assert kcmpa.published_msr == pytest.approx(0.2542)


@needs_data
def test_py2019_six_month_cohort() -> None:
    df = _load("PY2019_derived.csv")
    assert (df.months_in_py == 6).sum() == 166
    assert (df.agreement_start_year[df.months_in_py == 6] == 2016).sum() == 148


@needs_data
def test_py2021_thousands_separators_and_percent_strings() -> None:
    palm = _by_id("PY2021.csv", "A1001")
    assert palm.total_benchmark == 1_175_345_650
    assert palm.n_ab == 89_403
    assert palm.sav_rate == pytest.approx(0.0717, abs=5e-5)
    assert palm.published_msr == pytest.approx(0.02)
    assert palm.max_share_rate == pytest.approx(0.75)
    assert palm.perc_dual == pytest.approx(0.0648)
    assert palm.qual_score == pytest.approx(1.0)  # printed "100" without a % sign


@needs_data
def test_py2022_and_py2023_flags() -> None:
    py22, py23 = _load("PY2022.csv"), _load("PY2023.csv")
    assert py22.p4r.sum() == 40
    assert py22.prorate_shared_losses.sum() > 0
    assert py23.p4r.sum() == 25
    assert py23.met_alt_qps.isna().all()  # published as '-'
    assert py23.impact_mid_year_termination.notna().all()
    palm = _by_id("PY2023.csv", "A1001")
    assert palm.final_loss_rate == pytest.approx(0.40)
    assert palm.agreement_start_year == 2019 and palm.agreement_start_month == 7


@needs_data
def test_keep_raw_appends_the_published_cells() -> None:
    df = load_puf(PUF_DIR / "PY2021.csv", keep_raw=True)
    assert list(df.columns[: len(CANONICAL_COLUMNS)]) == list(CANONICAL_COLUMNS)
    palm = df.loc[df.aco_id == "A1001"].iloc[0]
    assert palm["raw_ABtotBnchmk"] == "1,175,345,650"
    assert palm["raw_Sav_Rate"] == "7.17%"
    py13 = load_puf(PUF_DIR / "PY2013.csv", keep_raw=True)
    assert py13["raw_Total savings/losses ($)"].iloc[0] == "$573516045.50"  # shifted label


# ---------------------------------------------------------------------------------------------
# Synthetic files: format variants a future year may bring, and malformed input
# ---------------------------------------------------------------------------------------------

HEADER = [
    "ACO_ID", "ACO_Name", "Current_Start_Date", "Current_Track", "N_AB", "Sav_rate",
    "MinSavPerc", "BnchmkMinExp", "GenSaveLoss", "EarnSaveLoss", "QualScore", "ABtotBnchmk",
    "ABtotExp", "FinalShareRate",
]  # fmt: skip
ROWS = [
    ["A1001", "Alpha ACO", "01/01/2024", "EN", "10000", "5.00%", "3.00%", "5000000",
     "5000000", "3675000", "90.00%", "100000000", "95000000", "75.00%"],
    ["A1002", "Beta ACO", "07/01/2019", "B", "20000", "-1.00%", "2.50%", "-2000000",
     "0", "0", "80.00%", "200000000", "202000000", "40.00%"],
    ["A1003", "Gamma ACO", "01/01/2022", "E", "8000", "0.50%", "1.00%", "400000",
     "0", "0", "85.00%", "80000000", "79600000", "50.00%"],
]  # fmt: skip


def _write(
    tmp_path: Path,
    header: list[str] = HEADER,
    rows: list[list[str]] = ROWS,
    name: str = "PY2024.csv",
    encoding: str = "utf-8",
) -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _with(column: str, value: str, row: int = 0) -> list[list[str]]:
    """ROWS with one cell replaced."""
    rows = [list(r) for r in ROWS]
    rows[row][HEADER.index(column)] = value
    return rows


def _error(path: Path, **kwargs: object) -> str:
    """Load ``path`` expecting PufFormatError; return its message after checking it is one line."""
    with pytest.raises(PufFormatError) as info:
        load_puf(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path.name}: "), message
    return message


def test_synthetic_future_file_loads(tmp_path: Path) -> None:
    df = load_puf(_write(tmp_path))
    assert df.performance_year.tolist() == [2024] * 3
    assert df.track.tolist() == ["ENHANCED", "BASIC_B", "BASIC_E"]
    assert df.risk_model.tolist() == ["two_sided", "one_sided", "two_sided"]
    assert df.sav_rate.tolist() == pytest.approx([0.05, -0.01, 0.005])
    assert df.published_msr.tolist() == pytest.approx([0.03, 0.025, 0.01])
    assert df.msr_basis.tolist() == ["size", "size", "fixed"]
    assert df.qual_score.tolist() == pytest.approx([0.9, 0.8, 0.85])
    assert df.agreement_start_month.tolist() == [1, 7, 1]
    assert df.p4r.tolist() == [False, False, False]
    assert df.dis_adj.isna().all() and df.final_loss_rate.isna().all()


def test_names_case_insensitive_extra_columns_and_fraction_units(tmp_path: Path) -> None:
    header = [h.lower() for h in HEADER] + ["Brand_New_Column"]
    rows = [[*r, "x"] for r in ROWS]
    for r in rows:  # same file with rates as plain fractions
        for col in ("Sav_rate", "MinSavPerc", "QualScore", "FinalShareRate"):
            i = HEADER.index(col)
            r[i] = repr(float(r[i].rstrip("%")) / 100)
    df = load_puf(_write(tmp_path, header, rows))
    reference = load_puf(_write(tmp_path, name="PY2024_ref.csv"))
    for col in ("sav_rate", "published_msr", "qual_score", "final_share_rate"):
        assert df[col].tolist() == pytest.approx(reference[col].tolist())


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    rows = _with("ACO_Name", "Clínica São José ACO")
    df = load_puf(_write(tmp_path, rows=rows, encoding=encoding))
    assert df.aco_name.iloc[0] == "Clínica São José ACO"


def test_track_dummy_columns(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "Current_Track"] + ["Current_Track_1", "Current_BASIC_C"]
    rows = [[c for h, c in zip(HEADER, r, strict=True) if h != "Current_Track"] for r in ROWS]
    ok = [[*r, *f] for r, f in zip(rows, (["1", "0"], ["0", "1"], ["1", "0"]), strict=True)]
    assert load_puf(_write(tmp_path, header, ok)).track.tolist() == [
        "TRACK_1",
        "BASIC_C",
        "TRACK_1",
    ]
    none_set = [[*r, "0", "0"] for r in rows]
    assert "exactly one must be 1" in _error(_write(tmp_path, header, none_set))


@pytest.mark.parametrize(
    ("name", "year"),
    [
        ("PY2023.csv", 2023),
        ("PY 2023 ACO Results PUF.csv", 2023),
        ("py_2025.csv", 2025),
        ("2014_Shared_Savings_Program__SSP__Accountable_Care_Organizations__ACO__PUF.csv", 2014),
        ("Performance_Year_Financial_and_Quality_Results_PUF_2022_01_01.csv", 2022),
        ("Performance_Year_Financial_and_Quality_Results_2020.csv", 2020),
        ("mssp_2019_vs_2020.csv", None),
        ("results.csv", None),
    ],
)
def test_detect_year_from_name(tmp_path: Path, name: str, year: int | None) -> None:
    assert detect_year(_write(tmp_path, name=name)) == year


def test_detect_year_from_content(tmp_path: Path) -> None:
    header, rows = [*HEADER, "year"], [[*r, "2016"] for r in ROWS]
    path = _write(tmp_path, header, rows, name="results.csv")
    assert detect_year(path) == 2016
    assert detect_year(path, pd.DataFrame({"Performance_Year": [2019.0, 2019.0]})) == 2019
    assert load_puf(path).performance_year.eq(2016).all()


def test_detect_year_refuses_unreadable_content(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(PufFormatError, match=r"^results\.csv: not a CSV file"):
        detect_year(path)


def test_year_argument_needed_and_checked(tmp_path: Path) -> None:
    plain = _write(tmp_path, name="results.csv")
    assert "cannot tell the performance year" in _error(plain)
    assert load_puf(plain, year=2025).performance_year.eq(2025).all()
    header, rows = [*HEADER, "year"], [[*r, "2015"] for r in ROWS]
    assert "contradicts" in _error(_write(tmp_path, header, rows, name="PY2016.csv"))
    mixed = [[*r, y] for r, y in zip(ROWS, ("2015", "2016", "2016"), strict=True)]
    assert "several performance years" in _error(_write(tmp_path, header, mixed, "all.csv"))


@pytest.mark.parametrize(
    "column", ["ACO_ID", "N_AB", "ABtotBnchmk", "ABtotExp", "MinSavPerc", "EarnSaveLoss"]
)
def test_missing_required_column(tmp_path: Path, column: str) -> None:
    i = HEADER.index(column)
    header = HEADER[:i] + HEADER[i + 1 :]
    rows = [r[:i] + r[i + 1 :] for r in ROWS]
    assert f"missing required column '{column}'" in _error(_write(tmp_path, header, rows))


def test_missing_track_column(tmp_path: Path) -> None:
    i = HEADER.index("Current_Track")
    rows = [r[:i] + r[i + 1 :] for r in ROWS]
    path = _write(tmp_path, HEADER[:i] + HEADER[i + 1 :], rows)
    assert "missing required column 'Current_Track'" in _error(path)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("N_AB", "lots", "column 'N_AB' must be numeric but holds 'lots'"),
        ("N_AB", "*", "column 'N_AB' must be filled in every row"),
        ("N_AB", "100.5", "column 'N_AB' must be a whole number"),
        ("ABtotBnchmk", "about 1e8", "column 'ABtotBnchmk' must be numeric"),
        ("MinSavPerc", "3 percent", "column 'MinSavPerc' must be numeric"),
        ("QualScore", "150%", "column 'QualScore' must be a rate between 0% and 100%"),
        ("Current_Track", "Z", "column 'Current_Track' must be a known track code"),
        ("Current_Start_Date", "soon", "column 'Current_Start_Date' must be a date"),
        ("ACO_ID", "", "column 'ACO_ID' must be a non-blank ACO identifier"),
        ("BnchmkMinExp", "4000000", "column 'BnchmkMinExp' must be ABtotBnchmk − ABtotExp"),
        ("Sav_rate", "9.99%", "column 'Sav_rate' must be BnchmkMinExp / ABtotBnchmk"),
    ],
)
def test_wrong_values_are_named(tmp_path: Path, column: str, value: str, expected: str) -> None:
    assert expected in _error(_write(tmp_path, rows=_with(column, value)))


def test_duplicate_aco_is_refused(tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[1], ROWS[1]]
    assert "column 'ACO_ID' must be unique (it repeats an ACO) but holds 'A1002' (data row 3)" in (
        _error(_write(tmp_path, rows=rows))
    )


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "PY2024.csv"
    empty.write_bytes(b"")
    assert "file is empty" in _error(empty)
    blank = tmp_path / "PY2025.csv"
    blank.write_text("\n \n,,,\n")
    assert "file is empty" in _error(blank)
    assert "no data rows (header only" in _error(_write(tmp_path, rows=[], name="PY2023.csv"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(50),
            "not a CSV file (looks like a PNG image)",
        ),
        (b"PK\x03\x04" + bytes(100), "Excel .xlsx workbook"),
        (b"%PDF-1.7\n", "a PDF document"),
        (random.Random(0).randbytes(4000), "not a CSV file (binary data"),
        (bytes(range(1, 32)) * 40, "not a CSV file (binary data"),
        (b"ACO_ID,N_AB\n\x81\x8d\x8f\x90\x9d\xff\xfe,1\n", "unreadable encoding"),
        (b"name,value\nfoo,1\nbar,2\n", "missing required column 'ACO_ID'"),
        (b"<html><body>Not found</body></html>", "missing required column 'ACO_ID'"),
    ],
)
def test_not_a_csv(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "PY2024.csv"
    path.write_bytes(content)
    assert expected in _error(path)


def test_ragged_rows_and_missing_file(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[1] = rows[1] + ["surplus"]
    assert "line 3 has 15 fields but the header has 14" in _error(_write(tmp_path, rows=rows))
    assert "cannot read file" in _error(tmp_path / "PY2030.csv")
    assert "cannot read file" in _error(tmp_path)


def test_title_footnote_and_short_rows_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "PY2024.csv"
    rows = [ROWS[0], ROWS[1], ROWS[2][:-1]]  # the last row lacks its trailing FinalShareRate
    lines = ["Shared Savings Program results,,", ",".join(HEADER)]
    lines += [",".join(f'"{c}"' for c in r) for r in rows]
    lines += ["Source: CMS,,,", ""]
    path.write_text("\n".join(lines))
    df = load_puf(path)
    assert len(df) == 3
    assert np.isnan(df.final_share_rate.iloc[2])


# ---------------------------------------------------------------------------------------------
# Properties: no input escapes as anything but a DataFrame or a one-line PufFormatError
# ---------------------------------------------------------------------------------------------


def _loads_or_refuses(path: Path) -> None:
    try:
        df = load_puf(path, year=2024)
    except PufFormatError as exc:
        assert "\n" not in str(exc)
    else:
        assert list(df.columns) == list(CANONICAL_COLUMNS)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    _loads_or_refuses(path)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(0, len(ROWS) - 1),
    st.integers(0, len(HEADER) - 1),
    st.text(max_size=12),
)
def test_any_corrupted_cell_loads_or_is_refused(
    tmp_path: Path, row: int, col: int, text: str
) -> None:
    rows = [list(r) for r in ROWS]
    rows[row][col] = text
    _loads_or_refuses(_write(tmp_path, rows=rows))


def test_parenthesised_negatives_and_infinities(tmp_path: Path) -> None:
    df = load_puf(_write(tmp_path, rows=_with("EarnSaveLoss", "(1,234)", row=1)))
    assert df.earned_save_loss.iloc[1] == -1234
    message = _error(_write(tmp_path, rows=_with("ABtotExp", "inf"), name="PY2023.csv"))
    assert "column 'ABtotExp' must be numeric but holds 'inf'" in message
