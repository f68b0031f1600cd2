"""``acosim backtest``: forecast each ACO's savings rate from its history and score it.

Forecasts a year's savings rates from the years before it (the calibration's noise model)
and scores them against the later year's CMS results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .calibrate import DEFAULT_DATA, data_dir
from .errors import UserError

NAME = "backtest"
HELP = "forecast each ACO's savings rate from its history and score it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--through",
        type=int,
        required=True,
        metavar="YEAR",
        help="last performance year used for fitting (e.g. 2022)",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help=f"folder of MSSP results files (default: {DEFAULT_DATA})",
    )
    p.add_argument(
        "--actual",
        metavar="FILE",
        help="results file of a later year to score against (default: the next year's file "
        "in --data)",
    )
    p.add_argument("--csv", metavar="FILE", help="write every ACO's forecast and interval here")


def run(args: argparse.Namespace) -> int:
    from ..calibration import CalibrationError
    from ..calibration.backtest import run_backtest

    data = data_dir(args.data)
    if args.actual is not None and not Path(args.actual).is_file():
        raise UserError(f"--actual: file not found: {args.actual}")
    try:
        result = run_backtest(data, args.through, actual=args.actual, agreement=True)
    except CalibrationError as exc:
        raise UserError(str(exc)) from None
    for line in result.summary_lines():
        print(line)
    if args.csv:
        columns = [
            "aco_id",
            "n_ab",
            "actual",
            "forecast",
            "low",
            "high",
            "naive",
            "covered",
            "years_observed",
        ]
        try:
            result.table[columns].to_csv(args.csv, index=False)
        except OSError as exc:
            raise UserError(f"--csv: cannot write {args.csv} ({exc.strerror or exc})") from None
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0
