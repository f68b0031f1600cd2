"""``acosim calibrate``: fit the uncertainty model on CMS results.

Fits the noise defaults on a folder of MSSP results files and writes
``data/calibration/noise_defaults.json``, the figures and ``docs/calibration.md``
(``acosim backtest`` scores the forecasts; see :mod:`simulation.cli.backtest`).
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from .errors import UserError

NAME = "calibrate"
HELP = "fit the noise defaults on CMS results; write JSON, figures and write-up"

#: Where the CMS reference data sit beside the project (the Makefile passes it explicitly).
DEFAULT_DATA = Path("..") / "shared" / "data"


def data_dir(value: str | None) -> Path:
    path = Path(value) if value else DEFAULT_DATA
    if not path.is_dir():
        raise UserError(f"--data: folder not found: {path}")
    return path


def add_arguments(p: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    from ..calibration import SEED, CalibrationError, calibrate

    data = data_dir(args.data)
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
    from ..calibration.reach import calibrate_reach, find_results
    from ..calibration.reach import lines as reach_lines

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
