"""``acosim settle``: settle one ACO-year under one track and print every step with its rule.

    acosim settle --track LEAD_GLOBAL --year 2027 --benchmark 12000 --spending 11000 \\
        --beneficiaries 20000 [--quality 0.9] [--spending-vs-region 1.05] [--format json]

The steps are :func:`simulation.rules.explain.explain`'s, the same the walkthrough page shows,
so the amounts are the engine's own. Every value is checked here: a bad one ends with exit
code 2 and one line naming the flag and its allowed range.

Self-contained: :func:`add_arguments` and :func:`run` are the command (listed in
:data:`simulation.cli.main.COMMANDS`), and :func:`register` adds it to any argparse sub-parsers.
"""

from __future__ import annotations

import argparse
import json
import math
import textwrap

from .errors import UserError

NAME = "settle"
HELP = "settle one ACO-year under one track and print every step with its rule citation"

#: Flag -> (lowest, highest, unit) of the numeric inputs.
RANGES = {
    "--benchmark": (1_000.0, 200_000.0, "dollars per beneficiary"),
    "--spending": (0.0, 600_000.0, "dollars per beneficiary"),
    "--beneficiaries": (1, 1_000_000, "assigned beneficiaries"),
    "--quality": (0.0, 1.0, "quality score, a fraction"),
    "--revenue": (0.0, 50e9, "dollars a year"),
    "--start-year": (2012, 2040, "year"),
    "--agreement-year": (1, 6, "year of the agreement"),
    "--euc": (0.0, 1.0, "share of losses forgiven"),
    "--spending-vs-region": (0.5, 1.5, "historical spending as a share of the region's"),
}
MSR_CHOICES = {"size": None, "0": 0.0, "0.5": 0.005, "1.0": 0.01, "1": 0.01, "1.5": 0.015, "2.0": 0.02, "2": 0.02}


def add_arguments(p: argparse.ArgumentParser) -> None:
    # values are read as text and checked in run(), so every bad one gets the same one line
    p.add_argument("--track", metavar="T", help="track code (acosim tracks), e.g. LEAD_GLOBAL, BASIC_E")
    p.add_argument("--year", metavar="Y", help="performance year, within the track's years")
    p.add_argument("--benchmark", metavar="B", help="benchmark per beneficiary, before any discount ($)")
    p.add_argument("--spending", metavar="E", help="Parts A and B spending per beneficiary ($)")
    p.add_argument("--beneficiaries", metavar="N", help="assigned (aligned) beneficiaries")
    p.add_argument("--quality", metavar="Q", default="1.0",
                   help="quality score 0-1 (MSSP: the score; REACH/LEAD: the share of the withhold earned back)")
    p.add_argument("--no-qps", action="store_true", help="the quality performance standard was missed (MSSP)")
    p.add_argument("--alt-qps", action="store_true", help="the alternative quality standard was met (MSSP 2023+)")
    p.add_argument("--msr", metavar="M", default="size",
                   help="elected MSR/MLR in percent (0, 0.5, 1.0, 1.5, 2.0) or size (two-sided MSSP)")
    p.add_argument("--revenue", metavar="R", help="participants' Parts A and B revenue, $ a year (BASIC loss limit)")
    p.add_argument("--low-revenue", action="store_true", help="a low-revenue ACO (2024+ exception below the MSR)")
    p.add_argument("--start-year", metavar="S", help="agreement start year (2024+ rules)")
    p.add_argument("--agreement-year", metavar="K", default="1", help="year of the agreement, 1 to 6")
    p.add_argument("--euc", metavar="F", default="0", help="share of losses forgiven for a disaster, 0-1")
    p.add_argument("--spending-vs-region", metavar="V", default=None,
                   help="historical spending as a share of the region's (LEAD: at or above 1 is higher-spending)")
    p.add_argument("--proposal", action="store_true",
                   help="apply the CY2027 proposed rule (PROPOSED, not final law)")
    p.add_argument("--format", default="table", help="table (default) or json")


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``settle`` to argparse ``subparsers``; the parser's ``func`` default is :func:`run`."""
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,}"


def _number(args: argparse.Namespace, flag: str, *, whole: bool = False, required: bool = True):
    raw = getattr(args, flag.lstrip("-").replace("-", "_"))
    lo, hi, unit = RANGES[flag]
    allowed = f"allowed {_num(lo)} to {_num(hi)} ({unit})"
    if raw is None:
        if required:
            raise UserError(f"{flag}: required; {allowed}")
        return None
    try:
        value = float(str(raw).strip().replace(",", ""))
    except ValueError:
        raise UserError(f"{flag}: {str(raw)[:30]!r} is not a number; {allowed}") from None
    if math.isnan(value) or not lo <= value <= hi or (whole and value != int(value)):
        shown = "a whole number " if whole else ""
        raise UserError(f"{flag}: {str(raw)[:30]} is out of range; {shown}{allowed}")
    return int(value) if whole else value


def _inputs(args: argparse.Namespace):
    from ..rules.catalog import VARIANTS, load_catalog

    catalog = load_catalog()
    codes = ", ".join(catalog.tracks)
    if not args.track:
        raise UserError(f"--track: required; one of {codes}")
    if args.track not in catalog.tracks:
        raise UserError(f"--track: unknown track {args.track[:30]!r}; one of {codes}")
    info = catalog.tracks[args.track]
    span = f"{info.first_year} to {info.last_year}"
    if args.year is None:
        raise UserError(f"--year: required; allowed {span} for {args.track}")
    try:
        year = int(str(args.year).strip())
    except ValueError:
        raise UserError(f"--year: {str(args.year)[:30]!r} is not a year; allowed {span} for {args.track}") from None
    if year not in info.years:
        raise UserError(f"--year: {year} is outside {args.track}'s years; allowed {span}")
    if args.format not in ("table", "json"):
        raise UserError(f"--format: {args.format[:30]!r} is not one of table, json")
    if args.msr not in MSR_CHOICES:
        raise UserError(f"--msr: {args.msr[:30]!r} is not one of size, 0, 0.5, 1.0, 1.5, 2.0 (percent)")
    variant = next(iter(VARIANTS)) if args.proposal else None
    rules = catalog.rules(args.track, year, variant)
    kw: dict = {
        "quality_score": _number(args, "--quality"),
        "qps_met": not args.no_qps,
        "alt_qps_met": bool(args.alt_qps),
        "low_revenue": bool(args.low_revenue),
        "agreement_year": _number(args, "--agreement-year", whole=True),
        "euc_share": _number(args, "--euc"),
    }
    benchmark = _number(args, "--benchmark")
    spending = _number(args, "--spending")
    beneficiaries = _number(args, "--beneficiaries", whole=True)
    revenue = _number(args, "--revenue", required=False)
    if revenue is not None:
        kw["participant_revenue"] = revenue
    start = _number(args, "--start-year", whole=True, required=False)
    if start is not None:
        kw["agreement_start_year"] = start
    msr = MSR_CHOICES[args.msr]
    if msr is not None:
        if rules.msr_mode != "elected":
            raise UserError(f"--msr: {args.track} has no MSR/MLR election (its MSR is {rules.msr_mode}); use size")
        kw["msr"] = msr
    ratio = _number(args, "--spending-vs-region", required=False)
    if ratio is not None:
        from ..rules.settlement import is_higher_spending

        kw["higher_spending"] = bool(is_higher_spending(ratio))
    return rules, benchmark, spending, beneficiaries, kw


def _money(x: float | None) -> str:
    if x is None:
        return ""
    sign = "-" if x < -0.005 else ("+" if x > 0.005 else "")
    return f"{sign}${abs(x):,.0f}"


def run(args: argparse.Namespace) -> int:
    from ..rules.catalog import VARIANTS
    from ..rules.explain import explain
    from ..rules.settlement import settle

    rules, benchmark, spending, beneficiaries, kw = _inputs(args)
    steps = explain(rules, benchmark, spending, beneficiaries, **kw)
    s = settle(rules, benchmark, spending, beneficiaries, **kw).row()
    variant = f"{VARIANTS[rules.variant]} [PROPOSED, not final law]" if rules.variant else None
    if args.format == "json":
        print(json.dumps({
            "track": rules.track, "label": rules.label, "year": rules.year, "policy_variant": variant,
            "proposed_parameters": list(rules.proposed),
            "inputs": {"benchmark": benchmark, "spending": spending, "beneficiaries": beneficiaries, **kw},
            "steps": [{"key": st.key, "label": st.label, "amount": st.amount, "total": st.total,
                       "rate": st.rate, "citation": st.citation, "text": st.text} for st in steps],
            "settlement": {k: s[k] for k in ("shared_savings", "shared_losses", "admin_add_on", "earned")},
        }, indent=1))
        return 0
    print(f"{rules.label}, performance year {rules.year}: {beneficiaries:,} beneficiaries, benchmark "
          f"${benchmark:,.0f} and spending ${spending:,.0f} per beneficiary")
    if variant:
        print(f"Policy variant: {variant}; proposed values: {', '.join(rules.proposed) or 'none used'}")
    print()
    print(f"{'':3} {'Step':<38} {'Change':>16} {'Result':>16}")
    for i, st in enumerate(steps, 1):
        rate = f"  rate {st.rate:.2%}" if st.rate is not None and st.key not in ("benchmark",) else ""
        print(f"{i:>2}. {st.label:<38} {_money(st.amount):>16} {_money(st.total).lstrip('+'):>16}{rate}")
        for line in textwrap.wrap(st.text, 92):
            print(f"{'':4}{line}")
        for line in textwrap.wrap(f"Rule: {st.citation or 'see acosim tracks --sources'}", 92):
            print(f"{'':4}{line}")
    print()
    if abs(s["earned"]) < 0.005:
        print("No money changes hands.")
    else:
        verdict = "CMS pays the ACO" if s["earned"] > 0 else "The ACO owes CMS"
        print(f"{verdict} ${abs(s['earned']):,.2f}.")
    return 0

