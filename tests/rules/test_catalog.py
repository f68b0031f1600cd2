"""The track parameter files, tested as files (required keys, ranges, resolution, refusals)."""

from __future__ import annotations

import re
import shutil
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from simulation.rules import settlement
from simulation.rules.catalog import (
    PARAMETER_CHECKS,
    TRACKS_DIR,
    CatalogError,
    TrackRules,
    catalog_table,
    load_catalog,
)

EXPECTED_TRACKS = {
    "BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E", "ENHANCED",
    "TRACK_1", "TRACK_1_PLUS", "TRACK_2", "TRACK_3",
    "NGACO_A", "NGACO_B", "REACH_PROFESSIONAL", "REACH_GLOBAL",
    "LEAD_PROFESSIONAL", "LEAD_GLOBAL",
}


def test_every_track_is_catalogued(catalog):
    assert set(catalog.tracks) == EXPECTED_TRACKS
    for code in ("BASIC_A", "BASIC_E", "ENHANCED"):
        assert catalog.tracks[code].first_year == 2019
        assert catalog.tracks[code].last_year == 2036  # current law continued (policy-2027.md 2.2)
    assert catalog.tracks["REACH_GLOBAL"].years == range(2023, 2027)
    assert not catalog.tracks["REACH_GLOBAL"].open_to(2027)  # closed to agreements after 2026
    for code in ("LEAD_GLOBAL", "LEAD_PROFESSIONAL"):
        assert catalog.tracks[code].years == range(2027, 2037)


def test_every_track_year_resolves_with_sources(catalog):
    pairs = list(catalog.track_years())
    assert len(pairs) > 90
    for code, year in pairs:
        rules = catalog.rules(code, year)
        assert rules.track == code and rules.year == year
        assert 0 < rules.max_share_rate <= 1
        cited = {name for name, _ref, _conf in rules.sources}
        assert {"max_share_rate", "quality_mode", "sequestration_rate"} <= cited
        for _name, ref, conf in rules.sources:
            assert conf in {"REG", "CMS", "SEC", "INF"} and len(ref) > 3  # the law in force: nothing PROPOSED


def test_every_value_has_unit_years_citation_and_label():
    for path in sorted(TRACKS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for name, param in doc["parameters"].items():
            assert param["unit"] and param["description"], (path.name, name)
            for entry in param["entries"]:
                assert entry["from"] >= 2012, (path.name, name)
                # PROPOSED only on the entries of a named policy variant (and always there)
                expected = {"PROPOSED"} if entry.get("variant") else {"REG", "CMS", "SEC", "INF"}
                assert entry["confidence"] in expected, (path.name, name)
                assert entry["reference"]


def test_no_parameter_is_defined_but_unused(catalog):
    """Every known parameter appears in the files and is consumed by TrackRules/settlement."""
    rule_fields = {f.name for f in fields(TrackRules)}
    assert set(PARAMETER_CHECKS) <= rule_fields
    assert catalog.parameter_names() == set(PARAMETER_CHECKS)
    rules_dir = Path(settlement.__file__).parent  # the rules floor: catalog, kernel, narration
    engine = "".join(p.read_text() for p in sorted(rules_dir.glob("*.py")))
    for name in PARAMETER_CHECKS:
        uses = len(re.findall(rf"\b{name}\b", engine))
        assert uses >= 2, f"{name} is defined but never used by the engine"


def test_key_values_match_the_regulation(catalog):
    r = catalog.rules("BASIC_E", 2024)
    assert (r.max_share_rate, r.shared_loss_rate, r.loss_limit_revenue, r.loss_limit_benchmark) == (0.5, 0.3, 0.08, (0.04,))
    assert r.low_revenue_exception_from_agreement_year == 2024
    assert catalog.rules("BASIC_E", 2023).low_revenue_exception_from_agreement_year is None
    e = catalog.rules("ENHANCED", 2022)
    assert (e.max_share_rate, e.savings_cap, e.loss_rate_floor, e.loss_rate_ceiling) == (0.75, 0.2, 0.4, 0.75)
    assert e.quality_mode == "qps_gate"
    assert catalog.rules("ENHANCED", 2020).quality_mode == "score_multiplier"
    assert catalog.rules("ENHANCED", 2023).quality_mode == "qps_alt_sliding"
    assert catalog.rules("TRACK_2", 2016).loss_limit_benchmark == (0.05, 0.075, 0.10)
    assert catalog.rules("NGACO_A", 2018).max_share_rate == 0.80
    assert catalog.rules("NGACO_A", 2019).max_share_rate == 0.85
    assert catalog.rules("REACH_GLOBAL", 2026).corridors[0].upper == 0.10
    assert catalog.rules("REACH_GLOBAL", 2025).benchmark_discount == 0.04  # PY2025 QR: 3.5% raised to 4%
    seq = {y: catalog.rules("TRACK_1", y).sequestration_rate for y in range(2013, 2022)}
    assert seq == {2013: .02, 2014: .02, 2015: .02, 2016: .02, 2017: .02, 2018: .02,
                   2019: 0.0, 2020: 0.0, 2021: .02}


def test_msr_scale_reproduces_cms_examples(catalog):
    r = catalog.rules("BASIC_A", 2024)
    assert r.msr_for_size(7500) == pytest.approx(0.033, abs=1e-5)  # CMS-1345-P example, shown as 3.3%
    assert r.msr_for_size(12500) == pytest.approx(0.0285, abs=1e-5)  # settlement-rules.md 7A
    assert r.msr_for_size(4845) == pytest.approx(0.03984742, abs=1e-8)  # PUF PY2014, full precision
    assert r.msr_for_size(605) == pytest.approx(0.114635271, abs=1e-8)  # PUF PY2018, full precision
    assert r.msr_for_size(60000) == r.msr_for_size(250000) == 0.02


def test_unknown_track_or_year_is_refused(catalog):
    with pytest.raises(CatalogError, match="unknown track 'BASIC_Z'"):
        catalog.rules("BASIC_Z", 2024)
    with pytest.raises(CatalogError, match="no rules for performance year 2018"):
        catalog.rules("ENHANCED", 2018)


def test_catalog_table_lists_every_pair(catalog):
    rows = catalog_table(catalog)
    assert len(rows) == len(list(catalog.track_years()))
    assert all(row["citation"] for row in rows)


# ---------------------------------------------------------------- malformed files are refused


def _broken_copy(tmp_path: Path, file: str, mutate) -> Path:
    d = tmp_path / "tracks"
    shutil.copytree(TRACKS_DIR, d)
    doc = yaml.safe_load((d / file).read_text())
    mutate(doc)
    (d / file).write_text(yaml.safe_dump(doc, sort_keys=False))
    return d


def _entry(doc, param, i=0):
    return doc["parameters"][param]["entries"][i]


@pytest.mark.parametrize(
    ("file", "mutate", "message"),
    [
        ("mssp_basic.yaml", lambda d: _entry(d, "max_share_rate").update(value=1.4),
         r"mssp_basic\.yaml: parameters\.max_share_rate\.entries\[0\]\.value: 1\.4 is not a fraction"),
        ("mssp_basic.yaml", lambda d: _entry(d, "max_share_rate").pop("reference"),
         r"mssp_basic\.yaml: parameters\.max_share_rate\.entries\.0\.reference: Field required"),
        ("mssp_basic.yaml", lambda d: _entry(d, "max_share_rate").update(confidence="MAYBE"),
         r"mssp_basic\.yaml: parameters\.max_share_rate\.entries\.0\.confidence"),
        ("mssp_basic.yaml", lambda d: d["parameters"].update(bogus_rate=d["parameters"]["savings_cap"]),
         r"mssp_basic\.yaml: parameters\.bogus_rate: unknown parameter"),
        ("mssp_basic.yaml", lambda d: _entry(d, "quality_mode").update(value="vibes"),
         r"quality_mode\.entries\[0\]\.value: 'vibes' is not one of"),
        ("mssp_basic.yaml", lambda d: _entry(d, "max_share_rate").update(tracks=["BASIC_Q"]),
         r"max_share_rate\.entries\[0\]\.tracks: unknown track 'BASIC_Q'"),
        ("mssp_basic.yaml", lambda d: d["parameters"].pop("shared_loss_rate"),
         r"mssp_basic\.yaml: BASIC_C 2019: missing parameter\(s\) shared_loss_rate"),
        ("mssp_basic.yaml", lambda d: _entry(d, "savings_cap").update(to=2018),
         r"'to' 2018 is before 'from' 2019"),
        ("mssp_enhanced.yaml", lambda d: d["tracks"]["ENHANCED"].pop("risk"),
         r"mssp_enhanced\.yaml: tracks\.ENHANCED\.risk: Field required"),
        ("reach.yaml", lambda d: _entry(d, "corridors").update(value=[{"upper": 0.05, "share": 0.5}]),
         r"corridors\.entries\[0\]\.value: the last band must be open-ended"),
        ("mssp_program.yaml", lambda d: _entry(d, "msr_scale")["brackets"].pop(3),
         r"mssp_program\.yaml: parameters\.msr_scale\.entries\[0\]\.value: brackets must be contiguous"),
        ("mssp_legacy.yaml", lambda d: d["parameters"]["max_share_rate"]["entries"].append(
            dict(_entry(d, "max_share_rate"))),
         r"max_share_rate\.entries\[4\]: overlaps entries\[0\]"),
    ],
)
def test_malformed_file_is_refused_naming_file_key_and_problem(tmp_path, file, mutate, message):
    d = _broken_copy(tmp_path, file, mutate)
    with pytest.raises(CatalogError, match=message):
        load_catalog(d)


def test_not_yaml_and_empty_directory_are_refused(tmp_path):
    d = tmp_path / "tracks"
    shutil.copytree(TRACKS_DIR, d)
    (d / "reach.yaml").write_text("kind: tracks\nprogram: [unclosed\n")
    with pytest.raises(CatalogError, match=r"reach\.yaml: not valid YAML at line \d+"):
        load_catalog(d)
    (d / "reach.yaml").write_text("- just\n- a list\n")
    with pytest.raises(CatalogError, match=r"reach\.yaml: top level must be a mapping"):
        load_catalog(d)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match="no track parameter files"):
        load_catalog(empty)


def test_cli_tracks_prints_catalog(capsys):
    from simulation.cli import main

    assert main(["tracks", "--year", "2024"]) == 0
    out = capsys.readouterr().out
    assert "BASIC_E" in out and "425.605(d)(1)(v)(A)" in out and "TRACK_1 " not in out
    assert main(["tracks", "--track", "NOPE"]) == 2
    assert "unknown track 'NOPE'" in capsys.readouterr().err
