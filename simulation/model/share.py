"""Shareable links: a scenario packed into a short, URL-safe token, and back.

The token is ``urlsafe_base64(zlib(JSON))`` without padding, of a small payload::

    {"v": 1, "sv": 1, "r": "0.1.0+5ffded1bdf1f", "df": "1a2b3c4d", "s": {...}}

``v`` is the link format, ``sv`` the scenario schema version, ``r`` the rules version it was
made under (:func:`simulation.rules.catalog.rules_version`), ``df`` a fingerprint of the default
scenario and ``s`` only what differs from the defaults (a default track list is left out; a
track that only names its code is just the code). Fields whose defaults come from the
calibration file are always written out, so a re-calibration never changes what a link
means; if the other defaults have changed since the link was made, decoding says so.

A typical scenario gives a token of a few hundred characters (the whole default scenario,
if spelled out, would be about 860). Decoding restores exactly the same scenario, seed and
trials, hence the same numbers. Anything that is not a valid token is answered with a
:class:`~simulation.model.scenario.ScenarioError` in plain words, never a traceback; nothing in a
token is evaluated or unpickled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from ..rules.catalog import rules_version
from ..text import printable, unknown_fields
from .io import rules_warning
from .scenario import SCHEMA_VERSION, Scenario, ScenarioError, TrackChoice, validate_scenario

LINK_VERSION = 1
#: The query parameter that carries the token in a dashboard URL (``?s=...``).
QUERY_PARAM = "s"
MAX_TOKEN_CHARS = 10_000
MAX_PAYLOAD_BYTES = 200_000
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_DAMAGED = ("the link is damaged or incomplete ({why}); copy the whole link again, or ask for a "
            "new one")


# --------------------------------------------------------------------------- defaults


@lru_cache(maxsize=1)
def _calibrated_paths() -> frozenset[tuple[str, str]]:
    """(section, field) pairs whose default comes from the calibration file."""
    out = set()
    for section, info in Scenario.model_fields.items():
        model = info.annotation
        for name, sub in getattr(model, "model_fields", {}).items():
            extra = sub.json_schema_extra if isinstance(sub.json_schema_extra, dict) else {}
            if "default_source" in extra:
                out.add((section, name))
    return frozenset(out)


def _defaults() -> dict[str, Any]:
    return Scenario().model_dump(mode="json")


def defaults_fingerprint() -> str:
    """8 hex digits identifying the non-calibrated default scenario."""
    d = _defaults()
    for section, name in _calibrated_paths():
        d[section].pop(name, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]


def _compact_track(t: dict[str, Any]) -> Any:
    base = TrackChoice(track=t["track"]).model_dump(mode="json")
    diff = {k: v for k, v in t.items() if k == "track" or v != base.get(k)}
    return diff["track"] if len(diff) == 1 else diff


def compact(scenario: Scenario) -> dict[str, Any]:
    """The fields of ``scenario`` that differ from the defaults (plus the calibrated ones)."""
    full = scenario.model_dump(mode="json")
    default = _defaults()
    calibrated = _calibrated_paths()
    out: dict[str, Any] = {}
    for key, value in full.items():
        if key == "schema_version":
            continue
        if key == "tracks":
            if value != default["tracks"]:
                out["tracks"] = [_compact_track(t) for t in value]
        elif isinstance(value, dict):
            sub = {k: v for k, v in value.items()
                   if v != default[key].get(k) or (key, k) in calibrated}
            if sub:
                out[key] = sub
        elif value != default[key]:
            out[key] = value
    return out


def expand(data: dict[str, Any]) -> dict[str, Any]:
    """A full scenario dict from :func:`compact` output (not yet validated)."""
    full = _defaults()
    problems = []
    unknown = [k for k in data if k not in full]
    if unknown:
        problems.append(unknown_fields(unknown))
    for key, value in data.items():
        if key not in full:
            continue
        elif key == "tracks":
            if not isinstance(value, list):
                problems.append("tracks: expected a list")
                continue
            full["tracks"] = [{"track": t} if isinstance(t, str) else t for t in value]
        elif isinstance(full[key], dict) and isinstance(value, dict):
            full[key] = {**full[key], **value}
        else:
            full[key] = value
    if problems:
        raise ScenarioError(["the link's scenario is invalid: " + "; ".join(problems)])
    return full


# --------------------------------------------------------------------------- encode / decode


def encode_scenario(scenario: Scenario) -> str:
    """A URL-safe token (``[A-Za-z0-9_-]``) holding ``scenario`` and the rules version."""
    payload = {"v": LINK_VERSION, "sv": SCHEMA_VERSION, "r": rules_version(),
               "df": defaults_fingerprint(), "s": compact(scenario)}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode("ascii")


def _token_from(text: str) -> str:
    """The token itself, from a bare token or a whole URL with ``?s=...``."""
    text = text.strip()
    if "?" in text or "://" in text:
        try:
            query = urlsplit(text).query
        except ValueError:
            raise ScenarioError([_DAMAGED.format(why="it is not a valid web address")]) from None
        values = parse_qs(query).get(QUERY_PARAM)
        if not values:
            raise ScenarioError([f"the address has no scenario in it (no '{QUERY_PARAM}=' part)"])
        return values[0].strip()
    return text


def _inflate(token: str) -> bytes:
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise ScenarioError([_DAMAGED.format(why="it is not valid base64")]) from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise ScenarioError([_DAMAGED.format(why="it could not be unpacked")]) from None
    if inflater.unconsumed_tail:
        raise ScenarioError(["this is not an acosim scenario link (it unpacks to far too much data)"])
    if not inflater.eof:
        raise ScenarioError([_DAMAGED.format(why="it is cut short")])
    return raw


def decode_scenario(token: str) -> tuple[Scenario, list[str]]:
    """The scenario in ``token`` (or in a whole URL carrying ``?s=token``) and warnings.

    Warnings say when the link was made under other rules (accepted: it is run under the
    rules in force now) or other defaults. Raises :class:`ScenarioError` with a plain
    message for anything that is not a valid link.
    """
    if not isinstance(token, str) or not token.strip():
        raise ScenarioError(["the link has no scenario in it"])
    if len(token) > MAX_TOKEN_CHARS:
        raise ScenarioError([f"the link is {len(token):,} characters long; an acosim scenario link is "
                             f"at most {MAX_TOKEN_CHARS:,}"])
    token = _token_from(token)
    if not _TOKEN_CHARS.match(token):
        raise ScenarioError([_DAMAGED.format(why="it has characters a scenario link never has")])
    raw = _inflate(token)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ScenarioError(["this is not an acosim scenario link (its content is not a scenario)"]) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), dict) or "v" not in payload:
        raise ScenarioError(["this is not an acosim scenario link (its content is not a scenario)"])
    version = payload["v"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ScenarioError(["this is not an acosim scenario link (unknown link format)"])
    if version > LINK_VERSION:
        raise ScenarioError([f"this link was made by a newer acosim (link format {version}; this version "
                             f"reads {LINK_VERSION}); update acosim to open it"])
    schema = payload.get("sv", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise ScenarioError([f"this link holds a scenario of schema version {schema!r}; this version of "
                             f"acosim reads schema version {SCHEMA_VERSION}"])
    try:
        scenario = validate_scenario(expand(payload["s"]))
    except ScenarioError as exc:
        if exc.problems and exc.problems[0].startswith("the link's scenario"):
            raise
        raise ScenarioError(["the link's scenario is invalid: " + "; ".join(exc.problems)]) from None
    warnings = []
    rules = payload.get("r")
    warning = rules_warning(rules if isinstance(rules, str) else None, "link")
    if warning:
        warnings.append(warning)
    if payload.get("df") != defaults_fingerprint():
        warnings.append("This link was made when acosim's default inputs were different; inputs the "
                        "link does not set take today's defaults.")
    return scenario, warnings


def share_url(base_url: str, scenario: Scenario) -> str:
    """``base_url`` with the scenario's token in its ``?s=`` query parameter (others kept)."""
    parts = urlsplit(base_url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items() if k != QUERY_PARAM}
    query[QUERY_PARAM] = encode_scenario(scenario)
    return urlunsplit(parts._replace(query=urlencode(query)))


# --------------------------------------------------------------------------- links with snapshots

#: The longest link with snapshots offered (browsers and chat tools handle ~8,000 characters).
MAX_SNAPSHOT_LINK_CHARS = 6_000
#: Snapshots a link carries at most (as many as the Scenarios page keeps).
MAX_LINK_SNAPSHOTS = 8


def _against(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """What ``other`` (a full scenario dict) changes from ``base``: sections field by field."""
    out: dict[str, Any] = {}
    for key, value in other.items():
        if key == "schema_version" or value == base.get(key):
            continue
        if key == "tracks":
            out[key] = [_compact_track(t) for t in value]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = {k: v for k, v in value.items() if v != base[key].get(k)}
        else:
            out[key] = value
    return out


def encode_with_snapshots(scenario: Scenario, snapshots: dict[str, Scenario]) -> str:
    """A token holding ``scenario`` and the named ``snapshots``, each stored as its changes
    from ``scenario`` (so a set of variations costs little). Without snapshots it is exactly
    :func:`encode_scenario`'s token. Raises :class:`ScenarioError` when there are more than
    :data:`MAX_LINK_SNAPSHOTS` or the link would exceed :data:`MAX_SNAPSHOT_LINK_CHARS`."""
    if not snapshots:
        return encode_scenario(scenario)
    if len(snapshots) > MAX_LINK_SNAPSHOTS:
        raise ScenarioError([f"a link carries at most {MAX_LINK_SNAPSHOTS} snapshots and there are "
                             f"{len(snapshots)}; remove some, or save the scenario set as a file"])
    base = scenario.model_dump(mode="json")
    payload = {"v": LINK_VERSION, "sv": SCHEMA_VERSION, "r": rules_version(),
               "df": defaults_fingerprint(), "s": compact(scenario),
               "n": [[str(name), _against(base, snap.model_dump(mode="json"))] for name, snap in snapshots.items()]}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    token = base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode("ascii")
    if len(token) > MAX_SNAPSHOT_LINK_CHARS:
        raise ScenarioError([f"the link with {len(snapshots)} snapshots would be {len(token):,} characters, more "
                             f"than the {MAX_SNAPSHOT_LINK_CHARS:,} a link can safely carry; remove some "
                             "snapshots, or save the scenario set as a file (Scenarios page) and send that"])
    return token


def decode_link(token: str) -> tuple[Scenario, dict[str, Scenario], list[str]]:
    """The scenario, the snapshots (name -> scenario, in their order) and the warnings of a
    link made by :func:`encode_with_snapshots` or :func:`encode_scenario` (no snapshots).
    A snapshot that is no longer valid is left out with a warning naming it."""
    scenario, warnings = decode_scenario(token)
    payload = json.loads(_inflate(_token_from(token)).decode("utf-8"))
    entries = payload.get("n") or []
    snapshots: dict[str, Scenario] = {}
    if not isinstance(entries, list):
        return scenario, snapshots, [*warnings, "The link's snapshots are damaged and were left out."]
    base = scenario.model_dump(mode="json")
    for entry in entries[:MAX_LINK_SNAPSHOTS]:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], dict)):
            warnings.append("One of the link's snapshots is damaged and was left out.")
            continue
        name, changes = " ".join(entry[0].split())[:80], entry[1]
        if printable(name) != name:
            warnings.append("One of the link's snapshots has a name that is not plain text and was left out.")
            continue
        full = {**base, **{k: ({**base[k], **v} if isinstance(base.get(k), dict) and isinstance(v, dict) else v)
                           for k, v in changes.items() if k in base}}
        if "tracks" in changes and isinstance(changes["tracks"], list):
            full["tracks"] = [{"track": t} if isinstance(t, str) else t for t in changes["tracks"]]
        try:
            snapshots[name or f"Snapshot {len(snapshots) + 1}"] = validate_scenario(full)
        except ScenarioError as exc:
            warnings.append(f"The snapshot “{name[:40]}” in the link is invalid and was left out "
                            f"({'; '.join(exc.problems)[:120]}).")
    return scenario, snapshots, warnings
