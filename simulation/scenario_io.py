"""Reading and writing scenario files safely: size-limited, JSON only (no eval, no pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .scenario import Scenario, ScenarioError, validate_scenario

MAX_SCENARIO_BYTES = 1_000_000


def parse_scenario_bytes(raw: bytes, name: str = "scenario") -> Scenario:
    """Validate uploaded or read bytes as a scenario; every problem in one ScenarioError."""
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError([f"{name}: file is {len(raw):,} bytes; the limit is {MAX_SCENARIO_BYTES:,}"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError([f"{name}: not a text file (expected UTF-8 JSON)"]) from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError([f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from None
    return validate_scenario(data)


def read_scenario_file(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError([f"{p.name}: file is {size:,} bytes; the limit is {MAX_SCENARIO_BYTES:,}"])
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ScenarioError([f"{path}: is a folder, not a scenario file"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot be read ({exc.strerror})"]) from None
    return parse_scenario_bytes(raw, p.name)
