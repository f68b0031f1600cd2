"""The one scanner, year parser and ACO linker of CMS results folders (simulation/cms/results.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from simulation import calibration as cal
from simulation.cms import acos as realdata
from simulation.cms import results as cms_results


def _rows(*rows) -> pd.DataFrame:
    cols = ["performance_year", "aco_id", "aco_name", "sav_rate", "n_ab", "updated_benchmark_pc",
            "initial_start_year"]
    return pd.DataFrame(rows, columns=cols)


def test_linker_bridges_a_name_unique_in_2017_and_2018() -> None:
    df = _rows(
        (2016, "A111", "Sunny Health, LLC", 0.01, 10_000, 10_000.0, 2014),
        (2017, "A111", "SUNNY HEALTH LLC", 0.02, 10_000, 10_000.0, 2014),
        (2018, "A1001", "Sunny Health", 0.03, 11_000, 10_500.0, 2014),
        # "Twin ACO" appears twice in 2018: not unique, so neither 2017 ACO_Num is linked.
        (2017, "A222", "Twin ACO", 0.0, 5_000, 9_000.0, 2015),
        (2018, "A1002", "Twin ACO", 0.0, 5_000, 9_000.0, 2015),
        (2018, "A1003", "Twin ACO Inc", 0.0, 5_000, 9_000.0, 2018),
        # Only in 2016 (not in 2017): the bridge is PY2017 → PY2018, so no link.
        (2016, "A333", "Gone Before", 0.0, 5_000, 9_000.0, 2012),
        (2019, "A1004", "Gone Before", 0.0, 5_000, 9_000.0, 2019),
    )
    links = cms_results.link_acos(df)
    assert links.bridge == {"A111": "A1001"}
    assert list(links.key) == ["A1001", "A1001", "A1001", "A222", "A1002", "A1003", "A333", "A1004"]
    assert list(links.linked) == [True, True, False, False, False, False, False, False]
    bridge = links.report["bridge"]
    # 2017: A111, A222 (2 ACOs); 2018: A1001–A1003 (3); one name match; A1003 started 2018.
    assert (bridge["acos_2017"], bridge["acos_2018"], bridge["matched_by_name"]) == (2, 3, 1)
    assert bridge["acos_2018_started_before_2018"] == 2
    # Both readers apply the same rule to the same rows.
    link_id, _ = cal.link_ids(df)
    assert list(link_id) == ["A1001", "A1001", "A1001", "NUM:A222", "A1002", "A1003", "NUM:A333",
                             "A1004"]


def test_year_parser_and_scanner(tmp_path) -> None:
    for name in ("PY2023.csv", "PY 2019_derived.csv", "2014_Shared_Savings.csv", "SOURCES.csv",
                 "notes.txt"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "mssp_puf").mkdir()
    (tmp_path / "mssp_puf" / "PY2016.csv").write_text("x\n")
    assert cms_results.file_year(tmp_path / "PY 2019_derived.csv") == 2019
    assert cms_results.file_year(tmp_path / "SOURCES.csv") is None
    found = [(p.parent.name, p.name) for p in cms_results.results_files(tmp_path)]
    assert found == [(tmp_path.name, "2014_Shared_Savings.csv"), ("mssp_puf", "PY2016.csv"),
                     (tmp_path.name, "PY 2019_derived.csv"), (tmp_path.name, "PY2023.csv")]


def test_calibration_and_real_acos_link_identically(shared_data) -> None:
    """On the real files, the calibration and the Real ACOs page follow the same ACOs."""
    calib = cal.load_results(shared_data)
    real, warnings = realdata.load_results(shared_data)
    assert warnings == []
    assert sorted(calib.attrs["files"]) == sorted(real.performance_year.unique()) == list(range(2013, 2024))

    def mapping(frame: pd.DataFrame, column: str) -> dict[str, str]:
        old = frame[frame.performance_year < 2018]
        return dict(zip(old.aco_id.astype(str), old[column].astype(str), strict=True))

    calib_map = {k: v.removeprefix("NUM:") for k, v in mapping(calib, "link_id").items()}
    real_map = mapping(real, "aco_key")
    assert calib_map == real_map
    linked = {k for k, v in real_map.items() if k != v}
    assert len(linked) == calib.attrs["linkage"]["bridge"]["matched_by_name"]
    assert set(real.loc[real.linked_by == "name", "aco_id"]) == linked
    # From PY2018 both use the ACO_ID itself.
    new_c = calib[calib.performance_year >= 2018]
    assert (new_c.link_id == new_c.aco_id).all()
    assert (real.loc[real.performance_year >= 2018, "aco_key"]
            == real.loc[real.performance_year >= 2018, "aco_id"]).all()


@pytest.mark.parametrize("name", ["PY2023.csv", "PY2023_b.csv"])
def test_calibration_refuses_two_files_for_one_year(tmp_path, name) -> None:
    (tmp_path / "PY2023.csv").write_text("x\n")
    (tmp_path / "mssp_puf").mkdir()
    (tmp_path / "mssp_puf" / name).write_text("x\n")
    with pytest.raises(cal.CalibrationError, match="two files for PY2023"):
        cal.puf_files(tmp_path)
