"""Every assumption behind a scenario's numbers that is not regulation text, in one table.

Catalog values labelled SEC (a secondary source), INF (inferred) or PROPOSED (the CY2027
proposed rule, when the scenario switches it on) are assumptions: the
table lists each one the scenario's tracks use, with its citation, and whether it can be
changed as a what-if (``TrackChoice.overrides``). The modelling choices of the Monte Carlo
engine itself are listed too, so that a reader sees everything that is not a quoted rule.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..rules.catalog import load_catalog
from .montecarlo import plan
from .scenario import OVERRIDABLE, Scenario, calibrated_defaults, default_source

#: Modelling choices of the simulation (not rules), shown with the catalog's assumptions.
MODEL_ASSUMPTIONS: tuple[tuple[str, str, str], ...] = (
    ("Measured savings", "Measured savings rate = true effect + noise; the noise SD is "
     "sqrt(cv²/N + ACO-wide²), from simulation/model/noise.py, with cv and the ACO-wide term fitted "
     "on CMS results (docs/calibration.md).", "INF"),
    ("True effect", "Each simulated future draws one true savings effect, reached in equal "
     "steps over the ramp-up years and then held; its year-to-year drift enters as ACO-wide "
     "noise.", "INF"),
    ("MSSP benchmark", "Updated retrospectively with the realised trend; from 2024 agreements, "
     "one third of the update is the prospective ACPT (its error is the prospective-trend "
     "gap), with the loss protection of 42 CFR 425.652(b)(5).", "INF"),
    ("ACPT loss protection", "The minimum loss rate is tested again against the two-way "
     "benchmark (the regulation says only 'responsibility for sharing losses').", "INF"),
    ("NGACO, REACH and LEAD benchmarks", "Trended prospectively from the year-1 benchmark; "
     "REACH's and LEAD's level is set from CMS's REACH PY2023 results (LEAD has none yet); the "
     "discount (LEAD Global: by spending class) and LEAD's unearned quality withhold come off "
     "that benchmark. Regional and health-equity adjustments are not modelled in one agreement "
     "(the ten-year horizon models LEAD's base and MSSP's rebasing).", "INF"),
    ("Quality", "Quality score ~ Normal(mean, SD) clipped to 0-1 each year; the standard is met "
     "with the stated chance, and failing it the alternative standard with its chance.", "INF"),
    ("Rules outside a track's years", "A track simulated in years it did not run uses the "
     "nearest year's rules (shown as a what-if).", "INF"),
    ("Costs", "Operating cost each year, start-up cost in year 1, and the participants' own "
     "revenue lost on avoided spending; no discounting.", "INF"),
)


#: Defaults fitted on CMS results (docs/calibration.md), with what each one means.
CALIBRATED_DEFAULTS: dict[str, str] = {
    "per_beneficiary_cv": "Default per-beneficiary spending variation (coefficient of variation)",
    "year_to_year_sd": "Default ACO-wide noise that does not shrink with size (SD)",
    "true_effect_mean": "Default true savings effect (mean across ACOs)",
    "true_effect_sd": "Default spread of true savings effects across ACOs (SD)",
    "quality_mean": "Default quality score (mean)",
    "qps_probability": "Default chance of meeting the quality performance standard",
    "shock_multiplier": "Default noise multiplier in a shock year (COVID-19, PY2020)",
}


def assumption_table(scenario: Scenario) -> pd.DataFrame:
    """One row per SEC/INF catalog value used by the scenario's tracks, then the model's own
    assumptions. Columns: track, parameter, value, years, confidence, citation, overridable,
    overridden, description (plain language)."""
    catalog = load_catalog()
    rows: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for choice in scenario.tracks:
        for yp in plan(choice, scenario):
            for name, ref, conf in yp.rules.sources:
                if conf not in ("SEC", "INF", "PROPOSED"):
                    continue
                value = getattr(yp.rules, name, None)
                key = (choice.key, name, repr(value))
                if key in seen:
                    continue
                seen.add(key)
                rows.append({
                    "track": choice.key, "level": yp.code, "rules_year": yp.rules.year,
                    "parameter": name, "description": catalog.description(name, yp.code, yp.rules.year),
                    "value": _show(value), "confidence": conf,
                    "citation": ref, "overridable": name in OVERRIDABLE,
                    "overridden": name in choice.overrides,
                })
    for name, text, conf in MODEL_ASSUMPTIONS:
        rows.append({"track": "(all)", "level": "", "rules_year": None, "parameter": name,
                     "description": name, "value": text, "confidence": conf, "citation": "simulation/model/montecarlo.py",
                     "overridable": False, "overridden": False})
    for key, label in CALIBRATED_DEFAULTS.items():
        rows.append({"track": "(all)", "level": "", "rules_year": None,
                     "parameter": f"default {key}", "description": label,
                     "value": _show(calibrated_defaults()[key][0]),
                     "confidence": "CMS",
                     "citation": default_source(key), "overridable": False, "overridden": False})
    return pd.DataFrame(rows)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple) and value and hasattr(value[0], "share"):
        return "; ".join(
            f"{'above' if c.upper is None else 'to ' + format(c.upper, '.0%')}: {c.share:.0%}" for c in value
        )
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value)
    return str(value)
