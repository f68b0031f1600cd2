"""Settlement engine: what CMS pays an ACO, or collects from it, for one performance year.

:func:`settle` is pure and vectorised: every ACO input may be a scalar or an array (all are
broadcast together), the track's rules come from the catalog as a :class:`TrackRules`, and
one call settles millions of rows. :func:`explain` runs the very same computation for one
ACO and returns it as an ordered list of :class:`Step` (label, amount, citation, sentence)
for the walkthrough page and the exports; it never re-implements a rule.

Order of operations (settlement-rules.md section 0): performance benchmark (discount and
quality withhold for REACH/NGACO/LEAD) -> gross savings or losses -> MSR/MLR test -> final
sharing or loss rate (quality) -> cap or loss limit -> sequestration (savings only) ->
extreme-and-uncontrollable-circumstances reduction (losses only) -> LEAD's administrative
add-on for a higher-spending ACO (a payment outside the sharing, where the catalog places it).
"""

from __future__ import annotations

import math
import threading
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
    savings paid minus shared losses owed plus any administrative add-on paid outside the
    sharing (LEAD; negative when the ACO owes CMS). ``share_rate`` is
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
    admin_add_on: np.ndarray
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
    "admin_add_on",
)
_BOOL_FIELDS = {"met_msr", "met_mlr", "low_revenue_exception", "acpt_protection"}
_QUALITY = {"none": 0, "score_multiplier": 1, "qps_gate": 2, "qps_alt_sliding": 3}
_MSR = {"none": 0, "size_scale": 1, "elected": 2}
_LOSS = {"none": 0, "fixed": 1, "quality_scaled": 2, "same_as_savings": 3, "corridor": 4}
_NAN = float("nan")


def _opt(x: float | None) -> float:
    return _NAN if x is None else float(x)


_MAX_LIMITS = 3  # loss limit steps by agreement year (Track 2 has three)
_MAX_BANDS = 6   # risk corridor bands (REACH and LEAD have four)


@lru_cache(maxsize=1024)
def _rule_arrays(rules: TrackRules):
    """The track's rules as the flat numbers the compiled kernel takes.

    Returns ``p`` (scalars, see the layout in :func:`_elem`), the loss limits by agreement
    year padded to :data:`_MAX_LIMITS`, the savings and the loss corridors padded to
    :data:`_MAX_BANDS` bands (padding bands are empty: upper = lower = inf, share 0; the loss
    corridors are the savings corridors unless the track has its own) and the MSR scale rows.
    """
    scale = rules.msr_scale or ()
    corr = rules.corridors or ()
    lcorr = rules.loss_corridors or corr
    steps = tuple(rules.loss_limit_benchmark or ())
    if len(steps) > _MAX_LIMITS or len(corr) > _MAX_BANDS or len(lcorr) > _MAX_BANDS:
        raise ValueError(f"{rules.track} {rules.year}: too many loss-limit steps or corridor bands")
    p = np.array([
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
        rules.quality_withhold if rules.quality_withhold_in_settlement else 0.0,
        float(rules.minimum_assigned_beneficiaries or 0),
        1.0 if rules.risk == "two_sided" else 0.0,
        float(len(steps)),
        _opt(rules.benchmark_discount_higher_spending),
        rules.admin_add_on,
        1.0 if rules.admin_add_on_placement == "in_benchmark" else 0.0,
        1.0 if rules.sequestration_stage == "gross" else 0.0,
    ])
    limits = np.zeros(_MAX_LIMITS)
    for k in range(_MAX_LIMITS):
        limits[k] = steps[min(k, len(steps) - 1)] if steps else np.inf
    corr_arr = np.zeros((2, _MAX_BANDS, 2))
    corr_arr[:, :, 0] = np.inf
    for k, c in enumerate(corr):
        corr_arr[0, k] = (np.inf if c.upper is None else c.upper, c.share)
    for k, c in enumerate(lcorr):
        corr_arr[1, k] = (np.inf if c.upper is None else c.upper, c.share)
    scale_arr = np.array(
        [[b.min_n, b.max_n if b.max_n is not None else b.min_n + 1, b.msr_low, b.msr_high] for b in scale],
        dtype=float,
    ).reshape(-1, 4)
    return p, limits, corr_arr, scale_arr


@njit(cache=True)
def _size_msr(scale, n):
    """Size-based MSR for ``n`` beneficiaries: linear inside the row holding ``n``."""
    if scale.shape[0] == 0 or n < scale[0, 0]:
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
    """Share of benchmark kept for a gross result of ``rate`` x benchmark, band by band.

    ``corr`` is the flat tuple (upper0, share0, upper1, share1, ...) of the
    :data:`_MAX_BANDS` = 6 bands, written out without a loop.
    """
    u0, u1, u2, u3, u4, u5 = corr[0], corr[2], corr[4], corr[6], corr[8], corr[10]
    return (corr[1] * max(min(rate, u0), 0.0)
            + corr[3] * max(min(rate, u1) - u0, 0.0)
            + corr[5] * max(min(rate, u2) - u1, 0.0)
            + corr[7] * max(min(rate, u3) - u2, 0.0)
            + corr[9] * max(min(rate, u4) - u3, 0.0)
            + corr[11] * max(min(rate, u5) - u4, 0.0))


@njit(cache=True, inline="always", error_model="numpy")
def _elem(p, limits, corr, lcorr, b, e, n, years, q, qps_v, alt_v, fy_v, msr_el, mlr_el, rev, low, start,
          ayear, euc_v, b2, cap_frac, disc, hs, size_based):
    """Settle one element from its 20 input values: the 23 values of ``_FIELDS`` in order
    (booleans as 0/1). ``p``, ``limits``, ``corr`` and ``lcorr`` (the savings and the loss
    corridors) are tuples (not arrays, which the compiled loop would reference-count at
    every call).

    Straight-line code: the track's modes are selected with conditional expressions that
    do not depend on the data, and data-dependent tests are combined with & and | and
    applied by multiplication, so the compiled loop vectorises. ``p`` layout: 0 maximum
    sharing rate, 1 quality mode, 2 MSR mode, 3 loss-rate mode, 4 sequestration, 5 savings
    cap, 6 cap on gross, 7 fixed loss rate, 8-10 loss-rate coefficient/floor/ceiling, 11
    revenue loss limit, 12 low-revenue exception from year, 13 ACPT protection from year,
    14 first-year reporting standard, 15 benchmark discount, 16 quality withhold, 17
    minimum beneficiaries, 18 two-sided, 19 number of loss-limit steps, 20 benchmark
    discount of a higher-spending ACO (NaN: the same as 15), 21 administrative add-on
    (share of the benchmark, higher-spending ACOs), 22 add-on inside the benchmark (else paid
    outside the sharing), 23 sequestration on gross savings (else on the shared amount).
    """
    top = p[0]
    qmode = p[1]
    msr_mode = p[2]
    lmode = p[3]
    seq = p[4]
    on_gross = p[6] > 0.5
    lowrev_from = p[12]
    acpt_from = p[13]
    withhold = p[16]
    min_benes = p[17]
    # quality inputs; complete first-year reporting gives full credit where the track allows
    fy = (p[14] > 0.5) & (fy_v > 0.5)
    q = min(max(q, 0.0), 1.0)
    q = 1.0 if fy else q
    qps = (qps_v > 0.5) | fy
    alt = alt_v > 0.5
    # 1. performance benchmark (NGACO/REACH/LEAD discount, by spending class where the track
    # has two, and the unearned quality withhold taken from the discounted benchmark:
    # B x (1 - d) x (1 - w (1 - q)), policy-2027.md section 1.11)
    higher = hs > 0.5
    disc_class = p[20] if higher & (p[20] == p[20]) else p[15]
    disc = disc_class if disc != disc else disc
    factor = (1.0 - disc) * (1.0 - withhold * (1.0 - q))
    bench_total = b * factor * years
    add_on = b * years * p[21] if higher else 0.0  # LEAD's add-on, on the benchmark before the discount
    in_bench = p[22] > 0.5
    bench_total = bench_total + add_on if in_bench else bench_total
    add_on_paid = 0.0 if in_bench else add_on
    exp_total = e * years
    gross = bench_total - exp_total
    rate = gross / bench_total if bench_total > 0 else 0.0
    # 2. MSR / MLR (425.110(b)(3)(iii): below the minimum size a fixed election reverts)
    small = n < min_benes
    msr_el = size_based if (msr_el != msr_el) | small else msr_el
    mlr_el = size_based if (mlr_el != mlr_el) | small else mlr_el
    msr = size_based if msr_mode == 1 else (msr_el if msr_mode == 2 else 0.0)
    mlr = size_based if msr_mode == 1 else (mlr_el if msr_mode == 2 else 0.0)
    # 3. quality -> final sharing rate and the quality factor of the loss rate
    qf = 1.0 * qps
    af = 1.0 * alt
    if_mult = top * q * qf
    if_gate = top * qf
    if_alt = top * (qf + (1.0 - qf) * af * q)
    share = if_mult if qmode == 1 else (if_gate if qmode == 2 else (if_alt if qmode == 3 else top))
    q_gated = q * qf
    q_alt = q * max(qf, af)
    q_loss = q_gated if (qmode == 1) | (qmode == 2) else (q_alt if qmode == 3 else q)
    quality_share = share  # the rate quality earns, before the MSR test (CMS's FinalShareRate)
    # 4. savings: MSR test (meeting it qualifies), first dollar, low-revenue exception
    positive = gross > 0.0
    met_msr = positive & (rate >= msr - 1e-12)
    exception = (lowrev_from == lowrev_from) & positive & ~met_msr & (low > 0.5) \
        & (n >= min_benes) & (start >= lowrev_from) & (qps | alt)
    share = share * (1.0 - 0.5 * exception)
    paid = met_msr | exception
    cap_frac = p[5] if cap_frac != cap_frac else cap_frac
    cap_amt = cap_frac * bench_total
    kept = _corridor(corr, max(rate, 0.0)) * bench_total if lmode == 4 else 0.0
    on_gross_base = min(gross, cap_amt) * share
    base = kept if lmode == 4 else (on_gross_base if on_gross else gross * share)
    before_cap = base * paid
    seq_amt = before_cap * seq
    if (p[23] > 0.5) & (lmode == 4):  # sequestration on gross savings, before the corridors
        seq_amt = (kept - _corridor(corr, max(rate, 0.0) * (1.0 - seq)) * bench_total) * paid
    # CMS caps the sequestered payment (PUF: min(gen x rate x 0.98, cap x benchmark))
    capped = min(before_cap - seq_amt, cap_amt)
    shared_savings = before_cap - seq_amt if (lmode == 4) | on_gross else capped
    cap_amt = np.inf if lmode == 4 else cap_amt
    # 5. losses (two-sided tracks): MLR test, ACPT protection, loss rate, limit, EUC
    loss = max(-gross, 0.0)
    met_mlr = (gross < 0.0) & (-rate >= mlr - 1e-12)
    b2_total = b2 * factor * years
    loss2 = max(exp_total - b2_total, 0.0)
    rate2 = loss2 / b2_total if b2_total > 0 else 0.0
    acpt = met_mlr & (acpt_from == acpt_from) & (b2 == b2) & (start >= acpt_from) & (loss2 < loss)
    loss = loss2 if acpt else loss
    met_mlr = met_mlr & ~(acpt & (rate2 < mlr - 1e-12))  # [INF] MLR re-tested on the 2-way benchmark
    lr_quality = min(max(1.0 - p[8] * q_loss, p[9]), p[10])
    lr_corridor = _corridor(lcorr, -rate) / -rate if (lmode == 4) & (rate < 0) else 0.0
    lrate = p[7] if lmode == 1 else (lr_quality if lmode == 2 else (top if lmode == 3 else (
        lr_corridor if lmode == 4 else 0.0)))
    loss_base = loss * met_mlr
    loss_base = min(loss_base, cap_frac * bench_total) if on_gross & (lmode != 4) else loss_base
    before_limit = loss_base * lrate
    k = int(ayear) - 1
    step = limits[0] if k <= 0 else (limits[1] if k == 1 else limits[2])
    limit = step * bench_total
    rev_limit = rev * p[11]
    limit = min(limit, rev_limit) if rev_limit == rev_limit else limit
    limit = limit if p[19] > 0 else np.inf
    limited = min(before_limit, limit)
    euc = limited * min(max(euc_v, 0.0), 1.0)
    shared_losses = limited - euc
    if p[18] < 0.5:  # one-sided: no losses (the same for every element of a job)
        met_mlr = False
        acpt = False
        lrate = 0.0
        loss_base = 0.0
        before_limit = 0.0
        limit = np.inf
        euc = 0.0
        shared_losses = 0.0
    return (bench_total, exp_total, gross, rate, msr, mlr, 1.0 * met_msr, 1.0 * met_mlr,
            1.0 * exception, share * paid, before_cap, seq_amt, cap_amt, shared_savings, lrate,
            loss_base, before_limit, limit, euc, shared_losses, 1.0 * acpt, quality_share, add_on_paid)


_BLOCK = 4096  # elements per inner pass
# The kernel releases the GIL (so a caller can draw random numbers meanwhile), but Numba's
# fallback "workqueue" threading layer must not run two parallel regions at once: callers in
# different threads (dashboard sessions) take turns.
_KERNEL_LOCK = threading.Lock()
_SPLIT = 4     # each job's elements are split in this many tasks for the threads


#: 1 for the inputs (in the order of INPUTS) that the rows-only loop reads as arrays:
#: benchmark, expenditure, quality score, the two quality standards, participant revenue
#: and the two-way benchmark - the Monte Carlo's inputs that vary by trial
_ROW_INPUTS = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0], dtype=np.int64)


@njit(cache=True, inline="always", error_model="numpy")
def _earned_rows(p, limits, corr, lcorr, b, e, n, years, q, qps, alt, fy, msr, mlr, rev, low,
                 start, ayear, euc, b2, cap, disc, hs, size, dst):
    """``dst[i]`` = savings minus losses plus the add-on of element ``i`` (:func:`_elem`), for
    a job whose inputs outside :data:`_ROW_INPUTS` are numbers, the same for every element."""
    for i in range(dst.shape[0]):
        r = _elem(p, limits, corr, lcorr, b[i], e[i], n, years, q[i], qps[i], alt[i], fy, msr,
                  mlr, rev[i], low, start, ayear, euc, b2[i], cap, disc, hs, size)
        dst[i] = r[13] - r[19] + r[22]


@njit(cache=True, inline="always")
def _view(x, xs, idx, buf, j, k, i0, i1):
    """Input ``k`` of job ``j`` over elements i0..i1: a slice of its row of ``x``, or the
    job's constant from ``xs`` already filled into ``buf[k]``."""
    r = idx[j, k]
    return x[r][i0:i1] if r >= 0 else buf[k][: i1 - i0]


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _kernel(m, P, LIM, CORR, SCALE, NSCALE, x, xs, idx, out, what, orow, col0):
    """Settle J jobs over ``m`` elements in one parallel region.

    Results go to row ``orow[j]`` of ``out`` (what = 1), from column ``col0`` on, so the
    caller's result array can be written in place.

    Job j is a track's rules (row j of P, LIM, CORR (savings and loss corridors), SCALE)
    with its 19 inputs, each a row of ``x`` (``idx[j, k] >= 0``) or a constant of ``xs``.
    ``what`` says what is written: 0 savings, losses and the add-on (``out`` is (3J, m)),
    1 savings minus losses plus the add-on (``out`` (J, m)), 2 every field of ``_FIELDS``
    for job 0 (``out`` (23, m)).
    """
    n_jobs = P.shape[0]
    span = (m + _SPLIT - 1) // _SPLIT
    for task in prange(n_jobs * _SPLIT):
        j = task // _SPLIT
        c0 = (task - j * _SPLIT) * span
        c1 = min(m, c0 + span)
        if c0 >= c1:
            continue
        p = _tuple24(P[j])
        limits = (LIM[j, 0], LIM[j, 1], LIM[j, 2])
        corr = _tuple12(CORR[j, 0])
        lcorr = _tuple12(CORR[j, 1])
        scale = SCALE[j, : NSCALE[j]]
        buf = np.empty((20, _BLOCK))
        for k in range(19):
            if idx[j, k] < 0:
                buf[k, :] = xs[-idx[j, k] - 1, 0]
        fixed_n = idx[j, 2] < 0  # one beneficiary count for the whole job: look it up once
        if fixed_n:
            buf[19, :] = _size_msr(scale, xs[-idx[j, 2] - 1, 0])
        # The Monte Carlo's jobs: only the inputs of _ROW_INPUTS vary by element, the others
        # are the job's constants. Settled by a loop that takes those as numbers (so the
        # compiler hoists what depends on them alone and vectorises the rest); same bits.
        rows_only = (what == 1) & fixed_n
        for k in range(19):
            if (idx[j, k] >= 0) & (_ROW_INPUTS[k] == 0):
                rows_only = False
        cst = np.full(19, np.nan)
        for k in range(19):
            if idx[j, k] < 0:
                cst[k] = xs[-idx[j, k] - 1, 0]
        c2, c3, c7, c8, c9, c11, c12 = cst[2], cst[3], cst[7], cst[8], cst[9], cst[11], cst[12]
        c13, c14, c16, c17, c18 = cst[13], cst[14], cst[16], cst[17], cst[18]
        size_n = buf[19, 0]
        for i0 in range(c0, c1, _BLOCK):
            i1 = min(c1, i0 + _BLOCK)
            a0 = _view(x, xs, idx, buf, j, 0, i0, i1)
            a1 = _view(x, xs, idx, buf, j, 1, i0, i1)
            a2 = _view(x, xs, idx, buf, j, 2, i0, i1)
            a3 = _view(x, xs, idx, buf, j, 3, i0, i1)
            a4 = _view(x, xs, idx, buf, j, 4, i0, i1)
            a5 = _view(x, xs, idx, buf, j, 5, i0, i1)
            a6 = _view(x, xs, idx, buf, j, 6, i0, i1)
            a7 = _view(x, xs, idx, buf, j, 7, i0, i1)
            a8 = _view(x, xs, idx, buf, j, 8, i0, i1)
            a9 = _view(x, xs, idx, buf, j, 9, i0, i1)
            a10 = _view(x, xs, idx, buf, j, 10, i0, i1)
            a11 = _view(x, xs, idx, buf, j, 11, i0, i1)
            a12 = _view(x, xs, idx, buf, j, 12, i0, i1)
            a13 = _view(x, xs, idx, buf, j, 13, i0, i1)
            a14 = _view(x, xs, idx, buf, j, 14, i0, i1)
            a15 = _view(x, xs, idx, buf, j, 15, i0, i1)
            a16 = _view(x, xs, idx, buf, j, 16, i0, i1)
            a17 = _view(x, xs, idx, buf, j, 17, i0, i1)
            a18 = _view(x, xs, idx, buf, j, 18, i0, i1)
            size = buf[19][: i1 - i0]
            if not fixed_n:
                for i in range(i1 - i0):
                    size[i] = _size_msr(scale, a2[i])
            if rows_only:
                _earned_rows(p, limits, corr, lcorr, a0, a1, c2, c3, a4, a5, a6, c7, c8, c9, a10,
                             c11, c12, c13, c14, a15, c16, c17, c18, size_n,
                             out[orow[j]][col0 + i0: col0 + i1])
            elif what == 1:
                dst = out[orow[j]][col0 + i0: col0 + i1]
                for i in range(i1 - i0):
                    r = _elem(p, limits, corr, lcorr, a0[i], a1[i], a2[i], a3[i], a4[i], a5[i],
                              a6[i], a7[i], a8[i], a9[i], a10[i], a11[i], a12[i], a13[i], a14[i],
                              a15[i], a16[i], a17[i], a18[i], size[i])
                    dst[i] = r[13] - r[19] + r[22]
            elif what == 0:
                dst_s = out[3 * j][i0:i1]
                dst_l = out[3 * j + 1][i0:i1]
                dst_a = out[3 * j + 2][i0:i1]
                for i in range(i1 - i0):
                    r = _elem(p, limits, corr, lcorr, a0[i], a1[i], a2[i], a3[i], a4[i], a5[i],
                              a6[i], a7[i], a8[i], a9[i], a10[i], a11[i], a12[i], a13[i], a14[i],
                              a15[i], a16[i], a17[i], a18[i], size[i])
                    dst_s[i] = r[13]
                    dst_l[i] = r[19]
                    dst_a[i] = r[22]
            else:
                for i in range(i1 - i0):
                    r = _elem(p, limits, corr, lcorr, a0[i], a1[i], a2[i], a3[i], a4[i], a5[i],
                              a6[i], a7[i], a8[i], a9[i], a10[i], a11[i], a12[i], a13[i], a14[i],
                              a15[i], a16[i], a17[i], a18[i], size[i])
                    for f in range(23):
                        out[f, i0 + i] = r[f]


@njit(cache=True, inline="always")
def _tuple24(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
            a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23])


@njit(cache=True, inline="always")
def _tuple12(c):
    return (c[0, 0], c[0, 1], c[1, 0], c[1, 1], c[2, 0], c[2, 1], c[3, 0], c[3, 1], c[4, 0],
            c[4, 1], c[5, 0], c[5, 1])


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
    higher_spending: ArrayLike = False,
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
      savings_cap, benchmark_discount: NGACO elections overriding the catalog defaults
        (``benchmark_discount`` also overrides a LEAD or REACH discount).
      higher_spending: the ACO is higher-spending than its region (LEAD: the discount of
        that class and the administrative add-on; see :func:`is_higher_spending`).
      detail: False returns only shared savings, shared losses, the add-on and earned (the
        other fields are None) - the Monte Carlo's fast path.
    """
    given = {
        "benchmark": benchmark, "expenditure": expenditure, "beneficiaries": beneficiaries,
        "person_years": person_years, "quality_score": quality_score, "qps_met": qps_met,
        "alt_qps_met": alt_qps_met, "first_year_reporting": first_year_reporting, "msr": msr,
        "mlr": mlr, "participant_revenue": participant_revenue, "low_revenue": low_revenue,
        "agreement_start_year": agreement_start_year, "agreement_year": agreement_year,
        "euc_share": euc_share, "benchmark_two_way": benchmark_two_way,
        "savings_cap": savings_cap, "benchmark_discount": benchmark_discount,
        "higher_spending": higher_spending,
    }
    arrays = [np.asarray(a, dtype=np.float64) for a in _inputs_in_order(given)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    size = math.prod(shape)
    values: dict[str, Any] = dict.fromkeys(_FIELDS)
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
    if detail:
        out = _run([(rules, job)], x, np.empty((len(_FIELDS), size)), 2)
        for k, name in enumerate(_FIELDS):
            v = out[k].reshape(shape)
            values[name] = v.astype(bool) if name in _BOOL_FIELDS else v
    else:
        out = _run([(rules, job)], x, np.empty((3, size)), 0)
        values["shared_savings"] = out[0].reshape(shape)
        values["shared_losses"] = out[1].reshape(shape)
        values["admin_add_on"] = out[2].reshape(shape)
    earned = values["shared_savings"] - values["shared_losses"] + values["admin_add_on"]
    return Settlement(**values, earned=earned)


def is_higher_spending(spending_vs_region: ArrayLike) -> ArrayLike:
    """LEAD's spending class from the ACO's historical spending as a share of its region's:
    at or above the region (1.0) the ACO is higher-spending, below it lower-spending
    (policy-2027.md section 1.3 step 5: one class for the whole ACO)."""
    return np.asarray(spending_vs_region, dtype=float) >= 1.0


#: The inputs of a settlement, in the order the kernel reads them.
INPUTS = (
    "benchmark", "expenditure", "beneficiaries", "person_years", "quality_score", "qps_met",
    "alt_qps_met", "first_year_reporting", "msr", "mlr", "participant_revenue", "low_revenue",
    "agreement_start_year", "agreement_year", "euc_share", "benchmark_two_way", "savings_cap",
    "benchmark_discount", "higher_spending",
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
                "higher_spending": False,
            }.get(name, _NAN)
        out.append(v)
    return out


@dataclass(frozen=True)
class Row:
    """Marks a :func:`settle_batch` input as row ``index`` of the shared input matrix."""

    index: int


@dataclass(frozen=True)
class Batch:
    """Jobs packed for the compiled kernel, ready to run on any input matrix of their layout.

    Identical jobs (e.g. BASIC A and B, whose rules are the same, or a glide-path year and
    the level it is at) are settled once: ``unique`` lists the jobs that run and
    ``copies`` the (job, job it copies) pairs.
    """

    n_jobs: int
    P: np.ndarray
    LIM: np.ndarray
    CORR: np.ndarray
    SCALE: np.ndarray
    NSCALE: np.ndarray
    idx: np.ndarray
    xs: np.ndarray
    unique: np.ndarray
    copies: tuple[tuple[int, int], ...]


def prepare_batch(jobs: list[tuple[TrackRules, dict[str, Any]]], *, share: bool = True) -> Batch:
    """Pack (rules, inputs) jobs once; :func:`run_batch` then settles them on any matrix.

    ``share=False`` runs every job even when two are identical (for per-job outputs).
    """
    keys = [_job_key(rules, given) if share else j for j, (rules, given) in enumerate(jobs)]
    first: dict[Any, int] = {}
    for j, k in enumerate(keys):
        first.setdefault(k, j)
    unique = sorted(first.values())
    run = [jobs[j] for j in unique]
    parts = [_rule_arrays(rules) for rules, _ in run]
    SCALE, NSCALE = _pad([q[3] for q in parts], (1, 4))
    idx = np.empty((len(run), len(INPUTS)), dtype=np.int64)
    scalars: list[float] = []
    for j, (_rules, given) in enumerate(run):
        for k, v in enumerate(_inputs_in_order(given)):
            if isinstance(v, Row):
                idx[j, k] = v.index
            else:
                scalars.append(float(v))
                idx[j, k] = -len(scalars)
    return Batch(
        n_jobs=len(jobs),
        P=np.stack([q[0] for q in parts]), LIM=np.stack([q[1] for q in parts]),
        CORR=np.stack([q[2] for q in parts]), SCALE=SCALE, NSCALE=NSCALE, idx=idx,
        xs=np.array(scalars, dtype=np.float64).reshape(-1, 1),
        unique=np.array(unique, dtype=np.int64),
        copies=tuple((j, first[k]) for j, k in enumerate(keys) if first[k] != j),
    )


def run_batch(batch: Batch, x: np.ndarray, earned_out: np.ndarray, col0: int = 0) -> np.ndarray:
    """Fill columns ``col0 .. col0 + m`` of ``earned_out`` (C-contiguous, one row per job)
    with each job's shared savings minus shared losses on the input matrix ``x``."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = x.shape[1]
    with _KERNEL_LOCK:
        _kernel(m, batch.P, batch.LIM, batch.CORR, batch.SCALE, batch.NSCALE, x, batch.xs,
                batch.idx, earned_out, 1, batch.unique, col0)
    for j, src in batch.copies:
        earned_out[j, col0:col0 + m] = earned_out[src, col0:col0 + m]
    return earned_out


def settle_batch(jobs: list[tuple[TrackRules, dict[str, Any]]], x: np.ndarray, *,
                 earned_out: np.ndarray | None = None, col0: int = 0):
    """Settle many (rules, inputs) jobs over the same rows in one compiled parallel call.

    ``x`` is a ``(rows, m)`` float matrix; each job maps input names (see :data:`INPUTS`)
    to a :class:`Row` of ``x`` or to a scalar (missing names take :func:`settle`'s
    defaults). Returns ``(shared_savings, shared_losses)``, each ``(jobs, m)``; or, when
    ``earned_out`` (a C-contiguous ``(jobs, >= col0 + m)`` array) is given, fills its
    columns ``col0 .. col0 + m`` with savings minus losses (plus any add-on) and returns it.
    The same kernel
    as :func:`settle`, without Python per job.
    """
    if earned_out is not None:
        return run_batch(prepare_batch(jobs), x, earned_out, col0)
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = _run(jobs, x, np.empty((3 * len(jobs), x.shape[1])), 0)
    return out[0::3], out[1::3]


def _run(jobs: list[tuple[TrackRules, dict[str, Any]]], x: np.ndarray, out: np.ndarray, what: int):
    """Run every job into ``out``: savings and losses (``what`` 0) or every field (2)."""
    batch = prepare_batch(jobs, share=False)
    with _KERNEL_LOCK:
        _kernel(x.shape[1], batch.P, batch.LIM, batch.CORR, batch.SCALE, batch.NSCALE, x,
                batch.xs, batch.idx, out, what, batch.unique, 0)
    return out


def _job_key(rules: TrackRules, given: dict[str, Any]) -> tuple:
    """What a job computes: its rules' numbers and its inputs (rows or values)."""
    scalars, limits, corr, scale = _rule_arrays(rules)
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
        f"CMS expected {_money(raw_total)} of Medicare spending for {beneficiaries:,.0f} assigned "
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
            f"The benchmark is lowered by {' and '.join(parts)}: {_money(cut)}.")
    spending_cite = _SPENDING_CITES.get(rules.program, _SPENDING_CITE)
    add("spending", "Actual spending", -s["expenditure_total"], s["gross"], None, spending_cite,
        f"Assigned beneficiaries actually cost {_money(s['expenditure_total'])}.")
    kind = "savings" if s["gross"] >= 0 else "losses"
    add("gross", f"Gross {kind}", None, s["gross"], s["savings_rate"], spending_cite,
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
                            f"before the corridors, so they keep {_money(s['sequestration'])} less.")
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
    if s["admin_add_on"]:
        add("add_on", "Administrative add-on", s["admin_add_on"], s["earned"], rules.admin_add_on,
            rules.source("admin_add_on") + "; " + rules.source("admin_add_on_placement"),
            f"As a higher-spending ACO it also receives the administrative add-on, {rules.admin_add_on:.1%} "
            f"of the benchmark before the discount: {_money(s['admin_add_on'])}, paid apart from the sharing.")
    add("net", "Settlement", None, s["earned"], None, rules.source("max_share_rate"),
        f"Net settlement with CMS: {_money(s['earned'])}.")
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
            f"({_money(discounted - raw_total)}): the discount, and in a simulated year the level of a "
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
            f"The benchmark is lowered by the discount {why}, {d:.2%}: {_money(discounted - raw_total)}.")
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
        + (f"the {1 - q:.1%} not earned back lowers the benchmark by {_money(-lost)}." if lost < -0.005
           else "all of it is earned back."))
    running = after_withhold
    if abs(add_on_in) > 0.005:
        add("add_on_benchmark", "Administrative add-on", add_on_in, s["benchmark_total"], rules.admin_add_on,
            rules.source("admin_add_on") + "; " + rules.source("admin_add_on_placement"),
            f"As a higher-spending ACO its benchmark carries the administrative add-on, {rules.admin_add_on:.1%} "
            f"of the benchmark before the discount: {_money(add_on_in)}.")
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
        parts.append(f"{p(band.share)} of the {_money(amount)} {where}")
        lower = upper
    share = kept / gross if gross else 0.0
    return (f"Risk corridors: the ACO {verb} {'; '.join(parts)}. In all it {verb} {_money(kept)} of "
            f"{_money(gross)} gross {what}, {share:.1%}.")


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
