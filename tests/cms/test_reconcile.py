"""Reconciliation against CMS (`acosim reconcile`, simulation.cms.reconcile).

The CMS results files are reference data beside the project (../shared/data, via the
``shared_data`` fixture); tests that need them skip when the folder is absent. Constructed
files are written to tmp_path and never copied into the repository.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.cli import main
from simulation.cms.puf import ONE_SIDED_TRACKS, load_puf
from simulation.cms.reconcile import (
    CAUSE_CODES,
    DIAGNOSTIC_CODES,
    NOTE_CODES,
    OUTPUT_COLUMNS,
    REASONS,
    ReconcileError,
    reconcile,
    reconcile_directory,
    report_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
PUF_DIR = ROOT.parent / "shared" / "data" / "mssp_puf"
PUF_FILES = sorted(p.name for p in PUF_DIR.glob("PY*.csv")) if PUF_DIR.exists() else []
by_file = pytest.mark.parametrize("name", PUF_FILES)
REPORT_COMMAND = "acosim reconcile --all ../shared/data/mssp_puf --report docs/reconciliation.md"


@cache
def _reconciled(name: str):
    return reconcile(PUF_DIR / name)


def _earned_close(computed: pd.Series, published: pd.Series) -> pd.Series:
    return (computed - published).abs() <= np.maximum(10.0, 0.001 * published.abs())


def _codes(reason: str) -> list[str]:
    return [c for c in reason.split("; ") if c]


# ---------------------------------------------------------------------------------------------
# Every CMS file
# ---------------------------------------------------------------------------------------------


CMS_2013_2023 = [f"PY{y}.csv" if y != 2019 else "PY2019_derived.csv" for y in range(2013, 2024)]


def test_data_present(shared_data: Path) -> None:
    assert set(CMS_2013_2023) <= set(PUF_FILES), PUF_FILES


@by_file
def test_savings_bar_and_columns(shared_data: Path, name: str) -> None:
    out, summary = _reconciled(name)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert len(out) == summary.rows > 0
    savers = out[out.published_earned > 0]
    ok = _earned_close(savers.computed_earned, savers.published_earned)
    assert ok.mean() >= 0.995, savers[~ok]
    assert summary.savings_rows == len(savers) and summary.savings_match == ok.sum()
    losers = out[out.published_earned < 0]
    assert summary.loss_rows == len(losers)
    assert summary.loss_match == _earned_close(losers.computed_earned, losers.published_earned).sum()
    assert summary.mismatches == (~out.match).sum()


@by_file
def test_every_one_sided_msr_matches(shared_data: Path, name: str) -> None:
    """Every one-sided MSR within 0.01 pp, small ACOs included; below 500 a flagged mismatch."""
    out, _ = _reconciled(name)
    puf = load_puf(PUF_DIR / name)
    assert (out.aco_id.to_numpy() == puf.aco_id.to_numpy()).all()
    one_sided = puf.track.isin(ONE_SIDED_TRACKS).to_numpy()
    one = out[one_sided].assign(n=puf.n_ab.to_numpy()[one_sided])
    small = one[one.n < 500]
    rest = one[one.n >= 500]
    assert ((rest.computed_msr - rest.published_msr).abs() <= 1e-4).all(), rest
    for row in small.itertuples():
        assert (row.performance_year, row.aco_id, row.n) == (2017, "A05696", 152)
        assert not row.match and np.isnan(row.computed_msr)
        assert _codes(row.reason) == ["msr_unknown_below_500"]


@by_file
def test_every_mismatch_explained_by_a_known_cause(shared_data: Path, name: str) -> None:
    out, _ = _reconciled(name)
    for row in out.itertuples():
        codes = _codes(row.reason)
        assert set(codes) <= set(REASONS), codes
        if not row.match:
            assert codes, row
            # in CMS's own files every mismatch has a known cause, never a bare diagnostic
            assert set(codes) & set(CAUSE_CODES), row
            assert not set(codes) & set(DIAGNOSTIC_CODES), row
        else:
            assert not set(codes) - set(NOTE_CODES), row


def test_small_one_sided_acos_are_reconciled(shared_data: Path) -> None:
    """The 160 size-based ACO-years between 500 and 5,000 beneficiaries all match their MSR."""
    count = 0
    for name in CMS_2013_2023:
        out, _ = _reconciled(name)
        puf = load_puf(PUF_DIR / name)
        small = (puf.n_ab.between(500, 4999) & (puf.track.isin(ONE_SIDED_TRACKS)
                 | puf.msr_basis.eq("size"))).to_numpy()
        sel = out[small]
        assert ((sel.computed_msr - sel.published_msr).abs() <= 1e-4).all(), sel
        count += len(sel)
    assert count == 160


def test_known_rows(shared_data: Path) -> None:
    def row(name: str, aco: str) -> pd.Series:
        out, _ = _reconciled(name)
        return out.set_index("aco_id").loc[aco]

    # PY2019 six-month Track 1+ ACO: DisAdj is a full-year figure, half of it applies
    r = row("PY2019_derived.csv", "A1498")
    assert r.match and r.published_earned == -702674 and "euc_from_disadj" in r.reason
    # a revenue-limited Track 1+ loss: participant revenue unpublished, CMS's limit used
    r = row("PY2019_derived.csv", "A2392")
    assert r.match and "loss_limit_from_published" in r.reason
    # pay-for-reporting ACOs that failed reporting in PY2014: known cause
    r = row("PY2014.csv", "A80939")
    assert not r.match and r.reason == "quality_failure_unpublished"
    # PY2020 re-entering first-year ACO: the published (mean) quality score sets the rate
    r = row("PY2020.csv", "A4744")
    assert r.match and r.computed_share_rate == pytest.approx(0.5 * 0.9846)


def test_no_losses_owed_in_covid_years(shared_data: Path) -> None:
    """PY2020-2022: every loss the rules give is cancelled by DisAdj, and DisAdj equals it."""
    for name in ("PY2020.csv", "PY2021.csv", "PY2022.csv"):
        out, s = _reconciled(name)
        assert (out.published_earned >= 0).all() and (out.computed_earned >= -10).all()
        assert s.forgiven_rows > 0
        assert s.forgiven_disadj_equal + s.forgiven_via_limit == s.forgiven_rows


def test_reconcile_directory_and_report_is_current(shared_data: Path) -> None:
    results = reconcile_directory(PUF_DIR)
    years = [s.performance_year for _, s in results]
    assert years == sorted(years) and set(range(2013, 2024)) <= set(years)
    text = report_markdown(results, REPORT_COMMAND)
    for year in years:
        assert f"| {year} |" in text
    for code in REASONS:
        assert f"`{code}`" in text
    committed = (ROOT / "docs" / "reconciliation.md").read_text(encoding="utf-8")
    # the MSSP report, then the REACH section (acosim reconcile on the REACH file, appended)
    mssp, sep, reach = committed.partition("\n## ACO REACH PY")
    assert mssp + "\n" * bool(sep) == text + "\n" * bool(sep) or mssp == text, \
        f"docs/reconciliation.md is stale: run `{REPORT_COMMAND}`"
    reach_file = shared_data / "other" / "reach_results_PY2023.csv"
    if sep and reach_file.exists():
        from simulation.cms.reach_results import reconcile_reach, report_section

        out, summary = reconcile_reach(reach_file)
        cmd = "acosim reconcile ../shared/data/other/reach_results_PY2023.csv --report /tmp/reach.md"
        assert "## ACO REACH PY" + reach == report_section(out, summary, cmd)


def test_cli_single_file_prints_summary(shared_data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "result.csv"
    assert main(["reconcile", str(PUF_DIR / "PY2023.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for word in ("453 ACOs", "savings:", "losses:", "MSR:", "sharing rate:"):
        assert word in printed
    with out.open(newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == OUTPUT_COLUMNS
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 453 and set(table.performance_year) == {2023}


# ---------------------------------------------------------------------------------------------
# A later performance year: a PY2024/PY2025-format file fabricated from PY2023
# ---------------------------------------------------------------------------------------------


def _fabricate(source: Path, target: Path, seed: int) -> None:
    """Copy ``source`` with an unknown column added, columns shuffled, a header re-cased."""
    with source.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], rows[1:]
    header = [*header, "Adv_Inv_Pmt_2024_New"]
    data = [[*r, str(i % 3)] for i, r in enumerate(data)]
    header = [h.upper() if h == "QualScore" else h for h in header]
    header = [h.lower() if h == "Sav_rate" else h for h in header]
    order = list(range(len(header)))
    random.Random(seed).shuffle(order)
    with target.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([header[i] for i in order])
        w.writerows([[r[i] for i in order] for r in data])


@pytest.mark.parametrize("year", [2024, 2025])
def test_later_year_file_runs_and_reaches_the_bar(shared_data: Path, tmp_path: Path,
                                                    year: int, capsys) -> None:
    path = tmp_path / f"PY{year}.csv"
    _fabricate(PUF_DIR / "PY2023.csv", path, seed=year)
    out = tmp_path / "result.csv"
    assert main(["reconcile", str(path), "--out", str(out)]) == 0
    assert f"PY{year} (PY{year}.csv): 453 ACOs" in capsys.readouterr().out
    table = pd.read_csv(out, keep_default_na=False)
    assert tuple(table.columns) == OUTPUT_COLUMNS
    assert set(table.performance_year) == {year}
    savers = table[table.published_earned > 0]
    assert _earned_close(savers.computed_earned, savers.published_earned).mean() >= 0.995
    one = table[table.track.isin(ONE_SIDED_TRACKS)]
    assert ((one.computed_msr - one.published_msr).abs() <= 1e-4).all()
    bad = table[~table.match]
    assert (bad.reason != "").all()
    # same facts, same answers: none of the 2024+ rules (low-revenue exception, ACPT
    # protection) applies to agreements that started before 2024
    base, _ = _reconciled("PY2023.csv")
    merged = base.merge(table, on="aco_id", suffixes=("", "_later"))
    assert len(merged) == 453
    assert np.allclose(merged.computed_earned, merged.computed_earned_later)


def test_later_year_rules_in_catalog(catalog) -> None:
    for year in (2024, 2025):
        for track in ("BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E"):
            r = catalog.rules(track, year)
            assert r.low_revenue_exception_from_agreement_year == 2024
            assert r.quality_standard_percentile == 40
            assert r.sequestration_rate == 0.02
            assert r.quality_mode == "qps_alt_sliding"
        enh = catalog.rules("ENHANCED", year)
        assert enh.low_revenue_exception_from_agreement_year is None  # 425.605(h): BASIC only
        assert enh.sequestration_rate == 0.02 and enh.savings_cap == 0.20


# ---------------------------------------------------------------------------------------------
# The 2024 low-revenue exception (42 CFR 425.605(h)) through reconcile, on constructed rows
# ---------------------------------------------------------------------------------------------

_HEADER = ["ACO_ID", "Current_Track", "Current_Start_Date", "N_AB", "ABtotBnchmk", "ABtotExp",
           "BnchmkMinExp", "Sav_rate", "MinSavPerc", "GenSaveLoss", "EarnSaveLoss", "Met_QPS",
           "Met_AltQPS", "QualScore", "FinalShareRate", "Rev_Exp_Cat"]


def _row(aco, track, start, n, exp, msr, earned, qps, alt, q, share, revenue,
         bench=150_000_000):
    gap = bench - exp
    return [aco, track, f"01/01/{start}", n, bench, exp, gap, f"{100 * gap / bench:.2f}%",
            msr, gap if earned else 0, earned, qps, alt, q, share, revenue]


def test_low_revenue_exception_through_reconcile(tmp_path: Path) -> None:
    # Benchmark $150M, spending $147M: savings $3M, a 2.00% savings rate, below the MSR of
    # 2.85% at 12,500 beneficiaries (3.0 - 0.3 x 2,500 / 4,999).
    rows = [
        # low revenue, 2024 agreement, QPS met: half of 40% -> 20% x 3M x 0.98 = 588,000
        _row("A9001", "A", 2024, 12500, 147_000_000, "2.85%", 588_000, 1, 0, "90.00%",
             "20.00%", "Low Revenue"),
        # alternative QPS only (HEAQS 80%): half of 40% x 0.80 -> 16% x 3M x 0.98 = 470,400
        _row("A9002", "B", 2025, 12500, 147_000_000, "2.85%", 470_400, 0, 1, "80.00%",
             "16.00%", "Low Revenue"),
        # BASIC E, fixed 2% MSR, 1% savings: half of 50% -> 25% x 1.5M x 0.98 = 367,500
        _row("A9003", "E", 2024, 20000, 148_500_000, "2.00%", 367_500, 1, 0, "85.00%",
             "25.00%", "Low Revenue"),
        # the same ACO in a 2023 agreement, a high-revenue ACO, one below 5,000, one that
        # missed both quality standards, and ENHANCED (no exception): nothing paid
        _row("A9004", "A", 2023, 12500, 147_000_000, "2.85%", 0, 1, 0, "90.00%", "40.00%",
             "Low Revenue"),
        _row("A9005", "A", 2024, 12500, 147_000_000, "2.85%", 0, 1, 0, "90.00%", "40.00%",
             "High Revenue"),
        _row("A9006", "A", 2024, 4900, 147_000_000, "3.95%", 0, 1, 0, "90.00%", "40.00%",
             "Low Revenue"),
        _row("A9007", "A", 2024, 12500, 147_000_000, "2.85%", 0, 0, 0, "50.00%", "0.00%",
             "Low Revenue"),
        _row("A9008", "EN", 2024, 20000, 148_500_000, "2.00%", 0, 1, 0, "85.00%", "75.00%",
             "Low Revenue"),
    ]
    path = tmp_path / "PY2024.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([_HEADER, *rows])
    out, summary = reconcile(path)
    out = out.set_index("aco_id")
    assert out.match.all(), out[~out.match]
    expected = {"A9001": 588_000, "A9002": 470_400, "A9003": 367_500}
    for aco, row in out.iterrows():
        assert row.computed_earned == pytest.approx(expected.get(aco, 0.0), abs=0.01), aco
        assert ("low_revenue_exception" in row.reason) == (aco in expected), aco
    assert out.loc["A9001", "computed_share_rate"] == pytest.approx(0.20)
    assert out.loc["A9002", "computed_share_rate"] == pytest.approx(0.16)
    assert out.loc["A9003", "computed_share_rate"] == pytest.approx(0.25)
    assert out.loc["A9001", "computed_msr"] == pytest.approx(0.03 - 0.003 * 2500 / 4999)
    assert summary.performance_year == 2024 and summary.savings_match == 3


# ---------------------------------------------------------------------------------------------
# Malformed or unknown files: exit code 2, one line, no traceback
# ---------------------------------------------------------------------------------------------


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


GOOD_HEADER = ",".join(_HEADER)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty"),
        ("ACO_ID,N_AB\nA1,5000\n", "missing required column"),
        (GOOD_HEADER + "\nA1,A,01/01/2024,many,1,1,0,0%,2%,0,0,1,0,90%,40%,Low\n", "N_AB"),
        (GOOD_HEADER + "\nA1,Z,01/01/2024,6000,100,90,10,10%,3%,10,0,1,0,90%,40%,Low\n",
         "Current_Track"),
        (GOOD_HEADER + "\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a CSV"),
        (b"PK\x03\x04spreadsheet", "not a CSV"),
        ("just some prose, not a table\n", "missing required column"),
    ],
    ids=["empty", "missing-columns", "wrong-type", "unknown-track", "header-only", "png",
         "xlsx", "prose"],
)
def test_malformed_file_exits_2_with_one_line(tmp_path: Path, capsys, content, expected) -> None:
    path = _write(tmp_path / "PY2024.csv", content)
    assert main(["reconcile", str(path), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("acosim reconcile: error: ") and expected in err, err
    assert not (tmp_path / "r.csv").exists()


def test_other_user_errors_exit_2(shared_data: Path, tmp_path: Path, capsys) -> None:
    cases = [
        (["reconcile", str(tmp_path / "missing.csv")], "cannot read"),
        (["reconcile", str(tmp_path)], "cannot read"),
        (["reconcile", str(PUF_DIR / "PY2023.csv"), "--year", "2039"], "no rules"),  # catalog ends 2036
        (["reconcile"], "either one PUF file or --all"),
        (["reconcile", "--all", str(tmp_path)], "no CSV file"),
        (["reconcile", str(PUF_DIR / "PY2023.csv"), "--out", str(tmp_path / "no" / "x.csv")],
         "cannot write"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert expected in err, (argv, err)


def test_malformed_file_via_installed_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "acosim"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "acosim"
    path = _write(tmp_path / "PY2024.csv", "ACO_ID,N_AB\nA1,5000\n")
    proc = subprocess.run([str(exe), "reconcile", str(path), "--out", str(tmp_path / "r.csv")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "missing required column" in proc.stderr
    assert proc.stdout == ""


def test_reconcile_error_is_one_line() -> None:
    with pytest.raises(ReconcileError) as exc:
        reconcile(Path("/nonexistent/PY2024.csv"))
    assert "\n" not in str(exc.value)
