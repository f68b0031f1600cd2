"""``acosim calibrate`` and ``acosim backtest``: the uncertainty model against CMS results.

``calibrate`` fits the noise defaults on a folder of MSSP results files and writes
``data/calibration/noise_defaults.json``, the figures and ``docs/calibration.md``;
``backtest`` forecasts a year's savings rates from the years before it and scores them.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from .cli import UserError, command

#: Where the CMS reference data sit beside the project (the Makefile passes it explicitly).
DEFAULT_DATA = Path("..") / "shared" / "data"


def _data_dir(value: str | None) -> Path:
    path = Path(value) if value else DEFAULT_DATA
    if not path.is_dir():
        raise UserError(f"--data: folder not found: {path}")
    return path


def _calibrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        help="folder of MSSP results files (PY2013.csv …), or the folder holding mssp_puf/",
    )
    p.add_argument(
        "--out",
        default="data/calibration/noise_defaults.json",
        metavar="FILE",
        help="the JSON defaults to write (default: %(default)s)",
    )
    p.add_argument(
        "--doc",
        default="docs/calibration.md",
        metavar="FILE",
        help="the write-up to write; figures go to figures/calibration/ beside it "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=200,
        metavar="N",
        help="bootstrap resamples of ACOs for the intervals (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fixed)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


@command("calibrate", "fit the noise defaults on CMS results; write JSON, figures and write-up")(
    _calibrate_args
)
def _calibrate_run(args: argparse.Namespace) -> int:
    from .calibration import SEED, CalibrationError, calibrate

    data = _data_dir(args.data)
    if args.bootstrap < 20:
        raise UserError("--bootstrap: need at least 20 resamples")
    parts = ["acosim", "calibrate", "--data", str(args.data)]
    if args.out != "data/calibration/noise_defaults.json":
        parts += ["--out", args.out]
    if args.doc != "docs/calibration.md":
        parts += ["--doc", args.doc]
    started = time.perf_counter()
    try:
        study = calibrate(
            data,
            out=args.out,
            doc=args.doc,
            reps=args.bootstrap,
            seed=SEED if args.seed is None else args.seed,
            command=shlex.join(parts),
            figures=not args.no_figures,
        )
    except CalibrationError as exc:
        raise UserError(str(exc)) from None
    payload = study["payload"]
    for key, entry in payload.items():
        if isinstance(entry, dict):
            print(
                f"{key:20s} {entry['value']:10.4f}   90% {entry['low']:.4f} – {entry['high']:.4f}"
                f"   {entry['unit']}"
            )
    for line in study["backtest"].summary_lines():
        print(line)
    from .calibration_reach import calibrate_reach, find_results
    from .calibration_reach import lines as reach_lines

    reach = find_results(data)
    if reach is not None:  # the prospective-benchmark programs, fitted on REACH results
        result, reach_paths = calibrate_reach(reach, out=Path(args.out).with_name("reach_defaults.json"),
                                              doc=Path(args.doc), figures=not args.no_figures)
        print("\n".join(reach_lines(result)))
        study["paths"] = [*study["paths"], *reach_paths]
    for path in study["paths"]:
        print(f"wrote {path}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _backtest_args(p: argparse.ArgumentParser) -> None:
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


@command("backtest", "forecast each ACO's savings rate from its history and score it")(
    _backtest_args
)
def _backtest_run(args: argparse.Namespace) -> int:
    from .calibration import CalibrationError
    from .calibration.backtest import run_backtest

    data = _data_dir(args.data)
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
