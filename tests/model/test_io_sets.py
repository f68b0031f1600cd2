"""The scenario-set file (the Scenarios page's "save the scenario set") is an engine format:
simulation.model.io writes and reads it, and acosim reads it (check, simulate a snapshot)."""

from __future__ import annotations

import json

import pytest

from simulation.cli.main import main
from simulation.model.io import (
    SET_FORMAT,
    read_scenario_file,
    read_scenario_set,
    scenario_set_to_json,
)
from simulation.model.scenario import Scenario, ScenarioError, TrackChoice

CURRENT = Scenario(name="Board case", trials=500, tracks=[TrackChoice(track="ENHANCED")])
SNAPS = {"Rural": Scenario(name="Rural", trials=400, tracks=[TrackChoice(track="BASIC_E")]),
         "Big": Scenario(name="Big", trials=300, tracks=[TrackChoice(track="ENHANCED")])}


@pytest.fixture
def set_file(tmp_path):
    p = tmp_path / "set.json"
    p.write_bytes(scenario_set_to_json(CURRENT, SNAPS))
    return p


def test_a_set_round_trips(set_file):
    doc = json.loads(set_file.read_text())
    assert doc["format"] == SET_FORMAT and list(doc["snapshots"]) == ["Rural", "Big"]
    sset = read_scenario_set(doc)
    assert sset.current.scenario == CURRENT
    assert {n: s.scenario for n, s in sset.snapshots.items()} == SNAPS
    assert sset.skipped == [] and sset.listed == 2


def test_a_bad_snapshot_is_left_out_with_its_reason_not_fatal(set_file):
    doc = json.loads(set_file.read_text())
    doc["snapshots"]["Broken"] = {"aco": {"beneficiaries": -5}}
    doc["snapshots"]["\ud800"] = doc["snapshots"]["Rural"]
    sset = read_scenario_set(doc)
    assert list(sset.snapshots) == ["Rural", "Big"]
    reasons = dict(sset.skipped)
    assert "beneficiaries" in reasons["Broken"]
    assert reasons["\\ud800"] == "its name is not plain text"


def test_a_broken_set_names_every_problem():
    with pytest.raises(ScenarioError) as err:
        read_scenario_set({"format": SET_FORMAT, "format_version": 9, "extra": 1})
    text = " ".join(err.value.problems)
    assert "format_version 9" in text and "current: missing" in text and "extra" in text


def test_read_scenario_file_takes_the_current_scenario_or_a_named_snapshot(set_file):
    assert read_scenario_file(set_file) == CURRENT
    assert read_scenario_file(set_file, snapshot="Rural") == SNAPS["Rural"]
    with pytest.raises(ScenarioError, match=r"no snapshot named 'Nope'.*Rural, Big"):
        read_scenario_file(set_file, snapshot="Nope")


def test_acosim_checks_a_set_and_simulates_a_snapshot(set_file, capsys):
    assert main(["scenario", "--check", str(set_file)]) == 0
    out = capsys.readouterr().out
    assert "valid scenario set; current 'Board case'" in out and "'Rural', 'Big'" in out
    assert main(["simulate", "--scenario", str(set_file), "--snapshot", "Rural", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"] == "Rural" and data["trials"] == 400


def test_snapshot_without_a_set_is_a_one_line_error(tmp_path, capsys):
    one = tmp_path / "one.json"
    one.write_text(CURRENT.model_dump_json())
    assert main(["simulate", "--scenario", str(one), "--snapshot", "Rural"]) == 2
    assert "needs a scenario set" in capsys.readouterr().err
