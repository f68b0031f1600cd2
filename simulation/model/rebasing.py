"""Benchmark rebasing at MSSP renewal and LEAD's fixed benchmark: pure vectorised functions.

Every policy value comes from ``data/horizon/rebasing.yaml`` (each with its citation and
confidence label; see :func:`load_rebasing_rules`). Per-capita amounts are arrays of any shape
(one value per simulated future), broadcast together; the year axis, where there is one, is
first. Formulas follow ../shared/domain/policy-2027.md §3 (MSSP) and §1.3/§1.11 (LEAD), one
enrollment type (the ACO as a whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..rules.catalog import DATA_DIR, CatalogError
from ..rules.schema import Confidence

REBASING_FILE = DATA_DIR / "horizon" / "rebasing.yaml"


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=3)
    value: Any
    confidence: Confidence
    reference: str = Field(min_length=3)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mssp: dict[str, _Value]
    lead: dict[str, _Value]
    horizon: dict[str, _Value]


_FRACTIONS = {
    "mssp": ("regional_positive_cap", "regional_negative_cap", "psa_share", "psa_share_proposed", "psa_cap", "acpt_weight"),
    "lead": ("rea_share", "rea_cap_former_mssp", "rea_cap_other", "psa_share", "adjustment_cap", "acpt_weight",
             "guardrail_up", "guardrail_down", "risk_cap_aged_disabled", "risk_cap_high_needs",
             "discount_global_lower", "discount_professional", "admin_add_on"),
    "horizon": ("discount_rate",),
}
_WEIGHTS = {"mssp": ("historical_weights_first", "historical_weights_renewal"),
            "lead": ("base_weights_renewing", "base_weights_new")}
_LISTS = {"mssp": ("regional_weight_lower", "regional_weight_higher"), "lead": ("discount_global_higher",)}
_INTS = {"mssp": ("agreement_years",), "lead": ("agreement_years",),
         "horizon": ("first_year", "years", "cash_lag_years")}


@dataclass(frozen=True)
class RebasingRules:
    """The values of rebasing.yaml: ``mssp``, ``lead``, ``horizon`` map names to values;
    ``sources`` maps "section.name" to (confidence, reference)."""

    mssp: dict[str, Any]
    lead: dict[str, Any]
    horizon: dict[str, Any]
    sources: dict[str, tuple[str, str]]


def _is_fraction(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1


def _check(section: str, name: str, v: Any) -> str | None:
    if name in _FRACTIONS.get(section, ()):
        return None if _is_fraction(v) else "must be a number between 0 and 1"
    if name in _WEIGHTS.get(section, ()):
        if not (isinstance(v, list) and len(v) == 3 and all(_is_fraction(x) for x in v)):
            return "must be three fractions (BY1, BY2, BY3)"
        return None if abs(sum(v) - 1) < 1e-6 else f"must add up to 1 (they add up to {sum(v):.4f})"
    if name in _LISTS.get(section, ()):
        ok = isinstance(v, list) and len(v) >= 1 and all(_is_fraction(x) for x in v)
        return None if ok else "must be a non-empty list of fractions"
    if name in _INTS.get(section, ()):
        ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3000
        return None if ok else "must be a whole number"
    if name == "negative_regional_eliminated":
        return None if isinstance(v, bool) else "must be true or false"
    return "is not a known rebasing parameter"


def _required() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table in (_FRACTIONS, _WEIGHTS, _LISTS, _INTS):
        for section, names in table.items():
            out.setdefault(section, set()).update(names)
    out["mssp"].add("negative_regional_eliminated")
    return out


def load_rebasing_rules(path: Path | str | None = None) -> RebasingRules:
    """Load and validate rebasing.yaml (default ``data/horizon/rebasing.yaml``); raises
    :class:`simulation.rules.catalog.CatalogError` naming the file and the field."""
    return _load(str(Path(path or REBASING_FILE).resolve()))


@lru_cache(maxsize=4)
def _load(path: str) -> RebasingRules:
    name = Path(path).name
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{name}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{name}: cannot be read: {exc}") from None
    try:
        spec = _File.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"{name}: {where}: {first['msg']}") from None
    problems = []
    values: dict[str, dict[str, Any]] = {}
    sources: dict[str, tuple[str, str]] = {}
    need = _required()
    for section in ("mssp", "lead", "horizon"):
        entries = getattr(spec, section)
        values[section] = {}
        for key in sorted(need[section] - set(entries)):
            problems.append(f"{section}.{key}: missing")
        for key, entry in entries.items():
            msg = _check(section, key, entry.value)
            if msg:
                problems.append(f"{section}.{key}: {msg}")
            values[section][key] = entry.value
            sources[f"{section}.{key}"] = (entry.confidence, entry.reference)
    if problems:
        raise CatalogError(f"{name}: " + "; ".join(problems))
    return RebasingRules(values["mssp"], values["lead"], values["horizon"], sources)


# --------------------------------------------------------------------------- MSSP (§3)


def historical_benchmark(spending_by: np.ndarray, trend_to_by3: np.ndarray, weights) -> np.ndarray:
    """HB = sum_y w_y * X_y * T_y (§3.2): ``spending_by`` and ``trend_to_by3`` shaped
    (3, ...) for BY1..BY3 (T_BY3 = 1), ``weights`` three fractions."""
    w = np.asarray(weights, dtype=float).reshape((3,) + (1,) * (np.ndim(spending_by) - 1))
    return np.sum(w * np.asarray(spending_by) * np.asarray(trend_to_by3), axis=0)


def regional_weight(rules: RebasingRules, count: int, lower: np.ndarray,
                    cap_lower: float | None = None) -> np.ndarray:
    """The regional adjustment weight (§3.3 table): by the count of the agreement's regional
    adjustment (1 = first) and whether the ACO spends below its region (``lower``);
    ``cap_lower`` holds a lower-spending ACO's weight at most there (the track's catalog
    ``regional_weight_cap_lower``: ENHANCED 35% under the CY2027 proposal, PROPOSED)."""
    if count < 1:
        raise ValueError(f"regional adjustment count must be 1 or more (got {count})")
    k = min(count, len(rules.mssp["regional_weight_lower"])) - 1
    w_lower = rules.mssp["regional_weight_lower"][k]
    if cap_lower is not None:
        w_lower = min(w_lower, cap_lower)
    return np.where(lower, w_lower, rules.mssp["regional_weight_higher"][k])


def regional_adjustment(rules: RebasingRules, hb: np.ndarray, regional: np.ndarray, national: np.ndarray,
                        count: int, offset: float | np.ndarray = 0.0,
                        cap_lower: float | None = None) -> np.ndarray:
    """Per-capita regional adjustment A (§3.3): w * (R - HB), capped at +5% / -1.5% of the
    national per capita ``national``; a negative value is reduced by the offset factor
    (dual share + risk-score weight - 1, clamped to [0, 1]). ``cap_lower``: see
    :func:`regional_weight`."""
    d = np.asarray(regional) - np.asarray(hb)
    a = regional_weight(rules, count, d > 0, cap_lower) * d
    n = np.asarray(national)
    a = np.clip(a, -rules.mssp["regional_negative_cap"] * n, rules.mssp["regional_positive_cap"] * n)
    return np.where(a < 0, a * (1.0 - np.clip(offset, 0.0, 1.0)), a)


def prior_savings_adjustment(rules: RebasingRules, savings_pc: np.ndarray, national: np.ndarray, *,
                             prorate: float | np.ndarray = 1.0, proposal: bool = False) -> np.ndarray:
    """PSA (§3.4) from the per-capita savings (+) or losses (-) of the three PYs before the
    agreement, ``savings_pc`` shaped (3, ...): min(share * prorate * mean, 5% of national)
    where the mean is positive, else 0. ``proposal`` uses the CY2027 proposed 75% share."""
    share = rules.mssp["psa_share_proposed" if proposal else "psa_share"]
    sbar = np.mean(np.asarray(savings_pc), axis=0)
    psa = np.minimum(share * np.asarray(prorate) * sbar, rules.mssp["psa_cap"] * np.asarray(national))
    return np.where(sbar > 0, psa, 0.0)


def benchmark_adjustment(rules: RebasingRules, ra: np.ndarray, psa: np.ndarray) -> np.ndarray:
    """The adjustment added to HB (§3.4 choice): not PSA-eligible: RA if positive, else none
    (the overall negative adjustment eliminated); PSA-eligible: the larger of a positive RA and
    the PSA (never their sum)."""
    ra = np.asarray(ra)
    positive = np.where(ra > 0, ra, 0.0) if rules.mssp["negative_regional_eliminated"] else ra
    return np.where(np.asarray(psa) > 0, np.maximum(positive, psa), positive)


def update_factor(rules: RebasingRules, two_way: np.ndarray, acpt: np.ndarray) -> np.ndarray:
    """UF = (1 - w) * G2 + w * ACPT (§3.5), cumulative growth factors from BY3 to the PY."""
    w = rules.mssp["acpt_weight"]
    return (1.0 - w) * np.asarray(two_way) + w * np.asarray(acpt)


# --------------------------------------------------------------------------- LEAD (§1.3, §1.11)


def lead_base(rules: RebasingRules, spending_by: np.ndarray, trend_to_by3: np.ndarray, regional: np.ndarray,
              national: np.ndarray, *, renewing: bool, former_mssp: bool, global_option: bool,
              prior_savings_pc: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """LEAD's benchmark base, fixed for the ten years: the weighted, trended history H plus,
    for a lower-spending ACO, the higher of the REA (50% of the gap, capped 3%/5% of national;
    positive REA for Global only) and the PSA (50% of mean prior savings, capped 5%), the
    larger capped at 5% of national. A higher-spending ACO keeps its history (no negative
    adjustment). Returns the steps: history, lower (bool), rea, psa, adjustment, base."""
    lr = rules.lead
    h = historical_benchmark(spending_by, trend_to_by3,
                             lr["base_weights_renewing"] if renewing else lr["base_weights_new"])
    n = np.asarray(national)
    gap = np.asarray(regional) - h
    lower = gap > 0
    cap = lr["rea_cap_former_mssp"] if former_mssp else lr["rea_cap_other"]
    rea = np.minimum(lr["rea_share"] * gap, cap * n)
    rea = np.where(lower & global_option, rea, 0.0)
    if prior_savings_pc is None:
        psa = np.zeros_like(h)
    else:
        sbar = np.mean(np.asarray(prior_savings_pc), axis=0)
        psa = np.where(sbar > 0, np.minimum(lr["psa_share"] * sbar, lr["adjustment_cap"] * n), 0.0)
    adj = np.where(lower, np.minimum(np.maximum(rea, psa), lr["adjustment_cap"] * n), 0.0)
    return {"history": h, "lower": lower, "rea": rea, "psa": psa, "adjustment": adj, "base": h + adj}


def lead_update(rules: RebasingRules, two_way_growth: np.ndarray, acpt_growth: np.ndarray) -> np.ndarray:
    """LEAD's cumulative update factor from BY3, from annual growth rates shaped (years, ...):
    each year 2/3 of the two-way trend and 1/3 of the ACPT clamped to [g - 0.2 pp, g + 0.3 pp]."""
    g = np.asarray(two_way_growth, dtype=float)
    a = np.clip(np.asarray(acpt_growth, dtype=float), g - rules.lead["guardrail_down"], g + rules.lead["guardrail_up"])
    w = rules.lead["acpt_weight"]
    return np.cumprod(1.0 + (1.0 - w) * g + w * a, axis=0)


def lead_risk_ratio(rules: RebasingRules, ratio: np.ndarray, *, high_needs: bool = False) -> np.ndarray:
    """PY / BY3 risk-score ratio capped symmetrically at +-3% (+-4% high needs)."""
    cap = rules.lead["risk_cap_high_needs" if high_needs else "risk_cap_aged_disabled"]
    return np.clip(np.asarray(ratio), 1.0 - cap, 1.0 + cap)


def lead_discount(rules: RebasingRules, year_index: int, *, global_option: bool, lower: np.ndarray) -> np.ndarray:
    """Benchmark discount d in LEAD year ``year_index`` (0 = PY2027): Professional none;
    Global 3% (lower-spending) or the rising higher-spending schedule (last value carried)."""
    if not global_option:
        return np.where(lower, rules.lead["discount_professional"], rules.lead["discount_professional"])
    sched = rules.lead["discount_global_higher"]
    return np.where(lower, rules.lead["discount_global_lower"], sched[min(year_index, len(sched) - 1)])


def present_value(cash: np.ndarray, rate: float, lag: int) -> np.ndarray:
    """Present value at the start of year 0 of ``cash`` shaped (..., years), where PY t's cash
    arrives at the end of year t + lag."""
    t = np.arange(np.shape(cash)[-1])
    return np.sum(np.asarray(cash) / (1.0 + rate) ** (t + 1 + lag), axis=-1)
