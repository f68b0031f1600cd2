"""Settlement walkthrough (for students): one ACO-year settled step by step, with its rules.

Pick a track and a performance year, start from a simulated year of the current scenario
(typical, bad, good) or your own numbers, and follow the waterfall from benchmark to
settlement. Change any number to see what changed. All logic is in
:mod:`simulation.learn.walkthrough`; the steps come from :func:`simulation.rules.explain.explain`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import streamlit as st

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # when this file is run on its own (tests, screenshots)
    sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402

from dashboard import learn as lc  # noqa: E402
from dashboard.engine import simulate_cached  # noqa: E402
from dashboard.links import deep_link_guard  # noqa: E402
from dashboard.state import get_scenario  # noqa: E402
from simulation.learn import walkthrough as wt  # noqa: E402
from simulation.model.scenario import track_sequence  # noqa: E402
from simulation.rules.catalog import load_catalog  # noqa: E402
from simulation.rules.settlement import is_higher_spending  # noqa: E402
from simulation.text import md_escape, money, pct  # noqa: E402

STATE = "walkthrough.state"  # persistent (non-widget) state: survives visits to other pages
OWN = "own"
OUTCOME_LABELS = {**{k: v[1] for k, v in wt.OUTCOMES.items()}, OWN: "My own numbers"}

#: Widget keys of the inputs, and the WalkInputs field each edits.
W = {
    "benchmark": "walkthrough.benchmark", "expenditure": "walkthrough.expenditure", "rate": "walkthrough.rate",
    "beneficiaries": "walkthrough.beneficiaries", "quality_score": "walkthrough.quality", "qps_met": "walkthrough.qps",
    "alt_qps_met": "walkthrough.alt", "msr": "walkthrough.msr", "participant_revenue": "walkthrough.revenue",
    "low_revenue": "walkthrough.low", "agreement_start_year": "walkthrough.start", "agreement_year": "walkthrough.ayear",
    "first_year_reporting": "walkthrough.first", "benchmark_two_way": "walkthrough.two_way", "euc_share": "walkthrough.euc",
    "savings_cap": "walkthrough.ngcap", "benchmark_discount": "walkthrough.ngdisc", "higher_spending": "walkthrough.higher",
}


# --------------------------------------------------------------------------- state


def _catalog():
    return load_catalog()


def _clamp_year(track: str, year: int) -> int:
    info = _catalog().tracks[track]
    return min(max(int(year), info.first_year), info.last_year)


def _scenario_signature() -> str:
    return get_scenario().model_dump_json()


def _outcomes(track: str) -> tuple[dict[str, wt.Outcome], str]:
    """The simulated outcomes of ``track`` and a note on where they come from."""
    scenario = get_scenario()
    result = simulate_cached(scenario)
    found = wt.simulation_key(result, track)
    note = ""
    if found is None:
        result = simulate_cached(wt.scenario_with_track(scenario, track))
        found = wt.simulation_key(result, track)
        note = (f"The scenario does not include {_catalog().tracks[track].short_label}, so it "
                "was simulated on its own with the scenario's other assumptions.")
    if found is None:
        raise ValueError(f"no simulated year is settled under {track}")
    key, years = found
    return wt.pick_outcomes(result, key, years), note


def _fallback_inputs() -> wt.WalkInputs:
    """Inputs from the scenario itself, when no simulation is available."""
    aco = get_scenario().aco
    return wt.WalkInputs(
        benchmark=aco.benchmark_pc, expenditure=aco.benchmark_pc * 0.98,
        beneficiaries=aco.beneficiaries, quality_score=0.85,
        participant_revenue=aco.participant_revenue, low_revenue=aco.low_revenue,
        agreement_start_year=aco.agreement_start_year,
        higher_spending=bool(is_higher_spending(aco.spending_vs_region)))


def _put_inputs(inputs: wt.WalkInputs) -> None:
    """Store ``inputs`` as the persistent inputs and load them into every input widget."""
    state = st.session_state[STATE]
    state["inputs"] = dataclasses.asdict(inputs)
    for name, value in _widget_values(inputs).items():
        st.session_state[name] = value


def _widget_values(inputs: wt.WalkInputs) -> dict[str, object]:
    """The widget value of each input (percentages, $ millions, MSR codes)."""
    def opt(x, f=lambda v: v):
        return None if x is None else f(x)

    return {
        W["benchmark"]: float(inputs.benchmark),
        W["expenditure"]: float(inputs.expenditure),
        W["rate"]: round(100.0 * inputs.savings_rate, 3),
        W["beneficiaries"]: float(inputs.beneficiaries),
        W["quality_score"]: round(100.0 * inputs.quality_score, 1),
        W["qps_met"]: bool(inputs.qps_met),
        W["alt_qps_met"]: bool(inputs.alt_qps_met),
        W["msr"]: _msr_code(inputs.msr),
        W["participant_revenue"]: opt(inputs.participant_revenue, lambda v: round(v / 1e6, 3)),
        W["low_revenue"]: bool(inputs.low_revenue),
        W["agreement_start_year"]: opt(inputs.agreement_start_year, float),
        W["agreement_year"]: float(inputs.agreement_year),
        W["first_year_reporting"]: bool(inputs.first_year_reporting),
        W["benchmark_two_way"]: opt(inputs.benchmark_two_way, float),
        W["euc_share"]: round(100.0 * inputs.euc_share, 1),
        W["savings_cap"]: opt(inputs.savings_cap, lambda v: round(100 * v, 2)),
        W["benchmark_discount"]: opt(inputs.benchmark_discount, lambda v: round(100 * v, 2)),
        W["higher_spending"]: bool(inputs.higher_spending),
    }


def _msr_code(msr: float | None) -> str:
    return "size" if msr is None or (isinstance(msr, float) and math.isnan(msr)) else f"{100 * msr:g}"


def _load_outcome() -> None:
    """Load the chosen simulated outcome of the chosen track into the inputs."""
    state = st.session_state[STATE]
    name = st.session_state.get("walkthrough.outcome", state["outcome"])
    state["outcome"] = name
    state["scenario"] = _scenario_signature()
    if name == OWN:
        return
    track = st.session_state.get("walkthrough.track", state["track"])
    try:
        outcomes, note = _outcomes(track)
    except Exception as exc:  # the scenario cannot be simulated: keep the numbers, say why
        state["source"] = {"error": f"The current scenario could not be simulated ({exc}); "
                                    "showing your own numbers instead."}
        state["outcome"] = OWN
        st.session_state["walkthrough.outcome"] = OWN
        return
    chosen = outcomes[name]
    state["source"] = {"outcome": chosen, "note": note}
    _put_inputs(chosen.inputs)


def _init_state() -> None:
    """First visit: the scenario's first track, its first year, the median simulated year."""
    if STATE in st.session_state:
        return
    scenario = get_scenario()
    codes = track_sequence(scenario.tracks[0], scenario) if scenario.tracks else []
    track = codes[0] if codes else "BASIC_A"
    st.session_state[STATE] = {
        "track": track, "year": _clamp_year(track, scenario.years[0]), "outcome": "median",
        "inputs": dataclasses.asdict(_fallback_inputs()), "spend_mode": "dollars",
        "source": {}, "scenario": None, "last": None, "prev": None,
    }
    st.session_state["walkthrough.outcome"] = "median"
    _load_outcome()


def _apply_preset() -> None:
    """A 'Walk it' link from the Learn page: its track, year and numbers."""
    item_id = st.session_state.pop(lc.WALK_PRESET_KEY, None)
    if item_id is None:
        return
    item = lc.see_its().get(item_id)
    if item is None or item.walkthrough is None:
        return
    state = st.session_state[STATE]
    try:
        track, year, inputs = lc.walkthrough_example(item)
    except Exception as exc:  # a bad example in data/learn/see_it.yaml: say so, keep going
        state["source"] = {"error": f"The example could not be loaded ({exc})."}
        return
    state.update(track=track, year=year, outcome=OWN, scenario=_scenario_signature(),
                 source={"example": item.label.removeprefix("Walk it: "), "help": item.help},
                 last=None, prev=None)  # a fresh example: nothing to compare it with
    st.session_state.update({"walkthrough.track": track, "walkthrough.year": year, "walkthrough.outcome": OWN})
    _put_inputs(inputs)


def _sync_widgets() -> None:
    """Give every input widget missing from the session (e.g. after visiting another page)
    its persistent value."""
    state = st.session_state[STATE]
    inputs = wt.WalkInputs(**state["inputs"])
    for name, value in _widget_values(inputs).items():
        if name not in st.session_state:
            st.session_state[name] = value
    for key, value in (("walkthrough.track", state["track"]), ("walkthrough.year", state["year"]),
                       ("walkthrough.outcome", state["outcome"]), ("walkthrough.spend_mode", state["spend_mode"])):
        if key not in st.session_state:
            st.session_state[key] = value


# --------------------------------------------------------------------------- callbacks


def _on_track() -> None:
    state = st.session_state[STATE]
    state["track"] = st.session_state["walkthrough.track"]
    st.session_state["walkthrough.year"] = _clamp_year(state["track"], st.session_state["walkthrough.year"])
    state["year"] = st.session_state["walkthrough.year"]
    if state["outcome"] != OWN:
        _load_outcome()


def _on_outcome() -> None:
    _load_outcome()


def _on_edit() -> None:
    """Any number edited by hand: these are now the student's own numbers."""
    st.session_state["walkthrough.outcome"] = OWN
    st.session_state[STATE]["outcome"] = OWN


def _on_spend_mode() -> None:
    """Switching between dollars and a savings rate: fill the newly shown field."""
    state = st.session_state[STATE]
    state["spend_mode"] = st.session_state["walkthrough.spend_mode"]
    inputs = wt.WalkInputs(**state["inputs"])
    st.session_state[W["expenditure"]] = float(inputs.expenditure)
    st.session_state[W["rate"]] = round(100.0 * inputs.savings_rate, 3)


# --------------------------------------------------------------------------- widgets


def _field_messages(problems: list[wt.Problem], field: str) -> None:
    for p in problems:
        if p.field == field:
            {"error": st.error, "warning": st.warning, "info": st.caption}[p.level](p.message)


#: The whole-number inputs: (label, smallest, largest, step). They are typed in decimal boxes:
#: a browser's integer box reads "1e9" as 1, silently; here "1e9" is read as 1,000,000,000 and
#: refused with the field's range, and a fraction is refused too.
WHOLE = {
    "beneficiaries": ("Assigned beneficiaries", 1, 1_000_000, 500.0),
    "agreement_start_year": ("Agreement start year", 2012, 2035, 1.0),
    "agreement_year": ("Year of the agreement", 1, 6, 1.0),
}


def _whole_box(field: str, **kw) -> None:
    """A whole-number input: a decimal box shown without decimals (see :data:`WHOLE`)."""
    name, _lo, _hi, step = WHOLE[field]
    st.number_input(name, step=step, format="%.0f", **kw)
    problem = whole_problem(field, st.session_state.get(kw["key"]))
    if problem:
        st.error(problem, icon=":material/error:")


def whole_problem(field: str, value) -> str | None:
    """The message for a whole-number input that is not one in its range (None if it is, or
    if the optional field is empty): it names the field and the allowed range."""
    name, lo, hi, _ = WHOLE[field]
    if value is None:
        return None
    v = float(value)
    if math.isfinite(v) and v.is_integer() and lo <= v <= hi:
        return None
    fmt = (lambda x: f"{x:.0f}") if "year" in field else (lambda x: f"{x:,.0f}")
    shown = fmt(v) if math.isfinite(v) and v.is_integer() else f"{v:,.6g}"
    return (f"{name}: enter a whole number from {fmt(lo)} to {fmt(hi)} (you entered {shown}); "
            "the step-by-step below uses the last valid value.")


def _whole_value(field: str, last):
    """The whole-number input's value as an int, or ``last`` (the last valid one) while the
    box holds something outside its range."""
    value = st.session_state.get(W[field])
    if value is None:
        return None if field == "agreement_start_year" else last
    return last if whole_problem(field, value) else int(value)


def _inputs_form(rules, problems: list[wt.Problem]) -> wt.WalkInputs:
    """Every input widget; returns the inputs they hold now."""
    state = st.session_state[STATE]
    edit = {"on_change": _on_edit}
    st.number_input("Benchmark per beneficiary ($)", min_value=1_000.0, max_value=200_000.0,
                    step=100.0, format="%.0f", key=W["benchmark"],
                    help=lc.define("Benchmark"), **edit)
    _field_messages(problems, "benchmark")
    mode = st.radio("Enter spending as", ["dollars", "rate"], key="walkthrough.spend_mode",
                    horizontal=True, on_change=_on_spend_mode,
                    format_func={"dollars": "$ per beneficiary",
                                 "rate": "% below the benchmark"}.get,
                    help=lc.tooltip("Spending", "Savings rate"))
    benchmark = float(st.session_state[W["benchmark"]])
    if mode == "rate":
        rate = st.number_input("Spending below the benchmark (%)", min_value=-100.0,
                               max_value=99.0, step=0.5, format="%.2f", key=W["rate"],
                               help=lc.define("Savings rate") + " Negative means overspending.",
                               **edit)
        expenditure = benchmark * (1.0 - rate / 100.0)
        st.caption(f"= ${expenditure:,.0f} per beneficiary")
    else:
        expenditure = st.number_input("Spending per beneficiary ($)", min_value=0.0,
                                      max_value=600_000.0, step=100.0, format="%.0f",
                                      key=W["expenditure"], help=lc.define("Spending"), **edit)
        st.caption(f"= {pct(1 - expenditure / benchmark, 2)} below the benchmark"
                   if expenditure <= benchmark else
                   f"= {pct(expenditure / benchmark - 1, 2)} above the benchmark")
    _field_messages(problems, "expenditure")
    _whole_box("beneficiaries", key=W["beneficiaries"], help=lc.define("Assigned beneficiaries"), **edit)
    _field_messages(problems, "beneficiaries")

    st.slider("Quality score (%)", 0.0, 100.0, step=0.1, format="%.1f", key=W["quality_score"],
              help=lc.define("Quality score"), **edit)
    _field_messages(problems, "quality_score")
    st.checkbox("QPS met", key=W["qps_met"],
                help=lc.define("Quality performance standard"), **edit)
    st.checkbox("Alternative QPS met", key=W["alt_qps_met"], help=lc.define("Alternative QPS"),
                **edit)
    _field_messages(problems, "alt_qps_met")

    if rules.msr_mode == "elected":
        options = ["size"] + [_msr_code(x) for x in (rules.msr_election_options or ()) if x is not None]
        if st.session_state.get(W["msr"]) not in options:
            st.session_state[W["msr"]] = "size"
        st.selectbox("MSR/MLR election", options, key=W["msr"],
                     format_func=lambda c: "size-based" if c == "size" else f"{c}%",
                     help=lc.define("MSR/MLR election"), **edit)
    elif rules.msr_mode == "size_scale":
        st.caption("Minimum savings rate: size-based (one-sided tracks cannot choose).")
    else:
        st.caption("This model has no minimum savings or loss rate.")

    st.number_input("Participants' Medicare revenue ($ millions)", min_value=0.0,
                    max_value=50_000.0, step=1.0, format="%.1f", value=None,
                    key=W["participant_revenue"], placeholder="not given",
                    help=lc.define("Participant revenue"), **edit)
    _field_messages(problems, "participant_revenue")
    st.checkbox("Low-revenue ACO", key=W["low_revenue"], help=lc.define("Low revenue"), **edit)
    _field_messages(problems, "low_revenue")
    if rules.program == "LEAD":
        st.checkbox("Higher-spending than its region (LEAD)", key=W["higher_spending"],
                    help=lc.define("Historical spending vs region"), **edit)
    _whole_box("agreement_start_year", value=None, key=W["agreement_start_year"], placeholder="before 2024",
               help=lc.define("Agreement period"), **edit)
    _field_messages(problems, "agreement_start_year")

    with st.expander("More inputs"):
        _whole_box("agreement_year", key=W["agreement_year"],
                   help="1 for the agreement's first performance year. Track 2's loss "
                        "limit steps up with it.", **edit)
        st.checkbox("First year of a first agreement", key=W["first_year_reporting"],
                    help=lc.define("First agreement"), **edit)
        st.number_input("Benchmark without the ACPT ($)", min_value=0.0, max_value=200_000.0,
                        step=100.0, format="%.0f", value=None, key=W["benchmark_two_way"],
                        placeholder="none", help=lc.define("ACPT"), **edit)
        st.number_input("Losses forgiven for a disaster (EUC, %)", min_value=0.0,
                        max_value=100.0, step=5.0, format="%.1f", key=W["euc_share"],
                        help=lc.define("Extreme and uncontrollable circumstances"), **edit)
        _field_messages(problems, "euc_share")
        if rules.program == "NGACO":
            st.number_input("NGACO savings/loss cap (%)", min_value=5.0, max_value=15.0,
                            step=1.0, value=None, key=W["savings_cap"], placeholder="15",
                            help=lc.define("NGACO savings/loss cap"), **edit)
            st.number_input("NGACO benchmark discount (%)", min_value=0.5, max_value=4.5,
                            step=0.5, value=None, key=W["benchmark_discount"], placeholder="3",
                            help=lc.define("Benchmark discount"), **edit)

    ss = st.session_state
    stored = wt.WalkInputs(**state["inputs"])

    def pct_or_none(key):
        v = ss.get(key)
        return None if v is None else float(v) / 100.0

    revenue = ss.get(W["participant_revenue"])
    msr_code = ss.get(W["msr"], _msr_code(stored.msr))
    inputs = wt.WalkInputs(
        benchmark=benchmark,
        expenditure=float(expenditure),
        beneficiaries=_whole_value("beneficiaries", stored.beneficiaries),
        quality_score=float(ss[W["quality_score"]]) / 100.0,
        qps_met=bool(ss[W["qps_met"]]),
        alt_qps_met=bool(ss[W["alt_qps_met"]]),
        msr=None if msr_code == "size" else float(msr_code) / 100.0,
        participant_revenue=None if revenue is None else float(revenue) * 1e6,
        low_revenue=bool(ss[W["low_revenue"]]),
        agreement_start_year=_whole_value("agreement_start_year", stored.agreement_start_year),
        agreement_year=_whole_value("agreement_year", stored.agreement_year),
        first_year_reporting=bool(ss[W["first_year_reporting"]]),
        benchmark_two_way=ss.get(W["benchmark_two_way"]),
        euc_share=float(ss[W["euc_share"]]) / 100.0,
        savings_cap=pct_or_none(W["savings_cap"]) if rules.program == "NGACO" else stored.savings_cap,
        # a simulated REACH/LEAD outcome carries its calibrated benchmark level as a discount;
        # the student's own numbers use the catalog's discount
        benchmark_discount=(pct_or_none(W["benchmark_discount"]) if rules.program == "NGACO"
                            else (stored.benchmark_discount if state["outcome"] != OWN else None)),
        higher_spending=(bool(ss.get(W["higher_spending"], stored.higher_spending)) if rules.program == "LEAD"
                         else stored.higher_spending),
    )
    state["inputs"] = dataclasses.asdict(inputs)
    return inputs


# --------------------------------------------------------------------------- results


def _headline(final: float) -> str:
    if final > 0.005:
        return f"CMS pays the ACO **{money(final)}**."
    if final < -0.005:
        return f"The ACO owes CMS **{money(-final)}**."
    return "No money changes hands."


def _show_steps(steps) -> None:
    st.markdown("#### Step by step")
    for i, (s, change) in enumerate(zip(steps, wt.step_changes(steps), strict=True), 1):
        entry = lc.step_entry(s.key)
        summary = wt.step_summary(s, change)
        st.markdown(f"**{i}. {s.label}**" + (f" · {summary}" if summary else ""),
                    help=f"**{entry.term}**: {entry.short}" if entry else None)
        st.markdown(s.text)
        st.caption(f"Rule: {s.citation}" if s.citation else "Rule: see the track catalog")


def _snapshot(track: str, year: int, inputs: wt.WalkInputs, result: wt.Walk) -> dict:
    return {"track": track, "year": year, "inputs": dataclasses.asdict(inputs),
            "steps": result.steps, "final": result.final}


def _step_value(s, steps) -> str:
    """A changed step's numbers (tests: their sentence, which says whether they were met)."""
    if s is None:
        return "–"
    if s.key in ("msr", "mlr"):
        return s.text
    i = steps.index(s)
    return wt.step_summary(s, wt.step_changes(steps)[i])


def _show_changes(prev: dict, now: dict) -> None:
    """Before/after of the final amount, the inputs and the steps."""
    cat = _catalog()
    st.markdown("#### What changed")
    c1, c2, c3 = st.columns(3)
    c1.metric("Before", money(prev["final"]))
    c2.metric("Now", money(now["final"]))
    c3.metric("Change", money(now["final"] - prev["final"], signed=True))
    left, right = st.columns([4, 7], gap="large")
    changes = []
    if (prev["track"], prev["year"]) != (now["track"], now["year"]):
        changes.append(f"Rules: {cat.tracks[prev['track']].short_label} {prev['year']} → "
                       f"{cat.tracks[now['track']].short_label} {now['year']}")
    changes += [f"{label}: {a} → {b}" for label, a, b in
                wt.diff_inputs(wt.WalkInputs(**prev["inputs"]), wt.WalkInputs(**now["inputs"]))]
    if changes:
        left.markdown("**You changed**\n\n" + "\n".join(f"- {c}" for c in changes))
    before, after = list(prev["steps"]), list(now["steps"])
    diff = wt.diff_steps(before, after)
    if not diff:
        right.markdown("No step of the settlement changed.")
        return
    lines = []
    for d in diff:
        if d.status == "new":
            lines.append(f"- **{d.label}** (new step): {_step_value(d.after, after)}")
        elif d.status == "gone":
            lines.append(f"- **{d.label}** (no longer applies; was {_step_value(d.before, before)})")
        else:
            lines.append(f"- **{d.label}**: {_step_value(d.before, before)} → "
                         f"{_step_value(d.after, after)}")
    right.markdown("**Steps that changed**\n\n" + "\n".join(lines))


def _source_caption(track: str, year: int) -> None:
    state = st.session_state[STATE]
    src = state.get("source") or {}
    if "error" in src:
        st.warning(src["error"])
    if state["outcome"] == OWN:
        if "example" in src:
            st.info(f"Example from the Learn page: **{src['example']}**. {src['help']}")
        return
    o: wt.Outcome | None = src.get("outcome")
    if o is None:
        return
    scenario = get_scenario()
    text = wt.outcome_caption(o, trials=scenario.trials, scenario_name=md_escape(scenario.name),
                              label=OUTCOME_LABELS[o.name], year=year, track=track,
                              track_name=_catalog().tracks[track].short_label)
    if src.get("note"):
        text += " " + src["note"]
    st.caption(text)


# --------------------------------------------------------------------------- page


def main() -> None:
    st.title("Settlement walkthrough")
    st.markdown(
        "How does CMS turn a year of spending into a payment - or a bill? Pick a track and a "
        "year, start from a simulated year of your scenario or your own numbers, and follow "
        "each step. Change any number to see what it changes. Hover a ? for a "
        "definition.")
    _init_state()
    _apply_preset()
    state = st.session_state[STATE]
    if state["outcome"] != OWN and state.get("scenario") != _scenario_signature():
        _load_outcome()  # the scenario changed on another page: reload the simulated year
    _sync_widgets()

    cat = _catalog()
    codes = list(cat.tracks)
    c1, c2, c3 = st.columns([3, 2, 4])
    track = c1.selectbox("Track", codes, key="walkthrough.track", on_change=_on_track,
                         format_func=lambda c: cat.tracks[c].label,
                         help=lc.define("Risk track"))
    years = list(cat.tracks[track].years)
    if st.session_state.get("walkthrough.year") not in years:
        st.session_state["walkthrough.year"] = _clamp_year(track, st.session_state.get("walkthrough.year", years[-1]))
    year = c2.selectbox("Performance year", years, key="walkthrough.year",
                        help=lc.define("Performance year"))
    c3.selectbox("Start from", list(OUTCOME_LABELS), key="walkthrough.outcome",
                 format_func=OUTCOME_LABELS.get, on_change=_on_outcome,
                 help="A year from the simulation of your current scenario - the "
                      "10th, 50th or 90th percentile of what this track earned - or "
                      "numbers you type. " + lc.define("Percentile"))
    state["track"], state["year"] = track, year
    st.caption(cat.tracks[track].summary)
    _source_caption(track, year)

    rules = wt.rules_for(track, year, get_scenario().variant)
    if rules.proposed:
        st.caption("The scenario applies the CY2027 proposed rule (PROPOSED, not final law): "
                   + ", ".join(p.replace("_", " ") for p in rules.proposed) + ".")
    left, right = st.columns([4, 7], gap="large")
    with left:
        st.markdown("#### The ACO's year")
        stored = wt.WalkInputs(**state["inputs"])
        problems = wt.check_inputs(rules, stored)
        inputs = _inputs_form(rules, problems)
        problems = wt.check_inputs(rules, inputs)
    if any(p.level == "error" for p in problems):
        right.error("Fix the inputs marked in red to see the settlement.")
        return
    result = wt.walk(rules, inputs)
    now = _snapshot(track, year, inputs, result)
    last = state.get("last")
    if last is not None and (last["track"], last["year"], last["inputs"]) != (
            track, year, now["inputs"]):
        state["prev"] = last
    state["last"] = now
    prev = state.get("prev")
    with right:
        st.metric("Settlement with CMS", money(result.final),
                  # st.metric reads the direction from an ASCII sign
                  delta=(money(result.final - prev["final"], signed=True).replace("−", "-")
                         + " vs before")
                  if prev and abs(result.final - prev["final"]) >= 0.005 else None,
                  help=lc.define("Settlement"))
        st.markdown(_headline(result.final))
        st.plotly_chart(wt.waterfall_figure(result.steps), key="walkthrough.waterfall",
                        config={"displayModeBar": False})
        st.caption("Read from the top. Green helps the ACO (savings it keeps), orange-red costs "
                   "it (money CMS keeps or collects), grey is the benchmark and spending.")
    if prev:
        _show_changes(prev, now)
    _show_steps(result.steps)
    lc.page_link("pages/learn.py", label="Every term in the glossary (Learn page)",
                 icon=":material/menu_book:")

def _renewal_section() -> None:
    """An MSSP renewal year of one simulated future of the ten-year horizon, step by step
    (simulation.learn.walkthrough.renewal_walk): the rebuilt benchmark, then the settlement."""
    from dashboard import horizon_view
    from dashboard.widgets import md
    from simulation.reports import horizon as horizon_report

    st.divider()
    st.subheader("A renewal year: the benchmark rebuilt from the ACO's own spending")
    st.markdown("MSSP renews in 2032 on a benchmark rebuilt from the ACO's spending in 2029–2031. Pick a "
                "path, a year of the second agreement and a simulated future (the ten-year view of Compare "
                "tracks, same scenario and seed); the steps below are the numbers that future was settled with.")
    result = horizon_view.simulate_cached(get_scenario())
    mssp = [k for k, p in enumerate(result.paths) if not p.path.lead]
    c1, c2, c3 = st.columns(3)
    k = c1.selectbox("Path", mssp, format_func=lambda i: result.paths[i].path.name, key="walkthrough.renewal_path")
    n_ap = horizon_report.renewal_index(result)
    if n_ap is None:
        return
    t = c2.selectbox("Year", list(range(n_ap, len(result.years))), format_func=lambda i: str(result.years[i]),
                     key="walkthrough.renewal_year")
    outcomes = list(wt.OUTCOMES)
    which = c3.selectbox("Future", outcomes, format_func=lambda o: wt.OUTCOMES[o][1], key="walkthrough.renewal_outcome",
                         index=outcomes.index("median") if "median" in outcomes else 0)
    earned = result.paths[k].earned[:, t]
    order = np.argsort(earned, kind="stable")
    trial = int(order[round(wt.OUTCOMES[which][0] / 100 * (earned.size - 1))])
    rw = wt.renewal_walk(result, k, trial, t)
    st.caption(f"Simulated future {trial + 1:,} of {earned.size:,}, {rw.year}: {md_escape(rw.path)}.")
    for i, step in enumerate(rw.benchmark_steps, 1):
        st.markdown(f"**{i}. {step.label}**")
        st.markdown(md(step.text))
        st.caption(f"Rule: {step.citation}")
    st.markdown(f"**{len(rw.benchmark_steps) + 1}. The settlement against {md(money(rw.benchmark * rw.walk.inputs.beneficiaries))}** "
                f"({md(rw.path)}, {rw.year}): {md(money(rw.walk.final, signed=True))} with CMS.")
    _show_steps(rw.walk.steps)


deep_link_guard()
main()
_renewal_section()
