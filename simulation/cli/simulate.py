"""``acosim simulate``: run a scenario and print the per-track summary."""

from __future__ import annotations

import argparse
import json
import sys

from ..model.io import read_scenario_file
from ..model.scenario import MAX_TRIALS, Scenario, ScenarioError, validate_scenario
from .errors import UserError

NAME = "simulate"
HELP = "simulate a scenario and print each track's expected net and risk"

_COLUMNS = ["track", "expected_net", "mcse", "p_any_payment", "p_owe_cms", "p_net_loss",
            "p5", "p25", "p50", "p75", "p95", "es5", "largest_allowed_loss", "break_even_effect", "open", "why"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", metavar="FILE",
                   help="scenario JSON: a saved scenario, a bare scenario or a scenario set saved on the "
                        "Scenarios page (its current scenario; default: the example scenario)")
    p.add_argument("--snapshot", metavar="NAME", help="with a scenario set: simulate this snapshot instead")
    p.add_argument("--trials", type=int, help=f"simulated futures (100 to {MAX_TRIALS:,})")
    p.add_argument("--seed", type=int, help="random seed (0 to 2**63-1)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--horizon", type=int, metavar="YEARS",
                   help="ten-year view (1 to 10 performance years from 2027): MSSP renewal against LEAD, per path and year")


def run(args: argparse.Namespace) -> int:
    from ..model import montecarlo

    try:
        if args.snapshot is not None and not args.scenario:
            raise ScenarioError(["--snapshot needs --scenario FILE (a scenario set)"])
        scenario = read_scenario_file(args.scenario, snapshot=args.snapshot) if args.scenario else Scenario()
        updates = {}
        if args.trials is not None:
            updates["trials"] = args.trials
        if args.seed is not None:
            updates["seed"] = args.seed
        if updates:
            scenario = validate_scenario({**scenario.model_dump(), **updates})
    except ScenarioError as exc:
        raise UserError("; ".join(exc.problems)) from None
    if args.horizon is not None:
        return _horizon(args, scenario)
    result = montecarlo.simulate(scenario)
    table = montecarlo.summary(result, with_break_even=True)[_COLUMNS]
    meta = {"scenario": scenario.name, "trials": result.trials, "seed": result.seed,
            "years": result.years, "seconds": round(result.seconds, 3)}
    if args.format == "json":
        from ..reports.words import summary_json, tracks_json

        print(json.dumps({**meta, "summary": summary_json(table), "tracks": tracks_json(table)}, indent=1))
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        print(f"{scenario.name}: {result.trials:,} trials, seed {result.seed}, "
              f"years {result.years[0]}-{result.years[-1]}, {result.seconds:.2f} s")
        shown = table.copy()
        for col in ("expected_net", "mcse", "p5", "p25", "p50", "p75", "p95", "es5", "largest_allowed_loss"):
            shown[col] = shown[col].map(lambda v: "no limit" if v is None or v != v else f"{v / 1e6:,.2f}M")
        for col in ("p_any_payment", "p_owe_cms", "p_net_loss"):
            shown[col] = shown[col].map(lambda v: f"{v:.1%}")
        shown["break_even_effect"] = shown["break_even_effect"].map(
            lambda v: "out of range" if v != v else f"{v:.2%}")
        shown["open"] = shown["open"].map({True: "yes", False: "no"})
        print(shown.drop(columns="why").to_string(index=False))
        from ..reports.words import recommend

        rec = recommend(table)
        print("\n" + rec.text)
        for track, why in rec.closed:
            print(f"Not open to this ACO: {track}: {why}")
    return 0


def _horizon(args: argparse.Namespace, scenario: Scenario) -> int:
    """``--horizon N``: per path and year the mean benchmark and spending per capita, shared
    savings, shared losses and net (dollars); each path's N-year net and present value."""
    from ..model import horizon

    try:
        result = horizon.simulate_horizon(scenario, years=args.horizon)
    except horizon.HorizonError as exc:
        raise UserError(f"--horizon: {exc}") from None
    paths = result.summary()
    meta = {"scenario": scenario.name, "trials": scenario.trials, "seed": result.scenario.seed,
            "years": result.years, "discount_rate": result.discount_rate,
            "cash_lag_years": result.cash_lag, "settings": result.settings, "seconds": round(result.seconds, 3)}
    if args.format == "json":
        print(json.dumps({**meta, "paths": paths}, indent=1, default=float))
        return 0
    rows = [{"path": p["path"], **y} for p in paths for y in p["years"]]
    if args.format == "csv":
        import pandas as pd

        pd.DataFrame(rows).to_csv(sys.stdout, index=False)
        return 0
    print(f"{scenario.name}: {scenario.trials:,} trials, years {result.years[0]}-{result.years[-1]}, "
          f"discount {result.discount_rate:.1%}, cash {result.cash_lag} year(s) after each PY, {result.seconds:.2f} s")
    for p in paths:
        note = "" if p["settled"] else " (benchmark only: this track is not in the catalog yet)"
        if not p["settled"]:
            print(f"{p['path']}: not settled{note}")
            continue
        print(f"{p['path']}: {len(result.years)}-year net {p['ten_year_net'] / 1e6:,.2f}M, "
              f"present value {p['present_value'] / 1e6:,.2f}M")
    return 0
