"""The compiled settlement kernel and the batch machinery that feeds it.

:func:`simulation.rules.settlement.settle` and the Monte Carlo call this module; nothing
here knows a scenario. A track's rules become flat numbers (:func:`_rule_arrays`): the
scalars ``p``, indexed by the ``P_*`` constants below, the loss limits by agreement year,
the savings and loss corridors, and the MSR scale. :func:`_elem` settles one element from
the :data:`INPUTS` and returns the values of :data:`FIELDS` in order (indexed by the
``F_*`` constants); :func:`_kernel` runs many jobs over many elements in one parallel region.

The ``P_*``, ``F_*`` and ``IN_*`` names are module-level integers, which numba compiles as
constants: ``p[P_MAX_SHARE]`` is the same machine code as ``p[0]``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit, prange

from .catalog import TrackRules

#: The fields a settlement returns, in the order :func:`_elem` returns them.
FIELDS = (
    "benchmark_total", "expenditure_total", "gross", "savings_rate", "msr", "mlr", "met_msr",
    "met_mlr", "low_revenue_exception", "share_rate", "savings_before_cap", "sequestration",
    "savings_cap", "shared_savings", "loss_rate", "loss_base", "losses_before_limit",
    "loss_limit", "euc_reduction", "shared_losses", "acpt_protection", "quality_share_rate",
    "admin_add_on",
)
BOOL_FIELDS = {"met_msr", "met_mlr", "low_revenue_exception", "acpt_protection"}
_QUALITY = {"none": 0, "score_multiplier": 1, "qps_gate": 2, "qps_alt_sliding": 3}
_MSR = {"none": 0, "size_scale": 1, "elected": 2}
_LOSS = {"none": 0, "fixed": 1, "quality_scaled": 2, "same_as_savings": 3, "corridor": 4}
_NAN = float("nan")


def _opt(x: float | None) -> float:
    return _NAN if x is None else float(x)


_MAX_LIMITS = 3  # loss limit steps by agreement year (Track 2 has three)
_MAX_BANDS = 6   # risk corridor bands (REACH and LEAD have four)


# The track's scalars ``p`` (built by _rule_arrays, read by _elem), by position.
P_MAX_SHARE = 0          # maximum sharing rate
P_QUALITY_MODE = 1       # _QUALITY code
P_MSR_MODE = 2           # _MSR code
P_LOSS_MODE = 3          # _LOSS code
P_SEQUESTRATION = 4      # sequestration rate
P_SAVINGS_CAP = 5        # savings cap (share of the benchmark)
P_CAP_ON_GROSS = 6       # 1: the cap applies to gross savings
P_FIXED_LOSS_RATE = 7    # shared loss rate of a fixed-rate track
P_LOSS_COEF = 8          # loss rate = 1 - coefficient x quality ...
P_LOSS_FLOOR = 9         # ... bounded below ...
P_LOSS_CEILING = 10      # ... and above
P_REVENUE_LIMIT = 11     # revenue-based loss limit (share of participant revenue)
P_LOWREV_FROM = 12       # low-revenue exception from this agreement start year (NaN: none)
P_ACPT_FROM = 13         # ACPT loss protection from this agreement start year (NaN: none)
P_FIRST_YEAR = 14        # 1: complete first-year reporting meets the quality standard
P_DISCOUNT = 15          # benchmark discount
P_WITHHOLD = 16          # quality withhold taken in the settlement
P_MIN_BENES = 17         # minimum assigned beneficiaries
P_TWO_SIDED = 18         # 1: two-sided
P_N_LIMITS = 19          # number of benchmark loss-limit steps (0: no benchmark limit)
P_DISCOUNT_HIGHER = 20   # discount of a higher-spending ACO (NaN: P_DISCOUNT)
P_ADD_ON = 21            # administrative add-on (share of the benchmark, higher-spending ACOs)
P_ADD_ON_IN_BENCH = 22   # 1: the add-on sits inside the benchmark, else paid outside the sharing
P_SEQ_ON_GROSS = 23      # 1: sequestration on gross savings (else on the shared amount)
N_P = 24

#: The inputs of a settlement, in the order the kernel reads them.
INPUTS = (
    "benchmark", "expenditure", "beneficiaries", "person_years", "quality_score", "qps_met",
    "alt_qps_met", "first_year_reporting", "msr", "mlr", "participant_revenue", "low_revenue",
    "agreement_start_year", "agreement_year", "euc_share", "benchmark_two_way", "savings_cap",
    "benchmark_discount", "higher_spending",
)



# Positions in FIELDS (what _elem returns) and in INPUTS, as numba constants.
F_SHARED_SAVINGS = FIELDS.index("shared_savings")
F_SHARED_LOSSES = FIELDS.index("shared_losses")
F_ADMIN_ADD_ON = FIELDS.index("admin_add_on")
N_FIELDS = len(FIELDS)
IN_BENEFICIARIES = 2
N_INPUTS = 19


@lru_cache(maxsize=1024)
def _rule_arrays(rules: TrackRules):
    """The track's rules as the flat numbers the compiled kernel takes.

    Returns ``p`` (the scalars, by the ``P_*`` positions), the loss limits by agreement
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
    p = np.empty(N_P)
    p[P_MAX_SHARE] = rules.max_share_rate
    p[P_QUALITY_MODE] = _QUALITY[rules.quality_mode]
    p[P_MSR_MODE] = _MSR[rules.msr_mode]
    p[P_LOSS_MODE] = _LOSS[rules.loss_rate_mode]
    p[P_SEQUESTRATION] = rules.sequestration_rate
    p[P_SAVINGS_CAP] = _opt(rules.savings_cap)
    p[P_CAP_ON_GROSS] = 1.0 if rules.savings_cap_stage == "on_gross" else 0.0
    p[P_FIXED_LOSS_RATE] = _opt(rules.shared_loss_rate)
    p[P_LOSS_COEF] = _opt(rules.loss_rate_quality_coefficient)
    p[P_LOSS_FLOOR] = _opt(rules.loss_rate_floor)
    p[P_LOSS_CEILING] = _opt(rules.loss_rate_ceiling)
    p[P_REVENUE_LIMIT] = _opt(rules.loss_limit_revenue)
    p[P_LOWREV_FROM] = _opt(rules.low_revenue_exception_from_agreement_year)
    p[P_ACPT_FROM] = _opt(rules.acpt_loss_protection_from_agreement_year)
    p[P_FIRST_YEAR] = 1.0 if rules.first_year_reporting_standard else 0.0
    p[P_DISCOUNT] = rules.benchmark_discount
    p[P_WITHHOLD] = rules.quality_withhold if rules.quality_withhold_in_settlement else 0.0
    p[P_MIN_BENES] = float(rules.minimum_assigned_beneficiaries or 0)
    p[P_TWO_SIDED] = 1.0 if rules.risk == "two_sided" else 0.0
    p[P_N_LIMITS] = float(len(steps))
    p[P_DISCOUNT_HIGHER] = _opt(rules.benchmark_discount_higher_spending)
    p[P_ADD_ON] = rules.admin_add_on
    p[P_ADD_ON_IN_BENCH] = 1.0 if rules.admin_add_on_placement == "in_benchmark" else 0.0
    p[P_SEQ_ON_GROSS] = 1.0 if rules.sequestration_stage == "gross" else 0.0
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
    """Settle one element from its 20 input values: the 23 values of :data:`FIELDS` in order
    (booleans as 0/1). ``p``, ``limits``, ``corr`` and ``lcorr`` (the savings and the loss
    corridors) are tuples (not arrays, which the compiled loop would reference-count at
    every call).

    Straight-line code: the track's modes are selected with conditional expressions that
    do not depend on the data, and data-dependent tests are combined with & and | and
    applied by multiplication, so the compiled loop vectorises. ``p`` is indexed by the
    ``P_*`` constants of this module; the result by the ``F_*`` ones.
    """
    top = p[P_MAX_SHARE]
    qmode = p[P_QUALITY_MODE]
    msr_mode = p[P_MSR_MODE]
    lmode = p[P_LOSS_MODE]
    seq = p[P_SEQUESTRATION]
    on_gross = p[P_CAP_ON_GROSS] > 0.5
    lowrev_from = p[P_LOWREV_FROM]
    acpt_from = p[P_ACPT_FROM]
    withhold = p[P_WITHHOLD]
    min_benes = p[P_MIN_BENES]
    # quality inputs; complete first-year reporting gives full credit where the track allows
    fy = (p[P_FIRST_YEAR] > 0.5) & (fy_v > 0.5)
    q = min(max(q, 0.0), 1.0)
    q = 1.0 if fy else q
    qps = (qps_v > 0.5) | fy
    alt = alt_v > 0.5
    # 1. performance benchmark (NGACO/REACH/LEAD discount, by spending class where the track
    # has two, and the unearned quality withhold taken from the discounted benchmark:
    # B x (1 - d) x (1 - w (1 - q)), policy-2027.md section 1.11)
    higher = hs > 0.5
    disc_higher = p[P_DISCOUNT_HIGHER]
    disc_class = disc_higher if higher & (disc_higher == disc_higher) else p[P_DISCOUNT]
    disc = disc_class if disc != disc else disc
    factor = (1.0 - disc) * (1.0 - withhold * (1.0 - q))
    bench_total = b * factor * years
    add_on = b * years * p[P_ADD_ON] if higher else 0.0  # LEAD's add-on, on the benchmark before the discount
    in_bench = p[P_ADD_ON_IN_BENCH] > 0.5
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
    cap_frac = p[P_SAVINGS_CAP] if cap_frac != cap_frac else cap_frac
    cap_amt = cap_frac * bench_total
    kept = _corridor(corr, max(rate, 0.0)) * bench_total if lmode == 4 else 0.0
    on_gross_base = min(gross, cap_amt) * share
    base = kept if lmode == 4 else (on_gross_base if on_gross else gross * share)
    before_cap = base * paid
    seq_amt = before_cap * seq
    if (p[P_SEQ_ON_GROSS] > 0.5) & (lmode == 4):  # sequestration on gross savings, before the corridors
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
    lr_quality = min(max(1.0 - p[P_LOSS_COEF] * q_loss, p[P_LOSS_FLOOR]), p[P_LOSS_CEILING])
    lr_corridor = _corridor(lcorr, -rate) / -rate if (lmode == 4) & (rate < 0) else 0.0
    lrate = p[P_FIXED_LOSS_RATE] if lmode == 1 else (lr_quality if lmode == 2 else (top if lmode == 3 else (
        lr_corridor if lmode == 4 else 0.0)))
    loss_base = loss * met_mlr
    loss_base = min(loss_base, cap_frac * bench_total) if on_gross & (lmode != 4) else loss_base
    before_limit = loss_base * lrate
    k = int(ayear) - 1
    step = limits[0] if k <= 0 else (limits[1] if k == 1 else limits[2])
    limit = step * bench_total
    rev_limit = rev * p[P_REVENUE_LIMIT]
    limit = min(limit, rev_limit) if rev_limit == rev_limit else limit
    limit = limit if p[P_N_LIMITS] > 0 else np.inf
    limited = min(before_limit, limit)
    euc = limited * min(max(euc_v, 0.0), 1.0)
    shared_losses = limited - euc
    if p[P_TWO_SIDED] < 0.5:  # one-sided: no losses (the same for every element of a job)
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
        dst[i] = r[F_SHARED_SAVINGS] - r[F_SHARED_LOSSES] + r[F_ADMIN_ADD_ON]


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
    1 savings minus losses plus the add-on (``out`` (J, m)), 2 every field of :data:`FIELDS`
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
        buf = np.empty((N_INPUTS + 1, _BLOCK))  # the inputs, then the size-based MSR
        for k in range(N_INPUTS):
            if idx[j, k] < 0:
                buf[k, :] = xs[-idx[j, k] - 1, 0]
        fixed_n = idx[j, IN_BENEFICIARIES] < 0  # one beneficiary count for the whole job: look it up once
        if fixed_n:
            buf[N_INPUTS, :] = _size_msr(scale, xs[-idx[j, IN_BENEFICIARIES] - 1, 0])
        # The Monte Carlo's jobs: only the inputs of _ROW_INPUTS vary by element, the others
        # are the job's constants. Settled by a loop that takes those as numbers (so the
        # compiler hoists what depends on them alone and vectorises the rest); same bits.
        rows_only = (what == 1) & fixed_n
        for k in range(N_INPUTS):
            if (idx[j, k] >= 0) & (_ROW_INPUTS[k] == 0):
                rows_only = False
        cst = np.full(N_INPUTS, np.nan)
        for k in range(N_INPUTS):
            if idx[j, k] < 0:
                cst[k] = xs[-idx[j, k] - 1, 0]
        c2, c3, c7, c8, c9, c11, c12 = cst[2], cst[3], cst[7], cst[8], cst[9], cst[11], cst[12]
        c13, c14, c16, c17, c18 = cst[13], cst[14], cst[16], cst[17], cst[18]
        size_n = buf[N_INPUTS, 0]
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
            size = buf[N_INPUTS][: i1 - i0]
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
                    dst[i] = r[F_SHARED_SAVINGS] - r[F_SHARED_LOSSES] + r[F_ADMIN_ADD_ON]
            elif what == 0:
                dst_s = out[3 * j][i0:i1]
                dst_l = out[3 * j + 1][i0:i1]
                dst_a = out[3 * j + 2][i0:i1]
                for i in range(i1 - i0):
                    r = _elem(p, limits, corr, lcorr, a0[i], a1[i], a2[i], a3[i], a4[i], a5[i],
                              a6[i], a7[i], a8[i], a9[i], a10[i], a11[i], a12[i], a13[i], a14[i],
                              a15[i], a16[i], a17[i], a18[i], size[i])
                    dst_s[i] = r[F_SHARED_SAVINGS]
                    dst_l[i] = r[F_SHARED_LOSSES]
                    dst_a[i] = r[F_ADMIN_ADD_ON]
            else:
                for i in range(i1 - i0):
                    r = _elem(p, limits, corr, lcorr, a0[i], a1[i], a2[i], a3[i], a4[i], a5[i],
                              a6[i], a7[i], a8[i], a9[i], a10[i], a11[i], a12[i], a13[i], a14[i],
                              a15[i], a16[i], a17[i], a18[i], size[i])
                    for f in range(N_FIELDS):
                        out[f, i0 + i] = r[f]


@njit(cache=True, inline="always")
def _tuple24(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
            a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23])


@njit(cache=True, inline="always")
def _tuple12(c):
    return (c[0, 0], c[0, 1], c[1, 0], c[1, 1], c[2, 0], c[2, 1], c[3, 0], c[3, 1], c[4, 0],
            c[4, 1], c[5, 0], c[5, 1])



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

