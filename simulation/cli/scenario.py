"""``acosim scenario``: print an example scenario or the scenario's JSON Schema, or check a file."""

from __future__ import annotations

import argparse
import json

from ..model.io import ScenarioSet, open_scenario_file
from ..model.scenario import ScenarioError, example_scenario, scenario_schema
from ..text import clip, printable
from .errors import UserError

NAME = "scenario"
HELP = "print an example scenario, its JSON Schema, or check a scenario file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--example", action="store_true", help="print a full example scenario (JSON)")
    g.add_argument("--schema", action="store_true", help="print the scenario's JSON Schema")
    g.add_argument("--check", metavar="FILE", help="validate a scenario file or a scenario set; list every problem")


def run(args: argparse.Namespace) -> int:
    if args.example:
        print(example_scenario().model_dump_json(indent=2))
    elif args.schema:
        print(json.dumps(scenario_schema(), indent=2))
    else:
        try:
            source = open_scenario_file(args.check)
        except ScenarioError as exc:
            raise UserError("; ".join(exc.problems)) from None
        if isinstance(source, ScenarioSet):
            saved, names, notes = source.current, list(source.snapshots), source.skipped_notes()
            what = "valid scenario set; current"
        else:
            saved, names, notes, what = source, [], [], "valid scenario"
        scenario, warnings = saved.scenario, saved.warnings + notes
        print(f"{args.check}: {what} '{printable(scenario.name)}' ({len(scenario.tracks)} tracks, "
              f"{scenario.trials:,} trials, seed {scenario.seed})")
        if names:
            print(f"  snapshots: {', '.join(repr(clip(n, 40)) for n in names)} (acosim simulate --scenario "
                  f"{args.check} --snapshot NAME)")
        for w in warnings:
            print(f"  note: {w}")
    return 0
