"""Share links that carry the side-by-side snapshots, compactly and within a length cap;
links without snapshots are the same tokens as before."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.model import share
from simulation.model.scenario import Scenario, ScenarioError, TrackChoice

ROOT = Path(__file__).resolve().parents[2]
BASE = Scenario(trials=2_000, seed=7)


def variant(name: str, cost: float, beneficiaries: int = 20_000) -> Scenario:
    return BASE.model_copy(update={
        "name": name, "costs": BASE.costs.model_copy(update={"annual_operating_cost": cost}),
        "aco": BASE.aco.model_copy(update={"beneficiaries": beneficiaries})})


def payload(token: str) -> dict:
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))


def test_round_trip_with_snapshots_in_their_order():
    snaps = {"Higher cost": variant("Higher cost", 2.5e6),
             "Bigger": variant("Bigger", 1.5e6, 40_000),
             "Two tracks": BASE.model_copy(update={"name": "Two tracks", "tracks": [
                 TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED", label="Enhanced (ours)")]})}
    token = share.encode_with_snapshots(BASE, snaps)
    scenario, got, warnings = share.decode_link(token)
    assert scenario == BASE and warnings == []
    assert list(got) == list(snaps) and got == snaps
    # each snapshot is stored as its changes from the scenario: one cost, not the whole scenario
    stored = dict(payload(token)["n"])
    assert stored["Higher cost"] == {"name": "Higher cost", "costs": {"annual_operating_cost": 2.5e6}}
    # the scenario-only reader still opens it, as before
    assert share.decode_scenario(token)[0] == BASE


def test_a_link_without_snapshots_is_todays_token():
    token = share.encode_scenario(BASE)
    assert share.encode_with_snapshots(BASE, {}) == token
    assert "n" not in payload(token)
    scenario, snaps, warnings = share.decode_link(token)
    assert scenario == BASE and snaps == {} and warnings == []


def test_too_many_or_too_long_is_refused_in_words(monkeypatch):
    many = {f"S{i}": variant(f"S{i}", 1e6 + i) for i in range(share.MAX_LINK_SNAPSHOTS + 1)}
    with pytest.raises(ScenarioError, match=f"at most {share.MAX_LINK_SNAPSHOTS} snapshots"):
        share.encode_with_snapshots(BASE, many)
    # past the length cap: a plain message naming the cap and the way out (a file)
    monkeypatch.setattr(share, "MAX_SNAPSHOT_LINK_CHARS", 400)
    two = {"A": variant("A", 2e6, 30_000), "B": variant("B", 3e6, 40_000)}
    with pytest.raises(ScenarioError, match="more than the 400 a link can safely carry") as info:
        share.encode_with_snapshots(BASE, two)
    assert "save the scenario set as a file" in info.value.problems[0]
    assert share.encode_with_snapshots(BASE, {}) == share.encode_scenario(BASE)  # never capped


def test_a_damaged_snapshot_is_left_out_with_its_name():
    token = share.encode_with_snapshots(BASE, {"Fine": variant("Fine", 2e6)})
    doc = payload(token)
    doc["n"].append(["Broken", {"aco": {"beneficiaries": -5}}])
    doc["n"].append("not a pair")
    bad = base64.urlsafe_b64encode(zlib.compress(json.dumps(doc).encode())).decode().rstrip("=")
    scenario, snaps, warnings = share.decode_link(bad)
    assert scenario == BASE and list(snaps) == ["Fine"]
    assert any("“Broken”" in w and "left out" in w for w in warnings)
    assert any("damaged" in w for w in warnings)


@settings(max_examples=25, deadline=None)
@given(cost=st.floats(0, 5e7, allow_nan=False), n=st.integers(1_000, 1_000_000), seed=st.integers(0, 2**31))
def test_any_valid_snapshot_survives_the_link(cost, n, seed):
    snap = variant("V", cost, n).model_copy(update={"seed": seed})
    _, snaps, _ = share.decode_link(share.encode_with_snapshots(BASE, {"V": snap}))
    assert snaps == {"V": snap}


def test_the_app_opens_a_link_with_its_snapshots():
    from streamlit.testing.v1 import AppTest

    snaps = {"Higher cost": variant("Higher cost", 2.5e6)}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["s"] = share.encode_with_snapshots(BASE, snaps)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["scenario.current"] == BASE
    assert at.session_state["scenarios.snapshots"] == snaps
    assert any("with 1 snapshot" in m.value for m in at.success)
