"""Settlement engine: what CMS pays an ACO, or collects from it, for one performance year.

:func:`settle` is pure and vectorised: every ACO input may be a scalar or an array (all are
broadcast together), the track's rules come from the catalog as a :class:`TrackRules`, and
one call settles millions of rows. :func:`explain` runs the very same computation for one
ACO and returns it as an ordered list of :class:`Step` (label, amount, citation, sentence)
for the walkthrough page and the exports; it never re-implements a rule.

Order of operations (settlement-rules.md section 0): performance benchmark (discount and
quality withhold for REACH/NGACO) -> gross savings or losses -> MSR/MLR test -> final
sharing or loss rate (quality) -> cap or loss limit -> sequestration (savings only) ->
extreme-and-uncontrollable-circumstances reduction (losses only).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .catalog import TrackRules

ArrayLike = Any
_EPS = 1e-12


@dataclass(frozen=True)
class Settlement:
    """Arrays (all the broadcast shape of the inputs) describing each ACO's settlement.

    Money is in dollars, totals over the ACO; rates are fractions. ``earned`` is shared
    savings paid minus shared losses owed (negative when the ACO owes CMS).
    """

    benchmark_total: np.ndarray
    expenditure_total: np.ndarray
    gross: np.ndarray
    savings_rate: np.ndarray
    msr: np.ndarray
    mlr: np.ndarray
    met_msr: np.ndarray
    met_mlr: np.ndarray
    low_revenue_exception: np.ndarray
    share_rate: np.ndarray
    savings_before_cap: np.ndarray
    sequestration: np.ndarray
    savings_cap: np.ndarray
    shared_savings: np.ndarray
    loss_rate: np.ndarray
    loss_base: np.ndarray
    losses_before_limit: np.ndarray
    loss_limit: np.ndarray
    euc_reduction: np.ndarray
    shared_losses: np.ndarray
    acpt_protection: np.ndarray
    earned: np.ndarray

    def row(self, i: int | tuple = 0) -> dict[str, float]:
        """One ACO's settlement as plain Python numbers."""
        out = {}
        for f in fields(self):
            v = np.asarray(getattr(self, f.name))
            out[f.name] = (v[i] if v.ndim else v).item()
        return out


def _arr(x: ArrayLike, default: float | bool | None = None, dtype=float) -> np.ndarray:
    if x is None:
        x = default
    return np.asarray(x, dtype=dtype)


def _corridor_share(rules: TrackRules, rate: np.ndarray) -> np.ndarray:
    """Share of benchmark kept for a gross result of ``rate`` x benchmark, band by band."""
    kept = np.zeros_like(rate)
    lower = 0.0
    for band in rules.corridors or ():
        upper = np.inf if band.upper is None else band.upper
        kept += band.share * np.clip(rate - lower, 0.0, upper - lower)
        lower = upper
    return kept


def settle(
    rules: TrackRules,
    benchmark: ArrayLike,
    expenditure: ArrayLike,
    beneficiaries: ArrayLike,
    *,
    person_years: ArrayLike | None = None,
    quality_score: ArrayLike = 1.0,
    qps_met: ArrayLike = True,
    alt_qps_met: ArrayLike = False,
    first_year_reporting: ArrayLike = False,
    msr: ArrayLike | None = None,
    mlr: ArrayLike | None = None,
    participant_revenue: ArrayLike | None = None,
    low_revenue: ArrayLike = False,
    agreement_start_year: ArrayLike | None = None,
    agreement_year: ArrayLike = 1,
    euc_share: ArrayLike = 0.0,
    benchmark_two_way: ArrayLike | None = None,
    savings_cap: ArrayLike | None = None,
    benchmark_discount: ArrayLike | None = None,
) -> Settlement:
    """Settle one performance year for any number of ACOs under one track's ``rules``.

    Parameters (scalars or arrays, broadcast together):
      benchmark, expenditure: per-capita updated benchmark (before any NGACO/REACH discount
        or withhold) and per-capita Parts A+B expenditure, dollars.
      beneficiaries: assigned beneficiaries (sets the size-based MSR); totals use
        ``person_years`` when given, else ``beneficiaries``.
      quality_score: 0-1 (pre-2021 quality score; MIPS points ratio 2021-22; HEAQS 2023+;
        REACH total quality score). qps_met: the quality standard (pre-2021: minimum
        attainment) met. alt_qps_met: the alternative QPS met (2023+).
      first_year_reporting: the ACO is in the first PY of its first agreement and reported
        completely, which meets the standard with full credit where the track allows it.
      msr, mlr: elected MSR/MLR as fractions (two-sided tracks); NaN or None means
        size-based; ``mlr`` defaults to ``msr`` (the elections are symmetric).
      participant_revenue: ACO participants' total Parts A+B FFS revenue, dollars (for the
        revenue-based loss limit). None or NaN: the benchmark-based limit alone applies.
      low_revenue: low-revenue ACO (for the 2024+ exception below the MSR).
      agreement_start_year: year the current agreement began (2024+ exception and ACPT
        protection); None means "before those rules".
      agreement_year: 1 for the agreement's first PY (Track 2's loss limit steps up).
      euc_share: share of losses forgiven for extreme and uncontrollable circumstances
        (months affected x share of beneficiaries affected), applied last.
      benchmark_two_way: per-capita benchmark updated without the ACPT (2024+ agreements):
        losses are settled against it when that gives a smaller loss.
      savings_cap, benchmark_discount: NGACO elections overriding the catalog defaults.
    """
    b = _arr(benchmark)
    e = _arr(expenditure)
    n = _arr(beneficiaries)
    py = n if person_years is None else _arr(person_years)
    q = np.clip(_arr(quality_score), 0.0, 1.0)
    qps = _arr(qps_met, dtype=bool)
    alt = _arr(alt_qps_met, dtype=bool)
    fy = _arr(first_year_reporting, dtype=bool)
    if rules.first_year_reporting_standard:
        q = np.where(fy, 1.0, q)
        qps = qps | fy
    start = _arr(agreement_start_year, default=np.nan)

    # 1. Performance benchmark (discount and quality withhold for NGACO / REACH).
    discount = rules.benchmark_discount if benchmark_discount is None else _arr(benchmark_discount)
    factor = 1.0 - discount
    if rules.quality_withhold:
        factor = factor - rules.quality_withhold * (1.0 - q)
    b_perf = b * factor
    bench_total = b_perf * py
    exp_total = e * py
    gross = bench_total - exp_total
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(bench_total > 0, gross / bench_total, 0.0)

    # 2. MSR / MLR.
    shape = np.broadcast_shapes(gross.shape, n.shape)
    if rules.msr_mode == "none":
        msr_a = np.zeros(shape)
        mlr_a = np.zeros(shape)
    else:
        size_based = rules.msr_for_size(n)
        if rules.msr_mode == "size_scale":
            msr_a = np.broadcast_to(size_based, shape)
            mlr_a = msr_a
        else:
            chosen = _arr(msr, default=np.nan)
            chosen_l = chosen if mlr is None else _arr(mlr, default=np.nan)
            # 425.110(b)(3)(iii): below the minimum size a fixed election reverts to size-based.
            small = n < (rules.minimum_assigned_beneficiaries or 0)
            msr_a = np.where(np.isnan(chosen) | small, size_based, chosen)
            mlr_a = np.where(np.isnan(chosen_l) | small, size_based, chosen_l)
        msr_a = np.broadcast_to(msr_a, shape)
        mlr_a = np.broadcast_to(mlr_a, shape)

    # 3. Quality: final sharing rate, and the quality factor the loss rate uses.
    mode = rules.quality_mode
    top = rules.max_share_rate
    if mode == "score_multiplier":
        share = np.where(qps, top * q, 0.0)
        q_loss = np.where(qps, q, 0.0)
    elif mode == "qps_gate":
        share = np.where(qps, top, 0.0)
        q_loss = np.where(qps, q, 0.0)
    elif mode == "qps_alt_sliding":
        share = np.where(qps, top, np.where(alt, top * q, 0.0))
        q_loss = np.where(qps | alt, q, 0.0)
    else:
        share = np.full_like(q, top)
        q_loss = q
    share = np.broadcast_to(share, shape)

    # 4. Savings: MSR test (meeting it qualifies), first-dollar sharing, low-revenue exception.
    positive = gross > 0
    met_msr = positive & (rate >= msr_a - _EPS)
    exception = np.zeros(shape, dtype=bool)
    if rules.low_revenue_exception_from_agreement_year is not None:
        exception = (
            positive
            & ~met_msr
            & _arr(low_revenue, dtype=bool)
            & (n >= (rules.minimum_assigned_beneficiaries or 0))
            & (start >= rules.low_revenue_exception_from_agreement_year)
            & (qps | alt)
        )
        share = np.where(exception, 0.5 * share, share)
    paid = met_msr | exception
    seq = rules.sequestration_rate
    cap_frac = rules.savings_cap if savings_cap is None else _arr(savings_cap)
    if rules.loss_rate_mode == "corridor":
        base = _corridor_share(rules, np.maximum(rate, 0.0)) * bench_total
        cap_amt = np.full(shape, np.inf)
        before_cap = np.where(paid, base, 0.0)
    elif rules.savings_cap_stage == "on_gross":
        cap_amt = np.broadcast_to(cap_frac * bench_total, shape)
        before_cap = np.where(paid, np.minimum(gross, cap_amt) * share, 0.0)
    else:
        cap_amt = np.broadcast_to(cap_frac * bench_total, shape)
        before_cap = np.where(paid, gross * share, 0.0)
    seq_amt = before_cap * seq
    if rules.savings_cap_stage == "on_gross" or rules.loss_rate_mode == "corridor":
        shared_savings = before_cap - seq_amt
    else:  # CMS caps the sequestered payment (PUF: min(gen x rate x 0.98, cap x benchmark)).
        shared_savings = np.minimum(before_cap - seq_amt, cap_amt)

    # 5. Losses (two-sided tracks): MLR test, ACPT protection, loss rate, limit, EUC.
    zeros = np.zeros(shape)
    if rules.risk == "two_sided":
        loss = np.maximum(-gross, 0.0)
        met_mlr = (gross < 0) & (-rate >= mlr_a - _EPS)
        acpt = np.zeros(shape, dtype=bool)
        if rules.acpt_loss_protection_from_agreement_year is not None and benchmark_two_way is not None:
            b2_total = _arr(benchmark_two_way) * factor * py
            loss2 = np.maximum(exp_total - b2_total, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate2 = np.where(b2_total > 0, loss2 / b2_total, 0.0)
            eligible = met_mlr & (start >= rules.acpt_loss_protection_from_agreement_year)
            acpt = eligible & (loss2 < loss)
            loss = np.where(acpt, loss2, loss)
            # [INF] the MLR test is re-applied against the two-way benchmark.
            met_mlr = met_mlr & ~(acpt & (rate2 < mlr_a - _EPS))
        lmode = rules.loss_rate_mode
        if lmode == "fixed":
            lrate = np.full(shape, rules.shared_loss_rate)
        elif lmode == "quality_scaled":
            lrate = np.clip(
                1.0 - rules.loss_rate_quality_coefficient * q_loss,
                rules.loss_rate_floor,
                rules.loss_rate_ceiling,
            )
            lrate = np.broadcast_to(lrate, shape)
        elif lmode == "same_as_savings":
            lrate = np.full(shape, top)
        else:  # corridor
            with np.errstate(divide="ignore", invalid="ignore"):
                lrate = np.where(loss > 0, _corridor_share(rules, np.maximum(-rate, 0.0)) / np.maximum(-rate, _EPS), 0.0)
        loss_base = np.where(met_mlr, loss, 0.0)
        if rules.savings_cap_stage == "on_gross" and lmode != "corridor":
            loss_base = np.minimum(loss_base, cap_frac * bench_total)
        before_limit = loss_base * lrate
        if rules.loss_limit_benchmark:
            steps = np.asarray(rules.loss_limit_benchmark)
            k = np.clip(_arr(agreement_year, dtype=int) - 1, 0, len(steps) - 1)
            limit = steps[k] * bench_total
            if rules.loss_limit_revenue is not None and participant_revenue is not None:
                rev = _arr(participant_revenue) * rules.loss_limit_revenue
                limit = np.where(np.isnan(rev), limit, np.minimum(rev, limit))
            limit = np.broadcast_to(limit, shape)
        else:
            limit = np.full(shape, np.inf)
        limited = np.minimum(before_limit, limit)
        euc = limited * np.clip(_arr(euc_share), 0.0, 1.0)
        shared_losses = limited - euc
    else:
        met_mlr = np.zeros(shape, dtype=bool)
        acpt = met_mlr
        lrate = loss_base = before_limit = euc = shared_losses = zeros
        limit = np.full(shape, np.inf)

    return Settlement(
        benchmark_total=np.broadcast_to(bench_total, shape),
        expenditure_total=np.broadcast_to(exp_total, shape),
        gross=np.broadcast_to(gross, shape),
        savings_rate=np.broadcast_to(rate, shape),
        msr=msr_a,
        mlr=mlr_a,
        met_msr=met_msr,
        met_mlr=met_mlr,
        low_revenue_exception=exception,
        share_rate=np.where(paid, share, 0.0),
        savings_before_cap=before_cap,
        sequestration=seq_amt,
        savings_cap=cap_amt,
        shared_savings=shared_savings,
        loss_rate=np.broadcast_to(lrate, shape),
        loss_base=np.broadcast_to(loss_base, shape),
        losses_before_limit=np.broadcast_to(before_limit, shape),
        loss_limit=limit,
        euc_reduction=np.broadcast_to(euc, shape),
        shared_losses=np.broadcast_to(shared_losses, shape),
        acpt_protection=acpt,
        earned=shared_savings - shared_losses,
    )


# --------------------------------------------------------------------------- explanation


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


def _money(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}${x / 1e6:,.2f}M"
    if x >= 1e3:
        return f"{sign}${x / 1e3:,.1f}K"
    return f"{sign}${x:,.0f}"


_BENCHMARK_CITE = {
    "MSSP": "42 CFR 425.601, 425.652 (updated benchmark) [REG]",
    "NGACO": "NGACO prospective benchmark (Health Capital; Mondaq) [SEC]",
    "REACH": "ACO REACH Financial Operating Guide (pre-discount benchmark) [CMS]",
}
_SPENDING_CITE = "42 CFR 425.605(a)(3)-(5): Parts A+B FFS expenditures for assigned beneficiaries [REG]"
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
        f"CMS expected {_money(raw_total)} of Medicare spending for {beneficiaries:,.0f} assigned "
        f"beneficiaries (${float(benchmark):,.0f} per beneficiary).")
    running = raw_total
    if s["benchmark_total"] != raw_total:
        cut = s["benchmark_total"] - raw_total
        running = s["benchmark_total"]
        parts = []
        if rules.benchmark_discount or inputs.get("benchmark_discount"):
            parts.append("the model's benchmark discount")
        if rules.quality_withhold:
            parts.append("the part of the quality withhold not earned back")
        add("discount", "Discount and quality withhold", cut, running, None,
            rules.source("benchmark_discount") or rules.source("quality_withhold"),
            f"The benchmark is lowered by {' and '.join(parts)}: {_money(cut)}.")
    add("spending", "Actual spending", -s["expenditure_total"], s["gross"], None, _SPENDING_CITE,
        f"Assigned beneficiaries actually cost {_money(s['expenditure_total'])}.")
    kind = "savings" if s["gross"] >= 0 else "losses"
    add("gross", f"Gross {kind}", None, s["gross"], s["savings_rate"], _SPENDING_CITE,
        f"Benchmark minus spending is {_money(s['gross'])}, a savings rate of {s['savings_rate']:.2%} "
        "of the benchmark.")
    msr_cite = rules.source("msr_scale") if rules.msr_mode == "size_scale" else rules.source("msr_mode")
    if s["gross"] > 0:
        if rules.msr_mode == "none":
            text = "This model has no minimum savings rate: savings count from the first dollar."
        elif s["met_msr"]:
            text = f"The savings rate {s['savings_rate']:.2%} meets the minimum savings rate of {s['msr']:.2%}, so savings are shared from the first dollar."
        elif s["low_revenue_exception"]:
            text = (f"The savings rate {s['savings_rate']:.2%} is below the MSR of {s['msr']:.2%}, but as a "
                    "low-revenue ACO in a 2024+ agreement it still earns savings at half the sharing rate.")
        else:
            text = f"The savings rate {s['savings_rate']:.2%} is below the minimum savings rate of {s['msr']:.2%}: no shared savings."
        add("msr", "Minimum savings rate test", None, s["gross"], s["msr"], msr_cite, text)
        if s["share_rate"] > 0 or s["met_msr"]:
            add("share", "Final sharing rate", s["savings_before_cap"] - s["gross"], s["savings_before_cap"],
                s["share_rate"], rules.source("max_share_rate") + "; " + rules.source("quality_mode"),
                _share_text(rules, s))
            running = s["savings_before_cap"]
            if s["sequestration"]:
                running -= s["sequestration"]
                add("sequestration", "Sequestration", -s["sequestration"], running, rules.sequestration_rate,
                    rules.source("sequestration_rate"),
                    f"Medicare sequestration withholds {rules.sequestration_rate:.0%} of the payment.")
            if s["shared_savings"] < running - 0.005:
                add("cap", "Performance payment limit", s["shared_savings"] - running, s["shared_savings"],
                    None, rules.source("savings_cap"),
                    f"Payment is capped at {_money(s['savings_cap'])} ({rules.savings_cap:.0%} of the benchmark).")
        add("paid", "Shared savings paid", None, s["shared_savings"], None, rules.source("max_share_rate"),
            f"CMS pays the ACO {_money(s['shared_savings'])}.")
    elif s["gross"] < 0 and rules.risk == "one_sided":
        add("one_sided", "One-sided track", None, 0.0, None, rules.source("loss_rate_mode"),
            f"Spending exceeded the benchmark by {_money(-s['gross'])}, but a one-sided track never owes losses.")
    elif s["gross"] < 0:
        if rules.msr_mode == "none":
            text = "This model has no minimum loss rate: losses count from the first dollar."
        elif s["met_mlr"]:
            text = f"The loss rate {-s['savings_rate']:.2%} meets the minimum loss rate of {s['mlr']:.2%}, so the ACO shares all losses."
        else:
            text = f"The loss rate {-s['savings_rate']:.2%} is below the minimum loss rate of {s['mlr']:.2%}: nothing is owed."
        add("mlr", "Minimum loss rate test", None, s["gross"], s["mlr"], msr_cite, text)
        if s["acpt_protection"]:
            add("acpt", "ACPT loss protection", None, -s["loss_base"], None,
                "42 CFR 425.652(b)(5) [REG]",
                f"Against the benchmark updated without the ACPT the loss is smaller, {_money(s['loss_base'])}, so that is used.")
        if s["met_mlr"]:
            add("loss_rate", "Shared loss rate", -s["losses_before_limit"], -s["losses_before_limit"], s["loss_rate"],
                rules.source("shared_loss_rate") or rules.source("loss_rate_mode"),
                f"The ACO owes {s['loss_rate']:.1%} of its losses: {_money(s['losses_before_limit'])}.")
            running = s["losses_before_limit"]
            if s["loss_limit"] < running:
                add("loss_limit", "Loss sharing limit", running - s["loss_limit"], -s["loss_limit"], None,
                    rules.source("loss_limit_revenue") or rules.source("loss_limit_benchmark"),
                    f"Losses owed are limited to {_money(s['loss_limit'])}.")
                running = s["loss_limit"]
            if s["euc_reduction"]:
                add("euc", "Extreme and uncontrollable circumstances", s["euc_reduction"],
                    -s["shared_losses"], None, _EUC_CITE,
                    f"Losses are reduced by {_money(s['euc_reduction'])} for a disaster or public health emergency.")
        add("owed", "Shared losses owed", None, -s["shared_losses"], None,
            rules.source("loss_rate_mode"),
            f"The ACO owes CMS {_money(s['shared_losses'])}." if s["shared_losses"] else "The ACO owes nothing.")
    add("net", "Settlement", None, s["earned"], None, rules.source("max_share_rate"),
        f"Net settlement with CMS: {_money(s['earned'])}.")
    return steps


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
