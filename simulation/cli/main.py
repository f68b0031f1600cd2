"""``acosim`` command line: the track catalog, reconciliation against CMS, simulation.

:data:`COMMANDS` is the whole command table: one module per command, named as the command
is, each holding ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Nothing registers itself on import; a new command is a new module plus one entry here.

Every user error (bad file, bad value) ends with exit code 2 and one line on stderr naming
what is wrong; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__
from . import backtest, calibrate, data, reconcile, scenario, settle, simulate, tracks
from .errors import UserError

#: The command table, in the order ``acosim --help`` lists it: name -> command module.
COMMANDS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (tracks, reconcile, scenario, simulate, calibrate, backtest, data, settle)
}

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acosim",
        description="Medicare ACO risk-track simulator: catalog, reconciliation, Monte Carlo.",
    )
    parser.add_argument("--version", action="version", version=f"acosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(COMMANDS[args.command].run(args))
    except UserError as exc:
        print(f"acosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
