"""The track files' schema: what a file under ``data/tracks/`` may hold, and its checks.

:func:`_validate_file` checks one parsed YAML document against the pydantic models
(``extra=forbid``) and the value checks of every known parameter
(:data:`PARAMETER_CHECKS`, :data:`ELIGIBILITY_CHECKS`); a malformed file is refused with a
:class:`CatalogError` naming the file, the key and the problem.
:mod:`simulation.rules.catalog` loads the files through it and resolves the rules.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Confidence = Literal["REG", "CMS", "SEC", "INF", "PROPOSED"]
CONFIDENCE_MEANING = {
    "REG": "read in the regulation text (42 CFR)",
    "CMS": "a CMS/CMMI document or CMS's published results",
    "SEC": "a secondary source (consultancy, law firm, trade press); an assumption to verify",
    "INF": "inferred from data or arithmetic, not a quoted rule; an assumption",
    "PROPOSED": "in a proposed rule only, not final law (a named policy variant, off by default)",
}

#: Named policy variants: entries marked ``variant: NAME`` apply only when that variant is
#: switched on (``Catalog.rules(..., variant=NAME)``), and win over the baseline entries for
#: the same parameter. Every variant entry carries the confidence label PROPOSED, and only
#: variant entries may (a proposal is not the law in force).
VARIANTS = {
    "CY2027_PROPOSAL": "CY2027 proposal",
}

QUALITY_MODES = ("none", "score_multiplier", "qps_gate", "qps_alt_sliding")
MSR_MODES = ("size_scale", "elected", "none")
LOSS_RATE_MODES = ("none", "fixed", "quality_scaled", "same_as_savings", "corridor")
CAP_STAGES = ("after_sequestration", "on_gross")
#: Where sequestration is taken: from the shared amount after the corridors or sharing rate
#: (MSSP, REACH), or from the gross savings before the corridors (one reading of LEAD).
SEQUESTRATION_STAGES = ("shared_amount", "gross")
#: Where LEAD's administrative add-on is paid: as its own line outside the sharing
#: calculation, or as a benchmark element that then passes through the corridors.
ADD_ON_PLACEMENTS = ("outside_sharing", "in_benchmark")
#: How the minimum-size test counts beneficiaries in the benchmark years.
SIZE_TESTS = ("each_benchmark_year", "third_benchmark_year")
#: How the benchmark is set: "retrospective" (MSSP: trended from history, updated after the
#: year) or "prospective" (REACH and its successors: set before the year, with a discount).
BENCHMARK_KINDS = ("retrospective", "prospective")


class CatalogError(ValueError):
    """A track parameter file is malformed, or a (track, year) cannot be resolved."""


# --------------------------------------------------------------------------- file schema


class _Bracket(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_n: int = Field(ge=0)
    max_n: int | None = None
    msr_low: float = Field(ge=0, le=1)
    msr_high: float = Field(ge=0, le=1)
    confidence: Confidence | None = None
    reference: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Bracket:
        if self.max_n is not None and self.max_n <= self.min_n:
            raise ValueError(f"max_n {self.max_n} must exceed min_n {self.min_n}")
        return self


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    tracks: list[str] | None = None
    from_year: int = Field(alias="from", ge=2012, le=2040)
    to_year: int | None = Field(default=None, alias="to", ge=2012, le=2040)
    value: Any = None
    brackets: list[_Bracket] | None = None
    confidence: Confidence
    reference: str = Field(min_length=3)
    variant: str | None = None

    @model_validator(mode="after")
    def _years(self) -> _Entry:
        if self.to_year is not None and self.to_year < self.from_year:
            raise ValueError(f"'to' {self.to_year} is before 'from' {self.from_year}")
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; known: {', '.join(VARIANTS)}")
        if (self.variant is not None) != (self.confidence == "PROPOSED"):
            raise ValueError("an entry of a policy variant has the confidence label PROPOSED, and only such an entry")
        return self


class _Parameter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=3)
    unit: str = Field(min_length=1)
    entries: list[_Entry] = Field(min_length=1)


class _TrackMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    short_label: str = Field(min_length=1, max_length=24)
    risk: Literal["one_sided", "two_sided"]
    first_year: int = Field(ge=2012, le=2040)
    last_year: int = Field(ge=2012, le=2040)
    summary: str
    #: last agreement start year the track accepted (None: open through its last year)
    last_agreement_start: int | None = Field(default=None, ge=2012, le=2040)
    #: the citation for the agreement start years the track accepted (first_year to
    #: last_agreement_start or last_year), quoted when a start year is closed
    window_reference: str | None = Field(default=None, min_length=3)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: "eligibility": entry rules by agreement start year (data/tracks/eligibility.yaml),
    #: read by simulation/model/eligibility.py; its parameters are checked by ELIGIBILITY_CHECKS
    kind: Literal["program", "tracks", "eligibility"]
    program: Literal["MSSP", "NGACO", "REACH", "LEAD"]
    description: str | None = None
    tracks: dict[str, _TrackMeta] = Field(default_factory=dict)
    parameters: dict[str, _Parameter]


# --------------------------------------------------------------------------- value checks


def _is_fraction(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0


def _check_fraction(v: Any) -> str | None:
    return None if _is_fraction(v) else f"{v!r} is not a fraction between 0 and 1"


def _check_fraction_or_list(v: Any) -> str | None:
    if isinstance(v, list):
        if not v:
            return "empty list"
        bad = [x for x in v if not _is_fraction(x)]
        return f"{bad[0]!r} is not a fraction between 0 and 1" if bad else None
    return _check_fraction(v)


def _check_range(v: Any) -> str | None:
    if not (isinstance(v, list) and len(v) == 2 and all(_is_fraction(x) for x in v)):
        return f"{v!r} is not a [low, high] pair of fractions"
    return None if v[0] <= v[1] else f"range {v!r} has low above high"


def _check_enum(options: tuple[str, ...]):
    def check(v: Any) -> str | None:
        return None if v in options else f"{v!r} is not one of {', '.join(options)}"

    return check


def _check_year_or_null(v: Any) -> str | None:
    ok = v is None or (isinstance(v, int) and not isinstance(v, bool) and 2012 <= v <= 2040)
    return None if ok else f"{v!r} is not a year (2012-2040) or null"


def _check_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"{v!r} is not true or false"


def _check_int(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return None if ok else f"{v!r} is not a positive whole number"


def _check_percentile(v: Any) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 100
    return None if ok else f"{v!r} is not a percentile (0-100)"


def _check_fraction_or_null(v: Any) -> str | None:
    return None if v is None else _check_fraction(v)


def _check_points_or_null(v: Any) -> str | None:
    ok = v is None or (isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 100)
    return None if ok else f"{v!r} is not a score from 0 to 100 or null (not published)"


def _check_elections(v: Any) -> str | None:
    if not isinstance(v, list) or not v:
        return f"{v!r} is not a list of MSR choices"
    bad = [x for x in v if not (x is None or (_is_fraction(x) and x <= 0.05))]
    return f"{bad[0]!r} is not an MSR choice (0-5% or null for size-based)" if bad else None


def _check_corridors(v: Any) -> str | None:
    if not isinstance(v, list) or not v:
        return "corridors must be a non-empty list of {upper, share}"
    prev = 0.0
    for i, band in enumerate(v):
        if not isinstance(band, dict) or set(band) != {"upper", "share"}:
            return f"band {i} must have exactly the keys upper and share"
        if not _is_fraction(band["share"]):
            return f"band {i} share {band['share']!r} is not a fraction"
        upper = band["upper"]
        if upper is None:
            if i != len(v) - 1:
                return f"band {i} is open-ended but not last"
        elif not _is_fraction(upper) or upper <= prev:
            return f"band {i} upper {upper!r} must be a fraction above {prev}"
        else:
            prev = upper
    if v[-1]["upper"] is not None:
        return "the last band must be open-ended (upper: null)"
    return None


#: Every parameter the engine knows: its value check. A file naming any other parameter is
#: refused, and every name here is consumed by :class:`TrackRules` (tested).
PARAMETER_CHECKS = {
    "max_share_rate": _check_fraction,
    "quality_mode": _check_enum(QUALITY_MODES),
    "savings_cap": _check_fraction,
    "savings_cap_range": _check_range,
    "savings_cap_stage": _check_enum(CAP_STAGES),
    "msr_mode": _check_enum(MSR_MODES),
    "loss_rate_mode": _check_enum(LOSS_RATE_MODES),
    "shared_loss_rate": _check_fraction,
    "loss_rate_quality_coefficient": _check_fraction,
    "loss_rate_floor": _check_fraction,
    "loss_rate_ceiling": _check_fraction,
    "loss_limit_revenue": _check_fraction,
    "loss_limit_benchmark": _check_fraction_or_list,
    "low_revenue_exception_from_agreement_year": _check_year_or_null,
    "acpt_loss_protection_from_agreement_year": _check_year_or_null,
    "first_year_reporting_standard": _check_bool,
    "benchmark_discount": _check_fraction,
    "benchmark_discount_range": _check_range,
    "quality_withhold": _check_fraction,
    "quality_withhold_in_settlement": _check_bool,
    "benchmark_kind": _check_enum(BENCHMARK_KINDS),
    "regional_blend_weight": _check_fraction,
    "benchmark_calibration": _check_enum(("REACH_GLOBAL", "REACH_PROFESSIONAL")),
    "corridors": _check_corridors,
    "sequestration_rate": _check_fraction,
    "msr_scale": None,  # brackets, checked by the schema and _check_scale
    "msr_election_options": _check_elections,
    "minimum_assigned_beneficiaries": _check_int,
    "quality_standard_percentile": _check_percentile,
    # LEAD (policy-2027.md section 1) and the settlement options it brings
    "benchmark_discount_higher_spending": _check_fraction,
    "admin_add_on": _check_fraction,
    "admin_add_on_placement": _check_enum(ADD_ON_PLACEMENTS),
    "sequestration_stage": _check_enum(SEQUESTRATION_STAGES),
    "loss_corridors": _check_corridors,
    "minimum_beneficiaries_high_needs": _check_int,
    "minimum_beneficiaries_new_entrant": _check_int,
    # MSSP under the CY2026 final rule and the CY2027 proposal (policy-2027.md section 2)
    "minimum_beneficiaries_test": _check_enum(SIZE_TESTS),
    "one_sided_years_limit": _check_int,
    "health_equity_quality_bonus": _check_bool,
    "quality_standard_score": _check_points_or_null,
    "prior_savings_adjustment_share": _check_fraction,
    "regional_weight_cap_lower": _check_fraction,
    "acpt_guardrail_below": _check_fraction_or_null,
    "acpt_guardrail_above": _check_fraction_or_null,
    "prepaid_shared_savings": _check_bool,
}

def _check_track_codes(v: Any) -> str | None:
    ok = isinstance(v, list) and v and all(isinstance(x, str) and x for x in v)
    return None if ok else f"{v!r} is not a non-empty list of track codes"


#: The parameters of an eligibility file (entries by agreement start year); the track codes
#: they list must be tracks of the catalog (checked once every file is loaded).
ELIGIBILITY_CHECKS = {
    "low_revenue_threshold": _check_fraction,
    "inexperienced_tracks": _check_track_codes,
    "experienced_low_revenue_tracks": _check_track_codes,
    "experienced_high_revenue_tracks": _check_track_codes,
    "stay_at_level_a": _check_bool,
}

#: Parameters resolved by the agreement's start year rather than the performance year (their
#: descriptions say so): look them up with ``Catalog.lookup(name, track, start_year)``.
BY_AGREEMENT_START = ("minimum_beneficiaries_test", "one_sided_years_limit", "acpt_guardrail_above",
                      "prior_savings_adjustment_share", "regional_weight_cap_lower")


def _check_scale(brackets: list[_Bracket]) -> str | None:
    if not brackets:
        return "msr_scale needs brackets"
    for a, b in itertools.pairwise(brackets):
        if a.max_n is None or b.min_n != a.max_n + 1:
            return f"brackets must be contiguous: row ending {a.max_n} is followed by {b.min_n}"
        if b.msr_low > a.msr_high + 1e-12:
            return f"MSR must not rise with size (row starting {b.min_n})"
    if brackets[-1].max_n is not None:
        return "the last bracket must be open-ended (no max_n)"
    return None


def _validate_file(path: Path, raw: Any) -> _File:
    """Validate one parsed YAML document; errors name the file, the key and the problem."""
    name = path.name
    if not isinstance(raw, dict):
        raise CatalogError(f"{name}: top level must be a mapping, got {type(raw).__name__}")
    try:
        spec = _File.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CatalogError(f"{name}: {loc}: {err['msg']}") from None
    if spec.kind == "tracks" and not spec.tracks:
        raise CatalogError(f"{name}: tracks: a tracks file must list at least one track")
    if spec.kind == "eligibility" and spec.tracks:
        raise CatalogError(f"{name}: tracks: an eligibility file lists no tracks (it names them in its rules)")
    checks = ELIGIBILITY_CHECKS if spec.kind == "eligibility" else PARAMETER_CHECKS
    for code, meta in spec.tracks.items():
        if meta.last_year < meta.first_year:
            raise CatalogError(f"{name}: tracks.{code}.last_year: before first_year")
    for pname, param in spec.parameters.items():
        if pname not in checks:
            raise CatalogError(f"{name}: parameters.{pname}: unknown parameter")
        check = checks[pname]
        seen: dict[tuple[str, int, str | None], int] = {}
        for i, entry in enumerate(param.entries):
            where = f"{name}: parameters.{pname}.entries[{i}]"
            if pname == "msr_scale":
                problem = _check_scale(entry.brackets or [])
            elif entry.brackets is not None:
                problem = "brackets are only allowed for msr_scale"
            else:
                problem = check(entry.value) if check else None
            if problem:
                raise CatalogError(f"{where}.value: {problem}")
            for t in entry.tracks or ["*"]:
                if t != "*" and t not in spec.tracks:
                    raise CatalogError(f"{where}.tracks: unknown track {t!r} in this file")
                key = (t, entry.from_year, entry.variant)
                if key in seen:
                    raise CatalogError(
                        f"{where}: overlaps entries[{seen[key]}] (same track {t} and 'from' year)"
                    )
                seen[key] = i
            _check_overlap(where, param.entries, i)
    return spec


def _check_overlap(where: str, entries: list[_Entry], i: int) -> None:
    a = entries[i]
    a_end = a.to_year if a.to_year is not None else math.inf
    for j in range(i):
        b = entries[j]
        if a.variant != b.variant:
            continue
        common = set(a.tracks or ["*"]) & set(b.tracks or ["*"])
        if not common:
            continue
        b_end = b.to_year if b.to_year is not None else math.inf
        if a.from_year <= b_end and b.from_year <= a_end and a.from_year == b.from_year:
            raise CatalogError(f"{where}: overlaps entries[{j}] for {sorted(common)[0]}")
