"""``acosim data``: CMS results for real ACOs — download, search, history, a pre-filled scenario.

    acosim data download --dest DIR [--year 2023 ...]
    acosim data search QUERY --data DIR
    acosim data history ACO_ID --data DIR
    acosim data scenario ACO_ID --data DIR [--out FILE]
    acosim data distribution --data DIR [--column sav_rate]
"""

from __future__ import annotations

import argparse
import math
import re
import sys

import pandas as pd

from .errors import UserError

NAME = "data"
HELP = "CMS results for real ACOs: download, search, history, pre-filled scenario"


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR",
                   help="folder of CMS results files (PY2023.csv …), or the folder holding mssp_puf/")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")


#: The longest wait for CMS that --timeout accepts (seconds).
MAX_TIMEOUT = 600.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = sub.add_parser("download", help="download the results files from data.cms.gov")
    d.add_argument("--dest", required=True, metavar="DIR", help="folder to save PY<year>.csv files in")
    d.add_argument("--year", type=int, action="append", metavar="YEAR",
                   help="performance year to fetch (repeat for several; default: every year CMS lists)")
    d.add_argument("--catalog-url", default=None, metavar="URL",
                   help="the data.cms.gov catalog (default: https://data.cms.gov/data.json)")
    d.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds to wait for CMS")
    d.add_argument("--overwrite", action="store_true", help="replace files already in DIR")
    s = sub.add_parser("search", help="find ACOs by name or ID (case-insensitive, partial)")
    s.add_argument("query", metavar="QUERY")
    s.add_argument("--limit", type=int, default=25)
    _add_data(s)
    h = sub.add_parser("history", help="one ACO's track, size, savings rate, quality and savings by year")
    h.add_argument("aco_id", metavar="ACO_ID")
    _add_data(h)
    c = sub.add_parser("scenario", help="write a scenario pre-filled from one ACO's results")
    c.add_argument("aco_id", metavar="ACO_ID")
    c.add_argument("--data", required=True, metavar="DIR")
    c.add_argument("--out", metavar="FILE", help="scenario file to write (default: print it)")
    q = sub.add_parser("distribution", help="the program's percentiles of a column by year")
    q.add_argument("--column", default="sav_rate", help="canonical column (default: sav_rate)")
    _add_data(q)


def _load(folder: str):
    from ..cms.acos import RealDataError, load_results

    try:
        results, warnings = load_results(folder)
    except RealDataError as exc:
        raise UserError(f"--data: {exc}") from None
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return results


def _print(df: pd.DataFrame, fmt: str, money_cols=(), pct_cols=()) -> None:
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print(df.to_json(orient="records", indent=1))
    else:
        shown = df.copy()
        for col in money_cols:
            if col in shown:
                shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        for col in pct_cols:
            if col in shown:
                shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.2%}")
        if "qual_score" in shown:
            shown["qual_score"] = shown["qual_score"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        shown = shown.astype(object).where(shown.notna(), "")
        with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 50):
            print(shown.to_string(index=False))


def run(args: argparse.Namespace) -> int:
    from ..cms import acos as realdata

    if args.data_command == "download":
        if not math.isfinite(args.timeout) or not 0 < args.timeout <= MAX_TIMEOUT:
            raise UserError(f"--timeout: {args.timeout!r} is not allowed; give seconds from more than 0 to "
                            f"{MAX_TIMEOUT:g}")
        if not args.dest.strip():
            raise UserError("--dest: give a folder name (it was empty)")
        try:
            report = realdata.download_results(
                args.dest, args.year, catalog_url=args.catalog_url or realdata.CATALOG_URL,
                timeout=args.timeout, overwrite=args.overwrite,
                progress=lambda msg: print(msg, file=sys.stderr))
        except realdata.DownloadError as exc:
            raise UserError(str(exc)) from None
        for w in report.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for path in report.saved:
            print(f"saved {path}")
        for path in report.skipped:
            print(f"already there (use --overwrite to replace): {path}")
        if not report.saved and not report.skipped:
            raise UserError("no file was saved (see the warnings above)")
        return 0
    results = _load(args.data)
    try:
        if args.data_command == "search":
            found = realdata.search_acos(results, args.query, limit=args.limit)
            if found.empty:
                raise UserError(f"no ACO name or ID contains {args.query!r}")
            _print(found, args.format, money_cols=("n_ab",), pct_cols=("sav_rate",))
        elif args.data_command == "history":
            history = realdata.aco_history(results, args.aco_id)
            cols = ["performance_year", "aco_id", "track", "n_ab", "sav_rate", "sav_rate_percentile",
                    "qual_score", "earned_save_loss", "updated_benchmark_pc", "rev_exp_cat", "linked_by"]
            if args.format == "table":
                print(f"{history.attrs['aco_name']} ({history.attrs['aco_id']})")
                history = history[cols].assign(sav_rate_percentile=history["sav_rate_percentile"].round(0))
            _print(history, args.format, money_cols=("n_ab", "earned_save_loss", "updated_benchmark_pc"),
                   pct_cols=("sav_rate",))
        elif args.data_command == "scenario":
            from ..model.io import scenario_to_json

            history = realdata.aco_history(results, args.aco_id)
            scenario = realdata.scenario_from_aco(history)
            for item in realdata.prefill(history):
                if item.path != "tracks":
                    print(f"{item.path}: {item.value} — {item.reason}", file=sys.stderr)
            data = scenario_to_json(scenario)
            if args.out:
                try:
                    with open(args.out, "wb") as fh:
                        fh.write(data)
                except OSError as exc:
                    raise UserError(f"--out: cannot write {args.out} ({exc.strerror or exc})") from None
                print(f"wrote {args.out}")
            else:
                sys.stdout.write(data.decode("utf-8"))
        else:
            dist = realdata.program_distribution(results, args.column)
            rate = args.column.endswith(("rate", "score")) or args.column.startswith("p_")
            cols = [c for c in dist.columns if c == "mean" or re.fullmatch(r"p[\d.]+", c)]
            _print(dist, args.format, pct_cols=cols if rate else (), money_cols=() if rate else cols)
    except realdata.RealDataError as exc:
        raise UserError(str(exc)) from None
    return 0
