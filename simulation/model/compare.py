"""Side by side: two or more named scenarios on the same simulated futures.

"Stay in BASIC" against "go ENHANCED with a care-management investment" is a comparison of
two *scenarios* (different assumptions and costs), not only of two tracks. To make the
difference between them policy and assumptions rather than luck, every scenario is
simulated with the same seed and the same number of trials, so that they share their
random draws (common random numbers).

Why the draws match: :func:`simulation.model.montecarlo.simulate` draws *standard* normal and
uniform numbers, one child stream of the seed's ``SeedSequence`` per component (true
effect, trend, prospective gap, noise, quality, QPS, alternative QPS) and per chunk of
trials; the draws depend only on the seed, the number of trials and the number of
agreement years. The assumptions (savings effect, costs, trend, size, ...) only scale and
shift those draws afterwards. So trial *i* is the same "future" (same luck in spending,
quality and trend) in every scenario, and the per-trial difference of two scenarios'
results is a paired comparison with a much smaller Monte Carlo error than two independent
runs would give. Scenarios with different agreement lengths draw arrays of different
shapes and are *not* paired; :func:`compare_results` then says so and leaves the paired
columns empty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .montecarlo import SimulationResult, only_tracks, simulate
from .scenario import Scenario


def simulate_named(named: Mapping[str, Scenario], track_keys: Sequence[str] | Mapping[str, Any] | None = None,
                   *, trials: int | None = None, seed: int | None = None) -> dict[str, SimulationResult]:
    """Simulate each named scenario on the same draws: the seed and trials of the first
    scenario (or ``seed``/``trials`` if given) for all. With ``track_keys`` only those
    tracks are settled (the draws do not depend on which tracks are settled)."""
    if len(named) < 1:
        raise ValueError("give at least one named scenario")
    first = next(iter(named.values()))
    trials = trials or first.trials
    seed = first.seed if seed is None else seed
    out = {}
    for name, scenario in named.items():
        keys = _keys_for(name, scenario, track_keys)
        s = only_tracks(scenario, keys) if keys is not None else scenario
        out[name] = simulate(s, trials=trials, seed=seed)
    return out


def _keys_for(name: str, scenario: Scenario, track_keys: Sequence[str] | Mapping[str, Any] | None) -> list[str] | None:
    if track_keys is None:
        return None
    if isinstance(track_keys, Mapping):
        keys = track_keys.get(name)
        if keys is None:
            return None
        keys = [keys] if isinstance(keys, str) else list(keys)
    else:
        keys = [track_keys] if isinstance(track_keys, str) else list(track_keys)
    available = [c.key for c in scenario.tracks]
    missing = [k for k in keys if k not in available]
    if missing:
        raise KeyError(f"scenario {name!r} has no track {', '.join(map(repr, missing))}; it has "
                       f"{', '.join(available)}")
    return keys


def compare_results(results: Mapping[str, SimulationResult]) -> pd.DataFrame:
    """One row per (scenario, track) with its risk and its difference from the baseline.

    The baseline of a row is the same track in the first scenario if that scenario has it,
    otherwise the first scenario's first track (column ``versus``). Columns: ``scenario``,
    ``track``, ``code``, ``expected_net``, ``mcse``, ``p_owe_cms``, ``p_net_loss``, ``p5``,
    ``p50``, ``p95``, ``versus``, ``delta_expected_net``, ``delta_p_owe_cms``, ``delta_p5``,
    ``delta_p95`` (this row minus its baseline), and from the paired per-trial difference:
    ``p_better`` (share of futures in which this row ends ahead of its baseline) and
    ``delta_mcse`` (Monte Carlo standard error of ``delta_expected_net``). ``attrs`` holds
    seed, trials, the scenario names and ``paired`` (False if the draws differ).
    """
    items = list(results.items())
    if not items:
        raise ValueError("nothing to compare")
    first_name, first = items[0]
    seeds = {r.seed for _, r in items}
    trials = {r.trials for _, r in items}
    years = {len(r.years) for _, r in items}
    paired = len(seeds) == 1 and len(trials) == 1 and len(years) == 1
    warnings = []
    if not paired:
        warnings.append("The scenarios were not simulated on the same draws (different seed, trials or "
                        "agreement length), so the paired columns are left empty.")
    rows = []
    for name, res in items:
        net = res.net_total
        earned = res.earned
        for k, key in enumerate(res.keys):
            x = net[:, k]
            q = np.percentile(x, [5, 50, 95])
            base_k = first.index(key) if key in first.keys else 0
            y = first.net_total[:, base_k]
            base_owe = float((first.earned[:, :, base_k] < 0).any(axis=1).mean())
            yq = np.percentile(y, [5, 95])
            row: dict[str, Any] = {
                "scenario": name, "track": key, "code": res.choices[k].track,
                "expected_net": float(x.mean()),
                "mcse": float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan,
                "p_owe_cms": float((earned[:, :, k] < 0).any(axis=1).mean()),
                "p_net_loss": float((x < 0).mean()),
                "p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2]),
                "versus": f"{first_name} / {first.keys[base_k]}",
            }
            row["delta_expected_net"] = row["expected_net"] - float(y.mean())
            row["delta_p_owe_cms"] = row["p_owe_cms"] - base_owe
            row["delta_p5"] = row["p5"] - float(yq[0])
            row["delta_p95"] = row["p95"] - float(yq[1])
            is_base = name == first_name and k == base_k
            if paired and not is_base:
                d = x - y
                row["p_better"] = float((d > 0).mean())
                row["delta_mcse"] = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
            else:
                row["p_better"] = math.nan
                row["delta_mcse"] = 0.0 if is_base and paired else math.nan
            rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs.update(seed=first.seed, trials=first.trials, scenarios=[n for n, _ in items],
                    paired=paired, warnings=warnings, years=first.years)
    return df


def compare_scenarios(named: Mapping[str, Scenario], track_keys: Sequence[str] | Mapping[str, Any] | None = None,
                      *, trials: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Compare two or more named scenarios on the same draws (see the module docstring).

    ``track_keys``: the track(s) to compare — one list for every scenario (e.g.
    ``["BASIC E", "ENHANCED"]``), or a mapping from scenario name to its own track(s), e.g.
    ``{"stay in BASIC": "BASIC E", "go ENHANCED": "ENHANCED"}``; None compares every track
    of every scenario. All scenarios use the first one's seed and trials unless ``seed`` /
    ``trials`` are given. Returns :func:`compare_results` of the runs.
    """
    if len(named) < 2:
        raise ValueError("give at least two named scenarios to compare")
    return compare_results(simulate_named(named, track_keys, trials=trials, seed=seed))


# --------------------------------------------------------------------------- differences


def _flatten(x: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        out: dict[str, Any] = {}
        for k, v in x.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: x}


def scenario_diff(a: Scenario, b: Scenario, *, ignore: Iterable[str] = ("name",)) -> list[tuple[str, Any, Any]]:
    """The fields in which two scenarios differ, as ``(dotted path, value in a, value in b)``.

    Nested sections are compared field by field (``aco.beneficiaries``); an enrollment mix
    present in only one is one entry. Tracks: if the two lists of track keys differ, one
    entry ``("tracks", keys of a, keys of b)``; then, for each track key in both, its
    differing elections (``tracks[ENHANCED].msr``). Paths in ``ignore`` (and anything under
    them) are skipped; the scenario name by default.
    """
    skip = tuple(ignore)

    def ignored(path: str) -> bool:
        return any(path == s or path.startswith(s + ".") for s in skip)

    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    ta, tb = da.pop("tracks"), db.pop("tracks")
    fa, fb = _flatten(da), _flatten(db)
    out = [(p, fa.get(p), fb.get(p)) for p in dict.fromkeys([*fa, *fb])
           if fa.get(p) != fb.get(p) and not ignored(p)]
    if not ignored("tracks"):
        keys_a, keys_b = [t.key for t in a.tracks], [t.key for t in b.tracks]
        if keys_a != keys_b:
            out.append(("tracks", keys_a, keys_b))
        by_b = dict(zip(keys_b, tb, strict=True))
        for key, t in zip(keys_a, ta, strict=True):
            if key in by_b:
                for field, va in t.items():
                    vb = by_b[key].get(field)
                    if va != vb:
                        out.append((f"tracks[{key}].{field}", va, vb))
    return out
