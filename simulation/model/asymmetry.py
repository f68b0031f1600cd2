"""Why "more uncertainty earns more": the tornado's spread inputs explained from the result.

A wider spread of outcomes leaves the average gross savings unchanged, yet it can raise the
expected settlement: where the sharing is asymmetric, the good futures gain more than the bad
futures lose. A one-sided track never bills losses, so a wider spread only adds upside; a
two-sided track shares losses at a lower rate or under a tighter limit than savings. This
module turns the tornado's rows (``simulation.model.montecarlo.tornado``) and the track's rules
into a plain note with the numbers; nothing in it is fixed text about a particular result.
"""

from __future__ import annotations

import pandas as pd

from ..rules.catalog import TrackRules
from ..text import money, pct

#: The tornado inputs that widen or narrow the spread of outcomes without moving their centre.
SPREAD_INPUTS = ("performance.savings_effect_sd", "market.trend_sd", "noise.systemic_sd",
                 "noise.per_beneficiary_cv")

#: A change of the expected net smaller than this share of the base (or $10K) is noise.
MIN_SHARE = 0.005
MIN_DOLLARS = 10_000.0


def sharing_terms(rules: TrackRules) -> str:
    """How the track shares gains and losses, in words, with its rates from the catalog."""
    gain = pct(rules.max_share_rate, 0)
    cap = f", up to a cap of {pct(rules.savings_cap, 0)} of the benchmark" if rules.savings_cap else ""
    if not rules.two_sided:
        return (f"it is one-sided: CMS pays up to {gain} of the savings beyond the minimum savings rate{cap}, "
                "but never bills losses — a wider spread adds good years that pay and bad years that cost "
                "the ACO nothing in settlement")
    if rules.loss_rate_mode == "fixed" and rules.shared_loss_rate is not None:
        loss = f"a flat {pct(rules.shared_loss_rate, 0)}"
    elif rules.loss_rate_floor is not None and rules.loss_rate_ceiling is not None:
        loss = f"{pct(rules.loss_rate_floor, 0)} to {pct(rules.loss_rate_ceiling, 0)} (lower with better quality)"
    else:
        loss = None
    limits = []
    if rules.loss_limit_benchmark:
        limits.append(f"{pct(min(rules.loss_limit_benchmark), 0)} of the benchmark")
    if rules.loss_limit_revenue:
        limits.append(f"{pct(rules.loss_limit_revenue, 0)} of participant revenue")
    limit = (f"; losses stop at a limit of {' or '.join(limits)}" + (", whichever is lower" if len(limits) > 1 else "")
             if limits else "")
    if loss:
        return (f"it shares savings at up to {gain}{cap}, but losses at {loss}{limit}; and results inside the "
                "minimum savings/loss corridor are not shared — so a wider spread adds more in good years "
                "than it takes in bad ones")
    if rules.corridors or rules.loss_corridors:
        return (f"its risk corridors share up to {gain} of the result, less of the larger gains and losses, and "
                "the benchmark discount and quality withhold weigh on every year alike — the sharing is not "
                "symmetric, so a wider spread moves the average")
    return "its sharing of gains and losses is not symmetric, so a wider spread moves the average"


def _lower(label: object) -> str:
    """'Uncertainty of the effect' -> 'uncertainty of the effect'; 'ACO-wide variation' stays."""
    text = str(label)
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def uncertainty_note(tornado: pd.DataFrame, track: str, rules: TrackRules,
                     track_label: str | None = None) -> str | None:
    """A sentence on the largest spread input that raises ``track``'s expected net when set
    high, with both results and the reason (None when no spread input raises it by more
    than noise). ``tornado`` has the columns of :func:`simulation.model.montecarlo.tornado` (and
    optionally ``low_text``/``high_text``, the values as the user reads them)."""
    name = track_label or track
    d = tornado[(tornado["track"] == track) & tornado["input"].isin(SPREAD_INPUTS)
                & (tornado["low_value"] != tornado["high_value"])].copy()
    if d.empty:
        return None
    d["gain"] = d["net_high"] - d["net_low"]
    base = float(d["base_net"].iloc[0])
    floor = max(MIN_DOLLARS, MIN_SHARE * abs(base))
    up = d[d["gain"] > floor].sort_values("gain", ascending=False, kind="stable")
    if up.empty:
        return None
    r = up.iloc[0]
    lo_text = r["low_text"] if "low_text" in r else f"{r['low_value']:g}"
    hi_text = r["high_text"] if "high_text" in r else f"{r['high_value']:g}"
    others = [_lower(x) for x in up["label"].iloc[1:]]
    also = (f" (so {'does' if len(others) == 1 else 'do'} {', '.join(others[:-1])}"
            f"{' and ' if len(others) > 1 else ''}{others[-1]})") if others else ""
    return (f"**More uncertainty earns more here.** Widening *{_lower(r['label'])}* from {lo_text} to "
            f"{hi_text} raises {name}'s expected net from {money(float(r['net_low']), signed=True)} to "
            f"{money(float(r['net_high']), signed=True)} ({money(float(r['gain']), signed=True)}){also}, "
            f"though the futures spread around the same average. The reason is the sharing: "
            f"{sharing_terms(rules)}."
            + (" The wider spread also deepens the bad futures: see the bad case on Compare tracks."
               if rules.two_sided else ""))
