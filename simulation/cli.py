"""``acosim`` command line: the track catalog, reconciliation against CMS, simulation.

Every user error (bad file, bad value) ends with exit code 2 and one line on stderr naming
what is wrong; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


#: Sub-commands register themselves here: name -> (help, add_arguments, run).
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help_text: str):
    """Decorator pairing an ``add_arguments`` function with a ``run`` function under ``name``."""

    def register(add_arguments):
        def with_run(run):
            COMMANDS[name] = (help_text, add_arguments, run)
            return run

        return with_run

    return register


# --------------------------------------------------------------------------- tracks


def _tracks_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", help="only this track code (e.g. BASIC_E)")
    p.add_argument("--year", type=int, help="only this performance year")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--sources", action="store_true", help="list every parameter's citation")


@command("tracks", "print the track catalog: track, year, key parameters, citation")(_tracks_args)
def _tracks_run(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from .catalog import CatalogError, catalog_table, load_catalog

    try:
        catalog = load_catalog()
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    if args.track and args.track not in catalog.tracks:
        raise UserError(f"--track: unknown track {args.track!r}; known: {', '.join(catalog.tracks)}")
    rows = [
        r for r in catalog_table(catalog)
        if (not args.track or r["track"] == args.track) and (not args.year or r["year"] == args.year)
    ]
    if not rows:
        raise UserError("no (track, year) matches those filters")
    if args.sources:
        rows = []
        for code, year in catalog.track_years():
            if (args.track and code != args.track) or (args.year and year != args.year):
                continue
            rules = catalog.rules(code, year)
            rows += [
                {"track": code, "year": year, "parameter": name, "citation": ref, "confidence": conf}
                for name, ref, conf in rules.sources
            ]
    df = pd.DataFrame(rows)
    if args.format == "csv":
        df.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(json.dumps(rows, indent=1))
    else:
        with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 70):
            print(df.to_string(index=False))
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog="acosim",
        description="Medicare ACO risk-track simulator: catalog, reconciliation, Monte Carlo.",
    )
    parser.add_argument("--version", action="version", version=f"acosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_args, _run) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def _load_plugins() -> None:
    """Import the modules that define further sub-commands (they register on import)."""
    import importlib

    for mod in ("reconcile", "scenario", "montecarlo", "calibration", "realdata", "data", "settle"):
        try:
            importlib.import_module(f".{mod}_cli", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{mod}_cli":
                raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _help, _add, run = COMMANDS[args.command]
    try:
        return run(args)
    except UserError as exc:
        print(f"acosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
