"""The settlement walkthrough's logic, with no UI: outcomes to walk, the walk, and what changed.

A *walk* is :func:`simulation.rules.explain.explain` run on one ACO-year: the ordered steps from
benchmark to settlement, each with its rule citation. This module only gathers the inputs
(typed by a student, or taken from a simulated trial-year), runs ``explain`` and compares two
walks; it never re-implements a settlement rule, so the final amount is always
``settle(...).earned``.

* :class:`WalkInputs` - one ACO-year's settlement inputs, per capita, as a student edits them.
* :func:`simulation_key` / :func:`pick_outcomes` - the median, bad and good trial-year of a
  track in a :class:`~simulation.model.montecarlo.SimulationResult` (10th/50th/90th percentile of
  what the ACO earned), with the exact inputs that settled them.
* :func:`walk`, :func:`diff_steps`, :func:`diff_inputs` - the walk and a before/after.
* :func:`check_inputs` - plain-language problems and notes per input field.
* :func:`waterfall_figure` - the Plotly waterfall from benchmark to settlement.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model.scenario import Scenario, TrackChoice
from ..reports import charts
from ..rules.catalog import TrackRules, load_catalog
from ..rules.explain import Step, explain
from ..text import md_escape, money, pct

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

    from ..model.montecarlo import SimulationResult

#: The simulated outcomes a student can walk: name -> (percentile of earned, label).
OUTCOMES: dict[str, tuple[float, str]] = {
    "bad": (10.0, "A bad year (10th percentile)"),
    "median": (50.0, "A typical year (median)"),
    "good": (90.0, "A good year (90th percentile)"),
}

#: Colours of the waterfall: the dashboard's house colours (simulation/reports/charts.py) - money to
#: the ACO, money it loses or owes - plus neutral for the benchmark and a tint for spending.
SAVINGS_COLOR = charts.SAVINGS
LOSS_COLOR = charts.LOSS
NEUTRAL_COLOR = charts.NEUTRAL
SPENDING_COLOR = charts.rgba(charts.NEUTRAL, 0.4)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class WalkInputs:
    """One ACO-year's settlement inputs, as the walkthrough edits them (per capita dollars).

    ``msr`` is the elected MSR/MLR (None: size-based); ``participant_revenue``,
    ``agreement_start_year`` and ``benchmark_two_way`` are None when not known.
    ``savings_cap`` and ``benchmark_discount`` are NGACO elections (None: catalog default;
    a simulated REACH or LEAD outcome carries its calibrated discount here).
    ``higher_spending``: the ACO spends at or above its region (LEAD's spending class).
    """

    benchmark: float
    expenditure: float
    beneficiaries: int
    quality_score: float = 1.0
    qps_met: bool = True
    alt_qps_met: bool = False
    msr: float | None = None
    participant_revenue: float | None = None
    low_revenue: bool = False
    agreement_start_year: int | None = None
    agreement_year: int = 1
    first_year_reporting: bool = False
    benchmark_two_way: float | None = None
    euc_share: float = 0.0
    savings_cap: float | None = None
    benchmark_discount: float | None = None
    higher_spending: bool = False

    @property
    def savings_rate(self) -> float:
        """Spending below the entered benchmark, as a share of it (before any discount)."""
        return 1.0 - self.expenditure / self.benchmark if self.benchmark else math.nan

    def with_savings_rate(self, rate: float) -> WalkInputs:
        """The same inputs with spending set ``rate`` below the benchmark (0.03 = 3% below)."""
        return dataclasses.replace(self, expenditure=self.benchmark * (1.0 - rate))

    def settle_kwargs(self, rules: TrackRules) -> dict[str, Any]:
        """Keyword arguments of :func:`~simulation.rules.settlement.settle` after the first three.

        Elections a track does not have are left out, so the engine's defaults apply.
        """
        kw: dict[str, Any] = {
            "quality_score": float(self.quality_score),
            "qps_met": bool(self.qps_met),
            "alt_qps_met": bool(self.alt_qps_met),
            "first_year_reporting": bool(self.first_year_reporting),
            "low_revenue": bool(self.low_revenue),
            "agreement_year": int(self.agreement_year),
            "euc_share": float(self.euc_share),
        }
        if self.participant_revenue is not None:
            kw["participant_revenue"] = float(self.participant_revenue)
        if self.agreement_start_year is not None:
            kw["agreement_start_year"] = int(self.agreement_start_year)
        if rules.msr_mode == "elected" and self.msr is not None:
            kw["msr"] = float(self.msr)
        if self.benchmark_two_way is not None and rules.program == "MSSP":
            kw["benchmark_two_way"] = float(self.benchmark_two_way)
        if rules.program == "NGACO" and self.savings_cap is not None:
            kw["savings_cap"] = float(self.savings_cap)
        if rules.program in ("NGACO", "REACH", "LEAD") and self.benchmark_discount is not None:
            kw["benchmark_discount"] = float(self.benchmark_discount)
        if rules.program == "LEAD":
            kw["higher_spending"] = bool(self.higher_spending)
        return kw

    @classmethod
    def from_settle_args(cls, args: Mapping[str, Any]) -> WalkInputs:
        """Inputs from the keyword arguments that settled a simulated trial-year."""

        def known(name: str) -> Any:
            v = args.get(name)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        start = known("agreement_start_year")
        return cls(
            benchmark=float(args["benchmark"]),
            expenditure=float(args["expenditure"]),
            beneficiaries=round(float(args["beneficiaries"])),
            quality_score=float(args.get("quality_score", 1.0)),
            qps_met=bool(args.get("qps_met", True)),
            alt_qps_met=bool(args.get("alt_qps_met", False)),
            msr=known("msr"),
            participant_revenue=known("participant_revenue"),
            low_revenue=bool(args.get("low_revenue", False)),
            agreement_start_year=None if start is None else int(start),
            agreement_year=int(args.get("agreement_year", 1)),
            first_year_reporting=bool(args.get("first_year_reporting", False)),
            benchmark_two_way=known("benchmark_two_way"),
            euc_share=float(args.get("euc_share", 0.0)),
            savings_cap=known("savings_cap"),
            benchmark_discount=known("benchmark_discount"),
            higher_spending=bool(args.get("higher_spending", False)),
        )


#: Plain labels of the inputs, for "what you changed".
INPUT_LABELS: dict[str, str] = {
    "benchmark": "Benchmark per beneficiary",
    "expenditure": "Spending per beneficiary",
    "beneficiaries": "Assigned beneficiaries",
    "quality_score": "Quality score",
    "qps_met": "Quality performance standard met",
    "alt_qps_met": "Alternative quality standard met",
    "msr": "MSR/MLR election",
    "participant_revenue": "Participants' Medicare revenue",
    "low_revenue": "Low-revenue ACO",
    "agreement_start_year": "Agreement start year",
    "agreement_year": "Year of the agreement",
    "first_year_reporting": "First year of a first agreement",
    "benchmark_two_way": "Benchmark without the ACPT",
    "euc_share": "Losses forgiven for a disaster (EUC)",
    "savings_cap": "NGACO savings/loss cap",
    "benchmark_discount": "Benchmark discount",
    "higher_spending": "Higher-spending than its region (LEAD)",
}


def format_input(name: str, value: Any) -> str:
    """One input value in plain language ('$12,500', '85%', 'yes', 'size-based')."""
    if value is None:
        return {"msr": "size-based", "participant_revenue": "not given",
                "agreement_start_year": "before 2024", "benchmark_two_way": "none"}.get(name, "–")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in ("benchmark", "expenditure", "benchmark_two_way"):
        return f"${value:,.0f}"
    if name == "participant_revenue":
        return money(value)
    if name in ("quality_score", "euc_share", "savings_cap", "benchmark_discount", "msr"):
        return pct(value, 1)
    if name == "beneficiaries":
        return f"{value:,}"
    return str(value)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """One simulated trial-year chosen for the walkthrough, with the inputs that settled it."""

    name: str
    percentile: float
    key: str
    trial: int
    year_index: int
    year: int
    earned: float
    rules: TrackRules
    inputs: WalkInputs


def simulation_key(result: SimulationResult, track: str) -> tuple[str, list[int]] | None:
    """The scenario's track choice that settles catalog ``track``, and the year indices in
    which it does (a glide path settles BASIC_C only in its third year, say).

    A choice of exactly that track without what-if changes is preferred; then any choice
    that uses it; None when the scenario never settles ``track``.
    """
    best: tuple[int, str, list[int]] | None = None
    for k, choice in enumerate(result.choices):
        years = [t for t, yp in enumerate(result.plans[k]) if yp.code == track]
        if not years:
            continue
        rank = (2 if choice.track == track else 1) + (0 if choice.overrides else 2)
        if best is None or rank > best[0]:
            best = (rank, result.keys[k], years)
    return None if best is None else (best[1], best[2])


def scenario_with_track(scenario: Scenario, track: str) -> Scenario:
    """``scenario`` simulating only catalog ``track`` (for a track the scenario leaves out)."""
    return scenario.model_copy(update={"tracks": [TrackChoice.model_validate({"track": track})]})


def pick_outcomes(
    result: SimulationResult,
    key: str,
    year_indices: Sequence[int] | None = None,
    outcomes: Mapping[str, tuple[float, str]] = OUTCOMES,
) -> dict[str, Outcome]:
    """The trial-years at the given percentiles of what ``key`` earned (ties keep trial order).

    All (trial, year) pairs of ``year_indices`` (default: every year) are ranked together by
    the amount earned; the pair at rank ``round(p / 100 * (n - 1))`` is taken, so the
    outcomes are ordered as their percentiles are.
    """
    k = result.index(key)
    years = list(range(len(result.years))) if year_indices is None else list(year_indices)
    if not years:
        raise ValueError(f"{key}: no years to choose from")
    earned = result.earned[:, years, k]  # (trials, len(years))
    flat = earned.reshape(-1)
    order = np.argsort(flat, kind="stable")
    out = {}
    for name, (p, _label) in outcomes.items():
        pos = round(p / 100.0 * (flat.size - 1))
        trial, j = divmod(int(order[pos]), len(years))
        t = years[j]
        rules, args = result.settlement_inputs(key, trial, t)
        out[name] = Outcome(name, p, key, trial, t, result.years[t], float(flat[order[pos]]),
                            rules, WalkInputs.from_settle_args(args))
    return out


def outcome_caption(o: Outcome, *, trials: int, scenario_name: str, label: str, year: int,
                    track: str, track_name: str) -> str:
    """Where a simulated outcome comes from, in words whose years agree with the selector:
    the agreement year and its calendar year, the rules year it was settled under and why
    (a year past the published rules takes the latest rules), and whether the walkthrough
    (``track`` under the ``year`` selected) settles it under other rules."""
    text = (f"Simulated future {o.trial + 1:,} of {trials:,}: agreement year {o.year_index + 1} "
            f"(performance year {o.year}) of the scenario *{scenario_name}* ({label.lower()} for "
            f"{md_escape(o.key)}). The simulation settled it at {money(o.earned)}")
    if o.rules.year != o.year:
        text += (f" under the {o.rules.year} rules: the catalog has no rules for {o.year}, so the "
                 f"nearest year's published rules apply.")
    else:
        text += f" under the {o.year} rules."
    if o.rules.year != year or o.rules.track != track:
        text += f" Here it is settled under the {year} rules of {track_name} (the year selected), so the amount can differ."
    else:
        text += f" Here it is settled under those same {year} rules (the year selected)."
    return text


# --------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class Walk:
    """A settlement explained step by step: the rules, the inputs and ``explain``'s steps."""

    rules: TrackRules
    inputs: WalkInputs
    steps: tuple[Step, ...]

    @property
    def final(self) -> float:
        """The net settlement with CMS (shared savings paid minus shared losses owed)."""
        total = self.steps[-1].total
        return 0.0 if total is None else float(total)


def walk(rules: TrackRules, inputs: WalkInputs) -> Walk:
    """Settle ``inputs`` under ``rules`` with :func:`~simulation.rules.explain.explain`."""
    steps = explain(rules, float(inputs.benchmark), float(inputs.expenditure),
                    float(inputs.beneficiaries), **inputs.settle_kwargs(rules))
    return Walk(rules, inputs, tuple(steps))


def rules_for(track: str, year: int, variant: str | None = None) -> TrackRules:
    """The catalog's rules of ``track`` in performance ``year`` (under a policy ``variant``,
    e.g. the scenario's CY2027 proposal, when given)."""
    return load_catalog().rules(track, year, variant)


@dataclass(frozen=True)
class StepChange:
    """How one step differs between two walks: 'changed', 'new' or 'gone'."""

    key: str
    label: str
    status: str
    before: Step | None
    after: Step | None


def _same(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def diff_steps(before: Sequence[Step], after: Sequence[Step]) -> list[StepChange]:
    """The steps whose amount, running total, rate or wording differ between two walks.

    Steps are matched by ``key``; money is compared to the cent, rates to 1e-9. The result
    follows the order of ``after``, with steps only in ``before`` at the end.
    """
    old = {s.key: s for s in before}
    new = {s.key: s for s in after}
    out = []
    for s in after:
        b = old.get(s.key)
        if b is None:
            out.append(StepChange(s.key, s.label, "new", None, s))
        elif not (_same(b.amount, s.amount, 0.005) and _same(b.total, s.total, 0.005)
                  and _same(b.rate, s.rate, 1e-9) and b.label == s.label and b.text == s.text):
            out.append(StepChange(s.key, s.label, "changed", b, s))
    out.extend(StepChange(s.key, s.label, "gone", s, None) for s in before if s.key not in new)
    return out


def step_changes(steps: Sequence[Step]) -> list[float | None]:
    """The money each step moves: the difference between its running result and the one
    before. A test (MSR/MLR) that stops the money gets the drop that follows it, as on the
    waterfall; the benchmark and the steps that restate a result get None."""
    out: list[float | None] = [None] * len(steps)
    prev: float | None = None
    pending: int | None = None
    for i, s in enumerate(steps):
        if s.key in _TESTS:
            pending = i
            continue
        if s.total is None:
            continue
        if prev is not None and s.key != "net":
            change = s.total - prev
            if abs(change) >= 0.005:
                if s.key in _RESULTS:
                    if pending is not None:
                        out[pending] = change
                else:
                    out[i] = change
            if s.key not in _RESULTS:
                pending = None
        prev = s.total
    return out


def step_summary(step: Step | None, change: float | None = None) -> str:
    """A step's numbers in a few words: 'rate 40.00% · −$3.60M · result $2.40M'.

    The benchmark shows its amount; a test (MSR/MLR) shows its threshold (whether it was met
    is in the step's sentence); ``change`` is the money the step moves (:func:`step_changes`).
    """
    if step is None:
        return "–"
    if step.key == "benchmark" and step.total is not None:
        return money(step.total)
    parts = []
    if step.rate is not None:
        name = {"gross": "savings rate", "msr": "MSR", "mlr": "MLR"}.get(step.key, "rate")
        parts.append(f"{name} {pct(step.rate, 2)}")
    if change is not None:
        parts.append(money(change, signed=True))
    if step.total is not None and step.key not in _TESTS:
        parts.append(("result " if parts else "") + money(step.total))
    return " · ".join(parts)


def diff_inputs(before: WalkInputs, after: WalkInputs) -> list[tuple[str, str, str]]:
    """(label, before, after) for every input that differs, in plain language."""
    out = []
    for f in dataclasses.fields(WalkInputs):
        a, b = getattr(before, f.name), getattr(after, f.name)
        if isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9):
            continue
        if a != b:
            out.append((INPUT_LABELS[f.name], format_input(f.name, a), format_input(f.name, b)))
    return out


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Problem:
    """A message for one input field: 'error' stops the settlement; 'warning' and 'info' do not."""

    field: str
    level: str
    message: str


def check_inputs(rules: TrackRules, inputs: WalkInputs) -> list[Problem]:
    """Plain-language problems with ``inputs`` under ``rules``, each tied to its field."""
    out: list[Problem] = []

    def add(field: str, level: str, message: str) -> None:
        out.append(Problem(field, level, message))

    def bad_number(x: Any) -> bool:
        return x is None or not isinstance(x, int | float) or not math.isfinite(x)

    if bad_number(inputs.benchmark) or inputs.benchmark <= 0:
        add("benchmark", "error", "Enter a benchmark above $0 per beneficiary.")
    if bad_number(inputs.expenditure) or inputs.expenditure < 0:
        add("expenditure", "error", "Enter spending of $0 or more per beneficiary.")
    if bad_number(inputs.beneficiaries) or inputs.beneficiaries < 1:
        add("beneficiaries", "error", "Enter at least 1 assigned beneficiary.")
    if bad_number(inputs.quality_score) or not 0 <= inputs.quality_score <= 1:
        add("quality_score", "error", "The quality score runs from 0% to 100%.")
    if not bad_number(inputs.euc_share) and not 0 <= inputs.euc_share <= 1:
        add("euc_share", "error", "The share of losses forgiven runs from 0% to 100%.")
    if any(p.level == "error" for p in out):
        return out

    n = inputs.beneficiaries
    uses_scale = rules.msr_mode == "size_scale" or (
        rules.msr_mode == "elected"
        and (inputs.msr is None or n < (rules.minimum_assigned_beneficiaries or 0)))
    if uses_scale and rules.msr_scale and n < rules.msr_scale[0].min_n:
        add("beneficiaries", "warning",
            f"Below {rules.msr_scale[0].min_n:,} beneficiaries the rules give no minimum savings "
            "rate, so this ACO cannot earn shared savings here.")
    elif rules.minimum_assigned_beneficiaries and n < rules.minimum_assigned_beneficiaries:
        extra = (" An elected MSR/MLR is replaced by the size-based one below this size."
                 if rules.msr_mode == "elected" else "")
        add("beneficiaries", "warning",
            f"The program requires {rules.minimum_assigned_beneficiaries:,} assigned "
            f"beneficiaries; CMS can settle a smaller ACO for a while, using the size-based MSR.{extra}")
    if inputs.expenditure > 3 * inputs.benchmark:
        add("expenditure", "warning", "Spending is more than three times the benchmark - is that a typo?")
    start = inputs.agreement_start_year
    if start is not None and start > rules.year:
        add("agreement_start_year", "warning",
            f"An agreement that starts in {start} cannot include performance year {rules.year}.")
    exc_from = rules.low_revenue_exception_from_agreement_year
    if inputs.low_revenue and exc_from is not None and (start is None or start < exc_from):
        add("low_revenue", "info",
            f"The low-revenue exception below the MSR applies only to agreements starting in "
            f"{exc_from} or later.")
    if rules.loss_limit_revenue is not None and rules.risk == "two_sided":
        if inputs.participant_revenue is None:
            add("participant_revenue", "info",
                "Not given: only the benchmark-based loss limit applies.")
        elif inputs.participant_revenue == 0:
            add("participant_revenue", "warning",
                "With $0 of participant revenue the revenue-based loss limit is $0, so the ACO "
                "could never owe anything.")
    if rules.first_year_reporting_standard and inputs.first_year_reporting:
        add("quality_score", "info",
            "In the first year of a first agreement, complete reporting alone meets the quality "
            "standard with full credit, so this score and the boxes below are not used.")
    elif rules.quality_mode == "none" and rules.quality_withhold == 0:
        add("quality_score", "info", "This track's money does not depend on quality.")
    if inputs.alt_qps_met and rules.quality_mode != "qps_alt_sliding":
        add("alt_qps_met", "info", "The alternative quality standard exists only from 2023.")
    elif inputs.alt_qps_met and inputs.qps_met:
        add("alt_qps_met", "info", "Only used when the quality performance standard is missed.")
    return out


# --------------------------------------------------------------------------- the chart

#: Names of explain's steps on the waterfall, where its own label is too long.
SHORT_LABELS: dict[str, str] = {
    "benchmark": "Benchmark",
    "discount": "Discount & withhold",
    "withhold": "Quality withhold",
    "add_on_benchmark": "Add-on in benchmark",
    "add_on": "Administrative add-on",
    "spending": "Spending",
    "gross": "Gross result",
    "msr": "Minimum savings rate",
    "share": "Sharing rate",
    "sequestration": "Sequestration",
    "cap": "Payment limit",
    "one_sided": "One-sided: not owed",
    "mlr": "Minimum loss rate",
    "acpt": "ACPT protection",
    "loss_rate": "Loss rate",
    "loss_limit": "Loss limit",
    "euc": "Disaster reduction (EUC)",
    "net": "Settlement",
}

_TESTS = ("msr", "mlr")
_RESULTS = ("paid", "owed")


@dataclass(frozen=True)
class Bar:
    """One bar of the waterfall: it spans ``base`` to ``base + height`` on panel ``panel``."""

    panel: int
    key: str
    label: str
    base: float
    height: float
    kind: str  # "level" (a total), "up" or "down" (a change), "spending"
    hover: str


def waterfall_bars(steps: Sequence[Step]) -> list[Bar]:
    """The waterfall's bars from explain's steps, in two panels.

    Panel 1 sets spending against the benchmark (big numbers); panel 2 zooms in on the gross
    result and follows it to the settlement. Each change bar is the difference between two
    running results of consecutive steps, so the bars always add up to the settlement. A test
    (MSR/MLR) that stops the money gets the drop that follows it.
    """
    def name(s: Step) -> str:
        return SHORT_LABELS.get(s.key, s.label)

    bars: list[Bar] = []
    running = 0.0
    for s in steps:
        if s.key == "benchmark":
            running = s.total or 0.0
            bars.append(Bar(1, s.key, name(s), 0.0, running, "level", s.text))
        elif s.key in ("discount", "withhold", "add_on_benchmark", "spending"):
            new = s.total or 0.0
            kind = "spending" if s.key == "spending" else ("up" if new > running else "down")
            bars.append(Bar(1, s.key, name(s), running, new - running, kind, s.text))
            running = new
    gross = next(s for s in steps if s.key == "gross")
    running = gross.total or 0.0
    label = gross.label  # "Gross savings" or "Gross losses"
    bars.append(Bar(1, "gross", label, 0.0, running, "level", gross.text))
    bars.append(Bar(2, "gross", label, 0.0, running, "level", gross.text))
    pending: Step | None = None
    for s in steps[list(steps).index(gross) + 1:]:
        if s.key == "net":
            break
        if s.total is None:
            continue
        delta = s.total - running
        if s.key in _TESTS:
            pending = s
            continue
        if abs(delta) < 0.005:
            continue
        source = pending if (s.key in _RESULTS and pending is not None) else s
        bars.append(Bar(2, source.key, name(source), running, delta,
                        "up" if delta > 0 else "down", source.text))
        running = s.total
        pending = None
    net = steps[-1]
    bars.append(Bar(2, "net", name(net), 0.0, net.total or 0.0, "level", net.text))
    return bars


def _bar_color(bar: Bar) -> str:
    if bar.kind == "spending":
        return SPENDING_COLOR
    if bar.kind == "level":
        if bar.key == "benchmark":
            return NEUTRAL_COLOR
        if abs(bar.height) < 0.005:
            return SPENDING_COLOR
        return SAVINGS_COLOR if bar.height > 0 else LOSS_COLOR
    return SAVINGS_COLOR if bar.kind == "up" else LOSS_COLOR


def waterfall_figure(steps: Sequence[Step]) -> go.Figure:
    """The walkthrough's waterfall (Plotly), read top to bottom like the steps.

    Two panels (see :func:`waterfall_bars`): benchmark against spending, then the gross
    result to the settlement, each bar from the end of the one above. Green bars help the ACO
    (savings, money it keeps), orange-red bars cost it (losses, money CMS keeps or collects),
    grey is the benchmark and spending; every bar prints its signed amount, so colour is never
    the only cue. Horizontal bars keep every label readable in a narrow column.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bars = waterfall_bars(steps)
    panels = [[b for b in bars if b.panel == k] for k in (1, 2)]
    row_px = 34
    gross_word = "savings" if panels[1][0].height >= 0 else "losses"
    fig = make_subplots(
        rows=2, cols=1, vertical_spacing=0.16,
        row_heights=[len(panels[0]), len(panels[1])],
        subplot_titles=("1 · Benchmark against spending",
                        f"2 · From gross {gross_word} to the settlement"))
    for k, mine in enumerate(panels, 1):
        labels = [b.label for b in mine]
        lows = [min(b.base, b.base + b.height) for b in mine]
        highs = [max(b.base, b.base + b.height) for b in mine]
        lo, hi = min(0.0, *lows), max(0.0, *highs)
        span = hi - lo or 1.0
        # a bar that runs toward the axis labels carries its amount inside, if it is long
        inside = [b.height < 0 and b.base > 0 and -b.height > 0.3 * span for b in mine]
        colors = [_bar_color(b) for b in mine]
        fig.add_trace(go.Bar(
            y=labels, x=[b.height for b in mine], base=[b.base for b in mine],
            orientation="h", marker_color=colors,
            text=[money(b.height, signed=b.kind in ("up", "down")) for b in mine],
            textposition=["inside" if i else "outside" for i in inside],
            insidetextanchor="middle", cliponaxis=False, constraintext="none",
            textfont={"size": 13, "color": [charts.INK if (i and c == SPENDING_COLOR) else
                                            ("white" if i else charts.INK)
                                            for i, c in zip(inside, colors, strict=True)]},
            hovertext=[b.hover for b in mine], hoverinfo="text", showlegend=False, width=0.62,
        ), row=k, col=1)
        lo, hi = lo - (0.22 * span if lo < 0 else 0.0), hi + (0.22 * span if hi > 0 else 0.04 * span)
        vals, text = charts.money_ticks(lo, hi, 4, signed=False)
        fig.update_xaxes(range=[lo, hi], tickvals=vals, ticktext=text, row=k, col=1)
        fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels,
                         row=k, col=1)
        axis = "" if k == 1 else "2"
        for i in range(len(mine) - 1):  # dotted connectors from each bar's end to the next
            end = mine[i].base + mine[i].height
            fig.add_shape(type="line", x0=end, x1=end, y0=i + 0.31, y1=i + 0.69,
                          xref=f"x{axis}", yref=f"y{axis}",
                          line={"color": charts.ZERO, "width": 1, "dash": "dot"})
        fig.add_vline(x=0, line={"color": charts.ZERO, "width": 1}, row=k, col=1)
    height = 150 + row_px * len(bars)
    charts.house_style(fig, height=height, legend=False)
    fig.update_layout(bargap=0.3, margin={"l": 8, "r": 16, "t": 36, "b": 8})
    fig.update_yaxes(tickfont={"size": 13}, gridcolor="rgba(0,0,0,0)")
    fig.update_xaxes(tickfont={"size": 12})
    fig.update_annotations(font={"size": 14}, x=0, xanchor="left")
    return fig


# --------------------------------------------------------------------------- a renewal year


@dataclass(frozen=True)
class RenewalWalk:
    """One simulated future's MSSP renewal year, step by step: the rebuilt benchmark
    (``benchmark_steps``, per beneficiary) and then the usual settlement (``walk``)."""

    path: str
    trial: int
    year: int
    benchmark_steps: tuple[Step, ...]
    walk: Walk

    @property
    def benchmark(self) -> float:
        total = self.benchmark_steps[-1].total
        assert total is not None  # the last benchmark step always carries the benchmark
        return float(total)


def renewal_walk(result: Any, k: int, trial: int, t: int) -> RenewalWalk:
    """Walk MSSP path ``k`` of a :class:`simulation.model.horizon.HorizonResult` in renewal year
    index ``t`` of future ``trial``: the historical benchmark from the ACO's own spending in
    the benchmark years, the regional adjustment, the prior savings adjustment, the larger of
    the two, the update to the year, then the settlement. Every number is the one the
    simulation kept for that future (``PathResult.steps``); each step carries its citation
    (data/horizon/rebasing.yaml)."""
    from ..model.rebasing import load_rebasing_rules
    from ..reports.horizon import per_capita as pc

    rr = load_rebasing_rules()
    n_ap = rr.mssp["agreement_years"]
    pr = result.paths[k]
    if pr.path.lead or "historical_benchmark" not in pr.steps:
        raise ValueError(f"{pr.path.name}: no renewal (a LEAD path keeps one base)")
    if not n_ap <= t < len(result.years):
        raise ValueError(f"year index {t}: a renewal year is {n_ap} to {len(result.years) - 1}")
    st = {name: float(v[trial]) for name, v in pr.steps.items()}
    src = rr.sources
    lo, hi = result.years[n_ap - 3], result.years[n_ap - 1]
    hb, ra, psa, adj = st["historical_benchmark"], st["regional_adjustment"], st["prior_savings_adjustment"], st["adjustment"]
    lower = st["lower_spending"] > 0
    count = result.settings["regional_count"]
    weights = rr.mssp["regional_weight_lower" if lower else "regional_weight_higher"]
    w = weights[min(count, len(weights)) - 1]
    cap = result.settings.get("regional_weight_caps", {}).get(pr.path.name)
    if lower and cap is not None:
        w = min(w, cap)
    base = hb + adj
    bench = float(pr.benchmark[trial, t])
    chosen = ("the prior savings adjustment" if adj > 0 and adj == psa and psa >= ra else
              "the regional adjustment" if adj > 0 else "no adjustment")
    steps = (
        Step("historical_benchmark", "Historical benchmark", None, hb, None,
             src["mssp.historical_weights_renewal"][1],
             f"Rebuilt from this future's own spending in {lo}–{hi} (the renewal's benchmark years), each "
             f"year trended to {hi} and weighted one third: {pc(hb)} per beneficiary, against "
             f"{pc(st['benchmark_before_renewal'])} in {hi} before renewal."),
        Step("regional_adjustment", "Regional adjustment", None, ra, w, src["mssp.regional_weight_lower"][1],
             f"Regional spending {pc(st['regional_pc'])}: the ACO is {'below' if lower else 'above'} its region, "
             f"so {pct(w, 0)} of the gap (adjustment number {count}"
             + (", held at the CY2027 proposal's cap for this track, PROPOSED" if lower and cap is not None else "")
             + f"), capped at +{pct(rr.mssp['regional_positive_cap'], 1)} / −{pct(rr.mssp['regional_negative_cap'], 1)} "
             f"of national spending: {pc(ra, signed=True)}."),
        Step("prior_savings_adjustment", "Prior savings adjustment", None, psa,
             rr.mssp["psa_share_proposed" if result.settings["psa_proposal"] else "psa_share"],
             src["mssp.psa_share_proposed" if result.settings["psa_proposal"] else "mssp.psa_share"][1],
             f"A share of the mean savings per beneficiary in {lo}–{hi} (0 if they lost money), capped at "
             f"{pct(rr.mssp['psa_cap'], 0)} of national spending: {pc(psa)}."),
        Step("adjustment", "Adjusted benchmark", adj, base, None, src["mssp.negative_regional_eliminated"][1],
             f"The larger of a positive regional adjustment and the prior savings adjustment, never both "
             f"(a negative regional adjustment alone is not applied): {chosen}, {pc(adj, signed=True)}. "
             f"{pc(hb)} + {pc(adj)} = {pc(base)}."),
        Step("update", f"Updated to {result.years[t]}", bench - base, bench, bench / base if base else None,
             src["mssp.acpt_weight"][1],
             f"Two thirds the national-regional trend and one third the ACPT from {hi} to {result.years[t]}: "
             f"× {bench / base:.4f} = {pc(bench)} per beneficiary, the benchmark this year settles against."),
    )
    rules, args = result.settlement_inputs(k, trial, t)
    return RenewalWalk(pr.path.name, trial, result.years[t], steps, walk(rules, WalkInputs.from_settle_args(args)))
