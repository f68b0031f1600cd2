"""The whole study and its committed outputs (simulation/calibration/study.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulation import calibration as cal
from simulation.calibration import study as study_mod

ROOT = Path(__file__).resolve().parents[2]


def test_study_writes_the_defaults_and_the_write_up(
    real_results, shared_data, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(study_mod, "load_results", lambda data_dir: real_results)
    out, doc = tmp_path / "noise_defaults.json", tmp_path / "docs" / "calibration.md"
    study = cal.calibrate(
        shared_data,
        out=out,
        doc=doc,
        reps=20,
        figures=False,
        quick=True,
        command="acosim calibrate --data X",
    )
    payload = json.loads(out.read_text(encoding="utf-8"))
    _check_payload(payload, doc.read_text(encoding="utf-8"))
    assert payload["generated_by"] == "acosim calibrate --data X"
    assert payload["fitted_on"] == "PY2018-PY2023"
    assert 1.5 < payload["per_beneficiary_cv"]["value"] < 3.0
    assert study["backtest"].metrics["mae_model"] < study["backtest"].metrics["mae_naive"]


def _check_payload(payload: dict, markdown: str) -> None:
    expected = set(cal.DEFAULT_KEYS) | {"fitted_on", "generated_by", "generated_at"}
    assert set(payload) == expected
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', markdown))
    for key in cal.DEFAULT_KEYS:
        entry = payload[key]
        assert set(entry) == {"value", "low", "high", "unit", "source", "note"}, key
        assert all(isinstance(entry[k], float) for k in ("value", "low", "high")), key
        assert entry["low"] <= entry["value"] <= entry["high"], key
        path, anchor = entry["source"].split("#", 1)
        assert path.endswith("calibration.md") and anchor in anchors, key
        assert entry["unit"] and entry["note"], key
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", payload["generated_at"])


def test_committed_defaults_match_the_committed_write_up() -> None:
    path = ROOT / "data" / "calibration" / "noise_defaults.json"
    doc = ROOT / "docs" / "calibration.md"
    if not path.exists() or not doc.exists():
        pytest.skip("run `make calibration` to generate the defaults")
    payload = json.loads(path.read_text(encoding="utf-8"))
    markdown = doc.read_text(encoding="utf-8")
    _check_payload(payload, markdown)
    assert all(
        e["source"].startswith("docs/calibration.md#")
        for k, e in payload.items()
        if k in cal.DEFAULT_KEYS
    )
    for name in re.findall(r"\(figures/calibration/([^)]+\.png)\)", markdown):
        assert (doc.parent / "figures" / "calibration" / name).exists(), name
