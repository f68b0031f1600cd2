"""The sidebar's scenario panel: one widget per field (dashboard/fields.py), filled from the
kept values, validated by pydantic with each message routed to its field.

:func:`scenario_panel` (called by ``app.py`` on every run, whatever the page) draws the
sidebar that edits the scenario: labelled, with unit and help text taken from the schema,
shown in the units an executive reads (% and $M). While any field is invalid, the pages keep
showing the last valid scenario (:func:`dashboard.state.scenario_problems` says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from pydantic import ValidationError

from dashboard import engine
from dashboard.fields import (
    GLIDE_START_KEY,
    GROUPS,
    MIX,
    MIX_ON_KEY,
    MSR_KEY,
    MSR_LABELS,
    NAME,
    NGACO_CAP,
    NGACO_DISCOUNT,
    SIMULATION,
    STAY_KEY,
    TRACK_KEY,
    Input,
    field_info,
    help_text,
    input_for,
    label,
    meta,
    source_note,
    track_label,
    uses_elected_msr,
)
from dashboard.state import (
    GROUP,
    PENDING,
    PROBLEMS,
    RESET,
    SCENARIO,
    SEEDED,
    SHADOW,
    WIDGET,
    get_scenario,
)
from simulation.model.scenario import (
    DEFAULT_TRACKS,
    GLIDE,
    EnrollmentMix,
    Scenario,
    TrackChoice,
    format_errors,
    get_path,
    set_path,
)
from simulation.text import clip

OPEN_GROUP: str | None = None  # the sidebar group open on arrival (None: all closed, a tidy menu)


def widgets_from(s: Scenario) -> dict[str, Any]:
    """Widget values showing scenario ``s``."""
    out = {i.key: i.show(get_path(s, i.path)) for _, _, g in GROUPS for i in g}
    out |= {i.key: i.show(get_path(s, i.path)) for i in (*SIMULATION, NAME)}
    mix = s.aco.enrollment_mix
    out[MIX_ON_KEY] = mix is not None
    ref = mix or EnrollmentMix()
    out |= {i.key: i.show(get_path(ref, i.path.rsplit(".", 1)[-1])) for i in MIX}
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
            set_path(data, inp.path, inp.store(state[inp.key]))
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
        inp = input_for(path)
        ctx = err.get("ctx") or {}
        m = meta(path) if inp is not None else {}
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
    m = meta(inp.path)
    if m["source"]:
        st.caption(source_note(inp, m["source"]))



def _reset() -> None:
    for k in list(st.session_state):
        if isinstance(k, str) and k.startswith(WIDGET):
            del st.session_state[k]
    st.session_state[SHADOW] = {}
    st.session_state.pop(SEEDED, None)
    st.session_state[SCENARIO] = Scenario()
    st.session_state[PENDING] = True


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
    heading (the consultant's presets and share link, dashboard/workflow.py). Invalid fields get their message beside them;
    the pages then show the last valid scenario (:func:`scenario_problems` says why).

    Only the groups the user has open are drawn (a closed expander reports its state and
    its widgets are skipped): a few dozen widgets less for the browser to lay out on every
    run. Every field's value is kept in ``st.session_state[SHADOW]`` meanwhile.
    """
    state = st.session_state
    current = get_scenario()
    shadow = state.setdefault(SHADOW, {})
    if state.pop(PENDING, False) or not shadow:
        shadow.clear()
        shadow.update(widgets_from(current))
        for k, v in shadow.items():
            state[k] = v
        state[SEEDED] = (dict(shadow), current)
    seeded, base = state.get(SEEDED) or (None, None)
    try:
        candidate = Scenario.model_validate(_collect(shadow, base, seeded))
        errors: dict[str, list[str]] = {}
        too_large = engine.budget_problem(candidate)
        if too_large:
            errors = {"trials": [too_large]}
        elif candidate != current:
            state[SCENARIO] = candidate
    except ValidationError as exc:
        errors = route_errors(exc)
    state[PROBLEMS] = [m if m.startswith(_where(p) + ":") else f"{_where(p)}: {m}"
                           for p, ms in errors.items() for m in ms]

    with st.sidebar:
        head, reset = st.columns([3, 2], vertical_alignment="bottom")
        head.markdown("### Scenario")
        reset.button("Reset", on_click=_reset, help="Back to the default scenario.", key=RESET,
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
            exp = st.expander(title, expanded=title == OPEN_GROUP, icon=icon, key=GROUP + title,
                              on_change="rerun")
            with exp:
                if _is_open(exp, title == OPEN_GROUP) or bad or (title == "ACO" and "name" in errors):
                    if title == "ACO":
                        _widget(NAME, errors)
                    for inp in inputs:
                        _widget(inp, errors)
                    if title == "ACO":
                        _mix_widgets(errors)
        exp = st.expander("Tracks to compare", icon=":material/compare_arrows:", key=GROUP + "tracks",
                          on_change="rerun")
        with exp:
            if _is_open(exp, False) or any(p.startswith("tracks") for p in errors):
                _track_widgets(errors)
        exp = st.expander("Simulation", icon=":material/casino:", key=GROUP + "simulation", on_change="rerun")
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
    inp = input_for(path)
    return label(inp) if inp else meta(path)["label"] if field_info(path) else path


def _mix_widgets(errors: dict[str, list[str]]) -> None:
    info = field_info("aco.enrollment_mix")
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
                 disabled=not glide, help=meta("tracks.glide_start")["description"])
    st.toggle("Glide path: stay at Level A", key=STAY_KEY, disabled=not glide,
              on_change=_edited, args=(STAY_KEY,),
              help=meta("tracks.stay_at_a")["description"])
    ngaco = any(c.startswith("NGACO") for c in picked)
    for inp in (NGACO_CAP, NGACO_DISCOUNT):
        st.number_input(label(inp), key=inp.key, step=inp.step, format=inp.fmt, disabled=not ngaco,
                        on_change=_edited, args=(inp.key,),
                        help=help_text(inp))
        _show_errors(errors, inp.path)

