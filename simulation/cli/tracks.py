"""``acosim tracks``: print the track catalog, or every parameter's citation."""

from __future__ import annotations

import argparse
import sys

from .errors import UserError

NAME = "tracks"
HELP = "print the track catalog: track, year, key parameters, citation"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", help="only this track code (e.g. BASIC_E)")
    p.add_argument("--year", type=int, help="only this performance year")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--sources", action="store_true", help="list every parameter's citation")


def run(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from ..rules.catalog import CatalogError, catalog_table, load_catalog

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
