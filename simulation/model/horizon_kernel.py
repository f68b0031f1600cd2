"""Compiled per-chunk passes of the ten-year horizon (simulation/model/horizon.py).

Each function does, in one pass over a chunk's futures, the arithmetic that horizon.py's
reference formulas (simulation/model/rebasing.py's vectorised functions) spell out as numpy
expressions, writing straight into the chunk's input matrix and the result arrays: no
temporaries. Every value is computed with the same operations, in the same order, as the
numpy expression it replaces (elementwise IEEE arithmetic; sums over the three benchmark
years from the first year on; a clip is max then min), so the numbers are the same bits —
tests/model/test_horizon.py checks the kernels against the rebasing functions.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def common_rows(effect, trend_index, spending, revenue, spending_out, costs_out, participant_revenue,
                annual, loss_share, b0, beneficiaries, startup):  # pragma: no cover - compiled
    """Revenue rows (C * revenue), the chunk's spending copy and its costs:
    annual + loss_share * effect * B0 * C * N, plus the start-up in the first year."""
    years, n = trend_index.shape
    for t in range(years):
        for i in range(n):
            c = trend_index[t, i]
            revenue[t, i] = c * participant_revenue
            spending_out[t, i] = spending[t, i]
            k = annual + loss_share * effect[t, i] * b0 * c * beneficiaries
            costs_out[t, i] = k + startup if t == 0 else k


@njit(cache=True, nogil=True, error_model="numpy")
def mssp_rows(trend_index, acpt_index, gap_index, spending, b0, n_ap, renew, w0, w1, w2,
              region_b0, national_b0, w_lower, w_higher, neg_cap, pos_cap, offset_keep,
              psa_share, psa_cap, eliminated, acpt_w,
              bench, two_way, bench_out, hb_o, regional_o, national_o, ra_o, psa_o, adj_o, lower_o,
              before_o):  # pragma: no cover - compiled
    """One cap group's MSSP benchmark rows (``bench`` and ``two_way`` in the input matrix,
    ``bench_out`` the kept per-trial benchmark) and, when ``renew``, the renewal's steps
    (horizon._mssp_benchmarks' formulas: rebasing.historical_benchmark,
    regional_adjustment, prior_savings_adjustment, benchmark_adjustment, update_factor)."""
    years, n = trend_index.shape
    for i in range(n):
        for t in range(years if not renew else n_ap):
            bc = b0 * trend_index[t, i]
            v = bc * acpt_index[t, i]
            bench[t, i] = v
            bench_out[t, i] = v
            two_way[t, i] = bc
        if not renew:
            continue
        c4 = trend_index[n_ap - 1, i]
        y0 = n_ap - 3
        # HB = sum_y (w_y X_y) (C4 / C_y), summed BY1, BY2, BY3
        hb = w0 * spending[y0, i] * (c4 / trend_index[y0, i])
        hb = hb + w1 * spending[y0 + 1, i] * (c4 / trend_index[y0 + 1, i])
        hb = hb + w2 * spending[y0 + 2, i] * (c4 / trend_index[y0 + 2, i])
        regional = region_b0 * c4
        national = national_b0 * c4
        d = regional - hb
        a = (w_lower if d > 0 else w_higher) * d
        a = min(max(a, neg_cap * national), pos_cap * national)
        ra = a * offset_keep if a < 0 else a
        s = bench[y0, i] - spending[y0, i]
        s = s + (bench[y0 + 1, i] - spending[y0 + 1, i])
        s = s + (bench[y0 + 2, i] - spending[y0 + 2, i])
        sbar = s / 3.0
        psa = min(psa_share * sbar, psa_cap * national)
        psa = psa if sbar > 0 else 0.0
        positive = (ra if ra > 0 else 0.0) if eliminated else ra
        adj = max(positive, psa) if psa > 0 else positive
        base = hb + adj
        p4 = gap_index[n_ap - 1, i]
        for t in range(n_ap, years):
            g2 = trend_index[t, i] / c4
            acpt = g2 * gap_index[t, i] / p4
            v = base * ((1.0 - acpt_w) * g2 + acpt_w * acpt)
            bench[t, i] = v
            bench_out[t, i] = v
            two_way[t, i] = base * g2
        hb_o[i] = hb
        regional_o[i] = regional
        national_o[i] = national
        ra_o[i] = ra
        psa_o[i] = psa
        adj_o[i] = adj
        lower_o[i] = 1.0 if regional > hb else 0.0
        before_o[i] = bench[n_ap - 1, i]


@njit(cache=True, nogil=True, error_model="numpy")
def lead_factor(trend_index, gap_index, down, up, w, out):  # pragma: no cover - compiled
    """LEAD's cumulative update factor (rebasing.lead_update on the annual growth of C and
    the ACPT growth, the trend's plus P's error; both 0 in the first year) into ``out``."""
    years, n = trend_index.shape
    keep = 1.0 - w
    for i in range(n):
        u = 1.0
        for t in range(years):
            if t == 0:
                g = 0.0
                a = 0.0
            else:
                g = trend_index[t, i] / trend_index[t - 1, i] - 1.0
                a = g + (gap_index[t, i] / gap_index[t - 1, i] - 1.0)
            a = min(max(a, g - down), g + up)
            f = 1.0 + keep * g + w * a
            u = f if t == 0 else u * f
            out[t, i] = u


@njit(cache=True, nogil=True, error_model="numpy")
def lead_rows(factor, level, scale, rows, bench_out):  # pragma: no cover - compiled
    """One LEAD path's pre-discount benchmark rows (factor * level) and its kept benchmark
    (those rows times ``scale[t]``, the year's (1 - discount), times the REACH level)."""
    years, n = factor.shape
    for t in range(years):
        for i in range(n):
            v = factor[t, i] * level
            rows[t, i] = v
            bench_out[t, i] = v * scale[t]


@njit(cache=True, nogil=True, error_model="numpy")
def lead_split(out, first, years, shared, add_on):  # pragma: no cover - compiled
    """A LEAD path's settlement rows (savings, losses, add-on per year from row ``3 first``)
    into its (years, trials) ``shared`` (savings minus losses) and ``add_on``."""
    n = shared.shape[1]
    for t in range(years):
        r = 3 * (first + t)
        for i in range(n):
            shared[t, i] = out[r, i] - out[r + 1, i]
            add_on[t, i] = out[r + 2, i]
