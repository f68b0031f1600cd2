"""Size bands, reading the results folder and linking ACOs (simulation/calibration/loading.py)."""

from __future__ import annotations

from simulation import calibration as cal

from .conftest import one_line_error


def test_size_bands_are_ordered_and_cover_every_size() -> None:
    bands = cal.size_band([0, 4_999, 5_000, 19_999, 20_000, 49_999, 50_000, 1_000_000])
    assert list(bands.astype(str)) == [
        "under 5k",
        "under 5k",
        "5k–10k",
        "10k–20k",
        "20k–50k",
        "20k–50k",
        "50k+",
        "50k+",
    ]
    assert list(bands.cat.categories) == [label for label, _, _ in cal.SIZE_BANDS]


# ---------------------------------------------------------------------------------------------
# The back-test on the real files
# ---------------------------------------------------------------------------------------------


def test_ids_link_within_schemes_and_by_name_across_2018(real_results) -> None:
    report = real_results.attrs["linkage"]
    by_pair = {(p["from"], p["to"]): p["same_id"] for p in report["pairs"]}
    assert by_pair[(2017, 2018)] == 0  # ACO_Num and ACO_ID never coincide
    assert by_pair[(2022, 2023)] > 300 and by_pair[(2016, 2017)] > 300
    bridge = report["bridge"]
    assert bridge["matched_by_name"] > 350
    assert 0.9 < bridge["median_size_ratio"] < 1.1
    assert bridge["rate_correlation"] > 0.5


def test_calibrate_missing_folder(capsys, tmp_path) -> None:
    missing = tmp_path / "no-such-folder"
    one_line_error(capsys, ["calibrate", "--data", str(missing)], "folder not found")


def test_calibrate_folder_without_results(capsys, tmp_path) -> None:
    one_line_error(capsys, ["calibrate", "--data", str(tmp_path)], "no MSSP results files")
