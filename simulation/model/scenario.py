"""A scenario: one ACO, its assumptions, and the risk tracks to compare (validated input).

Every field carries a unit, a default, an allowed range and a one-line explanation; the
dashboard builds its help texts from them. Invalid input raises one
:class:`ScenarioError` that lists every bad field with its allowed range, all at once.

Noise and quality defaults come from ``data/calibration/noise_defaults.json`` when the
calibration study has produced it (each value cites its section of docs/calibration.md),
otherwise from the evidence in settlement-rules.md section 8.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..rules.catalog import DATA_DIR, PARAMETER_CHECKS, load_catalog
from ..text import clip, printable, summarise

SCHEMA_VERSION: Final = 1
MAX_TRIALS = 2_000_000
CALIBRATION_FILE = DATA_DIR / "calibration" / "noise_defaults.json"


GLIDE = "BASIC_GLIDE"
BASIC_LEVELS = ("A", "B", "C", "D", "E")


class ScenarioError(ValueError):
    """A scenario failed validation; ``problems`` lists one message per bad field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid scenario: " + "; ".join(problems))


# --------------------------------------------------------------------------- defaults


_FALLBACK = {  # settlement-rules.md section 8; used until data/calibration exists
    "per_beneficiary_cv": (2.15, "settlement-rules.md section 8: CMS MSR table back-solved, CV about 2.15 [INF]"),
    "year_to_year_sd": (0.01, "settlement-rules.md section 8: ACO-level term not shrinking with size, about 1% [INF]"),
    "true_effect_mean": (0.015, "assumption: a modest 1.5% true savings effect [INF]"),
    "true_effect_sd": (0.015, "assumption: uncertainty about the true effect [INF]"),
    "trend_mean": (0.04, "assumption: Medicare FFS per-capita growth about 4% a year [INF]"),
    "trend_sd": (0.015, "assumption [INF]"),
    "quality_mean": (0.85, "assumption [INF]"),
    "quality_sd": (0.08, "assumption [INF]"),
    "qps_probability": (0.9, "assumption [INF]"),
    "shock_multiplier": (2.0, "CMS May 2020 COVID IFC: variation roughly doubles the SD of measured savings [SEC]"),
}


@lru_cache(maxsize=1)
def calibrated_defaults() -> dict[str, tuple[float, str]]:
    """Default value and its source for each calibrated parameter."""
    out = dict(_FALLBACK)
    try:
        doc = json.loads(Path(CALIBRATION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return out
    for key in out:
        entry = doc.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
            low, high = entry.get("low"), entry.get("high")
            span = f" (90% interval {low:.4g}-{high:.4g})" if isinstance(low, int | float) and isinstance(high, int | float) else ""
            out[key] = (float(entry["value"]), f"{entry.get('source', 'docs/calibration.md')}: fitted on CMS results {doc.get('fitted_on', '')}{span}")
    return out


def _default(key: str) -> float:
    return calibrated_defaults()[key][0]


def default_source(key: str) -> str:
    """Where the default of a calibrated parameter comes from (shown in the app)."""
    return calibrated_defaults()[key][1]


def _f(default, ge, le, unit: str, label: str, help_text: str, **extra):
    """A field with its unit, range, label and help text in the JSON schema.

    ``default`` may be the name of a calibrated parameter (see :func:`calibrated_defaults`).
    """
    meta = {"unit": unit, "label": label, **extra}
    if isinstance(default, str) and default in _FALLBACK:
        key = default
        meta["default_source"] = key
        return Field(default_factory=lambda: _default(key), ge=ge, le=le, description=help_text,
                     json_schema_extra=meta)
    return Field(default=default, ge=ge, le=le, description=help_text, json_schema_extra=meta)


_NUMERIC = (int, float, int | None, float | None)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """A number field takes a number: not ``true``, not the text ``" 20000 "`` or
        ``"1_000"`` (pydantic's lax mode would turn each of them into a number)."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and field.annotation in _NUMERIC and (
                isinstance(v, bool | np.bool_ | str | bytes)):
            kind = "true/false" if isinstance(v, bool | np.bool_) else "text"
            raise ValueError(f"expected a number, got {kind} {_shown(v)}")
        return v


# --------------------------------------------------------------------------- sections


class EnrollmentMix(_Model):
    """Shares of assigned beneficiary-years by Medicare enrollment type (sum to 1)."""

    esrd: float = _f(0.01, 0, 1, "share", "ESRD", "Share of beneficiaries with end-stage renal disease; their costs are the most variable.")
    disabled: float = _f(0.12, 0, 1, "share", "Disabled", "Share entitled by disability (under 65).")
    aged_dual: float = _f(0.07, 0, 1, "share", "Aged, dual-eligible", "Share aged 65+ and also on Medicaid.")
    aged_nondual: float = _f(0.80, 0, 1, "share", "Aged, non-dual", "Share aged 65+ and not on Medicaid.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> EnrollmentMix:
        total = self.esrd + self.disabled + self.aged_dual + self.aged_nondual
        if abs(total - 1.0) > 0.005:
            raise ValueError(f"enrollment shares must add up to 1 (they add up to {total:.3f})")
        return self


class AcoProfile(_Model):
    """Who the ACO is."""

    beneficiaries: int = _f(20_000, 1_000, 1_000_000, "beneficiaries", "Assigned beneficiaries",
                            "Medicare beneficiaries assigned to the ACO each year. MSSP requires 5,000; the minimum savings rate shrinks as this grows.")
    benchmark_pc: float = _f(12_500.0, 3_000, 60_000, "$ per beneficiary-year", "Benchmark per beneficiary (year 1)",
                             "CMS's expected Parts A and B spending per assigned beneficiary in the first performance year.")
    participant_revenue: float = _f(60_000_000.0, 0, 50_000_000_000, "$ per year", "Participants' Medicare revenue",
                                    "Total Parts A and B fee-for-service revenue of the ACO's participants (all their Medicare patients). Sets BASIC's loss limit and low/high revenue.")
    revenue_category: Literal["auto", "low", "high"] = Field(
        "auto", description="Low-revenue ACOs (mostly physician-led) bill under 35% of their beneficiaries' total spending; 'auto' decides from the two numbers above.",
        json_schema_extra={"unit": "category", "label": "Revenue category"})
    experienced_with_risk: bool = Field(
        False, description="The ACO or most of its participants already took two-sided risk; an experienced ACO may enter only BASIC Level E or ENHANCED, and only ENHANCED if high-revenue (42 CFR 425.600(d)).",
        json_schema_extra={"unit": "yes/no", "label": "Experienced with two-sided risk"})
    first_agreement: bool = Field(
        True, description="This is the ACO's first MSSP agreement: in its first year, complete quality reporting alone meets the quality standard.",
        json_schema_extra={"unit": "yes/no", "label": "First agreement"})
    agreement_start_year: int = _f(2027, 2012, 2035, "year", "Agreement start year",
                                   "First performance year (the decision on the table: agreements starting 1 January 2027). "
                                   "Rules after the last year in the catalog are carried forward and flagged.")
    agreement_years: int = _f(5, 1, 6, "years", "Agreement length", "Performance years simulated (MSSP agreements run 5 years).")
    spending_vs_region: float = _f(0.95, 0.5, 1.5, "share of regional spending", "Historical spending vs region",
                                   "The ACO's historical spending per beneficiary as a share of its region's (0.95 = 5% below). "
                                   "Below 1 the ACO is lower-spending: MSSP's regional adjustment raises its renewed benchmark and "
                                   "LEAD gives it the 3% discount; above 1 it is higher-spending (LEAD: a smaller discount and a "
                                   "1.5% add-on; MSSP: a negative regional adjustment at renewal). Most MSSP ACOs spend below their region.")
    enrollment_mix: EnrollmentMix | None = Field(
        None, description="Optional enrollment mix; more ESRD and disabled beneficiaries make spending more variable.",
        json_schema_extra={"unit": "shares", "label": "Enrollment mix"})

    @property
    def low_revenue(self) -> bool:
        if self.revenue_category != "auto":
            return self.revenue_category == "low"
        total = self.benchmark_pc * self.beneficiaries
        # 42 CFR 425.20 "low revenue ACO": the threshold is data (data/tracks/eligibility.yaml)
        line = load_catalog().eligibility_rule("low_revenue_threshold", self.agreement_start_year)[0]
        return self.participant_revenue < line * total


class Performance(_Model):
    """How well the ACO itself does."""

    savings_effect: float = _f("true_effect_mean", -0.15, 0.30, "share of benchmark", "True savings effect",
                               "How much the ACO truly lowers spending against what the benchmark expects, once fully ramped up (0.02 = 2%).")
    savings_effect_sd: float = _f("true_effect_sd", 0, 0.20, "share of benchmark", "Uncertainty of the effect",
                                  "How unsure we are of that effect: each simulated future draws its own true effect with this spread.")
    ramp_years: int = _f(2, 0, 6, "years", "Years to full effect",
                         "Care redesign takes time: the effect grows in equal steps to its full size over this many years (0 = from year 1).")
    qps_probability: float = _f("qps_probability", 0, 1, "probability", "Chance of meeting the quality standard",
                                "Each year, the chance the ACO meets CMS's quality performance standard (QPS).")
    alt_qps_probability: float = _f(0.5, 0, 1, "probability", "Chance of the alternative standard",
                                    "From 2023, if the QPS is missed: the chance of still meeting the alternative standard, which pays a reduced rate.")
    quality_mean: float = _f("quality_mean", 0.05, 1, "score 0-1", "Average quality score",
                             "The ACO's typical quality score (0-1); it scales the sharing rate in some years and ENHANCED's loss rate.")
    quality_sd: float = _f("quality_sd", 0, 0.30, "score 0-1", "Quality score spread", "Year-to-year spread of the quality score.")



class Costs(_Model):
    """Money the organisation spends or forgoes beyond the settlement."""

    annual_operating_cost: float = _f(1_500_000.0, 0, 1_000_000_000, "$ per year", "Annual operating cost",
                                      "Running the ACO each year: staff, analytics, care management, reporting.")
    startup_investment: float = _f(1_000_000.0, 0, 1_000_000_000, "$", "Start-up investment",
                                   "One-time cost in the first year (IT, legal, care-management build-out).")
    revenue_loss_share: float = _f(0.0, 0, 1, "share of avoided spending", "Own revenue lost per dollar saved",
                                   "A hospital-led ACO that avoids admissions also loses that revenue: the share of avoided Medicare spending that was the participants' own income.")


class Market(_Model):
    """Spending trends outside the ACO's control."""

    trend_mean: float = _f("trend_mean", -0.05, 0.15, "per year", "Spending trend",
                           "Expected growth of Medicare spending per beneficiary in the ACO's region each year.")
    trend_sd: float = _f("trend_sd", 0, 0.10, "per year", "Trend volatility", "Year-to-year uncertainty of that growth.")
    prospective_gap_mean: float = _f(0.0, -0.05, 0.05, "per year", "Prospective trend error (mean)",
                                     "A prospective trend (the ACPT in 2024+ MSSP benchmarks; NGACO and REACH) minus the trend that actually happens; positive favours the ACO.")
    prospective_gap_sd: float = _f(0.01, 0, 0.05, "per year", "Prospective trend error (spread)",
                                   "Uncertainty of that gap each year.")
    cy2027_proposal: bool = Field(
        False, description="PROPOSED, not final law: apply the CY2027 physician fee schedule proposed rule "
        "(CMS-1848-P) to every track it touches - BASIC Level E shares 60% of savings, the ACPT is held "
        "within -1.0/+1.5 points of national growth, the prior savings adjustment is 75%, ENHANCED's "
        "regional weight is at most 35%, prepaid shared savings end. Off: the law in force (the CY2026 rule).",
        json_schema_extra={"unit": "yes/no", "label": "CY2027 proposed rule (PROPOSED)"})



class Noise(_Model):
    """Random variation in measured spending (simulation/model/noise.py)."""

    per_beneficiary_cv: float = _f("per_beneficiary_cv", 0.2, 6, "coefficient of variation", "Per-beneficiary variation",
                                   "Spread of one beneficiary's yearly cost relative to the average; its effect shrinks with the square root of ACO size.")
    systemic_sd: float = _f("year_to_year_sd", 0, 0.10, "share of benchmark", "ACO-wide variation",
                            "Year-to-year swing of the whole ACO's spending that does not shrink with size (local epidemics, coding, price changes).")
    shock_year: int | None = _f(None, 1, 6, "agreement year", "Shock year",
                                "Optional agreement year with a COVID-like shock that multiplies the variation.")
    shock_multiplier: float = _f("shock_multiplier", 1, 5, "times", "Shock size", "How much the variation grows in the shock year.")



#: Track parameters a scenario may change as a what-if (all fractions between 0 and 1).
OVERRIDABLE = (
    "max_share_rate", "savings_cap", "shared_loss_rate", "loss_rate_quality_coefficient",
    "loss_rate_floor", "loss_rate_ceiling", "loss_limit_revenue", "loss_limit_benchmark",
    "sequestration_rate", "benchmark_discount", "quality_withhold",
    "benchmark_discount_higher_spending", "admin_add_on",
)

MsrChoice = Literal["size", "0", "0.5", "1.0", "1.5", "2.0"]
MSR_CHOICES: dict[str, float | None] = {"size": None, "0": 0.0, "0.5": 0.005, "1.0": 0.01, "1.5": 0.015, "2.0": 0.02}


def _track_codes() -> tuple[str, ...]:
    return (*load_catalog().tracks, GLIDE)


class TrackChoice(_Model):
    """One risk track to simulate, with the ACO's elections."""

    track: str = Field(description="Track code from the catalog (acosim tracks), or BASIC_GLIDE for the BASIC glide path A to E.",
                       json_schema_extra={"unit": "code", "label": "Track"})
    label: str | None = Field(None, max_length=60, description="Name shown in charts (default: the catalog's label).",
                              json_schema_extra={"unit": "text", "label": "Name"})
    msr: MsrChoice = Field("size", description="Minimum savings/loss rate elected for two-sided risk: 0%, 0.5-2.0%, or size-based.",
                           json_schema_extra={"unit": "percent", "label": "MSR/MLR election"})
    ngaco_cap: float = _f(0.15, 0.05, 0.15, "share of benchmark", "NGACO savings/loss cap", "Next Generation ACO: the elected cap on gross savings and losses (5-15%).")
    ngaco_discount: float = _f(0.03, 0.005, 0.045, "share of benchmark", "NGACO benchmark discount", "Next Generation ACO: discount taken off the benchmark (0.5-4.5%).")
    glide_start: Literal["A", "B", "C", "D", "E"] = Field("A", description="BASIC glide path: the level in the first year; it rises one level a year to E.",
                                                        json_schema_extra={"unit": "level", "label": "Glide path start level"})
    stay_at_a: bool = Field(False, description="BASIC glide path, 2024+ agreements: an eligible new ACO may stay at Level A for the whole agreement.",
                            json_schema_extra={"unit": "yes/no", "label": "Stay at Level A"})
    overrides: dict[str, float] = Field(default_factory=dict, description="What-if changes to the track's fractional parameters, e.g. {'max_share_rate': 0.6}.",
                                        json_schema_extra={"unit": "parameters", "label": "What-if parameters"})

    @field_validator("track")
    @classmethod
    def _known(cls, v: str) -> str:
        codes = _track_codes()
        if v not in codes:
            raise ValueError(f"unknown track {_shown(v)}; choose one of {', '.join(codes)}")
        return v

    @field_validator("label")
    @classmethod
    def _label_text(cls, v: str | None) -> str | None:
        return None if v is None else _plain_text(v, "a track name")

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = OVERRIDABLE
        for name, value in v.items():
            if name not in allowed:
                raise ValueError(f"cannot override {name!r}; allowed: {', '.join(allowed)}")
            problem = PARAMETER_CHECKS[name](value)
            if problem or (isinstance(value, float) and math.isnan(value)):
                raise ValueError(f"{name} must be between 0 and 1 (got {value!r})")
        return v

    @property
    def key(self) -> str:
        """A unique, readable name for this choice (track plus any non-default election)."""
        if self.label:
            return self.label
        name = "BASIC glide" if self.track == GLIDE else load_catalog().tracks[self.track].short_label
        extras = []
        if self.track == GLIDE:
            if self.stay_at_a:
                extras.append("stay at A")
            elif self.glide_start != "A":
                extras.append(f"from {self.glide_start}")
        if self.msr != "size" and self.is_two_sided_ever:
            extras.append(f"MSR {self.msr}%")
        if self.overrides:
            extras.append("what-if")
        return f"{name} ({', '.join(extras)})" if extras else name

    @property
    def is_two_sided_ever(self) -> bool:
        if self.track == GLIDE:
            return not self.stay_at_a
        return load_catalog().tracks[self.track].risk == "two_sided"


#: What an ACO entering on 1 January 2027 compares: the tracks open to it. The legacy tracks
#: (Track 1-3, NGACO, REACH) stay in the catalog, selectable for history and teaching.
DEFAULT_TRACKS = (
    "BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E", "ENHANCED", GLIDE,
    "LEAD_PROFESSIONAL", "LEAD_GLOBAL",
)


def _default_tracks() -> list[TrackChoice]:
    return [TrackChoice(track=t) for t in DEFAULT_TRACKS]


class Scenario(_Model):
    """One ACO, its assumptions, and the tracks to compare. See the module docstring."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Scenario file format version.")
    name: str = Field("Mid-size physician-led ACO", min_length=1, max_length=80,
                      description="A name for this scenario.", json_schema_extra={"unit": "text", "label": "Scenario name"})
    aco: AcoProfile = Field(default_factory=AcoProfile)
    performance: Performance = Field(default_factory=Performance)
    costs: Costs = Field(default_factory=Costs)
    market: Market = Field(default_factory=Market)
    noise: Noise = Field(default_factory=Noise)
    tracks: list[TrackChoice] = Field(default_factory=_default_tracks, min_length=1, max_length=30,
                                      description="Risk tracks to compare on the same simulated futures.")
    trials: int = _f(20_000, 100, MAX_TRIALS, "simulated futures", "Simulated futures",
                     "How many random futures to simulate; more gives steadier numbers but takes longer.")
    seed: int = _f(20261123, 0, 2**63 - 1, "integer", "Random seed",
                   "Fixes the random futures: the same seed gives exactly the same results.")

    @field_validator("name")
    @classmethod
    def _name_text(cls, v: str) -> str:
        return _plain_text(v, "a scenario name")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.noise.shock_year is not None and self.noise.shock_year > self.aco.agreement_years:
            raise ValueError(
                f"noise.shock_year {self.noise.shock_year} is after the agreement's last year "
                f"({self.aco.agreement_years})"
            )
        keys = [t.key for t in self.tracks]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError(f"tracks: the same track and elections appear twice ({', '.join(sorted(dup))}); give one a label")
        return self

    @property
    def years(self) -> list[int]:
        start = self.aco.agreement_start_year
        return list(range(start, start + self.aco.agreement_years))

    @property
    def variant(self) -> str | None:
        """The catalog's policy variant in force (None: the law in force)."""
        return "CY2027_PROPOSAL" if self.market.cy2027_proposal else None


# --------------------------------------------------------------------------- helpers


def _field_range(model: type[BaseModel], loc: tuple) -> str:
    """'between 1,000 and 1,000,000' for a field path, from its declared bounds."""
    cur: Any = model
    info = None
    for part in loc:
        if isinstance(part, int) or cur is None:
            continue
        fields = getattr(cur, "model_fields", {})
        if part not in fields:
            return ""
        info = fields[part]
        ann = info.annotation
        nxt = None
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                nxt = cand
            for sub in getattr(cand, "__args__", ()):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    nxt = sub
        cur = nxt
    if info is None:
        return ""
    ge = le = None
    for m in info.metadata:
        ge = getattr(m, "ge", ge)
        le = getattr(m, "le", le)
    unit = (info.json_schema_extra or {}).get("unit", "") if isinstance(info.json_schema_extra, dict) else ""
    if ge is not None and le is not None:
        return f"allowed range {ge:,} to {le:,}" + (f" ({unit})" if unit else "")
    return ""


def _shown(value: Any) -> str:
    """A short, printable rendering of a bad input for a message (never the whole of it)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"a number of about {int(abs(value).bit_length() * 0.30103) + 1:,} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return clip(text, 60)


_CONTROL_CHARS = frozenset(chr(c) for c in (*range(0x20), 0x7F))


def _plain_text(v: str, what: str) -> str:
    """A name is one line of printable text: no NUL or other control characters, no lone
    surrogates (which no file or screen can show), and no < or > (charts render tags in
    labels, so ``<a href=...>`` would become a link inside a chart)."""
    if "<" in v or ">" in v:
        raise ValueError(f"{what} may not contain < or > (they would be read as chart markup)")
    if any(ch in _CONTROL_CHARS for ch in v):
        raise ValueError(f"{what} may not contain control characters such as NUL or line breaks")
    if printable(v) != v:
        raise ValueError(f"{what} must be valid Unicode text")
    return v


#: At most this many problems are listed one by one; the rest are summarised.
MAX_LISTED_PROBLEMS = 12


def format_errors(exc: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """One message per problem, naming the field and its allowed range.

    Bad input is echoed only as a short piece (:func:`simulation.text.clip`); unknown fields
    beyond the first few, and problems beyond :data:`MAX_LISTED_PROBLEMS`, are summarised in
    one line, so a file with 60,000 unknown keys gives a short answer.
    """
    model = model or Scenario
    out = []
    unknown: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = clip(".".join(str(p) for p in loc) or "scenario", 80)
        msg = clip(err["msg"].removeprefix("Value error, "), 300)
        if err["type"] in ("greater_than_equal", "less_than_equal", "finite_number", "int_parsing",
                           "float_parsing", "int_from_float", "int_type", "float_type", "value_error"):
            rng = _field_range(model, loc)
            if err["type"] != "value_error" or rng:
                got = err.get("input")
                if err["type"] != "value_error":
                    msg = f"{msg} (got {_shown(got)})"
                msg += f"; {rng}" if rng else ""
        elif err["type"] == "extra_forbidden":
            unknown.append(path)
            continue
        out.append(f"{path}: {msg}")
    if unknown:
        if len(unknown) <= 3:
            out.extend(f"{u}: unknown field" for u in unknown)
        else:
            out.append(f"{len(unknown):,} unknown fields: {summarise(unknown, 3)}")
    if len(out) > MAX_LISTED_PROBLEMS:
        rest = len(out) - MAX_LISTED_PROBLEMS + 1
        out = [*out[: MAX_LISTED_PROBLEMS - 1], f"and {rest:,} more problems"]
    return out


def get_path(obj: Any, path: str) -> Any:
    """The value at the dotted field ``path`` of a scenario (or any of its parts):
    ``get_path(s, "aco.beneficiaries")``."""
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def set_path(data: dict[str, Any], path: str, value: Any, *, strict: bool = False) -> None:
    """Set the dotted field ``path`` of a scenario's dict form (``Scenario.model_dump()``)
    to ``value``, in place; a missing (or None) section is created, or with ``strict`` a
    KeyError names the path (content files that must name real fields). Validate afterwards
    (:func:`validate_scenario`)."""
    *parents, leaf = path.split(".")
    for part in parents:
        if data.get(part) is None:
            if strict:
                raise KeyError(f"{path}: no field {part!r} in the scenario")
            data[part] = {}
        data = data[part]
    if strict and leaf not in data:
        raise KeyError(f"{path}: no field {leaf!r} in the scenario")
    data[leaf] = value


def with_path(scenario: Scenario, path: str, value: Any) -> Scenario:
    """A copy of ``scenario`` with the dotted field ``path`` set to ``value`` (validated)."""
    data = scenario.model_dump()
    set_path(data, path, value)
    return Scenario.model_validate(data)


def validate_scenario(data: dict[str, Any] | Scenario) -> Scenario:
    """Build a :class:`Scenario`, raising :class:`ScenarioError` with every problem at once."""
    if isinstance(data, Scenario):
        return data
    if not isinstance(data, dict):
        raise ScenarioError([f"scenario: expected a JSON object, got {type(data).__name__}"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc)) from None


def example_scenario() -> Scenario:
    """The default scenario, with every field filled in."""
    return Scenario()


def scenario_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


def track_sequence(choice: TrackChoice, scenario: Scenario) -> list[str]:
    """The catalog track code in force in each agreement year for ``choice`` (glide path aware);
    :func:`levels_in_force` for the ACO of ``scenario``."""
    return levels_in_force(choice, scenario.aco)


def levels_in_force(choice: TrackChoice, aco: AcoProfile) -> list[str]:
    """The catalog track code in force in each of ``aco``'s agreement years for ``choice``.

    BASIC glide path (42 CFR 425.600(a)(4)): one level a year from the start level to E;
    'stay at A' keeps Level A for a 2024+ agreement. One-sided years (the catalog's one-sided
    levels, A and B) stop at the catalog's ``one_sided_years_limit`` for the agreement's start
    year (5 for agreements from 2027, CY2026 PFS final rule); the ACO then takes Level E.
    """
    n = aco.agreement_years
    if choice.track != GLIDE:
        return [choice.track] * n
    if choice.stay_at_a:
        seq = ["BASIC_A"] * n
    else:
        first = BASIC_LEVELS.index(choice.glide_start)
        seq = [f"BASIC_{BASIC_LEVELS[min(first + k, 4)]}" for k in range(n)]
    catalog = load_catalog()
    found = catalog.lookup("one_sided_years_limit", "BASIC_A", aco.agreement_start_year)
    limit = n if found is None else found[1].value
    one_sided = 0
    for k, code in enumerate(seq):
        if catalog.tracks[code].risk == "one_sided":
            one_sided += 1
            if one_sided > limit:
                seq[k] = "BASIC_E"
    return seq


#: Short names of the parameters a policy variant changes that a one-agreement simulation
#: applies (the others - the prior savings adjustment and regional weight at renewal,
#: prepaid shared savings - are in the catalog and the ten-year horizon).
_VARIANT_WORDS = {
    "max_share_rate": "maximum sharing rate",
    "acpt_guardrail_below": "ACPT floor below national growth",
    "acpt_guardrail_above": "ACPT ceiling above national growth",
}


def _shown_value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and 0 <= v <= 1:
        return f"{v * 100:.4g}%"
    return str(v)


def policy_notes(choice: TrackChoice, scenario: Scenario) -> list[str]:
    """What the scenario's policy variant (the CY2027 proposed rule) changes in the simulation
    of ``choice``, labelled PROPOSED; empty under the law in force."""
    variant = scenario.variant
    if variant is None:
        return []
    from ..rules.catalog import VARIANTS

    catalog = load_catalog()
    changed: dict[str, tuple[Any, Any, list[int]]] = {}
    for code, year in zip(track_sequence(choice, scenario), scenario.years, strict=True):
        info = catalog.tracks[code]
        used = min(max(year, info.first_year), info.last_year)
        new, old = catalog.rules(code, used, variant), catalog.rules(code, used)
        for name in new.proposed:
            if name in _VARIANT_WORDS and getattr(new, name) != getattr(old, name):
                entry = changed.setdefault(name, (getattr(old, name), getattr(new, name), []))
                entry[2].append(year)
    if not changed:
        return []
    parts = []
    for name, (old, new, years) in changed.items():
        span = f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]}"
        parts.append(f"{_VARIANT_WORDS[name]} {_shown_value(new)} instead of {_shown_value(old)} ({span})")
    return [f"{VARIANTS[variant]} [PROPOSED, not final law]: " + "; ".join(parts) + "."]


def eligibility_notes(choice: TrackChoice, scenario: Scenario) -> list[str]:
    """Notes on how a choice is simulated: the years its rules are carried beyond the years
    the track ran (a what-if). Whether the ACO may take it at all is
    :func:`simulation.model.eligibility.check` (its reason is the summary's ``why``)."""
    notes = []
    codes = set(track_sequence(choice, scenario))
    catalog = load_catalog()
    for code in sorted(codes):
        info = catalog.tracks[code]
        outside = [y for y in scenario.years if y not in info.years]
        if outside:
            notes.append(
                f"{info.label} ran {info.first_year}-{info.last_year}; for {outside[0]}-{outside[-1]} "
                "the nearest year's rules are applied (a what-if)."
            )
    return notes

