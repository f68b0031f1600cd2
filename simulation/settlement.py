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

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit, prange

from .catalog import TrackRules

ArrayLike = Any


@dataclass(frozen=True)
class Settlement:
    """Arrays (all the broadcast shape of the inputs) describing each ACO's settlement.

    Money is in dollars, totals over the ACO; rates are fractions. ``earned`` is shared
    savings paid minus shared losses owed (negative when the ACO owes CMS). ``share_rate`` is
    the rate applied to savings actually paid (0 when none are); ``quality_share_rate`` is the
    final sharing rate quality earns whether or not savings are paid (maximum rate x quality
    factor, 0 when the quality standard is missed; before the low-revenue halving) - the rate
    CMS publishes as FinalShareRate.
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
    quality_share_rate: np.ndarray
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
        """One ACO's settlement as plain Python numbers (detail fields must be present)."""
        out = {}
        for f in fields(self):
            v = np.asarray(getattr(self, f.name))
            out[f.name] = (v.reshape(-1)[i] if isinstance(i, int) else v[i]).item()
        return out


_FIELDS = (
    "benchmark_total", "expenditure_total", "gross", "savings_rate", "msr", "mlr", "met_msr",
    "met_mlr", "low_revenue_exception", "share_rate", "savings_before_cap", "sequestration",
    "savings_cap", "shared_savings", "loss_rate", "loss_base", "losses_before_limit",
    "loss_limit", "euc_reduction", "shared_losses", "acpt_protection", "quality_share_rate",
)
_BOOL_FIELDS = {"met_msr", "met_mlr", "low_revenue_exception", "acpt_protection"}
_QUALITY = {"none": 0, "score_multiplier": 1, "qps_gate": 2, "qps_alt_sliding": 3}
_MSR = {"none": 0, "size_scale": 1, "elected": 2}
_LOSS = {"none": 0, "fixed": 1, "quality_scaled": 2, "same_as_savings": 3, "corridor": 4}
_NAN = float("nan")


def _opt(x: float | None) -> float:
    return _NAN if x is None else float(x)


@lru_cache(maxsize=1024)
def _rule_arrays(rules: TrackRules):
    """The track's rules as the flat scalars and small arrays the compiled kernel takes."""
    scale = rules.msr_scale or ()
    corr = rules.corridors or ()
    scalars = np.array([
        rules.max_share_rate,
        _QUALITY[rules.quality_mode],
        _MSR[rules.msr_mode],
        _LOSS[rules.loss_rate_mode],
        rules.sequestration_rate,
        _opt(rules.savings_cap),
        1.0 if rules.savings_cap_stage == "on_gross" else 0.0,
        _opt(rules.shared_loss_rate),
        _opt(rules.loss_rate_quality_coefficient),
        _opt(rules.loss_rate_floor),
        _opt(rules.loss_rate_ceiling),
        _opt(rules.loss_limit_revenue),
        _opt(rules.low_revenue_exception_from_agreement_year),
        _opt(rules.acpt_loss_protection_from_agreement_year),
        1.0 if rules.first_year_reporting_standard else 0.0,
        rules.benchmark_discount,
        rules.quality_withhold,
        float(rules.minimum_assigned_beneficiaries or 0),
        1.0 if rules.risk == "two_sided" else 0.0,
    ])
    limits = np.array(rules.loss_limit_benchmark or (), dtype=float)
    scale_arr = np.array(
        [[b.min_n, b.max_n if b.max_n is not None else b.min_n + 1, b.msr_low, b.msr_high] for b in scale],
        dtype=float,
    ).reshape(-1, 4)
    corr_arr = np.array(
        [[np.inf if c.upper is None else c.upper, c.share] for c in corr], dtype=float
    ).reshape(-1, 2)
    return scalars, limits, scale_arr, corr_arr


@njit(cache=True, inline="always")
def _at(x, i):
    return x[i] if x.shape[0] > 1 else x[0]


@njit(cache=True, inline="always")
def _size_msr(scale, n):
    if n < scale[0, 0]:
        return np.nan  # below the first row the scale is unknown (docs/msr-scale.md)
    k = 0
    for j in range(scale.shape[0]):
        if n >= scale[j, 0]:
            k = j
    lo_n, hi_n, lo, hi = scale[k, 0], scale[k, 1], scale[k, 2], scale[k, 3]
    frac = (n - lo_n) / (hi_n - lo_n)
    frac = min(max(frac, 0.0), 1.0)
    return lo + (hi - lo) * frac


@njit(cache=True, inline="always")
def _corridor(corr, rate):
    kept = 0.0
    lower = 0.0
    for j in range(corr.shape[0]):
        upper = corr[j, 0]
        band = min(max(rate - lower, 0.0), upper - lower)
        kept += corr[j, 1] * band
        lower = upper
    return kept


@njit(cache=True, inline="always", error_model="numpy")
def _row(i, p, limits, scale, corr, b, e, nb, py, q_in, qps_in, alt_in, fy_in, msr_in, mlr_in,
         rev_in, low_in, start_in, ayear_in, euc_in, b2_in, cap_in, disc_in, size_msr):
    """Settle row ``i``; returns the 22 values of ``_FIELDS`` in order (booleans as 0/1).

    ``size_msr`` is the size-based MSR when the caller already knows it (every row has the
    same beneficiary count), else NaN and it is looked up here.
    """
    top = p[0]
    qmode = int(p[1])
    msr_mode = int(p[2])
    lmode = int(p[3])
    seq = p[4]
    on_gross = p[6] > 0.5
    lowrev_from = p[12]
    acpt_from = p[13]
    fy_std = p[14] > 0.5
    withhold = p[16]
    min_benes = p[17]
    two_sided = p[18] > 0.5
    n_limits = limits.shape[0]
    q = min(max(_at(q_in, i), 0.0), 1.0)
    qps = _at(qps_in, i) > 0.5
    alt = _at(alt_in, i) > 0.5
    if fy_std and _at(fy_in, i) > 0.5:
        q = 1.0
        qps = True
    n = _at(nb, i)
    years = _at(py, i)
    start = _at(start_in, i)
    # 1. performance benchmark (NGACO/REACH discount and unearned quality withhold)
    disc = _at(disc_in, i)
    if disc != disc:
        disc = p[15]
    factor = 1.0 - disc - withhold * (1.0 - q)
    bench_total = _at(b, i) * factor * years
    exp_total = _at(e, i) * years
    gross = bench_total - exp_total
    rate = gross / bench_total if bench_total > 0 else 0.0
    # 2. MSR / MLR
    if msr_mode == 0:
        msr = 0.0
        mlr = 0.0
    else:
        if msr_mode == 1:
            msr = size_msr if size_msr == size_msr else _size_msr(scale, n)
            mlr = msr
        else:
            msr = _at(msr_in, i)
            mlr = _at(mlr_in, i)
            small = n < min_benes  # 425.110(b)(3)(iii): fixed election reverts below 5,000
            if msr != msr or mlr != mlr or small:
                size_based = size_msr if size_msr == size_msr else _size_msr(scale, n)
                if msr != msr or small:
                    msr = size_based
                if mlr != mlr or small:
                    mlr = size_based
    # 3. quality -> final sharing rate and the loss rate's quality factor
    if qmode == 1:
        share = top * q if qps else 0.0
        q_loss = q if qps else 0.0
    elif qmode == 2:
        share = top if qps else 0.0
        q_loss = q if qps else 0.0
    elif qmode == 3:
        share = top if qps else (top * q if alt else 0.0)
        q_loss = q if (qps or alt) else 0.0
    else:
        share = top
        q_loss = q
    quality_share = share  # the rate quality earns, before the MSR test (CMS's FinalShareRate)
    # 4. savings
    # Data-dependent tests are combined with & and | (not `and`/`or`) and applied by
    # multiplication, so the compiled loop has no unpredictable branches on them.
    positive = gross > 0.0
    met_msr = positive & (rate >= msr - 1e-12)
    exception = False
    low = _at(low_in, i) > 0.5
    if lowrev_from == lowrev_from:
        exception = positive & ~met_msr & low & (n >= min_benes) & (start >= lowrev_from) \
            & (qps | alt)
        share = share * (1.0 - 0.5 * exception)
    paid = met_msr | exception
    cap_frac = _at(cap_in, i)
    if cap_frac != cap_frac:
        cap_frac = p[5]
    if lmode == 4:
        cap_amt = np.inf
        before_cap = _corridor(corr, max(rate, 0.0)) * bench_total * paid
        seq_amt = before_cap * seq
        shared_savings = before_cap - seq_amt
    elif on_gross:
        cap_amt = cap_frac * bench_total
        before_cap = min(gross, cap_amt) * share * paid
        seq_amt = before_cap * seq
        shared_savings = before_cap - seq_amt
    else:  # CMS caps the sequestered payment: min(gen x rate x 0.98, cap x benchmark)
        cap_amt = cap_frac * bench_total
        before_cap = gross * share * paid
        seq_amt = before_cap * seq
        shared_savings = min(before_cap - seq_amt, cap_amt)
    # 5. losses
    met_mlr = False
    acpt = False
    lrate = 0.0
    loss_base = 0.0
    before_limit = 0.0
    limit = np.inf
    euc = 0.0
    shared_losses = 0.0
    if two_sided:
        loss = max(-gross, 0.0)
        met_mlr = (gross < 0.0) & (-rate >= mlr - 1e-12)
        b2 = _at(b2_in, i)
        if met_mlr and acpt_from == acpt_from and b2 == b2 and start >= acpt_from:
            b2_total = b2 * factor * years
            loss2 = max(exp_total - b2_total, 0.0)
            if loss2 < loss:
                acpt = True
                loss = loss2
                rate2 = loss2 / b2_total if b2_total > 0 else 0.0
                if rate2 < mlr - 1e-12:  # [INF] MLR test re-applied against the 2-way benchmark
                    met_mlr = False
        if lmode == 1:
            lrate = p[7]
        elif lmode == 2:
            lrate = min(max(1.0 - p[8] * q_loss, p[9]), p[10])
        elif lmode == 3:
            lrate = top
        elif lmode == 4:
            lrate = _corridor(corr, -rate) / (-rate) if rate < 0 else 0.0
        loss_base = loss * met_mlr
        if on_gross and lmode != 4:
            loss_base = min(loss_base, cap_frac * bench_total)
        before_limit = loss_base * lrate
        if n_limits > 0:
            k = int(_at(ayear_in, i)) - 1
            k = min(max(k, 0), n_limits - 1)
            limit = limits[k] * bench_total
            rev = _at(rev_in, i)
            if p[11] == p[11] and rev == rev:
                limit = min(limit, rev * p[11])
        limited = min(before_limit, limit)
        euc = limited * min(max(_at(euc_in, i), 0.0), 1.0)
        shared_losses = limited - euc
    return (bench_total, exp_total, gross, rate, msr, mlr, 1.0 if met_msr else 0.0,
            1.0 if met_mlr else 0.0, 1.0 if exception else 0.0, share if paid else 0.0,
            before_cap, seq_amt, cap_amt, shared_savings, lrate, loss_base, before_limit, limit,
            euc, shared_losses, 1.0 if acpt else 0.0, quality_share)


_BLOCK = 2048  # rows per task in the batched kernel


@njit(cache=True, inline="always")
def _input(x, xs, idx, j, k):
    """Input ``k`` of job ``j``: a full row of ``x`` (idx >= 0) or a one-value row of ``xs``."""
    r = idx[j, k]
    return x[r] if r >= 0 else xs[-r - 1]


@njit(cache=True, parallel=True, error_model="numpy")
def _kernel_jobs(m, P, LIM, NLIM, SCALE, NSCALE, CORR, NCORR, x, xs, idx, savings_out, losses_out,
                 net_only):
    """Settle J jobs (a track's rules with its inputs) over ``m`` rows in one parallel region.

    Each job j reads its 18 inputs from rows of ``x`` (length m) or ``xs`` (length 1), as
    ``idx[j]`` says; only shared savings and shared losses are written - or, with
    ``net_only``, savings minus losses into ``savings_out`` (``losses_out`` is unused).
    """
    n_jobs = P.shape[0]
    n_blocks = (m + _BLOCK - 1) // _BLOCK
    for task in prange(n_jobs * n_blocks):
        j = task // n_blocks
        i0 = (task - j * n_blocks) * _BLOCK
        i1 = min(m, i0 + _BLOCK)
        p = P[j]
        limits = LIM[j, :NLIM[j]]
        scale = SCALE[j, :NSCALE[j]]
        corr = CORR[j, :NCORR[j]]
        a0 = _input(x, xs, idx, j, 0)
        a1 = _input(x, xs, idx, j, 1)
        a2 = _input(x, xs, idx, j, 2)
        a3 = _input(x, xs, idx, j, 3)
        a4 = _input(x, xs, idx, j, 4)
        a5 = _input(x, xs, idx, j, 5)
        a6 = _input(x, xs, idx, j, 6)
        a7 = _input(x, xs, idx, j, 7)
        a8 = _input(x, xs, idx, j, 8)
        a9 = _input(x, xs, idx, j, 9)
        a10 = _input(x, xs, idx, j, 10)
        a11 = _input(x, xs, idx, j, 11)
        a12 = _input(x, xs, idx, j, 12)
        a13 = _input(x, xs, idx, j, 13)
        a14 = _input(x, xs, idx, j, 14)
        a15 = _input(x, xs, idx, j, 15)
        a16 = _input(x, xs, idx, j, 16)
        a17 = _input(x, xs, idx, j, 17)
        size_msr = np.nan
        if a2.shape[0] == 1 and scale.shape[0] > 0:
            size_msr = _size_msr(scale, a2[0])  # one beneficiary count: look the MSR up once
        for i in range(i0, i1):
            r = _row(i, p, limits, scale, corr, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10,
                     a11, a12, a13, a14, a15, a16, a17, size_msr)
            if net_only:
                savings_out[j, i] = r[13] - r[19]
            else:
                savings_out[j, i] = r[13]
                losses_out[j, i] = r[19]


@njit(cache=True, parallel=True, error_model="numpy")
def _kernel_detail(m, p, limits, scale, corr, b, e, nb, py, q_in, qps_in, alt_in, fy_in, msr_in,
                   mlr_in, rev_in, low_in, start_in, ayear_in, euc_in, b2_in, cap_in, disc_in,
                   out):
    """Every intermediate of the settlement, one row of ``out`` per field of ``_FIELDS``."""
    for i in prange(m):
        r = _row(i, p, limits, scale, corr, b, e, nb, py, q_in, qps_in, alt_in, fy_in, msr_in,
                 mlr_in, rev_in, low_in, start_in, ayear_in, euc_in, b2_in, cap_in, disc_in,
                 np.nan)
        for k in range(22):
            out[k, i] = r[k]


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
    detail: bool = True,
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
      detail: False returns only shared savings, shared losses and earned (the other
        fields are None) - the Monte Carlo's fast path.
    """
    given = {
        "benchmark": benchmark, "expenditure": expenditure, "beneficiaries": beneficiaries,
        "person_years": person_years, "quality_score": quality_score, "qps_met": qps_met,
        "alt_qps_met": alt_qps_met, "first_year_reporting": first_year_reporting, "msr": msr,
        "mlr": mlr, "participant_revenue": participant_revenue, "low_revenue": low_revenue,
        "agreement_start_year": agreement_start_year, "agreement_year": agreement_year,
        "euc_share": euc_share, "benchmark_two_way": benchmark_two_way,
        "savings_cap": savings_cap, "benchmark_discount": benchmark_discount,
    }
    arrays = [np.asarray(a, dtype=np.float64) for a in _inputs_in_order(given)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    size = math.prod(shape)
    values: dict[str, Any] = dict.fromkeys(_FIELDS)
    if detail:
        flat = [
            a.reshape(1) if a.size == 1
            else np.ascontiguousarray(a).reshape(-1) if a.shape == shape
            else np.broadcast_to(a, shape).reshape(-1)
            for a in arrays
        ]
        scalars, limits, scale, corr = _rule_arrays(rules)
        out = np.empty((len(_FIELDS), size))
        _kernel_detail(size, scalars, limits, scale, corr, *flat, out)
        for k, name in enumerate(_FIELDS):
            v = out[k].reshape(shape)
            values[name] = v.astype(bool) if name in _BOOL_FIELDS else v
    else:
        full = [np.broadcast_to(a, shape).reshape(-1) for a in arrays if a.size > 1]
        x = np.stack(full) if full else np.empty((0, size))
        job: dict[str, Any] = {}
        r = 0
        for name, a in zip(INPUTS, arrays, strict=True):
            if a.size > 1:
                job[name] = Row(r)
                r += 1
            else:
                job[name] = float(a.reshape(-1)[0])
        savings, losses = settle_batch([(rules, job)], x)
        values["shared_savings"] = savings[0].reshape(shape)
        values["shared_losses"] = losses[0].reshape(shape)
    return Settlement(**values, earned=values["shared_savings"] - values["shared_losses"])


#: The inputs of a settlement, in the order the kernel reads them.
INPUTS = (
    "benchmark", "expenditure", "beneficiaries", "person_years", "quality_score", "qps_met",
    "alt_qps_met", "first_year_reporting", "msr", "mlr", "participant_revenue", "low_revenue",
    "agreement_start_year", "agreement_year", "euc_share", "benchmark_two_way", "savings_cap",
    "benchmark_discount",
)


def _inputs_in_order(given: dict[str, Any]) -> list[Any]:
    """Inputs in kernel order, with defaults (NaN means 'not given' to the kernel)."""
    msr = _NAN if given.get("msr") is None else given["msr"]
    out = []
    for name in INPUTS:
        v = given.get(name)
        if v is None:
            v = {
                "person_years": given["beneficiaries"], "quality_score": 1.0, "qps_met": True,
                "alt_qps_met": False, "first_year_reporting": False, "mlr": msr, "msr": msr,
                "low_revenue": False, "agreement_year": 1, "euc_share": 0.0,
            }.get(name, _NAN)
        out.append(v)
    return out


@dataclass(frozen=True)
class Row:
    """Marks a :func:`settle_batch` input as row ``index`` of the shared input matrix."""

    index: int


def settle_batch(jobs: list[tuple[TrackRules, dict[str, Any]]], x: np.ndarray, *,
                 earned_out: np.ndarray | None = None):
    """Settle many (rules, inputs) jobs over the same rows in one compiled parallel call.

    ``x`` is a ``(rows, m)`` float matrix; each job maps input names (see :data:`INPUTS`)
    to a :class:`Row` of ``x`` or to a scalar (missing names take :func:`settle`'s
    defaults). Returns ``(shared_savings, shared_losses)``, each ``(jobs, m)``; or, when
    ``earned_out`` (a ``(jobs, m)`` array, e.g. a view into the caller's results) is given,
    fills it with savings minus losses and returns it. This is the Monte Carlo's fast path:
    the same kernel as :func:`settle`, without Python per job.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = x.shape[1]
    # Identical jobs (e.g. BASIC A and B, whose rules are the same, or a glide-path year and
    # the level it is at) are settled once and shared.
    keys = [_job_key(rules, given) for rules, given in jobs]
    first: dict[tuple, int] = {}
    which = np.array([first.setdefault(k, len(first)) for k in keys])
    if len(first) < len(jobs):
        unique = [jobs[int(np.flatnonzero(which == u)[0])] for u in range(len(first))]
        if earned_out is not None:
            net = settle_batch(unique, x, earned_out=np.empty((len(unique), m)))
            for j, u in enumerate(which):
                earned_out[j] = net[u]
            return earned_out
        savings, losses = settle_batch(unique, x)
        return savings[which], losses[which]
    n_jobs = len(jobs)
    parts = [_rule_arrays(rules) for rules, _ in jobs]
    P = np.stack([p[0] for p in parts])
    LIM, NLIM = _pad([p[1] for p in parts], (1,))
    SCALE, NSCALE = _pad([p[2] for p in parts], (1, 4))
    CORR, NCORR = _pad([p[3] for p in parts], (1, 2))
    idx = np.empty((n_jobs, len(INPUTS)), dtype=np.int64)
    scalars: list[float] = []
    for j, (_rules, given) in enumerate(jobs):
        for k, v in enumerate(_inputs_in_order(given)):
            if isinstance(v, Row):
                idx[j, k] = v.index
            else:
                scalars.append(float(v))
                idx[j, k] = -len(scalars)
    xs = np.array(scalars, dtype=np.float64).reshape(-1, 1)
    if earned_out is not None:
        target = earned_out if earned_out.flags.c_contiguous else np.empty((n_jobs, m))
        _kernel_jobs(m, P, LIM, NLIM, SCALE, NSCALE, CORR, NCORR, x, xs, idx, target,
                     np.empty((0, 0)), True)
        if target is not earned_out:
            earned_out[...] = target
        return earned_out
    savings = np.empty((n_jobs, m))
    losses = np.empty((n_jobs, m))
    _kernel_jobs(m, P, LIM, NLIM, SCALE, NSCALE, CORR, NCORR, x, xs, idx, savings, losses, False)
    return savings, losses


def _job_key(rules: TrackRules, given: dict[str, Any]) -> tuple:
    """What a job computes: its rules' numbers and its inputs (rows or values)."""
    scalars, limits, scale, corr = _rule_arrays(rules)
    inputs = tuple(
        ("row", v.index) if isinstance(v, Row) else ("value", np.float64(v).tobytes())
        for v in _inputs_in_order(given)
    )
    return (scalars.tobytes(), limits.tobytes(), scale.tobytes(), corr.tobytes(), inputs)


def _pad(arrays: list[np.ndarray], tail: tuple[int, ...]):
    """Stack ragged arrays into one zero-padded array plus their lengths."""
    longest = max(1, *(len(a) for a in arrays))
    out = np.zeros((len(arrays), longest, *tail[1:]) if len(tail) > 1 else (len(arrays), longest))
    lengths = np.zeros(len(arrays), dtype=np.int64)
    for j, a in enumerate(arrays):
        out[j, : len(a)] = a
        lengths[j] = len(a)
    return out, lengths


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
                f"Against the benchmark updated without the ACPT the loss is smaller, {_money(s['loss_base'])}, so that is used.")
        if s["met_mlr"]:
            add("loss_rate", "Shared loss rate", s["loss_base"] - s["losses_before_limit"],
                -s["losses_before_limit"], s["loss_rate"],
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
