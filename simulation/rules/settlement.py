"""Settlement engine: what CMS pays an ACO, or collects from it, for one performance year.

:func:`settle` is pure and vectorised: every ACO input may be a scalar or an array (all are
broadcast together), the track's rules come from the catalog as a :class:`TrackRules`, and
one call settles millions of rows. The compiled arithmetic lives in
:mod:`simulation.rules.kernel`; :func:`simulation.rules.explain.explain` runs the very same
computation for one ACO and narrates it step by step; it never re-implements a rule.

Order of operations (settlement-rules.md section 0): performance benchmark (discount and
quality withhold for REACH/NGACO/LEAD) -> gross savings or losses -> MSR/MLR test -> final
sharing or loss rate (quality) -> cap or loss limit -> sequestration (savings only) ->
extreme-and-uncontrollable-circumstances reduction (losses only) -> LEAD's administrative
add-on for a higher-spending ACO (a payment outside the sharing, where the catalog places it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .catalog import TrackRules
from .kernel import (
    BOOL_FIELDS,
    FIELDS,
    INPUTS,
    Row,
    _inputs_in_order,
    _run,
    prepare_batch,
    run_batch,
)

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
    values: dict[str, Any] = dict.fromkeys(FIELDS)
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
        out = _run([(rules, job)], x, np.empty((len(FIELDS), size)), 2)
        for k, name in enumerate(FIELDS):
            v = out[k].reshape(shape)
            values[name] = v.astype(bool) if name in BOOL_FIELDS else v
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


