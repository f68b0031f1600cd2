"""Time the Monte Carlo engine on the default scenario and print the figures.

    python benchmarks/bench_engine.py [--trials N] [--json] [--repeat 3]

Prints trials, years, tracks, seconds (whole simulation, best of --repeat), rng_seconds
(drawing the same random numbers alone), their ratio, and peak_mb (peak resident memory of
a fresh process running one simulation). Targets on a 2-core machine: 100,000 trials x 5
years x every default track in <= 0.5 s; 1,000,000 trials in <= 5 s and <= 2 GB peak;
seconds / rng_seconds <= 3. Each figure is the best of --repeat runs; the median of the runs
(``median_seconds``, ``median_rng_seconds``, ``median_ratio``) and the load average when they
were taken (``loadavg``, from /proc/loadavg) are printed too, since on a shared machine other
processes slow the parallel simulation more than the single-threaded draws.

``--horizon`` also times the ten-year horizon (simulation/model/horizon.py): 100,000 futures x 10
years x every default path, against drawing its random numbers alone (target <= 3x), and the
peak memory of a fresh process running it (target <= 2 GB).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def _measure(trials: int, repeat: int) -> dict:
    from simulation.model import montecarlo
    from simulation.model.scenario import Scenario

    scenario = Scenario()
    montecarlo.simulate(scenario, trials=1_000)  # compile / load the kernel cache
    runs, draws = [], []
    load = _loadavg()
    for _ in range(repeat):
        t0 = time.perf_counter()
        montecarlo.simulate(scenario, trials=trials)
        runs.append(time.perf_counter() - t0)
        # the same draws alone, timed the same way, right after (so both see the same load)
        draws.append(_time_draws(scenario, trials))
    return {
        "trials": trials,
        "years": scenario.aco.agreement_years,
        "tracks": len(scenario.tracks),
        "seconds": round(min(runs), 4),
        "rng_seconds": round(min(draws), 4),
        "ratio": round(min(runs) / min(draws), 2),
        "median_seconds": round(statistics.median(runs), 4),
        "median_rng_seconds": round(statistics.median(draws), 4),
        "median_ratio": round(statistics.median(runs) / statistics.median(draws), 2),
        "loadavg": f"{load} -> {_loadavg()}",
    }


def _loadavg() -> str:
    """The 1-minute load average (/proc/loadavg; empty where there is none)."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return ""


def _time_draws(scenario, trials: int) -> float:
    from simulation.model import montecarlo

    t0 = time.perf_counter()
    lo = 0
    for ss in montecarlo._chunk_seeds(scenario.seed, trials):
        n = min(montecarlo.CHUNK, trials - lo)
        montecarlo._standard_draws(ss, n, scenario.aco.agreement_years)
        lo += n
    return time.perf_counter() - t0


def _peak_mb(trials: int) -> float:
    """Peak RSS of a fresh interpreter that runs one simulation of ``trials``."""
    code = (
        "import resource;from simulation.model import montecarlo;from simulation.model.scenario import Scenario;"
        f"montecarlo.simulate(Scenario(), trials={trials});"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def _measure_horizon(trials: int, repeat: int) -> dict:
    from simulation.model import horizon, montecarlo
    from simulation.model.scenario import Scenario

    scenario = Scenario()
    horizon.simulate_horizon(scenario, trials=1_000)  # compile / load the kernel cache
    years = horizon.rebasing.load_rebasing_rules().horizon["years"]

    def draws() -> float:
        t0 = time.perf_counter()
        lo = 0
        for ss in montecarlo._chunk_seeds(scenario.seed, trials):
            n = min(montecarlo.CHUNK, trials - lo)
            montecarlo._standard_draws(ss, n, years)
            lo += n
        return time.perf_counter() - t0

    runs, rng = [], []
    load = _loadavg()
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = horizon.simulate_horizon(scenario, trials=trials)
        runs.append(time.perf_counter() - t0)
        rng.append(draws())  # the same draws alone, right after (so both see the same load)
    best, rng_best = min(runs), min(rng)
    code = (
        "import resource;from simulation.model import horizon;from simulation.model.scenario import Scenario;"
        f"horizon.simulate_horizon(Scenario(), trials={trials});"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"horizon_trials": trials, "years": len(result.years), "paths": len(result.paths),
            "seconds": round(best, 4),
            "rng_seconds": round(rng_best, 4), "ratio": round(best / rng_best, 2),
            "median_seconds": round(statistics.median(runs), 4), "median_rng_seconds": round(statistics.median(rng), 4),
            "median_ratio": round(statistics.median(runs) / statistics.median(rng), 2),
            "loadavg": f"{load} -> {_loadavg()}",
            "peak_mb": round(int(out.stdout.strip().splitlines()[-1]) / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="one JSON object per trial count")
    ap.add_argument("--horizon", action="store_true", help="also time 100,000 futures x 10 years x every default path")
    ap.add_argument("--horizon-only", action="store_true", help="time only the ten-year horizon")
    args = ap.parse_args()
    if args.horizon or args.horizon_only:
        row = _measure_horizon(100_000, args.repeat)
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['horizon_trials']:>9,} futures x {row['years']} years x {row['paths']} paths (horizon): "
                  f"{row['seconds']:.3f} s (draws alone {row['rng_seconds']:.3f} s, ratio {row['ratio']}; "
                  f"median {row['median_seconds']:.3f} / {row['median_rng_seconds']:.3f} s, ratio "
                  f"{row['median_ratio']}), peak {row['peak_mb']:,.0f} MB, load {row['loadavg']}")
        if args.horizon_only:
            return
    for trials in args.trials:
        row = _measure(trials, args.repeat)
        row["peak_mb"] = round(_peak_mb(trials), 1)
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['trials']:>9,} trials x {row['years']} years x {row['tracks']} tracks: "
                  f"{row['seconds']:.3f} s (draws alone {row['rng_seconds']:.3f} s, ratio {row['ratio']}; "
                  f"median {row['median_seconds']:.3f} / {row['median_rng_seconds']:.3f} s, ratio "
                  f"{row['median_ratio']}), peak {row['peak_mb']:,.0f} MB, load {row['loadavg']}")


if __name__ == "__main__":
    main()
