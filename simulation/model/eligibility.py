"""Which tracks an ACO can actually take, and why the others are closed to it.

A track is closed to an ACO when (checked in this order, the first reason wins):

1. its program does not take an agreement starting in the ACO's start year (each track's
   ``first_year`` to ``last_agreement_start`` in the track catalog, cited by its
   ``window_reference``): Tracks 1-3 and NGACO for a 2027 start, REACH after 2026, LEAD
   before 2027;
2. the ACO is smaller than the program's minimum (the catalog parameter
   ``minimum_assigned_beneficiaries``: 42 CFR 425.110 for MSSP, the LEAD model page for LEAD);
3. 42 CFR 425.600(d) does not offer it to an ACO of this experience with performance-based
   risk and revenue category (``data/tracks/eligibility.yaml``);
4. it elects to stay at BASIC Level A without meeting 42 CFR 425.600(a)(4)(i)(C).

Every rule's value and citation is data (``data/tracks/``); the reason is one plain sentence
ending with its citation. simulation/reports/words.py only ever recommends open tracks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..rules.catalog import Catalog, load_catalog
from ..text import money, pct
from .scenario import AcoProfile, Scenario, TrackChoice, levels_in_force

#: eligibility.yaml parameter of the tracks offered, by (experienced, low revenue)
_LISTS = {
    (False, True): "inexperienced_tracks",
    (False, False): "inexperienced_tracks",
    (True, True): "experienced_low_revenue_tracks",
    (True, False): "experienced_high_revenue_tracks",
}


@dataclass(frozen=True)
class Verdict:
    """Whether one compared track (scenario key) is open to the ACO, and if not, why."""

    key: str
    code: str
    open: bool
    why: str | None


def _short(reference: str) -> str:
    """'42 CFR 425.600(d): high-revenue ...' -> '42 CFR 425.600(d)' (the citation itself,
    without the pointer to the project's domain notes)."""
    short = re.sub(r"\s*\((policy-2027|settlement-rules)\.md[^)]*\)", "", reference.split(":")[0])
    return re.sub(r"\s*\(S\d+\)", "", short).strip()  # and without the domain notes' source numbers


def _rule(catalog: Catalog, name: str, start_year: int) -> tuple[Any, str] | None:
    """(value, citation) of an eligibility rule for agreements starting in ``start_year``;
    None before the rule's first start year (42 CFR 425.600(d) dates from July 2019)."""
    value, ref, _conf, _program = catalog.eligibility_rule(name, start_year)
    entries_from = catalog.eligibility_first_year(name)
    if start_year < entries_from:
        return None
    return value, ref


def low_revenue_threshold(start_year: int | None = None) -> float:
    """The share of the assigned beneficiaries' Parts A and B spending below which the
    participants' revenue makes an ACO low-revenue (42 CFR 425.20), from eligibility.yaml."""
    value, _ref, _conf, _program = load_catalog().eligibility_rule("low_revenue_threshold", start_year or 9999)
    return float(value)


def revenue_explained(aco: AcoProfile) -> str:
    """Why the ACO is low- or high-revenue, in one sentence with the numbers and the citation."""
    catalog = load_catalog()
    _v, ref, _c, _p = catalog.eligibility_rule("low_revenue_threshold", aco.agreement_start_year)
    kind = "low-revenue" if aco.low_revenue else "high-revenue"
    if aco.revenue_category != "auto":
        return f"The ACO is {kind}, as set in the scenario ({_short(ref)})."
    total = aco.benchmark_pc * aco.beneficiaries
    share = aco.participant_revenue / total if total else float("inf")
    line = low_revenue_threshold(aco.agreement_start_year)
    side = "below" if aco.low_revenue else "at or above"
    return (f"The ACO is {kind}, decided from the numbers: its participants' Medicare revenue "
            f"{money(aco.participant_revenue)} is {pct(share, 0)} of its assigned beneficiaries' expected "
            f"spending {money(total)} ({aco.beneficiaries:,} × ${aco.benchmark_pc:,.0f}), {side} the "
            f"{pct(line, 0)} line ({_short(ref)}).")


def _aco_of(source: Scenario | AcoProfile) -> AcoProfile:
    return source.aco if hasattr(source, "aco") else source


def _choice(track: str | TrackChoice) -> TrackChoice:
    return track if isinstance(track, TrackChoice) else TrackChoice(track=track)


def _codes(aco: AcoProfile, choice: TrackChoice) -> list[str]:
    """The catalog tracks the choice uses over the agreement (the glide path's levels)."""
    return list(dict.fromkeys(levels_in_force(choice, aco)))


def _names(catalog: Catalog, codes: list[str]) -> str:
    labels = [catalog.tracks[c].label for c in codes]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def check(source: Scenario | AcoProfile, track: str | TrackChoice,
          start_year: int | None = None) -> tuple[bool, str | None]:
    """Whether ``track`` (a catalog code or a scenario's track choice) is open to the ACO for
    an agreement starting in ``start_year`` (default: the ACO's start year), and if not, why:
    one plain sentence with its citation."""
    aco = _aco_of(source)
    start = aco.agreement_start_year if start_year is None else int(start_year)
    if start != aco.agreement_start_year:
        aco = aco.model_copy(update={"agreement_start_year": start})
    choice = _choice(track)
    catalog = load_catalog()
    codes = _codes(aco, choice)

    # 1. the program takes agreements starting in this year
    for code in codes:
        info = catalog.tracks[code]
        if not info.open_to(start):
            cite = f" ({_short(info.window_reference)})" if info.window_reference else ""
            if start < info.first_year:
                return False, f"{info.label} takes its first agreements in {info.first_year}, not {start}{cite}."
            return False, (f"{info.label} took agreements starting {info.first_year} to {info.last_start}; "
                           f"none starts in {start}{cite}.")

    # 2. the minimum size of the program
    for code in codes:
        info = catalog.tracks[code]
        rules = catalog.rules(code, min(max(start, info.first_year), info.last_year))
        minimum = rules.minimum_assigned_beneficiaries
        if minimum and aco.beneficiaries < minimum:
            ref = next(r for name, r, _c in rules.sources if name == "minimum_assigned_beneficiaries")
            return False, (f"{info.program} requires at least {minimum:,} assigned beneficiaries and this ACO "
                           f"has {aco.beneficiaries:,} ({_short(ref)}).")

    # 3. 42 CFR 425.600(d): what an ACO of this experience and revenue category may enter
    name = _LISTS[(bool(aco.experienced_with_risk), bool(aco.low_revenue))]
    found = _rule(catalog, name, start)
    if found is not None:
        allowed, ref = found
        governed = set()
        for other in set(_LISTS.values()):
            rule = _rule(catalog, other, start)
            governed |= set(rule[0]) if rule else set()
        barred = [c for c in codes if c in governed and c not in allowed]
        if barred:
            who = ("A low-revenue" if aco.low_revenue else "A high-revenue") + " ACO"
            who += " experienced with performance-based risk" if aco.experienced_with_risk else ""
            return False, f"{who} may enter only {_names(catalog, list(allowed))} ({_short(ref)})."

    # 4. staying at Level A for the whole agreement
    if choice.stay_at_a:
        found = _rule(catalog, "stay_at_level_a", start)
        if found is None or not found[0] or aco.experienced_with_risk or not aco.first_agreement:
            since = catalog.eligibility_first_year("stay_at_level_a", value=True)
            ref = catalog.eligibility_rule("stay_at_level_a", since)[1]
            return False, (f"Staying at BASIC Level A for the whole agreement needs an agreement starting "
                           f"{since} or later that is the ACO's first BASIC agreement, and no experience with "
                           f"performance-based risk ({_short(ref)}).")
    return True, None


def assess(scenario: Scenario) -> list[Verdict]:
    """One verdict per compared track of ``scenario``, in the scenario's order."""
    out = []
    for choice in scenario.tracks:
        ok, why = check(scenario, choice)
        out.append(Verdict(choice.key, choice.track, ok, why))
    return out


def open_choices(scenario: Scenario) -> list[TrackChoice]:
    """The compared tracks open to the ACO in its start year."""
    return [c for c, v in zip(scenario.tracks, assess(scenario), strict=True) if v.open]


def open_keys(scenario: Scenario) -> list[str]:
    """The scenario keys ('BASIC C', 'LEAD Global', ...) of the open tracks."""
    return [c.key for c in open_choices(scenario)]


def open_codes(source: Scenario | AcoProfile, start_year: int | None = None,
               codes: list[str] | None = None) -> list[str]:
    """The catalog tracks (default: all of them) open to the ACO in ``start_year``."""
    catalog = load_catalog()
    return [c for c in (codes or list(catalog.tracks)) if check(source, c, start_year)[0]]


def category_change_text(before: AcoProfile, after: AcoProfile) -> str | None:
    """When the revenue category of ``after`` differs from ``before`` (e.g. 'Decide from the
    numbers' turns an ACO of 8,000 beneficiaries with $60M revenue high-revenue), what changed
    and why the BASIC levels' numbers moved; None when the category is the same."""
    if before.low_revenue == after.low_revenue:
        return None
    now, was = ("low-revenue", "high-revenue") if after.low_revenue else ("high-revenue", "low-revenue")
    parts = [f"Revenue category changed: the ACO is now {now} (it was {was}). {revenue_explained(after)}"]
    catalog = load_catalog()
    start = after.agreement_start_year
    basic = next((c for c in ("BASIC_C", "BASIC_E") if c in catalog.tracks and catalog.tracks[c].open_to(start)), None)
    if basic is not None:
        rules = catalog.rules(basic, min(max(start, catalog.tracks[basic].first_year), catalog.tracks[basic].last_year))
        since = rules.low_revenue_exception_from_agreement_year
        if since is not None and start >= since:
            cite = _short(next(r for n, r, _c in rules.sources if n == "low_revenue_exception_from_agreement_year"))
            gets = "now gets" if after.low_revenue else "no longer gets"
            parts.append(f"That is why the BASIC levels' numbers changed: a {now} ACO {gets} BASIC's low-revenue "
                         f"exception, which pays shared savings at half the rate when savings fall short of the "
                         f"minimum savings rate ({cite}).")
    if after.experienced_with_risk:
        name = _LISTS[(True, bool(after.low_revenue))]
        found = _rule(catalog, name, start)
        if found is not None:
            parts.append(f"As an ACO experienced with performance-based risk it may now enter only "
                         f"{_names(catalog, list(found[0]))} ({_short(found[1])}).")
    return " ".join(parts)
