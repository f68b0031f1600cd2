"""Shared state, the scenario panel and cached engine calls for every page.

The scenario lives in ``st.session_state["scenario"]`` as a validated
:class:`simulation.model.scenario.Scenario`; every page reads it with :func:`get_scenario`.
:func:`scenario_panel` (called by ``app.py`` on every run, whatever the page) draws the
sidebar that edits it: one widget per field, labelled, unit and help text taken from the
schema, shown in the units an executive reads (% and $M), validated by pydantic with each
message shown under its field. While any field is invalid, the pages keep showing the last
valid scenario. Engine results are cached on the scenario's JSON, so switching pages never
recomputes.
"""

from __future__ import annotations

import html
import math
import re
import runpy
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pandas as pd
import streamlit as st
from pydantic import BaseModel, ValidationError
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import engine
from simulation import reports
from simulation.model import eligibility, montecarlo, share
from simulation.model.scenario import (
    DEFAULT_TRACKS,
    GLIDE,
    EnrollmentMix,
    Scenario,
    ScenarioError,
    TrackChoice,
    calibrated_defaults,
    default_source,
    format_errors,
)
from simulation.reports import charts
from simulation.rules.catalog import load_catalog
from simulation.rules.explain import explain
from simulation.text import clip, md_escape, money, printable

SCENARIO_KEY = "scenario"
PENDING_KEY = "_scenario_pending"
PROBLEMS_KEY = "scenario_problems"
WIDGET = "in."
OPEN_GROUP: str | None = None  # the sidebar group open on arrival (None: all closed, a tidy menu)
SHADOW = "_scenario_inputs"
SEEDED_KEY = "_scenario_seeded"  # (widget values, scenario) the sidebar was last filled from


def get_scenario() -> Scenario:
    """The scenario every page works on (the default scenario on first visit)."""
    if SCENARIO_KEY not in st.session_state:
        st.session_state[SCENARIO_KEY] = Scenario()
    return st.session_state[SCENARIO_KEY]


def set_scenario(scenario: Scenario) -> None:
    """Replace the scenario; the sidebar widgets show it from the next run (call st.rerun()
    after this unless it runs in a widget callback)."""
    st.session_state[SCENARIO_KEY] = scenario
    st.session_state[PENDING_KEY] = True


def scenario_problems() -> list[str]:
    """Messages for the fields that are invalid right now (empty when all are valid)."""
    return st.session_state.get(PROBLEMS_KEY, [])


# --------------------------------------------------------------------------- inputs


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


def _field(path: str):
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


def _meta(path: str) -> dict[str, Any]:
    info = _field(path)
    extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
    ge = le = None
    for m in getattr(info, "metadata", ()):
        ge = getattr(m, "ge", ge)
        le = getattr(m, "le", le)
    return {"label": extra.get("label", path.rsplit(".", 1)[-1]), "unit": extra.get("unit", ""),
            "source": extra.get("default_source"), "description": (info.description or "") if info else "",
            "ge": ge, "le": le}


def label(inp: Input) -> str:
    m = _meta(inp.path)
    return f"{m['label']} ({inp.unit})" if inp.unit else m["label"]


def help_text(inp: Input) -> str:
    """Plain-language help: the schema description, the allowed range, the default's source."""
    m = _meta(inp.path)
    parts = [m["description"]]
    if m["ge"] is not None and m["le"] is not None and inp.kind in ("int", "float"):
        parts.append(f"Measured as: {m['unit']}. Allowed: {inp.text(m['ge'])} to {inp.text(m['le'])}.")
    if m["source"]:
        value = calibrated_defaults()[m["source"]][0]
        parts.append(f"Default {inp.text(value)} — {default_source(m['source'])}.")
    return "\n\n".join(p for p in parts if p)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        if data.get(p) is None:
            data[p] = {}
        data = data[p]
    data[parts[-1]] = value


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


def _widgets_from(s: Scenario) -> dict[str, Any]:
    """Widget values showing scenario ``s``."""
    out = {i.key: i.show(_get(s, i.path)) for _, _, g in GROUPS for i in g}
    out |= {i.key: i.show(_get(s, i.path)) for i in (*SIMULATION, NAME)}
    mix = s.aco.enrollment_mix
    out[MIX_ON_KEY] = mix is not None
    ref = mix or EnrollmentMix()
    out |= {i.key: i.show(_get(ref, i.path.rsplit(".", 1)[-1])) for i in MIX}
    codes = list(dict.fromkeys(c.track for c in s.tracks))
    out[TRACK_KEY] = codes
    elected = [c for c in s.tracks if uses_elected_msr(c.track)]
    out[MSR_KEY] = elected[0].msr if elected else "size"
    glide = next((c for c in s.tracks if c.track == GLIDE), TrackChoice(track=GLIDE))
    out[GLIDE_START_KEY] = glide.glide_start
    out[STAY_KEY] = glide.stay_at_a
    ngaco = next((c for c in s.tracks if c.track.startswith("NGACO")), TrackChoice(track="NGACO_A"))
    out[NGACO_CAP.key] = NGACO_CAP.show(ngaco.ngaco_cap)
    out[NGACO_DISCOUNT.key] = NGACO_DISCOUNT.show(ngaco.ngaco_discount)
    return out


TRACK_WIDGETS = (TRACK_KEY, MSR_KEY, GLIDE_START_KEY, STAY_KEY, NGACO_CAP.key, NGACO_DISCOUNT.key)


def _collect(state, base: Scenario | None = None, seeded: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scenario as a plain dict from the widget values (not yet validated).

    With ``base`` and ``seeded`` (the scenario the widgets were last filled from, and the
    values they were filled with), a field whose widget still shows its seeded value keeps
    ``base``'s exact value: a scenario opened from a link or a file is then reproduced bit for
    bit, whatever rounding its widget applies, and editing one field changes only that field.
    """
    data = (base or Scenario()).model_dump() if seeded is not None else Scenario().model_dump()

    def same(*keys: str) -> bool:
        return seeded is not None and all(k in seeded and state[k] == seeded[k] for k in keys)

    for inp in (*[i for _, _, g in GROUPS for i in g], *SIMULATION, NAME):
        if not same(inp.key):
            _set(data, inp.path, inp.store(state[inp.key]))
    if not same(MIX_ON_KEY, *(i.key for i in MIX)):
        if state[MIX_ON_KEY]:
            data["aco"]["enrollment_mix"] = {i.path.rsplit(".", 1)[-1]: i.store(state[i.key]) for i in MIX}
        else:
            data["aco"]["enrollment_mix"] = None
    if same(*TRACK_WIDGETS):
        return data
    tracks = []
    for code in state[TRACK_KEY]:
        choice: dict[str, Any] = {"track": code}
        if code == GLIDE:
            choice |= {"glide_start": state[GLIDE_START_KEY], "stay_at_a": state[STAY_KEY]}
        if uses_elected_msr(code) and not (code == GLIDE and state[STAY_KEY]):
            choice["msr"] = state[MSR_KEY]
        if code.startswith("NGACO"):
            choice |= {"ngaco_cap": NGACO_CAP.store(state[NGACO_CAP.key]),
                       "ngaco_discount": NGACO_DISCOUNT.store(state[NGACO_DISCOUNT.key])}
        tracks.append(choice)
    data["tracks"] = tracks
    return data


def _input_for(path: str) -> Input | None:
    if path in ALL_INPUTS:
        return ALL_INPUTS[path]
    return {NGACO_CAP.path: NGACO_CAP, NGACO_DISCOUNT.path: NGACO_DISCOUNT}.get(path)


def route_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Each pydantic error as a plain message, keyed by the sidebar field it belongs to
    (``'_scenario'`` when no single field is at fault). Ranges are shown in display units."""
    out: dict[str, list[str]] = {}
    plain = format_errors(exc)
    for err, text in zip(exc.errors(), plain, strict=True):
        loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
        path = ".".join(loc)
        if loc[:1] == ["tracks"]:
            path = "tracks" if len(loc) == 1 or loc[-1] not in ("ngaco_cap", "ngaco_discount") else ".".join(loc)
        msg = text.split(": ", 1)[1] if ": " in text else text
        if not path:
            path = next((p for p in ("noise.shock_year", "tracks") if p in msg), "_scenario")
        inp = _input_for(path)
        ctx = err.get("ctx") or {}
        m = _meta(path) if inp is not None else {}
        allowed = (f" Allowed: {inp.text(m['ge'])} to {inp.text(m['le'])}."
                   if inp is not None and m["ge"] is not None and m["le"] is not None else "")
        if inp is not None and ("ge" in ctx or "le" in ctx):
            bound = ctx.get("ge", ctx.get("le"))
            word = "greater than or equal to" if "ge" in ctx else "less than or equal to"
            msg = f"{label(inp)}: should be {word} {inp.text(bound)} (you entered {inp.text(err.get('input'))})."
            msg += allowed
        elif inp is not None and inp.kind == "int" and err["type"] in ("int_from_float", "int_parsing", "int_type"):
            got = err.get("input")
            shown = f"{got:,.6g}" if isinstance(got, float) else clip(str(got), 40)
            msg = f"{label(inp)}: enter a whole number (you entered {shown}).{allowed}"
        out.setdefault(path, []).append(msg)
    return out


def _show_errors(errors: dict[str, list[str]], path: str) -> None:
    for msg in errors.get(path, []):
        st.error(msg, icon=":material/error:")


def _widget(inp: Input, errors: dict[str, list[str]], *, disabled: bool = False) -> None:
    _seed(inp.key)
    kw = {"key": inp.key, "help": help_text(inp), "disabled": disabled, "on_change": _edited, "args": (inp.key,)}
    if inp.kind == "int":  # a decimal box (see Input.store), shown without decimals
        st.number_input(label(inp), step=float(inp.step or 1), format="%.0f", **kw)
    elif inp.kind == "float":
        st.number_input(label(inp), step=inp.step, format=inp.fmt, **kw)
    elif inp.kind == "select":
        names = dict(zip(inp.options, inp.option_labels or inp.options, strict=True))
        st.selectbox(label(inp), inp.options, format_func=lambda v: names[v], **kw)
    elif inp.kind == "toggle":
        st.toggle(label(inp), **kw)
    else:
        st.text_input(label(inp), **kw)
    _show_errors(errors, inp.path)
    m = _meta(inp.path)
    if m["source"]:
        st.caption(source_note(inp, m["source"]))


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


def _reset() -> None:
    for k in list(st.session_state):
        if isinstance(k, str) and k.startswith(WIDGET):
            del st.session_state[k]
    st.session_state[SHADOW] = {}
    st.session_state.pop(SEEDED_KEY, None)
    st.session_state[SCENARIO_KEY] = Scenario()
    st.session_state[PENDING_KEY] = True


def _seed(key: str) -> None:
    """Give a widget its kept value before it is drawn.

    The kept values (``st.session_state[SHADOW]``) are the one source of truth for what the
    sidebar shows: a widget's own state is dropped by Streamlit whenever the widget is not
    drawn in a run (its group closed, another page open), and what then remains under its key
    can be the value it was first filled with — reading it back lost edits after two page
    changes. So the widget is always filled from the kept value, and an edit reaches the kept
    value only through the widget's ``on_change`` (:func:`_edited`)."""
    state = st.session_state
    state[key] = state[SHADOW][key]


def _edited(key: str) -> None:
    """on_change of every sidebar widget: the user's edit becomes the kept value."""
    state = st.session_state
    if key in state:
        state.setdefault(SHADOW, {})[key] = state[key]


def scenario_panel(tools: Callable[[], None] | None = None) -> Scenario:
    """Draw the sidebar scenario editor and return the scenario the pages should show.

    Call once per run, before the page runs; ``tools`` draws extra controls under the
    heading (the consultant's presets and share link, pages/workflow.py). Invalid fields get their message beside them;
    the pages then show the last valid scenario (:func:`scenario_problems` says why).

    Only the groups the user has open are drawn (a closed expander reports its state and
    its widgets are skipped): a few dozen widgets less for the browser to lay out on every
    run. Every field's value is kept in ``st.session_state[SHADOW]`` meanwhile.
    """
    state = st.session_state
    current = get_scenario()
    shadow = state.setdefault(SHADOW, {})
    if state.pop(PENDING_KEY, False) or not shadow:
        shadow.clear()
        shadow.update(_widgets_from(current))
        for k, v in shadow.items():
            state[k] = v
        state[SEEDED_KEY] = (dict(shadow), current)
    seeded, base = state.get(SEEDED_KEY) or (None, None)
    try:
        candidate = Scenario.model_validate(_collect(shadow, base, seeded))
        errors: dict[str, list[str]] = {}
        too_large = engine.budget_problem(candidate)
        if too_large:
            errors = {"trials": [too_large]}
        elif candidate != current:
            state[SCENARIO_KEY] = candidate
    except ValidationError as exc:
        errors = route_errors(exc)
    state[PROBLEMS_KEY] = [m if m.startswith(_where(p) + ":") else f"{_where(p)}: {m}"
                           for p, ms in errors.items() for m in ms]

    with st.sidebar:
        head, reset = st.columns([3, 2], vertical_alignment="bottom")
        head.markdown("### Scenario")
        reset.button("Reset", on_click=_reset, help="Back to the default scenario.", key="reset_scenario",
                     icon=":material/restart_alt:", width="stretch")
        if tools is not None:
            tools()
        if errors:
            st.error("Fix to update the results (the pages show the last valid scenario):\n\n"
                     + "\n".join(f"- **{_group_of(p)} › {_where(p)}**" for p in errors),
                     icon=":material/warning:")
        _show_errors(errors, "_scenario")
        for title, icon, inputs in GROUPS:
            paths = [i.path for i in inputs] + (["aco.enrollment_mix", *[i.path for i in MIX]] if title == "ACO" else [])
            bad = any(p in errors for p in paths)
            exp = st.expander(title, expanded=title == OPEN_GROUP, icon=icon, key=f"group.{title}",
                              on_change="rerun")
            with exp:
                if _is_open(exp, title == OPEN_GROUP) or bad or (title == "ACO" and "name" in errors):
                    if title == "ACO":
                        _widget(NAME, errors)
                    for inp in inputs:
                        _widget(inp, errors)
                    if title == "ACO":
                        _mix_widgets(errors)
        exp = st.expander("Tracks to compare", icon=":material/compare_arrows:", key="group.tracks",
                          on_change="rerun")
        with exp:
            if _is_open(exp, False) or any(p.startswith("tracks") for p in errors):
                _track_widgets(errors)
        exp = st.expander("Simulation", icon=":material/casino:", key="group.simulation", on_change="rerun")
        with exp:
            if _is_open(exp, False) or "trials" in errors or "seed" in errors:
                for inp in SIMULATION:
                    _widget(inp, errors)
                st.caption("The same seed gives exactly the same futures. The slower analyses on "
                           "'What drives the result' use fewer futures (shown there).")
    return get_scenario()


def _is_open(exp, default: bool) -> bool:
    """Whether an expander is open (its initial state when the client has not said)."""
    return default if exp.open is None else bool(exp.open)


def _group_of(path: str) -> str:
    if path == "name":
        return "ACO"
    if path.startswith("tracks"):
        return "Tracks to compare"
    if path in ("trials", "seed"):
        return "Simulation"
    if path.startswith("aco.enrollment_mix"):
        return "ACO"
    for title, _, inputs in GROUPS:
        if any(i.path == path for i in inputs):
            return title
    return "Scenario"


def _where(path: str) -> str:
    if path == "_scenario":
        return "Scenario"
    if path == "tracks":
        return "Tracks"
    if path == "aco.enrollment_mix":
        return "Enrollment mix"
    inp = _input_for(path)
    return label(inp) if inp else _meta(path)["label"] if _field(path) else path


def _mix_widgets(errors: dict[str, list[str]]) -> None:
    info = _field("aco.enrollment_mix")
    _seed(MIX_ON_KEY)
    on = st.toggle("Specify the enrollment mix", key=MIX_ON_KEY, help=info.description if info else None,
                   on_change=_edited, args=(MIX_ON_KEY,))
    if on:
        cols = st.columns(2)
        for i, inp in enumerate(MIX):
            with cols[i % 2]:
                _widget(inp, errors)
    _show_errors(errors, "aco.enrollment_mix")


def _track_widgets(errors: dict[str, list[str]]) -> None:
    codes = list(DEFAULT_TRACKS)
    for key in (TRACK_KEY, MSR_KEY, GLIDE_START_KEY, STAY_KEY, NGACO_CAP.key, NGACO_DISCOUNT.key):
        _seed(key)
    picked = st.pills("Tracks", codes, selection_mode="multi", key=TRACK_KEY, format_func=track_label,
                      on_change=_edited, args=(TRACK_KEY,),
                      help="Click to add or remove a track. All are settled on the same simulated futures, so "
                           "differences between them are policy, not luck. Retired tracks (Track 1–3, NGACO) "
                           "run on their last published rules as a what-if.")
    _show_errors(errors, "tracks")
    st.markdown("**Elections**")
    st.selectbox("MSR/MLR election (two-sided MSSP tracks)", list(MSR_LABELS), key=MSR_KEY,
                 on_change=_edited, args=(MSR_KEY,),
                 format_func=MSR_LABELS.get, disabled=not any(uses_elected_msr(c) for c in picked),
                 help="Minimum savings rate / minimum loss rate: savings or losses smaller than this share "
                      "of the benchmark are not shared at all. Two-sided MSSP ACOs choose 0%, 0.5–2.0%, or "
                      "the size-based rate that one-sided tracks use (42 CFR 425.605(b), 425.610(b)). "
                      "Applies to BASIC C–E, ENHANCED, the glide path's two-sided years and legacy "
                      "Tracks 1+, 2, 3.")
    glide = GLIDE in picked
    st.selectbox("Glide path: first-year level", ["A", "B", "C", "D", "E"], key=GLIDE_START_KEY,
                 on_change=_edited, args=(GLIDE_START_KEY,),
                 disabled=not glide, help=_meta("tracks.glide_start")["description"])
    st.toggle("Glide path: stay at Level A", key=STAY_KEY, disabled=not glide,
              on_change=_edited, args=(STAY_KEY,),
              help=_meta("tracks.stay_at_a")["description"])
    ngaco = any(c.startswith("NGACO") for c in picked)
    for inp in (NGACO_CAP, NGACO_DISCOUNT):
        st.number_input(label(inp), key=inp.key, step=inp.step, format=inp.fmt, disabled=not ngaco,
                        on_change=_edited, args=(inp.key,),
                        help=help_text(inp))
        _show_errors(errors, inp.path)


# --------------------------------------------------------------------------- cached engine


@st.cache_resource(show_spinner="Preparing the settlement engine — the very first start compiles it "
                                "(about 20 seconds); later starts take a moment…")
def warm_engine() -> float:
    """Load (or, on a fresh checkout, compile) the numba settlement kernels once per server
    process, with a tiny simulation of every track; returns the seconds it took."""
    t0 = time.perf_counter()
    result = montecarlo.simulate(Scenario(), trials=100)
    rules, args = result.settlement_inputs(result.keys[0], 0, 0)
    explain(rules, **args)  # the one-ACO kernel of the walkthrough page
    return time.perf_counter() - t0



def _simulate(scenario_json: str) -> montecarlo.SimulationResult:
    try:
        return engine.RESULTS.get(scenario_json)
    except engine.RunTooLarge as exc:
        st.error(md(str(exc)), icon=":material/warning:")
        st.stop()
        raise


def simulate_cached(scenario: Scenario) -> montecarlo.SimulationResult:
    """The simulation of ``scenario`` (shared, read-only; cached on its JSON in a cache
    bounded by bytes, dashboard/engine.py)."""
    return _simulate(scenario.model_dump_json())


@st.cache_data(max_entries=32, show_spinner=False)
def _summary(scenario_json: str):
    return montecarlo.summary(_simulate(scenario_json))


def summary_cached(scenario: Scenario):
    return _summary(scenario.model_dump_json())


@st.cache_data(max_entries=32, show_spinner=False)
def _by_year(scenario_json: str):
    return montecarlo.by_year(_simulate(scenario_json))


def by_year_cached(scenario: Scenario):
    return _by_year(scenario.model_dump_json())


@st.cache_data(max_entries=32, show_spinner=False)
def _quantiles(scenario_json: str) -> pd.DataFrame:
    res = _simulate(scenario_json)
    return charts.quantile_table(res.sorted_net, res.keys, presorted=True)


def quantiles_cached(scenario: Scenario) -> pd.DataFrame:
    """Quantiles of each track's agreement net (what the distribution charts draw)."""
    return _quantiles(scenario.model_dump_json())


#: Trials of the slower analyses (each reruns the simulation many times on the same seed).
TORNADO_TRIALS = 10_000
GRID_TRIALS = 3_000
BREAK_EVEN_TRIALS = 5_000


def _few(scenario: Scenario, trials: int) -> int:
    return min(scenario.trials, trials)


@st.cache_data(max_entries=32, show_spinner=False)
def _tornado(scenario_json: str, key: str, trials: int) -> pd.DataFrame:
    s = montecarlo.only_tracks(Scenario.model_validate_json(scenario_json), [key])
    df = montecarlo.tornado(s, trials=trials)
    texts = {p: ALL_INPUTS[p] for p in df["input"].unique() if p in ALL_INPUTS}
    df["low_text"] = [texts[p].text(v) if p in texts else f"{v:g}" for p, v in zip(df["input"], df["low_value"], strict=True)]
    df["high_text"] = [texts[p].text(v) if p in texts else f"{v:g}" for p, v in zip(df["input"], df["high_value"], strict=True)]
    return df


def tornado_cached(scenario: Scenario, key: str) -> pd.DataFrame:
    """Each main input's swing on ``key``'s expected net (settling only that track)."""
    return _tornado(scenario.model_dump_json(), key, _few(scenario, TORNADO_TRIALS))


#: Inputs offered for the heatmap: path -> ('add', step) or ('mul', factors) around the current value.
GRID_INPUTS: dict[str, tuple[str, Any]] = {
    "performance.savings_effect": ("add", 0.01),
    "performance.quality_mean": ("add", 0.05),
    "performance.qps_probability": ("add", 0.1),
    "performance.savings_effect_sd": ("mul", (0.25, 0.5, 0.75, 1, 1.5, 2, 3)),
    "aco.beneficiaries": ("mul", (0.25, 0.5, 0.75, 1, 1.5, 2, 3)),
    "noise.systemic_sd": ("mul", (0, 0.5, 0.75, 1, 1.5, 2, 3)),
    "noise.per_beneficiary_cv": ("mul", (0.5, 0.75, 1, 1.25, 1.5, 2)),
    "market.trend_sd": ("mul", (0, 0.5, 1, 1.5, 2, 3)),
    "market.prospective_gap_mean": ("add", 0.005),
    "costs.annual_operating_cost": ("mul", (0.25, 0.5, 0.75, 1, 1.5, 2)),
    "costs.revenue_loss_share": ("add", 0.1),
    "performance.ramp_years": ("add", 1),
}


def grid_values(scenario: Scenario, path: str, points: int = 7) -> list[float]:
    """Values of ``path`` for the heatmap: around the current value, inside its allowed range,
    always including the current value."""
    mode, arg = GRID_INPUTS[path]
    v = _get(scenario, path)
    m = _meta(path)
    lo = m["ge"] if m["ge"] is not None else -math.inf
    hi = m["le"] if m["le"] is not None else math.inf
    half = points // 2
    if mode == "add":
        raw = [v + k * arg for k in range(-half, half + 1)]
        if all(x < lo or x > hi for x in raw[:1]) or raw[0] < lo:
            shift = lo - raw[0]
            raw = [x + math.ceil(shift / arg - 1e-9) * arg for x in raw] if raw[0] < lo else raw
        if raw[-1] > hi:
            raw = [x - math.ceil((raw[-1] - hi) / arg - 1e-9) * arg for x in raw]
    else:
        raw = [v * f for f in arg]
    is_int = isinstance(v, int) and not isinstance(v, bool)
    vals = sorted({(round(x) if is_int else round(x, 6)) for x in raw if lo <= x <= hi} | {v})
    return vals


@st.cache_data(max_entries=32, show_spinner=False)
def _grid(scenario_json: str, key: str, x: str, xs: tuple, y: str, ys: tuple, trials: int) -> pd.DataFrame:
    s = montecarlo.only_tracks(Scenario.model_validate_json(scenario_json), [key])
    return montecarlo.grid(s, x, list(xs), y, list(ys), trials=trials)


def grid_cached(scenario: Scenario, key: str, x: str, y: str) -> pd.DataFrame:
    xs, ys = tuple(grid_values(scenario, x)), tuple(grid_values(scenario, y))
    return _grid(scenario.model_dump_json(), key, x, xs, y, ys, _few(scenario, GRID_TRIALS))


@st.cache_data(max_entries=16, show_spinner=False)
def _break_even(scenario_json: str, pairs: tuple, trials: int) -> pd.DataFrame:
    return montecarlo.crossings(Scenario.model_validate_json(scenario_json), list(pairs), trials=trials)


def break_even_cached(scenario: Scenario, pairs: list[tuple[str, str | None]]) -> pd.DataFrame:
    """Break-even effects (``other=None``) and crossings between tracks, on the same draws."""
    return _break_even(scenario.model_dump_json(), tuple(pairs), _few(scenario, BREAK_EVEN_TRIALS))


# --------------------------------------------------------------------------- page helpers


@st.cache_resource(max_entries=1, show_spinner=False)
def _figures() -> OrderedDict:
    return OrderedDict()


def figure(key: tuple, build: Callable[[], Any]):
    """The figure ``build()`` makes, kept for ``key`` (name, scenario JSON, options): a new
    session or a page switch then sends it without rebuilding it (figures are read-only)."""
    store = _figures()
    if key in store:
        store.move_to_end(key)
        return store[key]
    fig = build()
    store[key] = fig
    while len(store) > 64:
        store.popitem(last=False)
    return fig


def page_choice(key: str, options: list, default: Any) -> None:
    """Seed a page widget's value (a list for a multiselect), dropping choices no longer offered
    (the tracks of the scenario may have changed since the user chose). Create the widget with
    ``key`` and without a default afterwards."""
    state = st.session_state
    if key not in state:
        state[key] = default
        return
    value = state[key]
    if isinstance(value, list):
        kept = [v for v in value if v in options]
        if kept != value:
            state[key] = kept or default
    elif value not in options:
        state[key] = default


def chart_image(fig, scenario: Scenario, provenance: str | None = None) -> bytes:
    """``fig`` as a PNG with a provenance footer: ``provenance``, or the scenario's line."""
    line = provenance or reports.provenance(scenario).line()
    return reports.png_with_provenance(reports.figure_png(fig), line)


def chart(fig, key: str, *, provenance: str | None = None) -> None:
    """Show a figure from simulation.reports.charts with the house look (not Streamlit's theme), and
    under it a button that saves it as a PNG with its provenance in a footer: by default the
    current scenario (name, seed, futures, rules version, date), else the line given. The
    image is drawn (headless Chromium, a few seconds) only when the button is pressed."""
    st.plotly_chart(fig, key=key, theme=None, config=charts.CONFIG)
    s = get_scenario()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", s.name).strip("-").lower()[:40] or "scenario"
    st.download_button("Save as PNG", data=partial(chart_image, fig, s, provenance),
                       file_name=f"acosim-{key}-{slug}-seed{s.seed}.png",
                       mime="image/png", key=f"png.{key}", type="tertiary", icon=":material/image:",
                       on_click="ignore",
                       help="This chart as an image for a slide, with the scenario, seed, simulated futures, "
                            "rules version and date in its footer (drawn when pressed; a few seconds).")


def key_codes(result: montecarlo.SimulationResult) -> dict[str, str]:
    """Track key -> catalog code (BASIC_GLIDE for the glide path)."""
    return {k: c.track for k, c in zip(result.keys, result.choices, strict=True)}


def colors_for(result: montecarlo.SimulationResult) -> dict[str, str]:
    codes = key_codes(result)
    return charts.color_map(codes.keys(), codes.values())


def scenario_caption(s: Scenario) -> str:
    years = s.years
    rules = " · CY2027 proposed rule (PROPOSED, not final law)" if s.market.cy2027_proposal else ""
    return (f"**{md_escape(s.name)}** · {s.aco.beneficiaries:,} beneficiaries · {years[0]}–{years[-1]} · "
            f"{s.trials:,} simulated futures · seed {s.seed}{rules}")


def inject_css() -> None:
    """Small style additions (KPI cards, tooltips) shared by the pages."""
    st.html(
        """
<style>
.kpis {display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px;}
.kpi {border: 1px solid #e3e7ec; border-radius: 10px; padding: 12px 14px 10px 14px;
      border-left: 6px solid var(--track); background: #fff; height: 100%;}
.kpi .name {font-weight: 600; font-size: 1.0rem; color: #1f2933; white-space: nowrap;
            overflow: hidden; text-overflow: ellipsis;}
.kpi .value {font-size: 1.75rem; font-weight: 700; line-height: 1.15; margin-top: 2px;}
.kpi .pm {font-size: 0.8rem; color: #5f6b7a; font-weight: 400;}
.kpi .sub {font-size: 0.8rem; color: #5f6b7a; margin-bottom: 6px;}
.kpi .row {font-size: 0.88rem; color: #1f2933; line-height: 1.45;}
.kpi .row b {font-weight: 600;}
.tip {border-bottom: 1px dotted #8a94a3; cursor: help;}
.st-key-story p {font-size: 1.15rem; line-height: 1.55;}
.acotable-wrap {overflow-x: auto; margin-bottom: 0.5rem;}
.acotable {width: 100%; border-collapse: collapse; font-size: 0.92rem; font-variant-numeric: tabular-nums;}
.acotable th {text-align: right; font-weight: 600; color: #5f6b7a; border-bottom: 1px solid #cfd5dc;
              padding: 6px 8px; vertical-align: bottom; line-height: 1.25;}
.acotable tr.group td {font-weight: 600; padding-top: 9px; background: #fafbfc;}
.acotable td {text-align: right; padding: 5px 8px; border-bottom: 1px solid #eef0f3; white-space: nowrap;}
.acotable th:first-child, .acotable td:first-child {text-align: left;}
.acotable td.l, .acotable th.l {text-align: left;}
.acotable tr:hover td {background: #f6f8fa;}
.acotable .src {color: #5f6b7a; font-size: 0.84rem; white-space: normal;}
.acotable td:has(.src) {white-space: normal; min-width: 14rem; text-align: left;}
.acotable td:has(.wrap) {white-space: normal; min-width: 9rem;}
.acotable.fixed {table-layout: fixed;}
.acotable.fixed td, .acotable.fixed th {white-space: normal; min-width: 0; overflow-wrap: anywhere; vertical-align: top;}
.acotable .brk {overflow-wrap: anywhere;}
.acotable.fixed th {overflow-wrap: normal;}
.acotable code.brk {font-size: 0.78rem; padding: 0; background: none;}
.acotable .changed {background: #fff1d6; border-radius: 4px; padding: 1px 5px; font-weight: 600;}
dl.prov {display: grid; grid-template-columns: max-content auto; gap: 3px 14px; font-size: 0.92rem; margin: 0;}
dl.prov dt {color: #5f6b7a;} dl.prov dd {margin: 0;}
.sw {display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 8px;
     vertical-align: -1px;}
[data-testid="stMainBlockContainer"] {padding-top: 2.5rem; padding-bottom: 3rem;}
[data-testid="stSidebarContent"] [data-testid="stCaptionContainer"] {font-size: 0.75rem; line-height: 1.3;}
</style>
"""
    )


def money_cell(x: float | None, *, signed: bool = True) -> str:
    """A table cell with money coloured by its sign (gain/loss colours of the charts)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f'<span style="color:{charts.money_color(x)}">{money(x, signed=signed)}</span>'


def track_cell(name: str, color: str, tip: str | None = None) -> str:
    title = f' title="{html.escape(tip)}"' if tip else ""
    return f'<span class="sw" style="background:{color}"></span><span{title}>{html.escape(name)}</span>'


def html_table(rows: list[list[str] | str], headers: list[tuple[str, str | None]], *, left: int = 1,
               fixed: tuple[float, ...] | None = None) -> None:
    """A compact table (cells already formatted as HTML); ``headers`` are (title, tooltip).

    Lighter and more legible than a data grid for a dozen rows, and every header can carry
    its plain-language explanation as a tooltip. ``fixed``: each column's share of the width
    in percent; the table then keeps to the page's width and long text wraps in its cell."""
    head = "".join(
        f'<th class="{"l" if i < left else ""}"' + (f' title="{html.escape(tip)}"><span class="tip">' if tip else ">")
        + html.escape(title) + ("</span>" if tip else "") + "</th>"
        for i, (title, tip) in enumerate(headers))
    def row(r: list[str] | str) -> str:
        if isinstance(r, str):  # a group heading across the whole table
            return f'<tr class="group"><td colspan="{len(headers)}">{r}</td></tr>'
        return "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"

    body = "".join(row(r) for r in rows)
    cols = ("<colgroup>" + "".join(f'<col style="width:{w:g}%">' for w in fixed) + "</colgroup>") if fixed else ""
    cls = "acotable fixed" if fixed else "acotable"
    st.html(f'<div class="acotable-wrap"><table class="{cls}">{cols}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def available(result: montecarlo.SimulationResult) -> list[str]:
    """Track keys open to the ACO for an agreement starting when the scenario starts
    (:mod:`simulation.model.eligibility`: the program's years, the minimum size, 42 CFR 425.600(d));
    the others are simulated as a what-if and never recommended."""
    return eligibility.open_keys(result.scenario)


def notes_by_text(result: montecarlo.SimulationResult) -> list[tuple[str, list[str], bool]]:
    """Eligibility notes, each once, with the tracks it concerns and whether it is a what-if
    (rules carried beyond the years a track ran) rather than an eligibility problem."""
    out: dict[str, list[str]] = {}
    for key, notes in result.notes.items():
        for n in notes:
            out.setdefault(n, []).append(key)
    return [(n, ks, "nearest year's rules" in n) for n, ks in out.items()]


# --------------------------------------------------------------------------- navigation, links, notices

ROOT = Path(__file__).resolve().parents[1]
LINK_KEY = "_link_token"        # the share token last read from or written to the URL
NOTICE_KEY = "_notices"
NOTICE_PAGE_KEY = "_notices_page"  # notice -> the page it was first shown on


def _run_by_app() -> bool:
    """Whether this script run goes through app.py's ``st.navigation``. Streamlit's own
    ``pages/`` auto-discovery lists the entry script itself among the pages; app.py's
    navigation never does."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return True
    main = Path(ctx.main_script_path).resolve()
    return all(Path(info.get("script_path") or "").resolve() != main
               for info in ctx.pages_manager.get_pages().values())


def deep_link_guard() -> None:
    """Call first in every page script: ``common.deep_link_guard()``.

    On a freshly started server, the first request for a deep URL such as ``/agreement?s=…``
    runs that page's script alone (Streamlit's ``pages/`` auto-discovery, used until
    ``app.py`` has called ``st.navigation`` once): no scenario panel, no share link restored,
    the raw files of ``pages/`` as the menu. The guard notices that this run did not come
    through ``app.py`` and runs ``app.py`` in its place, in the same script run: its
    navigation resolves the page the URL asked for, restores the scenario from the query
    parameters and draws the page; then this outer run stops. No redirect, so the address,
    the query parameters and any widget values of the run are kept. (Streamlit's AppTest
    resets that auto-discovery on every run; the guard sends those runs through ``app.py``
    too.) A page run on its own, with no ``app.py`` as the entry script, is drawn as it is.
    """
    if _run_by_app():
        return
    ctx = get_script_run_ctx()
    app = ROOT / "app.py"
    if ctx is None or Path(ctx.main_script_path).resolve() != app.resolve():
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        runpy.run_path(str(app), run_name="__main__")
    st.stop()


def notify(kind: str, text: str, scenario: Scenario | None = None) -> None:
    """A message ('success', 'info', 'warning', 'error') shown above the page until the
    scenario changes from ``scenario`` (default: the current one)."""
    about = (scenario or get_scenario()).model_dump_json()
    notes = st.session_state.setdefault(NOTICE_KEY, [])
    if (kind, text, about) not in notes:
        notes.append((kind, text, about))


NOTICE_ICONS = {"success": ":material/check_circle:", "info": ":material/info:",
                "warning": ":material/warning:", "error": ":material/error:"}


def show_notices(page: str = "") -> None:
    """Draw the notices that still concern the current scenario (app.py, above the page).

    A notice stays while the user works on the page where it was first shown, and is gone
    once another page is opened: it was read, and repeating it on every page is noise."""
    notes = st.session_state.get(NOTICE_KEY)
    if not notes:
        return
    current = get_scenario().model_dump_json()
    first_shown = st.session_state.setdefault(NOTICE_PAGE_KEY, {})
    keep = []
    for note in notes:
        if note[2] != current:
            continue
        if first_shown.setdefault(note, page) != page:
            first_shown.pop(note, None)
            continue
        keep.append(note)
    st.session_state[NOTICE_KEY] = keep
    for kind, text, _ in keep:
        getattr(st, kind)(md(printable(text)), icon=NOTICE_ICONS.get(kind))


def md(text: str) -> str:
    """Text for st.markdown and alerts with its dollar signs escaped, so that "$860K … $1.5M"
    or "($M a year)" is not typeset as a formula."""
    return re.sub(r"(?<!\\)\$", r"\\$", text)


@lru_cache(maxsize=256)
def _token(scenario_json: str) -> str:
    return share.encode_scenario(Scenario.model_validate_json(scenario_json))


def share_token(scenario: Scenario) -> str:
    """The scenario as a compact URL token (simulation.model.share), cached on its JSON."""
    return _token(scenario.model_dump_json())


def app_root_url() -> str:
    """The app's root address as the browser sees it (scheme, host, port, base path)."""
    url = st.context.url
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    if url:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
    else:  # no browser (tests): the address the server listens on
        origin = f"http://localhost:{st.get_option('server.port')}"
    return f"{origin}/{base + '/' if base else ''}"


#: Session key of the named snapshots (name -> Scenario) compared on the Scenarios page.
SNAPSHOTS_KEY = "snapshots"


def share_link_with_snapshots(scenario: Scenario, snapshots: dict[str, Scenario]) -> str:
    """A link that opens ``scenario`` and the side-by-side ``snapshots`` (raises
    :class:`ScenarioError` with a plain message when they do not fit in a link)."""
    return f"{app_root_url()}?{urlencode({share.QUERY_PARAM: share.encode_with_snapshots(scenario, snapshots)})}"


def share_link(scenario: Scenario) -> str:
    """A link to the app's root that opens exactly ``scenario`` (same seed, same numbers)."""
    from dashboard import horizon_view  # the view chosen on Compare tracks travels too (?h=10)

    return f"{app_root_url()}?{urlencode({share.QUERY_PARAM: share_token(scenario), **horizon_view.link_params()})}"


def restore_from_url() -> None:
    """If the URL carries a scenario this session has not seen (an opened share link), make
    it the scenario; a link made under other rules says so, and a damaged one gets a message
    and the default scenario. Call in app.py before the scenario panel."""
    state = st.session_state
    token = st.query_params.get(share.QUERY_PARAM)
    if not token or token == state.get(LINK_KEY):
        return
    state[LINK_KEY] = token
    if SCENARIO_KEY in state and token == share_token(state[SCENARIO_KEY]):
        return
    try:
        scenario, snaps, warnings = share.decode_link(token)
    except ScenarioError as exc:
        set_scenario(Scenario())
        notify("error", "This link's scenario could not be opened: " + "; ".join(map(md_escape, exc.problems))
               + ". The default scenario is shown instead.", Scenario())
        return
    if engine.budget_problem(scenario):
        asked = scenario.trials
        scenario = engine.affordable(scenario)
        notify("warning", f"This link asks for {asked:,} simulated futures, more than this shared dashboard "
                          f"runs at once for {len(scenario.tracks)} tracks; it shows {scenario.trials:,} "
                          "(same seed). For all of them, save the scenario and run "
                          "`acosim simulate --scenario FILE`.", scenario)
    set_scenario(scenario)
    if snaps:
        state[SNAPSHOTS_KEY] = snaps
    notify("success", f"Opened the shared scenario “{md_escape(scenario.name)}” (seed {scenario.seed}, "
                      f"{scenario.trials:,} simulated futures)"
                      + (f" with {len(snaps)} snapshot{'s' if len(snaps) > 1 else ''} to compare side by side "
                         "on the Scenarios page." if snaps else "."), scenario)
    for w in warnings:
        notify("warning", md_escape(w), scenario)


def sync_url(scenario: Scenario) -> None:
    """Keep ``?s=`` in the address bar equal to the scenario shown (after the panel)."""
    token = share_token(scenario)
    st.session_state[LINK_KEY] = token
    if st.query_params.get(share.QUERY_PARAM) != token:
        st.query_params[share.QUERY_PARAM] = token


# --------------------------------------------------------------------------- assumptions


@st.cache_data(max_entries=16, show_spinner=False)
def _assumptions(scenario_json: str) -> pd.DataFrame:
    from simulation.model.assumptions import assumption_table

    return assumption_table(Scenario.model_validate_json(scenario_json))


def assumptions_cached(scenario: Scenario) -> pd.DataFrame:
    """Every SEC/INF value the scenario's tracks use, plus the model's own assumptions."""
    return _assumptions(scenario.model_dump_json())


def with_override(scenario: Scenario, track_key: str | None, name: str | None,
                  value: float | None) -> Scenario:
    """``scenario`` with one track's parameter changed as a what-if (validated), or with
    every what-if cleared when ``track_key`` is None. Raises ValueError with the message."""
    tracks = []
    for choice in scenario.tracks:
        if track_key is None:
            tracks.append(choice.model_copy(update={"overrides": {}}))
        elif choice.key == track_key:
            data = choice.model_dump()
            data["overrides"] = {**choice.overrides, name: value}
            try:
                tracks.append(TrackChoice.model_validate(data))
            except ValidationError as exc:
                raise ValueError("; ".join(format_errors(exc, TrackChoice))) from None
        else:
            tracks.append(choice)
    try:
        return Scenario.model_validate({**scenario.model_dump(), "tracks": [t.model_dump() for t in tracks]})
    except ValidationError as exc:
        raise ValueError("; ".join(format_errors(exc))) from None
