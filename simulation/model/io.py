"""Reading and writing scenario files safely: size-limited, JSON only (no eval, no pickle).

A *saved* scenario (:func:`scenario_to_json`) is a small JSON envelope around the scenario::

    {"format": "acosim-scenario", "format_version": 1, "schema_version": 1,
     "rules_version": "0.1.0+5ffded1bdf1f", "created_at": "2026-11-23T16:40:00+00:00",
     "scenario": {...every field of the scenario...}}

:func:`parse_scenario_bytes` reads it back, and also a bare scenario object (the output of
``acosim scenario --example``). Every problem is answered with a :class:`ScenarioError`
whose ``problems`` name the field and what is wrong; things worth knowing but not fatal
(made under other rules, fields left to their defaults) come back as warnings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..rules.catalog import rules_version
from ..text import clip, printable, unknown_fields
from .scenario import SCHEMA_VERSION, Scenario, ScenarioError, validate_scenario

MAX_SCENARIO_BYTES = 1_000_000
SAVED_FORMAT = "acosim-scenario"
SAVED_FORMAT_VERSION = 1
SET_FORMAT = "acosim-scenario-set"   # a scenario and its named snapshots in one file
SET_FORMAT_VERSION = 1
SET_KEYS = ("format", "format_version", "created_at", "current", "snapshots")
MAX_SET_ENTRIES = 50       # snapshots a set file may list at all
MAX_SNAPSHOT_NAME = 80     # characters of a snapshot's name that are kept
_ENVELOPE_KEYS = ("format", "format_version", "schema_version", "rules_version", "created_at", "scenario")
_MAX_DEPTH = 20  # a scenario is 4 levels deep; anything much deeper is not one


@dataclass
class SavedScenario:
    """A scenario read from bytes, with what the file said about itself."""

    scenario: Scenario
    warnings: list[str] = field(default_factory=list)
    rules_version: str | None = None
    created_at: str | None = None


def scenario_to_json(scenario: Scenario, *, created_at: datetime | None = None) -> bytes:
    """The scenario as a saved-file JSON document (UTF-8 bytes), with its schema version, the
    rules version it was made under (:func:`simulation.rules.catalog.rules_version`) and a UTC
    created-at stamp. :func:`parse_scenario_bytes` reads it back to an identical scenario."""
    stamp = (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    doc = {
        "format": SAVED_FORMAT,
        "format_version": SAVED_FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "rules_version": rules_version(),
        "created_at": stamp,
        "scenario": scenario.model_dump(mode="json"),
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- rules versions


def _split_version(v: str) -> tuple[tuple[int, ...] | None, str]:
    package, _, digest = v.partition("+")
    parts = re.findall(r"\d+", package)
    return (tuple(int(p) for p in parts) if parts else None), digest


def rules_warning(saved: str | None, what: str = "scenario") -> str | None:
    """A plain sentence if ``saved`` (a :func:`rules_version` string) is not the rules in
    force now, else None. ``what`` names the thing ('scenario', 'link')."""
    current = rules_version()
    if saved == current:
        return None
    if not saved:
        return (f"This {what} does not say which rules it was made under; it is run under the "
                f"current rules ({current}).")
    old_pkg, _old_hash = _split_version(saved)
    new_pkg, _ = _split_version(current)
    if old_pkg is not None and new_pkg is not None and old_pkg > new_pkg:
        kind = "newer rules"
    elif old_pkg is not None and new_pkg is not None and old_pkg < new_pkg:
        kind = "older rules"
    else:
        kind = "different track rules"
    return (f"This {what} was made under {kind} ({saved}); it is run under the rules in force "
            f"now ({current}), so its results may differ from when it was made.")


# --------------------------------------------------------------------------- parsing


def _load_json(raw: bytes, name: str) -> Any:
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError([f"{name}: file is {len(raw):,} bytes; the limit is {MAX_SCENARIO_BYTES:,} "
                             "(a scenario file is a few kilobytes)"])
    if not raw.strip():
        raise ScenarioError([f"{name}: the file is empty"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError([f"{name}: not a text file (expected UTF-8 JSON)"]) from None

    def constant(token: str) -> Any:
        raise ValueError(f"{token} is not a number JSON allows")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"the key {key!r} appears twice in one object")
            out[key] = value
        return out

    try:
        data: Any = json.loads(text, parse_constant=constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ScenarioError([f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from None
    except ValueError as exc:
        raise ScenarioError([f"{name}: not a valid scenario file: {exc}"]) from None
    except RecursionError:
        raise ScenarioError([f"{name}: not a scenario (the JSON is nested far too deeply)"]) from None
    if _depth(data) > _MAX_DEPTH:
        raise ScenarioError([f"{name}: not a scenario (the JSON is nested far too deeply)"])
    return data


def _depth(x: Any, level: int = 0) -> int:
    if level > _MAX_DEPTH:
        return level
    if isinstance(x, dict):
        return max((_depth(v, level + 1) for v in x.values()), default=level + 1)
    if isinstance(x, list):
        return max((_depth(v, level + 1) for v in x), default=level + 1)
    return level


def _kind(x: Any) -> str:
    return {dict: "a JSON object", list: "a JSON list", str: "a text string", bool: "true/false",
            type(None): "null", int: "a number", float: "a number"}.get(type(x), type(x).__name__)


def _check_schema_version(value: Any, name: str) -> None:
    if value == SCHEMA_VERSION and not isinstance(value, bool):
        return
    if isinstance(value, int) and not isinstance(value, bool) and value > SCHEMA_VERSION:
        raise ScenarioError([f"{name}: schema_version {value} was written by a newer acosim; this version "
                             f"reads schema version {SCHEMA_VERSION} (update acosim to open it)"])
    raise ScenarioError([f"{name}: schema_version {value!r} is not one this version reads "
                         f"(it reads schema version {SCHEMA_VERSION})"])


def _missing_fields(data: dict[str, Any]) -> list[str]:
    """Fields a scenario object leaves out (two levels deep), which take their defaults."""
    missing = []
    for key, info in Scenario.model_fields.items():
        if key == "schema_version":
            continue
        if key not in data:
            missing.append(key)
            continue
        sub = data[key]
        model = info.annotation
        if isinstance(sub, dict) and isinstance(model, type) and hasattr(model, "model_fields"):
            missing += [f"{key}.{k}" for k in model.model_fields if k not in sub]
    return missing


def read_saved(raw: bytes, name: str = "scenario") -> SavedScenario:
    """Parse uploaded or read bytes: a saved scenario (envelope) or a bare scenario object.

    Raises :class:`ScenarioError` for anything that is not a valid scenario: too large, not
    UTF-8 text, not JSON, NaN/Infinity or duplicate keys, not an object, unknown or missing
    envelope fields, an unsupported schema version, values out of range (each field with its
    allowed range). Returns the scenario with warnings: made under other rules (accepted),
    fields absent from the file (set to their defaults).
    """
    data = _load_json(raw, name)
    if not isinstance(data, dict):
        raise ScenarioError([f"{name}: expected a JSON object (a saved acosim scenario), got {_kind(data)}"])
    out_rules: str | None = None
    created: str | None = None
    warnings: list[str] = []
    if data.get("format") == SAVED_FORMAT or ("scenario" in data and "rules_version" in data):
        problems = [f"{name}: {k}: unknown field (a saved scenario has {', '.join(_ENVELOPE_KEYS)})"
                    for k in data if k not in _ENVELOPE_KEYS]
        problems += [f"{name}: {k}: missing" for k in ("scenario", "schema_version") if k not in data]
        if data.get("format", SAVED_FORMAT) != SAVED_FORMAT:
            problems.append(f"{name}: format {data['format']!r} is not {SAVED_FORMAT!r}")
        fmt_version = data.get("format_version", SAVED_FORMAT_VERSION)
        if not isinstance(fmt_version, int) or isinstance(fmt_version, bool) or fmt_version < 1:
            problems.append(f"{name}: format_version {fmt_version!r} is not a positive whole number")
        elif fmt_version > SAVED_FORMAT_VERSION:
            problems.append(f"{name}: format_version {fmt_version} was written by a newer acosim "
                            f"(this version reads {SAVED_FORMAT_VERSION})")
        for key in ("rules_version", "created_at"):
            if key in data and not isinstance(data[key], str | None):
                problems.append(f"{name}: {key}: expected text, got {_kind(data[key])}")
        if problems:
            raise ScenarioError(problems)
        _check_schema_version(data["schema_version"], name)
        out_rules, created = data.get("rules_version"), data.get("created_at")
        scenario_data = data["scenario"]
        if not isinstance(scenario_data, dict):
            raise ScenarioError([f"{name}: scenario: expected a JSON object, got {_kind(scenario_data)}"])
        warning = rules_warning(out_rules)
        if warning:
            warnings.append(warning)
    else:
        scenario_data = data
        if not set(data) & set(Scenario.model_fields):
            what = (f"none of its fields ({', '.join(list(data)[:5])}) is a scenario field" if data
                    else "the JSON object is empty")
            raise ScenarioError([f"{name}: not an acosim scenario: {what} (expected name, aco, "
                                 "performance, costs, market, noise, tracks, trials, seed)"])
    if "schema_version" in scenario_data:
        _check_schema_version(scenario_data["schema_version"], name)
    scenario = validate_scenario(scenario_data)
    missing = _missing_fields(scenario_data)
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        warnings.append(f"Not in the file, so set to the default: {shown}.")
    return SavedScenario(scenario, warnings, out_rules, created)


def parse_scenario_bytes(raw: bytes, name: str = "scenario", warnings: list[str] | None = None) -> Scenario:
    """Validate uploaded or read bytes as a scenario; every problem in one ScenarioError.

    Accepts a saved scenario (:func:`scenario_to_json`) or a bare scenario object. If
    ``warnings`` is a list, non-fatal notes (e.g. made under older rules) are appended to it.
    """
    saved = read_saved(raw, name)
    if warnings is not None:
        warnings.extend(saved.warnings)
    return saved.scenario


# --------------------------------------------------------------------------- scenario sets
# The Scenarios page saves the scenario with its side-by-side snapshots in one file:
#     {"format": "acosim-scenario-set", "format_version": 1, "created_at": "...",
#      "current": {saved scenario}, "snapshots": {"name": {saved scenario}, ...}}


@dataclass
class ScenarioSet:
    """A scenario set read from bytes: the current scenario, the snapshots that could be read
    (name -> saved scenario, in the file's order), those left out with the reason, and how
    many the file listed."""

    current: SavedScenario
    snapshots: dict[str, SavedScenario] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    listed: int = 0

    def skipped_notes(self) -> list[str]:
        """One plain note per snapshot left out, with its reason."""
        return [f"snapshot {n!r} left out: {why}" for n, why in self.skipped]


def scenario_set_to_json(current: Scenario, snapshots: dict[str, Scenario], *,
                         created_at: datetime | None = None) -> bytes:
    """The current scenario and the snapshots in one JSON file (:data:`SET_FORMAT`); each
    entry is a saved scenario as :func:`scenario_to_json` writes it."""
    when = (created_at or datetime.now(UTC)).isoformat(timespec="seconds")
    doc = {"format": SET_FORMAT, "format_version": SET_FORMAT_VERSION, "created_at": when,
           "current": json.loads(scenario_to_json(current, created_at=created_at)),
           "snapshots": {name: json.loads(scenario_to_json(s, created_at=created_at))
                         for name, s in snapshots.items()}}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def is_scenario_set(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("format") == SET_FORMAT


def _plain_name(name: Any) -> bool:
    """A snapshot name is plain, non-empty text (no control or lone surrogate characters)."""
    return isinstance(name, str) and bool(name.strip()) and printable(name) == name


def read_scenario_set(doc: dict[str, Any], name: str = "scenario set") -> ScenarioSet:
    """Read a parsed scenario-set document. Raises :class:`ScenarioError` (every problem) when
    the set itself or its current scenario is unusable; a snapshot that cannot be read is
    left out with its reason (``skipped``), never fatal."""
    unknown = [k for k in doc if k not in SET_KEYS]
    version = doc.get("format_version")
    problems = [unknown_fields(unknown)] if unknown else []
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SET_FORMAT_VERSION:
        problems.append(f"format_version {clip(repr(version), 40)} is not one this version reads "
                        f"({SET_FORMAT_VERSION})")
    snaps_doc = doc.get("snapshots", {})
    if not isinstance(snaps_doc, dict) or len(snaps_doc) > MAX_SET_ENTRIES:
        problems.append(f"snapshots: expected an object of at most {MAX_SET_ENTRIES} named scenarios")
    if "current" not in doc:
        problems.append("current: missing")
    if problems:
        raise ScenarioError(problems)
    current = read_saved(json.dumps(doc["current"]).encode(), f"{name}: current")
    out = ScenarioSet(current, listed=len(snaps_doc))
    for raw_name, entry in snaps_doc.items():
        if not _plain_name(raw_name):
            out.skipped.append((clip(printable(raw_name), MAX_SNAPSHOT_NAME), "its name is not plain text"))
            continue
        label = raw_name[:MAX_SNAPSHOT_NAME]
        try:
            out.snapshots[label] = read_saved(json.dumps(entry).encode(), f"snapshot “{clip(label, 40)}”")
        except ScenarioError as exc:
            out.skipped.append((label, "; ".join(exc.problems)))
    return out


def open_scenario_file(path: str | Path) -> SavedScenario | ScenarioSet:
    """Read a scenario file once: a saved scenario or a bare scenario object
    (:class:`SavedScenario`), or a scenario set (:class:`ScenarioSet`). Size-limited; every
    problem in one ScenarioError."""
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
    doc = _load_json(raw, p.name)
    return read_scenario_set(doc, p.name) if is_scenario_set(doc) else read_saved(raw, p.name)


def read_scenario_file(path: str | Path, warnings: list[str] | None = None, *,
                       snapshot: str | None = None) -> Scenario:
    """The scenario in a saved file, a bare scenario object, or a scenario set (its current
    scenario, or the snapshot named ``snapshot``). Every problem in one ScenarioError."""
    name = Path(path).name
    source = open_scenario_file(path)
    if isinstance(source, ScenarioSet):
        if snapshot is None:
            chosen = source.current
        elif snapshot in source.snapshots:
            chosen = source.snapshots[snapshot]
        else:
            have = ", ".join(clip(n, 40) for n in source.snapshots) or "none"
            raise ScenarioError([f"{name}: no snapshot named {clip(snapshot, 40)!r} (the set has: {have})"])
        extra = source.skipped_notes()
    elif snapshot is not None:
        raise ScenarioError([f"{name}: --snapshot needs a scenario set (saved on the Scenarios page); "
                             "this file holds one scenario"])
    else:
        chosen, extra = source, []
    if warnings is not None:
        warnings += [*chosen.warnings, *extra]
    return chosen.scenario
