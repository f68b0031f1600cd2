"""Track catalog: policy parameters as data, each value with its years, unit and citation.

The YAML files under ``data/tracks/`` hold every settlement parameter of every risk track.
Each parameter is a list of *entries*; an entry gives a value for some tracks over a span of
performance years, with a citation and a confidence label (REG, CMS, SEC, INF as in
``settlement-rules.md``). :func:`load_catalog` validates the files (a malformed file is
refused with a message naming the file, the key and the problem) and
:meth:`Catalog.rules` resolves one (track, year) pair into a flat, hashable
:class:`TrackRules` that the settlement engine consumes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from .schema import (
    ELIGIBILITY_CHECKS,
    PARAMETER_CHECKS,
    VARIANTS,
    CatalogError,
    _check_track_codes,
    _Entry,
    _Parameter,
    _validate_file,
)

DATA_DIR = Path(os.environ.get("ACOSIM_DATA_DIR", Path(__file__).resolve().parents[2] / "data"))
TRACKS_DIR = DATA_DIR / "tracks"


# --------------------------------------------------------------------------- resolved rules


@dataclass(frozen=True)
class MsrBracket:
    """One row of the MSR table: linear from ``msr_low`` at ``min_n`` to ``msr_high`` at ``max_n``."""

    min_n: int
    max_n: int | None
    msr_low: float
    msr_high: float


@dataclass(frozen=True)
class Corridor:
    """A REACH risk corridor: the ACO keeps ``share`` of gross results up to ``upper`` x benchmark."""

    upper: float | None
    share: float


@dataclass(frozen=True)
class TrackRules:
    """Every settlement parameter of one track in one performance year, resolved and flat.

    Frozen and hashable, so it can key caches. ``sources`` maps each parameter name to its
    (citation, confidence label) for explanations and exports.
    """

    track: str
    year: int
    program: str
    label: str
    risk: Literal["one_sided", "two_sided"]
    max_share_rate: float
    quality_mode: str
    msr_mode: str
    loss_rate_mode: str
    sequestration_rate: float
    savings_cap: float | None = None
    savings_cap_range: tuple[float, float] | None = None
    savings_cap_stage: str = "after_sequestration"
    shared_loss_rate: float | None = None
    loss_rate_quality_coefficient: float | None = None
    loss_rate_floor: float | None = None
    loss_rate_ceiling: float | None = None
    loss_limit_revenue: float | None = None
    loss_limit_benchmark: tuple[float, ...] | None = None
    low_revenue_exception_from_agreement_year: int | None = None
    acpt_loss_protection_from_agreement_year: int | None = None
    first_year_reporting_standard: bool = False
    benchmark_discount: float = 0.0
    benchmark_discount_range: tuple[float, float] | None = None
    quality_withhold: float = 0.0
    quality_withhold_in_settlement: bool = True
    benchmark_kind: str = "retrospective"
    regional_blend_weight: float | None = None
    benchmark_calibration: str | None = None
    corridors: tuple[Corridor, ...] | None = None
    msr_scale: tuple[MsrBracket, ...] | None = None
    msr_election_options: tuple[float | None, ...] | None = None
    minimum_assigned_beneficiaries: int | None = None
    quality_standard_percentile: float | None = None
    benchmark_discount_higher_spending: float | None = None
    admin_add_on: float = 0.0
    admin_add_on_placement: str = "outside_sharing"
    sequestration_stage: str = "shared_amount"
    loss_corridors: tuple[Corridor, ...] | None = None
    minimum_beneficiaries_high_needs: int | None = None
    minimum_beneficiaries_new_entrant: int | None = None
    minimum_beneficiaries_test: str | None = None
    one_sided_years_limit: int | None = None
    health_equity_quality_bonus: bool | None = None
    quality_standard_score: float | None = None
    prior_savings_adjustment_share: float | None = None
    regional_weight_cap_lower: float | None = None
    acpt_guardrail_below: float | None = None
    acpt_guardrail_above: float | None = None
    prepaid_shared_savings: bool | None = None
    #: the policy variant these rules were resolved under (None: the law in force)
    variant: str | None = field(default=None, compare=False)
    sources: tuple[tuple[str, str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def two_sided(self) -> bool:
        return self.risk == "two_sided"

    def source(self, name: str) -> str:
        """The citation of parameter ``name`` with its confidence label, e.g. '42 CFR 425.610(d) [REG]'."""
        for key, ref, conf in self.sources:
            if key == name:
                return f"{ref} [{conf}]"
        return ""

    def confidence(self, name: str) -> str:
        for key, _ref, conf in self.sources:
            if key == name:
                return conf
        return ""

    @property
    def proposed(self) -> tuple[str, ...]:
        """The parameters set by a proposed rule (confidence PROPOSED), in catalog order."""
        return tuple(key for key, _ref, conf in self.sources if conf == "PROPOSED")

    def discount_for(self, higher_spending: bool) -> float:
        """The benchmark discount of an ACO of this spending class (LEAD Global: 3% for a
        lower-spending ACO; the higher-spending schedule otherwise; one rate elsewhere)."""
        if higher_spending and self.benchmark_discount_higher_spending is not None:
            return self.benchmark_discount_higher_spending
        return self.benchmark_discount

    def msr_for_size(self, n: Any):
        """Size-based MSR for ``n`` assigned beneficiaries (scalar or array)."""
        import numpy as np  # local: keeps catalog import light for the CLI

        if not self.msr_scale:
            raise CatalogError(f"{self.track} {self.year}: no MSR scale in the catalog")
        n = np.asarray(n, dtype=float)
        lows = np.array([b.min_n for b in self.msr_scale], dtype=float)
        idx = np.clip(np.searchsorted(lows, n, side="right") - 1, 0, len(lows) - 1)
        min_n = lows[idx]
        max_n = np.array([b.max_n if b.max_n is not None else b.min_n + 1 for b in self.msr_scale])[idx]
        lo = np.array([b.msr_low for b in self.msr_scale])[idx]
        hi = np.array([b.msr_high for b in self.msr_scale])[idx]
        frac = np.clip((n - min_n) / (max_n - min_n), 0.0, 1.0)
        # below the first row the scale is unknown (docs/msr-scale.md): no MSR
        return np.where(n < lows[0], np.nan, lo + (hi - lo) * frac)


_RULE_FIELDS = {f.name for f in fields(TrackRules)}


@dataclass(frozen=True)
class TrackInfo:
    """Catalog metadata of one track."""

    code: str
    label: str
    short_label: str
    program: str
    risk: str
    first_year: int
    last_year: int
    summary: str
    file: str
    last_agreement_start: int | None = None
    window_reference: str | None = None

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    def open_to(self, start_year: int) -> bool:
        """Whether an agreement starting in ``start_year`` can take this track."""
        last = self.last_agreement_start if self.last_agreement_start is not None else self.last_year
        return self.first_year <= start_year <= last

    @property
    def last_start(self) -> int:
        """The last agreement start year the track accepted."""
        return self.last_agreement_start if self.last_agreement_start is not None else self.last_year


@dataclass
class _LoadedParam:
    name: str
    file: str
    spec: _Parameter


class Catalog:
    """All track parameter files, validated; resolves (track, year) into :class:`TrackRules`."""

    def __init__(
        self,
        tracks: dict[str, TrackInfo],
        params: dict[str, list[_LoadedParam]],
        file_program: dict[str, str],
        eligibility: dict[str, _LoadedParam] | None = None,
    ):
        self.tracks = tracks
        self._params = params
        self._file_program = file_program
        self._eligibility = eligibility or {}

    def description(self, name: str, track: str, year: int) -> str:
        """The plain-language description of parameter ``name`` as the file that sets it for
        ``track`` in ``year`` words it (``name`` if no file does)."""
        found = self.lookup(name, track, year)
        return name if found is None else " ".join(found[0].spec.description.split())

    def unit(self, name: str) -> str:
        """The unit of parameter ``name`` as the files give it ('' if unknown)."""
        loaded = self._params.get(name)
        return loaded[0].spec.unit if loaded else ""

    # -- resolution -------------------------------------------------------------------
    def _entries_for(self, name: str, track: str, program: str):
        for loaded in self._params.get(name, []):
            owner = self._file_program.get(loaded.file)
            for i, entry in enumerate(loaded.spec.entries):
                if entry.tracks is None:
                    if owner != program:
                        continue
                elif track not in entry.tracks:
                    continue
                yield loaded, i, entry

    def lookup(self, name: str, track: str, year: int, variant: str | None = None):
        """The entry of parameter ``name`` in force for ``track`` in ``year``, or None.

        Entries of the policy ``variant`` (when one is given) win over the law in force;
        then track-specific entries over program-wide ones; among those, the latest ``from``.
        Entries of other variants never apply.
        """
        info = self.tracks[track]
        best = None
        for loaded, _i, entry in self._entries_for(name, track, info.program):
            if entry.variant is not None and entry.variant != variant:
                continue
            if entry.from_year <= year and (entry.to_year is None or year <= entry.to_year):
                rank = (entry.variant is not None, entry.tracks is not None, entry.from_year)
                if best is None or rank > best[0]:
                    best = (rank, loaded, entry)
        return None if best is None else (best[1], best[2])

    def rules(self, track: str, year: int, variant: str | None = None) -> TrackRules:
        """Resolve every parameter of ``track`` in performance year ``year`` (under the
        named policy ``variant``, if given; see :data:`VARIANTS`)."""
        if track not in self.tracks:
            raise CatalogError(f"unknown track {track!r}; known: {', '.join(self.tracks)}")
        if variant is not None and variant not in VARIANTS:
            raise CatalogError(f"unknown policy variant {variant!r}; known: {', '.join(VARIANTS)}")
        return _rules_cached(self, track, int(year), variant)

    def variant_entries(self, variant: str) -> list[dict[str, Any]]:
        """What a policy variant changes, as the files list it: one row per entry (parameter,
        tracks or program, years, value, citation)."""
        rows = []
        for name, loaded_list in self._params.items():
            for loaded in loaded_list:
                for entry in loaded.spec.entries:
                    if entry.variant == variant:
                        rows.append({
                            "parameter": name, "description": " ".join(loaded.spec.description.split()),
                            "unit": loaded.spec.unit,
                            "tracks": tuple(entry.tracks) if entry.tracks else None,
                            "program": self._file_program[loaded.file],
                            "from": entry.from_year, "to": entry.to_year, "value": entry.value,
                            "reference": entry.reference, "confidence": entry.confidence,
                        })
        return rows

    def _resolve(self, track: str, year: int, variant: str | None = None) -> TrackRules:
        info = self.tracks[track]
        if year not in info.years:
            raise CatalogError(
                f"{track} has no rules for performance year {year} "
                f"(catalog covers {info.first_year}-{info.last_year})"
            )
        values: dict[str, Any] = {}
        sources = []
        for name in PARAMETER_CHECKS:
            found = self.lookup(name, track, year, variant)
            if found is None:
                continue
            _loaded, entry = found
            values[name] = _convert(name, entry)
            sources.append((name, entry.reference, entry.confidence))
        missing = _missing_parameters(info, values)
        if missing:
            raise CatalogError(
                f"{info.file}: {track} {year}: missing parameter(s) {', '.join(missing)}"
            )
        return TrackRules(
            track=track,
            year=year,
            program=info.program,
            label=info.label,
            risk=info.risk,  # type: ignore[arg-type]
            variant=variant,
            sources=tuple(sources),
            **{k: v for k, v in values.items() if k in _RULE_FIELDS},
        )

    def program_parameter(self, program: str, name: str, year: int, variant: str | None = None):
        """A program-wide parameter value (e.g. MSSP sequestration) for ``year``, or None."""
        for track, info in self.tracks.items():
            if info.program == program:
                found = self.lookup(name, track, year, variant)
                return None if found is None else _convert(name, found[1])
        return None

    def track_years(self) -> Iterable[tuple[str, int]]:
        for code, info in self.tracks.items():
            for year in info.years:
                yield code, year

    def parameter_names(self) -> set[str]:
        return set(self._params)

    def eligibility_names(self) -> set[str]:
        return set(self._eligibility)

    def eligibility_first_year(self, name: str, value: Any = None) -> int:
        """The first agreement start year an eligibility parameter has an entry for (with
        ``value``, if given)."""
        if name not in self._eligibility:
            raise CatalogError(f"no eligibility file sets {name!r}")
        years = [e.from_year for e in self._eligibility[name].spec.entries if value is None or e.value == value]
        if not years:
            raise CatalogError(f"{name}: no entry has the value {value!r}")
        return min(years)

    def eligibility_rule(self, name: str, start_year: int) -> tuple[Any, str, str, str]:
        """(value, citation, confidence, program) of the eligibility parameter ``name`` for an
        agreement starting in ``start_year`` (the earliest entry before the first one)."""
        if name not in self._eligibility:
            raise CatalogError(f"no eligibility file sets {name!r}")
        loaded = self._eligibility[name]
        entries = sorted(loaded.spec.entries, key=lambda e: e.from_year)
        found = entries[0]
        for e in entries:
            if e.from_year <= start_year and (e.to_year is None or start_year <= e.to_year):
                found = e
        return found.value, found.reference, found.confidence, self._file_program[loaded.file]


@lru_cache(maxsize=1024)
def _rules_cached(catalog: Catalog, track: str, year: int, variant: str | None = None) -> TrackRules:
    return catalog._resolve(track, year, variant)


_REQUIRED_ALWAYS = ("max_share_rate", "quality_mode", "msr_mode", "loss_rate_mode", "sequestration_rate")


def _missing_parameters(info: TrackInfo, values: Mapping[str, Any]) -> list[str]:
    """Which parameters the track's modes need but the catalog does not give."""
    missing = [k for k in _REQUIRED_ALWAYS if k not in values]
    if missing:
        return missing
    need: list[str] = []
    if values["loss_rate_mode"] != "corridor":
        need += ["savings_cap", "savings_cap_stage"]
    if values["msr_mode"] in ("size_scale", "elected"):
        need.append("msr_scale")
    if values["msr_mode"] == "elected":
        need.append("msr_election_options")
    mode = values["loss_rate_mode"]
    if info.risk == "two_sided" and mode == "none":
        missing.append("loss_rate_mode (a two-sided track needs a loss rate)")
    if info.risk == "one_sided" and mode != "none":
        missing.append("loss_rate_mode (a one-sided track cannot share losses)")
    if mode == "fixed":
        need.append("shared_loss_rate")
    if mode == "quality_scaled":
        need += ["loss_rate_quality_coefficient", "loss_rate_floor", "loss_rate_ceiling"]
    if mode in ("fixed", "quality_scaled"):
        need.append("loss_limit_benchmark")
    if mode == "corridor":
        need.append("corridors")
    if values.get("admin_add_on") and values.get("admin_add_on_placement") is None:
        need.append("admin_add_on_placement")
    missing += [k for k in need if k not in values]
    if not missing and mode == "quality_scaled" and values["loss_rate_floor"] > values["loss_rate_ceiling"]:
        missing.append("loss_rate_floor (above loss_rate_ceiling)")
    return missing


def _convert(name: str, entry: _Entry) -> Any:
    """Turn a validated entry's value into the immutable form :class:`TrackRules` holds."""
    if name == "msr_scale":
        return tuple(MsrBracket(b.min_n, b.max_n, b.msr_low, b.msr_high) for b in entry.brackets or [])
    v = entry.value
    if name in ("corridors", "loss_corridors"):
        return tuple(Corridor(b["upper"], float(b["share"])) for b in v)
    if name == "loss_limit_benchmark":
        return tuple(float(x) for x in (v if isinstance(v, list) else [v]))
    if name in ("savings_cap_range", "benchmark_discount_range"):
        return (float(v[0]), float(v[1]))
    if name == "msr_election_options":
        return tuple(v)
    return v


def load_catalog(directory: Path | str | None = None) -> Catalog:
    """Load and validate every ``*.yaml`` under ``directory`` (default ``data/tracks``)."""
    if directory is None:
        return _load_cached(_DEFAULT_DIR)
    return _load_cached(str(Path(directory).resolve()))


_DEFAULT_DIR = str(TRACKS_DIR.resolve())


@lru_cache(maxsize=8)
def _load_cached(directory: str) -> Catalog:
    paths = sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise CatalogError(f"{directory}: no track parameter files (*.yaml)")
    tracks: dict[str, TrackInfo] = {}
    params: dict[str, list[_LoadedParam]] = {}
    file_program: dict[str, str] = {}
    eligibility: dict[str, _LoadedParam] = {}
    for path in paths:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark else ""
            raise CatalogError(f"{path.name}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{path.name}: cannot be read: {exc}") from None
        spec = _validate_file(path, raw)
        file_program[path.name] = spec.program
        for code, meta in spec.tracks.items():
            if code in tracks:
                raise CatalogError(f"{path.name}: tracks.{code}: already defined in {tracks[code].file}")
            tracks[code] = TrackInfo(
                code, meta.label, meta.short_label, spec.program, meta.risk, meta.first_year, meta.last_year,
                meta.summary, path.name, meta.last_agreement_start, meta.window_reference,
            )
        for pname, param in spec.parameters.items():
            if spec.kind == "eligibility":
                if pname in eligibility:
                    raise CatalogError(f"{path.name}: parameters.{pname}: already set in {eligibility[pname].file}")
                eligibility[pname] = _LoadedParam(pname, path.name, param)
            else:
                params.setdefault(pname, []).append(_LoadedParam(pname, path.name, param))
    for pname, loaded in eligibility.items():
        for i, entry in enumerate(loaded.spec.entries):
            if ELIGIBILITY_CHECKS[pname] is _check_track_codes:
                unknown = [c for c in entry.value if c not in tracks]
                if unknown:
                    raise CatalogError(f"{loaded.file}: parameters.{pname}.entries[{i}].value: "
                                       f"unknown track {unknown[0]!r}")
    catalog = Catalog(tracks, params, file_program, eligibility)
    for code, year in catalog.track_years():
        catalog.rules(code, year)  # every (track, year) must resolve; raises CatalogError
        for variant in VARIANTS:
            catalog.rules(code, year, variant)
    return catalog


def catalog_table(catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """One row per (track, year) with the key parameters and their citations, for printing."""
    catalog = catalog or load_catalog()
    rows = []
    for code, year in catalog.track_years():
        r = catalog.rules(code, year)
        limit = ""
        if r.loss_rate_mode in ("fixed", "quality_scaled"):
            bm = "/".join(f"{x:.1%}" for x in (r.loss_limit_benchmark or ()))
            limit = (f"min({r.loss_limit_revenue:.0%} rev, {bm} bmk)" if r.loss_limit_revenue else f"{bm} bmk")
        if r.loss_rate_mode == "fixed":
            loss = f"{r.shared_loss_rate:.0%}"
        elif r.loss_rate_mode == "quality_scaled":
            loss = f"1-{r.loss_rate_quality_coefficient:.2f}q [{r.loss_rate_floor:.0%},{r.loss_rate_ceiling:.0%}]"
        elif r.loss_rate_mode == "same_as_savings":
            loss = f"{r.max_share_rate:.0%}"
        elif r.loss_rate_mode == "corridor":
            loss = "corridors"
        else:
            loss = "-"
        rows.append({
            "track": code,
            "year": year,
            "risk": r.risk,
            "share": f"{r.max_share_rate:.0%}",
            "quality": r.quality_mode,
            "cap": f"{r.savings_cap:.0%}" if r.savings_cap is not None else "-",
            "msr": r.msr_mode,
            "loss_rate": loss,
            "loss_limit": limit or "-",
            "sequestration": f"{r.sequestration_rate:.0%}",
            "citation": r.source("max_share_rate"),
        })
    return rows


# --------------------------------------------------------------------------- rules version


def rules_version(directory: Path | str | None = None) -> str:
    """A stable identifier of the rules in force: package version plus a hash of the track files.

    ``"0.1.0+3f9c2a1b7d4e"``: the part before ``+`` is the acosim version, the part after the
    first 12 hex digits of a SHA-256 over every ``*.yaml`` file name and its bytes under
    ``directory`` (default ``data/tracks``), in name order. Saved scenarios and share links
    carry it, so a file made under other rules can say so when it is opened again.
    """
    import hashlib

    from .. import __version__

    directory = Path(directory) if directory is not None else TRACKS_DIR
    digest = hashlib.sha256()
    for path in sorted(Path(directory).glob("*.yaml")):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:12]}"
