"""A settlement narrated: :func:`explain` runs :func:`~simulation.rules.settlement.settle` for one
ACO and returns every step as a :class:`Step` (label, amount, citation, sentence) for the
walkthrough page, the CLI and the exports. The amounts are the settlement's own intermediate
values, so the narrative cannot drift from the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..text import money
from .catalog import TrackRules
from .settlement import settle


@dataclass(frozen=True)
class Step:
    """One step of a settlement as a student would walk it.

    ``amount`` is the dollar change this step makes to the running result (None for a test
    or a rate that moves no money); ``total`` the running result after it; ``rate`` the rate
    the step uses, if any.
    """

    key: str
    label: str
    amount: float | None
    total: float | None
    rate: float | None
    citation: str
    text: str


_BENCHMARK_CITE = {
    "MSSP": "42 CFR 425.601, 425.652 (updated benchmark) [REG]",
    "NGACO": "NGACO prospective benchmark (Health Capital; Mondaq) [SEC]",
    "REACH": "ACO REACH Financial Operating Guide (pre-discount benchmark) [CMS]",
    "LEAD": "LEAD prospective benchmark, base years CY2024-2026 fixed for ten years (S2, S5 via "
            "policy-2027.md section 1.3) [SEC]",
}
_SPENDING_CITE = "42 CFR 425.605(a)(3)-(5): Parts A+B FFS expenditures for assigned beneficiaries [REG]"
#: Spending and gross savings per program: MSSP by regulation; the CMMI models by their
#: participation agreements (REACH and NGACO are not settled under 42 CFR part 425).
_SPENDING_CITES = {
    "MSSP": _SPENDING_CITE,
    "REACH": "ACO REACH Participation Agreement and Financial Operating Guide: performance year "
             "expenditure for aligned beneficiaries [CMS]",
    "NGACO": "NGACO participation agreement: performance year expenditure for aligned beneficiaries [SEC]",
    "LEAD": "LEAD RFA via S2: total cost of care of aligned beneficiaries, capitation included "
            "(policy-2027.md section 1.11) [SEC]",
}
_EUC_CITE = "42 CFR 425.605(f); 425.606(i); 425.610(i) (extreme and uncontrollable circumstances) [REG]"


def explain(rules: TrackRules, benchmark: float, expenditure: float, beneficiaries: float, **inputs: Any) -> list[Step]:
    """Settle one ACO with :func:`settle` and narrate every step with its rule citation.

    Takes the same arguments as :func:`settle`, as scalars. The amounts come from the
    settlement's own intermediate arrays, so the narrative cannot drift from the rules.
    """
    s = settle(rules, benchmark, expenditure, beneficiaries, **inputs).row()
    py = inputs.get("person_years") or beneficiaries
    steps: list[Step] = []

    def add(key, label, amount, total, rate, citation, text):
        steps.append(Step(key, label, amount, total, rate, citation, text))

    raw_total = float(benchmark) * float(py)
    add("benchmark", "Updated benchmark", raw_total, raw_total, None, _BENCHMARK_CITE[rules.program],
        f"CMS expected {money(raw_total)} of Medicare spending for {beneficiaries:,.0f} assigned "
        f"beneficiaries (${float(benchmark):,.0f} per beneficiary).")
    running = raw_total
    higher = bool(inputs.get("higher_spending", False))
    if rules.quality_withhold and rules.quality_withhold_in_settlement:
        running = _lead_benchmark_steps(rules, s, raw_total, higher, inputs, add)
    elif s["benchmark_total"] != raw_total:
        cut = s["benchmark_total"] - raw_total
        running = s["benchmark_total"]
        parts = []
        if rules.benchmark_discount or inputs.get("benchmark_discount"):
            parts.append("the model's benchmark discount")
        if rules.quality_withhold and rules.quality_withhold_in_settlement:
            parts.append("the part of the quality withhold not earned back")
        add("discount", "Discount and quality withhold", cut, running, None,
            rules.source("benchmark_discount") or rules.source("quality_withhold"),
            f"The benchmark is lowered by {' and '.join(parts)}: {money(cut)}.")
    spending_cite = _SPENDING_CITES.get(rules.program, _SPENDING_CITE)
    add("spending", "Actual spending", -s["expenditure_total"], s["gross"], None, spending_cite,
        f"Assigned beneficiaries actually cost {money(s['expenditure_total'])}.")
    kind = "savings" if s["gross"] >= 0 else "losses"
    add("gross", f"Gross {kind}", None, s["gross"], s["savings_rate"], spending_cite,
        f"Benchmark minus spending is {money(s['gross'])}, a savings rate of {s['savings_rate']:.2%} "
        "of the benchmark.")
    msr_cite = rules.source("msr_scale") if rules.msr_mode == "size_scale" else rules.source("msr_mode")
    if s["gross"] > 0:
        if rules.msr_mode == "none":
            text = "This model has no minimum savings rate: savings count from the first dollar."
        elif s["msr"] != s["msr"]:
            text = ("CMS publishes no minimum savings rate for fewer than 500 beneficiaries (the rule "
                    "is unknown; docs/msr-scale.md), so no savings can be shared here.")
        elif s["met_msr"]:
            text = f"The savings rate {s['savings_rate']:.2%} meets the minimum savings rate of {s['msr']:.2%}, so savings are shared from the first dollar."
        elif s["low_revenue_exception"]:
            text = (f"The savings rate {s['savings_rate']:.2%} is below the MSR of {s['msr']:.2%}, but as a "
                    "low-revenue ACO in a 2024+ agreement it still earns savings at half the sharing rate.")
        else:
            text = f"The savings rate {s['savings_rate']:.2%} is below the minimum savings rate of {s['msr']:.2%}: no shared savings."
        add("msr", "Minimum savings rate test", None, s["gross"], s["msr"], msr_cite, text)
        if rules.loss_rate_mode == "corridor" and rules.corridors:
            # the rate shown is the share the corridors actually keep, not the base rate
            add("share", "Risk corridors", s["savings_before_cap"] - s["gross"], s["savings_before_cap"],
                s["savings_before_cap"] / s["gross"], rules.source("corridors"),
                _corridor_text(rules, s, s["gross"], s["savings_before_cap"], "savings", "keeps"))
        elif s["share_rate"] > 0 or s["met_msr"]:
            add("share", "Final sharing rate", s["savings_before_cap"] - s["gross"], s["savings_before_cap"],
                s["share_rate"], rules.source("max_share_rate") + "; " + rules.source("quality_mode"),
                _share_text(rules, s))
        if s["share_rate"] > 0 or s["met_msr"] or (rules.loss_rate_mode == "corridor" and rules.corridors):
            running = s["savings_before_cap"]
            if s["sequestration"]:
                running -= s["sequestration"]
                if rules.sequestration_stage == "gross" and rules.loss_rate_mode == "corridor":
                    text = (f"Medicare sequestration takes {rules.sequestration_rate:.0%} of the gross savings "
                            f"before the corridors, so they keep {money(s['sequestration'])} less.")
                    cite = rules.source("sequestration_rate") + "; " + rules.source("sequestration_stage")
                else:
                    text = f"Medicare sequestration withholds {rules.sequestration_rate:.0%} of the payment."
                    cite = "; ".join(c for c in (rules.source("sequestration_rate"),
                                                 rules.source("sequestration_stage")) if c)
                add("sequestration", "Sequestration", -s["sequestration"], running, rules.sequestration_rate,
                    cite, text)
            if s["shared_savings"] < running - 0.005:
                add("cap", "Performance payment limit", s["shared_savings"] - running, s["shared_savings"],
                    None, rules.source("savings_cap"),
                    f"Payment is capped at {money(s['savings_cap'])} ({rules.savings_cap:.0%} of the benchmark).")
        add("paid", "Shared savings paid", None, s["shared_savings"], None, rules.source("max_share_rate"),
            f"CMS pays the ACO {money(s['shared_savings'])}.")
    elif s["gross"] < 0 and rules.risk == "one_sided":
        add("one_sided", "One-sided track", None, 0.0, None, rules.source("loss_rate_mode"),
            f"Spending exceeded the benchmark by {money(-s['gross'])}, but a one-sided track never owes losses.")
    elif s["gross"] < 0:
        if rules.msr_mode == "none":
            text = "This model has no minimum loss rate: losses count from the first dollar."
        elif s["mlr"] != s["mlr"]:
            text = ("CMS publishes no minimum loss rate for fewer than 500 beneficiaries (the rule is "
                    "unknown; docs/msr-scale.md), so no losses are settled here.")
        elif s["met_mlr"]:
            text = f"The loss rate {-s['savings_rate']:.2%} meets the minimum loss rate of {s['mlr']:.2%}, so the ACO shares all losses."
        else:
            text = f"The loss rate {-s['savings_rate']:.2%} is below the minimum loss rate of {s['mlr']:.2%}: nothing is owed."
        add("mlr", "Minimum loss rate test", None, s["gross"], s["mlr"], msr_cite, text)
        if s["acpt_protection"]:
            add("acpt", "ACPT loss protection", None, -s["loss_base"], None,
                "42 CFR 425.652(b)(5) [REG]",
                f"Against the benchmark updated without the ACPT the loss is smaller, {money(s['loss_base'])}, so that is used.")
        if s["met_mlr"]:
            if rules.loss_rate_mode == "corridor" and rules.corridors:
                add("loss_rate", "Risk corridors", s["loss_base"] - s["losses_before_limit"],
                    -s["losses_before_limit"], s["losses_before_limit"] / max(s["loss_base"], 1e-9),
                    rules.source("loss_corridors") or rules.source("corridors"),
                    _corridor_text(rules, s, s["loss_base"], s["losses_before_limit"], "losses", "owes",
                                   rules.loss_corridors or rules.corridors))
            else:
                add("loss_rate", "Shared loss rate", s["loss_base"] - s["losses_before_limit"],
                    -s["losses_before_limit"], s["loss_rate"],
                    rules.source("shared_loss_rate") or rules.source("loss_rate_mode"),
                    f"The ACO owes {s['loss_rate']:.1%} of its losses: {money(s['losses_before_limit'])}.")
            running = s["losses_before_limit"]
            if s["loss_limit"] < running:
                add("loss_limit", "Loss sharing limit", running - s["loss_limit"], -s["loss_limit"], None,
                    rules.source("loss_limit_revenue") or rules.source("loss_limit_benchmark"),
                    f"Losses owed are limited to {money(s['loss_limit'])}.")
                running = s["loss_limit"]
            if s["euc_reduction"]:
                add("euc", "Extreme and uncontrollable circumstances", s["euc_reduction"],
                    -s["shared_losses"], None, _EUC_CITE,
                    f"Losses are reduced by {money(s['euc_reduction'])} for a disaster or public health emergency.")
        add("owed", "Shared losses owed", None, -s["shared_losses"], None,
            rules.source("loss_rate_mode"),
            f"The ACO owes CMS {money(s['shared_losses'])}." if s["shared_losses"] else "The ACO owes nothing.")
    if s["admin_add_on"]:
        add("add_on", "Administrative add-on", s["admin_add_on"], s["earned"], rules.admin_add_on,
            rules.source("admin_add_on") + "; " + rules.source("admin_add_on_placement"),
            f"As a higher-spending ACO it also receives the administrative add-on, {rules.admin_add_on:.1%} "
            f"of the benchmark before the discount: {money(s['admin_add_on'])}, paid apart from the sharing.")
    add("net", "Settlement", None, s["earned"], None, rules.source("max_share_rate"),
        f"Net settlement with CMS: {money(s['earned'])}.")
    return steps


def _lead_benchmark_steps(rules: TrackRules, s: dict[str, float], raw_total: float, higher: bool,
                          inputs: dict[str, Any], add) -> float:
    """The benchmark steps of a track whose quality withhold lowers the benchmark (LEAD):
    the discount of the ACO's spending class, the unearned withhold (on the discounted
    benchmark) and an add-on placed inside the benchmark. Returns the benchmark settled on."""
    given = inputs.get("benchmark_discount")
    given = None if given is None or given != given else float(given)
    d = rules.discount_for(higher) if given is None else given
    discounted = raw_total * (1.0 - d)
    running = raw_total
    if given is not None and d:
        add("discount", "Benchmark discount", discounted - raw_total, discounted, d, rules.source("benchmark_discount"),
            f"The benchmark is set {abs(d):.2%} {'below' if d > 0 else 'above'} the one entered "
            f"({money(discounted - raw_total)}): the discount, and in a simulated year the level of a "
            "prospective benchmark calibrated on REACH results (docs/calibration.md).")
        running = discounted
    elif d:
        if higher and rules.benchmark_discount_higher_spending is not None:
            why, cite = "for a higher-spending ACO", rules.source("benchmark_discount_higher_spending")
        else:
            why = ("for a lower-spending ACO" if rules.benchmark_discount_higher_spending is not None
                   else "of the model")
            cite = rules.source("benchmark_discount")
        add("discount", "Benchmark discount", discounted - raw_total, discounted, d, cite,
            f"The benchmark is lowered by the discount {why}, {d:.2%}: {money(discounted - raw_total)}.")
        running = discounted
    q = min(max(float(inputs.get("quality_score", 1.0)), 0.0), 1.0)
    lost = -running * rules.quality_withhold * (1.0 - q) + 0.0  # + 0.0: never "-0"
    after_withhold = running + lost
    add_on_in = s["benchmark_total"] - after_withhold  # an add-on placed in the benchmark
    if abs(add_on_in) <= 0.005:
        after_withhold = s["benchmark_total"]
    add("withhold", "Quality withhold", lost, after_withhold, rules.quality_withhold,
        rules.source("quality_withhold") + "; " + rules.source("quality_withhold_in_settlement"),
        f"{rules.quality_withhold:.0%} of the discounted benchmark is withheld and earned back with the "
        f"quality score ({q:.1%}): "
        + (f"the {1 - q:.1%} not earned back lowers the benchmark by {money(-lost)}." if lost < -0.005
           else "all of it is earned back."))
    running = after_withhold
    if abs(add_on_in) > 0.005:
        add("add_on_benchmark", "Administrative add-on", add_on_in, s["benchmark_total"], rules.admin_add_on,
            rules.source("admin_add_on") + "; " + rules.source("admin_add_on_placement"),
            f"As a higher-spending ACO its benchmark carries the administrative add-on, {rules.admin_add_on:.1%} "
            f"of the benchmark before the discount: {money(add_on_in)}.")
        running = s["benchmark_total"]
    return running


def _corridor_text(rules: TrackRules, s: dict[str, float], gross: float, kept: float, what: str,
                   verb: str, bands=None) -> str:
    """The corridor bands (``bands``, default the savings corridors of ``rules``) applied to
    ``gross`` savings or losses, band by band, with the total the settlement kept (``kept``)
    and its share of ``gross``."""
    bench = s["benchmark_total"]
    rate = abs(gross) / bench if bench else 0.0
    parts, lower = [], 0.0
    for band in bands if bands is not None else (rules.corridors or ()):
        upper = band.upper if band.upper is not None else math.inf
        if rate <= lower:
            break
        amount = (min(rate, upper) - lower) * bench
        def p(x: float) -> str:
            return f"{x * 100:.4g}%"

        where = (f"from {p(lower)} to {p(upper)} of the benchmark" if upper != math.inf
                 else f"beyond {p(lower)}")
        if lower == 0.0 and upper != math.inf:
            where = f"up to {p(upper)} of the benchmark"
        parts.append(f"{p(band.share)} of the {money(amount)} {where}")
        lower = upper
    share = kept / gross if gross else 0.0
    return (f"Risk corridors: the ACO {verb} {'; '.join(parts)}. In all it {verb} {money(kept)} of "
            f"{money(gross)} gross {what}, {share:.1%}.")


def _share_text(rules: TrackRules, s: dict[str, float]) -> str:
    mode = rules.quality_mode
    top = rules.max_share_rate
    if s["low_revenue_exception"]:
        return f"Half the usual sharing rate applies below the MSR: {s['share_rate']:.1%} of savings."
    if mode == "score_multiplier":
        return f"Maximum rate {top:.0%} x quality score gives a final sharing rate of {s['share_rate']:.1%}."
    if mode == "qps_gate":
        return (f"The quality standard is met, so the full {top:.0%} applies." if s["share_rate"] > 0
                else "The quality standard was missed, so no savings are shared.")
    if mode == "qps_alt_sliding":
        if s["share_rate"] >= top - 1e-12:
            return f"The quality standard is met, so the full {top:.0%} applies."
        if s["share_rate"] > 0:
            return f"Only the alternative quality standard is met: {top:.0%} x quality score = {s['share_rate']:.1%}."
        return "Neither quality standard was met, so no savings are shared."
    if rules.loss_rate_mode == "corridor":
        return f"Risk corridors keep {s['savings_before_cap'] / max(s['gross'], 1e-9):.1%} of gross savings on average."
    return f"The ACO keeps {s['share_rate']:.0%} of the savings."
