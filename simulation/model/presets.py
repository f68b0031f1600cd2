"""Presets: ACO archetypes and worst / realistic / best assumption sets, with their sources.

Each preset is a JSON file in ``data/presets/``: a title, a sentence on what it represents,
where its numbers come from, and a list of scenario fields (dotted paths) each with its
value, a confidence label (REG, CMS, SEC, INF as in the track catalog) and a source::

    {"name": "small_rural", "kind": "archetype", "order": 1, "title": "...",
     "description": "...", "source": "...", "derivation": {...},
     "values": {"aco.beneficiaries": {"value": 6480, "confidence": "CMS",
                                      "source": "median N_AB of the 24 ACOs ..."}, ...}}

An **archetype** sets only the ACO (``aco.*``) and cost (``costs.*``) fields and names the
scenario after itself; an **assumption set** sets only performance, market and noise
fields. :func:`apply_preset` applies one to a scenario (validated); :func:`list_presets`
lists them with their descriptions; :func:`preset_table` shows every value and its source.

The files are not written by hand: ``python -m simulation.calibration.derive_presets --derive
../shared/data --write`` (:mod:`simulation.calibration.derive_presets`) computes every value from the CMS results files (PY2013–PY2023) and the
calibration file (``data/calibration/noise_defaults.json``), plus the few secondary-source
and inferred assumptions defined (with their citations) in this module; the test suite
checks that the files still match what the data give.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..rules.catalog import DATA_DIR
from ..rules.schema import Confidence
from .scenario import Scenario, ScenarioError, set_path, validate_scenario

PRESETS_DIR = DATA_DIR / "presets"
Kind = Literal["archetype", "assumptions"]
#: The scenario sections each kind of preset may set.
SECTIONS: dict[str, tuple[str, ...]] = {"archetype": ("aco", "costs"),
                                        "assumptions": ("performance", "market", "noise")}
#: How the preset files are made (:mod:`simulation.calibration.derive_presets`), as they record it.
DERIVE_COMMAND = "python -m simulation.calibration.derive_presets --derive ../shared/data --write"


class PresetError(ValueError):
    """A preset file is malformed or a preset name is unknown (one-line message)."""


# --------------------------------------------------------------------------- file schema


class PresetValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any
    confidence: Confidence
    source: str = Field(min_length=3)


class Derivation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: str = Field(min_length=3)
    rule: str = Field(min_length=3)
    acos: int | None = Field(None, ge=1)
    generated_by: str = Field(min_length=3)


class Preset(BaseModel):
    """One preset file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Kind
    order: int = 0
    title: str = Field(min_length=3, max_length=80)
    description: str = Field(min_length=10)
    source: str = Field(min_length=10)
    derivation: Derivation | None = None
    entries: dict[str, PresetValue] = Field(alias="values", min_length=1)  # "values" in the file


def _check_paths(preset: Preset) -> list[str]:
    problems = []
    for path in preset.entries:
        section, _, leaf = path.partition(".")
        if section not in SECTIONS[preset.kind]:
            allowed = ", ".join(f"{s}.*" for s in SECTIONS[preset.kind])
            problems.append(f"values.{path}: an {preset.kind} preset sets only {allowed}")
            continue
        model = Scenario.model_fields[section].annotation
        if leaf not in getattr(model, "model_fields", {}):
            problems.append(f"values.{path}: no such scenario field")
    return problems


def _set_values(data: dict[str, Any], values: dict[str, Any]) -> None:
    for path, value in values.items():
        set_path(data, path, value)


def _validate(path: Path, raw: Any) -> Preset:
    try:
        preset = Preset.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise PresetError(f"{path.name}: {where}: {first['msg']}") from None
    if preset.name != path.stem:
        raise PresetError(f"{path.name}: name {preset.name!r} must match the file name {path.stem!r}")
    problems = _check_paths(preset)
    if problems:
        raise PresetError(f"{path.name}: {problems[0]}")
    data = Scenario().model_dump()
    _set_values(data, {k: v.value for k, v in preset.entries.items()})
    try:
        validate_scenario(data)
    except ScenarioError as exc:
        raise PresetError(f"{path.name}: applied to the default scenario: {exc.problems[0]}") from None
    return preset


def load_presets(directory: str | Path | None = None) -> dict[str, Preset]:
    """Every preset in ``directory`` (default ``data/presets``), validated, in listing order
    (archetypes first). Raises :class:`PresetError` naming the file for a malformed one."""
    directory = Path(directory) if directory is not None else PRESETS_DIR
    return dict(_load_cached(str(directory.resolve())))


@lru_cache(maxsize=4)
def _load_cached(directory: str) -> tuple[tuple[str, Preset], ...]:
    presets = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise PresetError(f"{path.name}: cannot be read ({exc})") from None
        except json.JSONDecodeError as exc:
            raise PresetError(f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        presets.append(_validate(path, raw))
    kinds = list(SECTIONS)
    presets.sort(key=lambda p: (kinds.index(p.kind), p.order, p.name))
    return tuple((p.name, p) for p in presets)


def get_preset(name: str) -> Preset:
    presets = load_presets()
    if name not in presets:
        raise PresetError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return presets[name]


def list_presets(kind: Kind | None = None) -> list[dict[str, str]]:
    """Name, kind, title, description and source of each preset (optionally of one kind)."""
    return [{"name": p.name, "kind": p.kind, "title": p.title, "description": p.description,
             "source": p.source}
            for p in load_presets().values() if kind is None or p.kind == kind]


def apply_preset(scenario: Scenario, name: str) -> Scenario:
    """``scenario`` with the preset's fields set (validated). An archetype also renames the
    scenario to its title; an assumption set leaves the name alone. Raises
    :class:`PresetError` for an unknown name, :class:`ScenarioError` if the result is
    invalid (e.g. a shock year after the scenario's last agreement year)."""
    preset = get_preset(name)
    data = scenario.model_dump()
    _set_values(data, {k: v.value for k, v in preset.entries.items()})
    if preset.kind == "archetype":
        data["name"] = preset.title
    return validate_scenario(data)


def preset_table(name: str) -> pd.DataFrame:
    """One row per field the preset sets: path, label, value, unit, confidence, source."""
    preset = get_preset(name)
    rows = []
    for path, v in preset.entries.items():
        section, leaf = path.split(".", 1)
        info = Scenario.model_fields[section].annotation.model_fields[leaf]  # type: ignore[union-attr]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        rows.append({"path": path, "label": extra.get("label", leaf), "value": v.value,
                     "unit": extra.get("unit", ""), "confidence": v.confidence, "source": v.source})
    df = pd.DataFrame(rows)
    df["value"] = pd.Series([r["value"] for r in rows], dtype=object)  # keep 3 as 3 and None as None
    return df


def write_presets(docs: dict[str, dict[str, Any]], directory: str | Path | None = None) -> list[Path]:
    directory = Path(directory) if directory is not None else PRESETS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in docs.items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _validate(path, doc)
        paths.append(path)
    _load_cached.cache_clear()
    return paths
