"""``acosim reconcile``: recompute every ACO of a CMS results file and compare with CMS.

    acosim reconcile PUF.csv --out result.csv [--year Y]
    acosim reconcile --all DIR [--out all.csv] [--report docs/reconciliation.md]
    acosim reconcile reach_results_PY2023.csv [--out reach.csv] [--report reach.md]

A file whose header names a risk arrangement and a pre-discount benchmark is read as CMS's
ACO REACH results (see :mod:`simulation.cms.reach_results`).

Prints, per file, the number of ACOs and how many match for savings, losses, MSR and sharing
rate (see :mod:`simulation.cms.reconcile`). A malformed or unknown file ends with exit code 2 and
one line naming what is wrong.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from .errors import UserError

NAME = "reconcile"
HELP = "recompute every ACO of a CMS results file and compare with CMS"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("puf", nargs="?", metavar="PUF.csv",
                   help="a CMS 'Performance Year Financial and Quality Results' CSV (PY2013 on)")
    p.add_argument("--out", metavar="CSV", help="write one row per ACO to this CSV")
    p.add_argument("--year", type=int,
                   help="performance year (default: from the file name or its year column)")
    p.add_argument("--all", metavar="DIR", dest="all_dir",
                   help="reconcile every CSV in DIR whose name carries a year (e.g. PY2023.csv)")
    p.add_argument("--report", metavar="MD",
                   help="write the Markdown report (figures per year, mismatches, vocabulary)")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..cms.reach_results import ReachFormatError, is_reach_file, reconcile_reach
    from ..cms.reach_results import report_section as reach_section
    from ..cms.reconcile import ReconcileError, reconcile, reconcile_directory, report_markdown

    if bool(args.puf) == bool(args.all_dir):
        raise UserError("give either one PUF file or --all DIR")
    if args.all_dir and args.year is not None:
        raise UserError("--year applies to a single file, not to --all")
    for option, value in (("--out", args.out), ("--report", args.report)):
        if value is not None and not value.strip():
            raise UserError(f"{option}: give a file name (it was empty)")
    if args.year is not None and not 2012 <= args.year <= 2099:
        raise UserError(f"--year: {args.year} is not a performance year (2013 or later)")
    if args.puf and is_reach_file(args.puf):  # CMS's ACO REACH results file
        try:
            out, summary = reconcile_reach(args.puf, year=args.year)
        except (ReachFormatError, ValueError) as exc:
            raise UserError(str(exc)) from None
        print("\n".join(summary.lines()))
        if args.out:
            _write(args.out, "--out", lambda fh: out.to_csv(fh, index=False))
            print(f"wrote {args.out} ({len(out)} rows)")
        if args.report:
            words = ["acosim", "reconcile", args.puf, "--report", args.report]
            text = reach_section(out, summary, shlex.join(words))
            _write(args.report, "--report", lambda fh: fh.write(text))
            print(f"wrote {args.report}")
        return 0
    try:
        if args.all_dir:
            results = reconcile_directory(args.all_dir)
        else:
            results = [reconcile(args.puf, year=args.year)]
    except ReconcileError as exc:
        raise UserError(str(exc)) from None

    # Files first, then the summary: a reader that stops early (``| head -3``) closes the pipe,
    # and the files must be written whatever happens to standard output.
    wrote = []
    if args.out:
        table = pd.concat([df for df, _ in results], ignore_index=True)
        _write(args.out, "--out", lambda fh: table.to_csv(fh, index=False))
        wrote.append(f"wrote {args.out} ({len(table)} rows)")
    if args.report:
        words = ["acosim", "reconcile"]
        words += ["--all", args.all_dir] if args.all_dir else [args.puf]
        if args.year is not None:
            words += ["--year", str(args.year)]
        words += ["--report", args.report]
        text = report_markdown(results, shlex.join(words))
        _write(args.report, "--report", lambda fh: fh.write(text))
        wrote.append(f"wrote {args.report}")

    for _df, summary in results:
        print("\n".join(summary.lines()))
    if len(results) > 1:
        bad = sum(s.mismatches for _, s in results)
        print(f"{len(results)} files, {sum(s.rows for _, s in results)} ACO-years, "
              f"{bad} mismatches")
    for line in wrote:
        print(line)
    return 0


def _write(path: str, option: str, write) -> None:
    """Write a file, turning any OS error into a one-line UserError."""
    try:
        with Path(path).open("w", encoding="utf-8", newline="") as fh:
            write(fh)
    except OSError as exc:
        raise UserError(f"{option}: cannot write {path} ({exc.strerror or exc})") from None
