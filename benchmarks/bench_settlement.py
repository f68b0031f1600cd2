"""Settle 10 million ACO-year rows for one track and print how long it takes.

Usage: python benchmarks/bench_settlement.py [--rows N] [--track ENHANCED] [--year 2024] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from simulation.rules.catalog import load_catalog
from simulation.rules.settlement import settle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--track", default="ENHANCED")
    ap.add_argument("--year", type=int, default=2024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--money-only", action="store_true",
                    help="the Monte Carlo fast path: only savings and losses are returned")
    args = ap.parse_args()

    rules = load_catalog().rules(args.track, args.year)
    rng = np.random.default_rng(20261123)
    n = args.rows
    benchmark = rng.uniform(9_000, 16_000, n)
    spending = benchmark * (1 - rng.normal(0.01, 0.04, n))
    beneficiaries = rng.integers(5_000, 80_000, n).astype(float)
    quality = rng.uniform(0.5, 1.0, n)
    qps = rng.random(n) < 0.9
    revenue = benchmark * beneficiaries * rng.uniform(0.2, 1.5, n)
    settle(rules, benchmark[:1000], spending[:1000], beneficiaries[:1000])  # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        s = settle(rules, benchmark, spending, beneficiaries, quality_score=quality, qps_met=qps,
                   msr=0.02, participant_revenue=revenue, detail=not args.money_only)
        times.append(time.perf_counter() - t0)
    best = min(times)
    result = {
        "rows": n, "track": args.track, "year": args.year, "seconds": round(best, 3),
        "rows_per_second": round(n / best), "detail": not args.money_only, "mean_earned": round(float(s.earned.mean()), 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"settled {n:,} {args.track} PY{args.year} rows in {best:.3f} s "
              f"({n / best / 1e6:.1f} M rows/s; best of {args.repeat}); mean earned ${result['mean_earned']:,.0f}")


if __name__ == "__main__":
    main()
