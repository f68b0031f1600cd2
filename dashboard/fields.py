"""The sidebar's fields: each scenario path with its label, unit, help, display scale and the
text a value is shown as (1.5%, $60M, 20,000). Read by the sidebar (dashboard/sidebar.py), the
cached analyses (dashboard/engine.py), the consultant workflow and the pages; no widget here.

Labels, units, ranges and default sources come from the scenario's pydantic schema.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from dashboard.state import WIDGET
from simulation.model.scenario import (
    GLIDE,
    Scenario,
    TrackChoice,
    calibrated_defaults,
    default_source,
)
from simulation.rules.catalog import load_catalog
from simulation.text import money, pct


@dataclass(frozen=True)
class Input:
    """One sidebar field: its path in the scenario and how it is shown.

    ``scale`` turns the stored value into the shown one (0.015 -> 1.5 %: scale 100;
    60,000,000 -> 60 $M: scale 1e-6).
    """

    path: str
    kind: str = "float"          # float, int, select, toggle, text
    scale: float = 1.0
    unit: str = ""               # shown after the label
    step: float | None = None
    fmt: str | None = None
    options: tuple = ()
    option_labels: tuple = ()

    @property
    def key(self) -> str:
        return WIDGET + self.path

    def show(self, value: Any) -> Any:
        if self.kind == "select" and value is None:
            return "none"  # a select box shows None as 'no choice made'
        if self.kind == "float" and value is not None:
            return round(float(value) * self.scale, 9)
        if self.kind == "int" and value is not None:
            return float(value)  # a decimal box: see :meth:`store`
        if self.kind == "text":
            return str(value)
        return value

    def store(self, shown: Any) -> Any:
        if self.kind == "select" and shown == "none":
            return None
        if self.kind == "text" and self.path == "seed" and isinstance(shown, str):
            # the seed is typed as text (it can exceed a number box's range); whole digits
            # become the number, anything else goes to validation, which names the field
            digits = shown.strip().replace(",", "")
            return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 30 else shown
        if self.kind == "float" and shown is not None:
            # 15 significant digits: 509.8 $M is stored as 509,800,000.0, not ...00000006
            return float(f"{float(shown) / self.scale:.15g}")
        if self.kind == "int" and isinstance(shown, float):
            # Whole numbers are typed in a decimal box: an integer box of the browser reads
            # "1e9" as 1, silently. A whole value becomes the int (1e9 -> 1,000,000,000, which
            # validation then refuses with the field's range); a fraction goes to validation
            # as it is and is refused with a message naming the field.
            return int(shown) if math.isfinite(shown) and shown.is_integer() else shown
        return shown

    def text(self, value: Any) -> str:
        """A stored value as the user reads it (1.5%, $60M, 20,000)."""
        if value is None:
            return "none"
        if self.kind == "select" and self.option_labels:
            return dict(zip(self.options, self.option_labels, strict=True)).get(value, str(value))
        if self.unit.startswith("$M"):
            return money(float(value))
        if self.unit.startswith("$"):
            return f"${float(value):,.0f}"
        if "%" in self.unit:
            return f"{self.show(value):.{_decimals(self.step)}f}%".replace("-", "−")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                return f"{value:,.6g}"
            return f"{int(value):,}"
        if isinstance(value, float):
            return (self.fmt % value) if self.fmt else f"{value:.3g}"
        return str(value)


def _decimals(step: float | None) -> int:
    if not step or step >= 1:
        return 0
    return max(0, -math.floor(math.log10(step) + 1e-9))


PCT = {"scale": 100.0, "step": 0.1, "fmt": "%.2f"}
MONEY_M = {"scale": 1e-6, "step": 0.1, "fmt": "%.2f"}

GROUPS: tuple[tuple[str, str, tuple[Input, ...]], ...] = (
    ("ACO", ":material/apartment:", (
        Input("aco.beneficiaries", "int", step=1_000),
        Input("aco.benchmark_pc", unit="$ per beneficiary", step=250.0, fmt="%.0f"),
        Input("aco.participant_revenue", unit="$M a year", **MONEY_M),
        Input("aco.revenue_category", "select", options=("auto", "low", "high"),
              option_labels=("Decide from the numbers", "Low revenue", "High revenue")),
        Input("aco.experienced_with_risk", "toggle"),
        Input("aco.first_agreement", "toggle"),
        Input("aco.agreement_start_year", "int", step=1),
        Input("aco.agreement_years", "int", unit="years", step=1),
        Input("aco.spending_vs_region", unit="% of region", scale=100.0, step=1.0, fmt="%.0f"),
    )),
    ("Performance", ":material/trending_down:", (
        Input("performance.savings_effect", unit="% of benchmark", **{**PCT, "step": 0.25}),
        Input("performance.savings_effect_sd", unit="± % of benchmark", **{**PCT, "step": 0.25}),
        Input("performance.ramp_years", "int", unit="years", step=1),
        Input("performance.qps_probability", unit="%", scale=100.0, step=5.0, fmt="%.0f"),
        Input("performance.alt_qps_probability", unit="%", scale=100.0, step=5.0, fmt="%.0f"),
        Input("performance.quality_mean", unit="0–1", step=0.01, fmt="%.2f"),
        Input("performance.quality_sd", unit="0–1", step=0.01, fmt="%.2f"),
    )),
    ("Money beyond settlement", ":material/payments:", (
        Input("costs.annual_operating_cost", unit="$M a year", **MONEY_M),
        Input("costs.startup_investment", unit="$M, year 1", **MONEY_M),
        Input("costs.revenue_loss_share", unit="%", scale=100.0, step=5.0, fmt="%.0f"),
    )),
    ("Market", ":material/show_chart:", (
        Input("market.trend_mean", unit="% a year", **PCT),
        Input("market.trend_sd", unit="± % a year", **PCT),
        Input("market.prospective_gap_mean", unit="% a year", **PCT),
        Input("market.prospective_gap_sd", unit="± % a year", **PCT),
        Input("market.cy2027_proposal", "toggle"),
    )),
    ("Uncertainty (noise)", ":material/blur_on:", (
        Input("noise.per_beneficiary_cv", unit="CV", step=0.05, fmt="%.2f"),
        Input("noise.systemic_sd", unit="% of benchmark", **PCT),
        Input("noise.shock_year", "select", options=("none", 1, 2, 3, 4, 5, 6),
              option_labels=("No shock", "Year 1", "Year 2", "Year 3", "Year 4", "Year 5", "Year 6")),
        Input("noise.shock_multiplier", unit="× variation", step=0.25, fmt="%.2f"),
    )),
)
SIMULATION = (
    Input("trials", "int", unit="futures", step=5_000),
    Input("seed", "text"),
)
NAME = Input("name", "text")
MIX = tuple(Input(f"aco.enrollment_mix.{k}", unit="%", scale=100.0, step=1.0, fmt="%.1f")
            for k in ("esrd", "disabled", "aged_dual", "aged_nondual"))
ALL_INPUTS: dict[str, Input] = {i.path: i for _, _, g in GROUPS for i in g} | {
    i.path: i for i in (*SIMULATION, NAME, *MIX)}

TRACK_KEY = WIDGET + "tracks"
MSR_KEY = WIDGET + "tracks.msr"
GLIDE_START_KEY = WIDGET + "tracks.glide_start"
STAY_KEY = WIDGET + "tracks.stay_at_a"
NGACO_CAP = Input("tracks.ngaco_cap", unit="% of benchmark", scale=100.0, step=1.0, fmt="%.1f")
NGACO_DISCOUNT = Input("tracks.ngaco_discount", unit="% of benchmark", scale=100.0, step=0.5, fmt="%.1f")
MIX_ON_KEY = WIDGET + "aco.enrollment_mix.on"
MSR_LABELS = {"size": "Size-based", "0": "0% (none)", "0.5": "0.5%",
              "1.0": "1.0%", "1.5": "1.5%", "2.0": "2.0%"}


def field_info(path: str):
    """The pydantic FieldInfo of a dotted scenario path (None if it has none)."""
    model: Any = Scenario
    info = None
    for part in path.split("."):
        if part == "tracks":
            model = TrackChoice
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        nxt = None
        for cand in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                nxt = cand
        model = nxt
    return info


def meta(path: str) -> dict[str, Any]:
    info = field_info(path)
    extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
    ge = le = None
    for m in getattr(info, "metadata", ()):
        ge = getattr(m, "ge", ge)
        le = getattr(m, "le", le)
    return {"label": extra.get("label", path.rsplit(".", 1)[-1]), "unit": extra.get("unit", ""),
            "source": extra.get("default_source"), "description": (info.description or "") if info else "",
            "ge": ge, "le": le}


def label(inp: Input) -> str:
    m = meta(inp.path)
    return f"{m['label']} ({inp.unit})" if inp.unit else m["label"]


def help_text(inp: Input) -> str:
    """Plain-language help: the schema description, the allowed range, the default's source."""
    m = meta(inp.path)
    parts = [m["description"]]
    if m["ge"] is not None and m["le"] is not None and inp.kind in ("int", "float"):
        parts.append(f"Measured as: {m['unit']}. Allowed: {inp.text(m['ge'])} to {inp.text(m['le'])}.")
    if m["source"]:
        value = calibrated_defaults()[m["source"]][0]
        parts.append(f"Default {inp.text(value)} — {default_source(m['source'])}.")
    return "\n\n".join(p for p in parts if p)


@lru_cache(maxsize=64)
def uses_elected_msr(code: str) -> bool:
    """Whether a track lets the ACO elect its MSR/MLR in some year (two-sided MSSP)."""
    if code == GLIDE:
        return True
    cat = load_catalog()
    info = cat.tracks[code]
    return any(cat.rules(code, y).msr_mode == "elected" for y in (info.first_year, info.last_year))


def track_label(code: str) -> str:
    return "BASIC glide A→E" if code == GLIDE else load_catalog().tracks[code].short_label


def track_summary(code: str) -> str:
    if code == GLIDE:
        return ("BASIC glide path: starts at Level A (one-sided) and moves up one level a year to "
                "Level E (two-sided), 42 CFR 425.600(a)(4).")
    return load_catalog().tracks[code].summary



def input_for(path: str) -> Input | None:
    if path in ALL_INPUTS:
        return ALL_INPUTS[path]
    return {NGACO_CAP.path: NGACO_CAP, NGACO_DISCOUNT.path: NGACO_DISCOUNT}.get(path)



_INTERVAL = re.compile(r"\(90% interval ([-+\d.e]+)-([-+\d.e]+)\)")


def source_note(inp: Input, key: str) -> str:
    """'Default 3.8% — fitted on CMS results PY2018-PY2023 (90% interval 3.4% to 4.1%);
    docs/calibration.md#true-effect', with numbers in the field's display units."""
    value = calibrated_defaults()[key][0]
    src = default_source(key)
    where, _, what = src.partition(": ")
    if not what:
        where, what = "", src
    what = _INTERVAL.sub(lambda m: f"(90% interval {inp.text(float(m[1]))} to {inp.text(float(m[2]))})", what)
    return f"Default {inp.text(value)} — {what}" + (f"; {where}" if where else "")



def field_label(path: str) -> str:
    """A scenario path as the sidebar labels it ('aco.beneficiaries' -> 'Assigned beneficiaries')."""
    if path == "tracks":
        return "Tracks compared"
    if path.startswith("tracks["):
        key, _, rest = path[len("tracks["):].partition("].")
        return f"{key}: {rest.replace('_', ' ')}"
    inp = input_for(path)
    if inp is not None:
        return label(inp)
    if field_info(path) is not None:
        return meta(path)["label"]
    return path


def field_text(path: str, value: Any) -> str:
    """A stored value as the sidebar shows it (1.5%, $60M, 20,000, yes)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):  # the enrollment mix
        return " · ".join(f"{k.replace('_', ' ')} {pct(v, 1)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if path.endswith("year") and isinstance(value, int):
        return str(value)  # 2026, not 2,026
    inp = input_for(path)
    if inp is not None:
        return inp.text(value)
    return "none" if value is None else str(value)


def value_text(path: str, value: Any) -> str:
    """``value`` of ``path`` in its field's display units, or plainly when it has no field."""
    return ALL_INPUTS[path].text(value) if path in ALL_INPUTS else f"{value:g}"
