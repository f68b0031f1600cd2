"""The dashboard's calls into the engine: one server, many users, bounded memory.

Simulations are cached per scenario (its JSON) in a cache bounded by bytes, not by count:
one link asking for 2,000,000 futures of 30 tracks holds gigabytes, so a count bound let four
such links take the server's memory. A per-run budget (futures × tracks × years) refuses
what one request may not ask of a shared server, with a message that says how to run it
with the command line instead.

Below them, the pages' cached calls (``simulate_cached``, ``summary_cached``, the tornado, grid
and break-even analyses, the assumptions table): each is cached on the scenario's JSON, so
switching pages never recomputes. The cache and the budget themselves do not need Streamlit.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.fields import ALL_INPUTS, meta
from dashboard.widgets import md
from simulation.model import montecarlo
from simulation.model.scenario import Scenario, get_path
from simulation.reports import charts
from simulation.rules.explain import explain

#: The most futures × tracks × years one dashboard run may settle (the default scenario is
#: 20,000 × 15 × 5 = 1.5 million; 400,000 futures of 15 tracks over 5 years fit).
RUN_BUDGET = 30_000_000
#: The most bytes the cached simulations may hold together (the newest is always kept).
CACHE_BYTES = 1_500_000_000


def run_size(scenario: Scenario) -> int:
    """Futures × tracks × years of ``scenario``: what one run settles."""
    return scenario.trials * len(scenario.tracks) * scenario.aco.agreement_years


def most_futures(scenario: Scenario) -> int:
    """The most futures the budget allows for ``scenario``'s tracks and years (whole hundreds)."""
    per = len(scenario.tracks) * scenario.aco.agreement_years
    return max(100, RUN_BUDGET // per // 100 * 100)


def budget_problem(scenario: Scenario) -> str | None:
    """Why ``scenario`` is too large for one dashboard run (None when it fits)."""
    size = run_size(scenario)
    if size <= RUN_BUDGET:
        return None
    most = most_futures(scenario)
    return (f"{scenario.trials:,} simulated futures × {len(scenario.tracks)} tracks × "
            f"{scenario.aco.agreement_years} years is {size:,} settlements, more than this shared "
            f"dashboard runs at once ({RUN_BUDGET:,}); with these tracks it runs at most {most:,} "
            "futures. For more, save the scenario and run `acosim simulate --scenario FILE`.")


def affordable(scenario: Scenario) -> Scenario:
    """``scenario`` with its futures cut to what the budget allows (same seed)."""
    if budget_problem(scenario) is None:
        return scenario
    return scenario.model_copy(update={"trials": most_futures(scenario)})


def nbytes(obj: Any, _depth: int = 0) -> int:
    """The bytes of the NumPy arrays ``obj`` holds (in attributes, dicts, lists; 3 levels)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if _depth > 3:
        return 0
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        values = list(vars(obj).values())
    elif isinstance(obj, dict):
        values = list(obj.values())
    elif isinstance(obj, list | tuple):
        values = list(obj)
    else:
        return 0
    return sum(nbytes(v, _depth + 1) for v in values)


class ResultCache:
    """A least-recently-used cache of simulations bounded by their bytes (thread-safe)."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[montecarlo.SimulationResult, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(b for _, b in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, scenario_json: str) -> montecarlo.SimulationResult:
        """The simulation of the scenario in ``scenario_json``; run once however many sessions
        ask for it at the same time (the others wait for the first)."""
        while True:
            with self._lock:
                hit = self._items.get(scenario_json)
                if hit is not None:
                    self._items.move_to_end(scenario_json)
                    return hit[0]
                waiting = self._running.get(scenario_json)
                if waiting is None:
                    done = self._running[scenario_json] = threading.Event()
                    break
            waiting.wait()
        try:
            scenario = Scenario.model_validate_json(scenario_json)
            problem = budget_problem(scenario)
            if problem:
                raise RunTooLarge(problem)
            result = montecarlo.simulate(scenario)
            # the arrays plus the per-trial nets the pages derive from them (cached on the result)
            size = nbytes(result) + 2 * 8 * result.trials * len(result.years) * len(result.keys)
            with self._lock:
                self._items[scenario_json] = (result, size)
                total = sum(b for _, b in self._items.values())
                while total > self.max_bytes and len(self._items) > 1:
                    _, (_, b) = self._items.popitem(last=False)
                    total -= b
            return result
        finally:
            with self._lock:
                self._running.pop(scenario_json, None)
            done.set()


class RunTooLarge(ValueError):
    """A scenario larger than :data:`RUN_BUDGET` (its message says what to do)."""


#: The one cache of the server process.
RESULTS = ResultCache()


# --------------------------------------------------------------------------- cached calls


@st.cache_resource(show_spinner="Preparing the settlement engine — the very first start compiles it "
                                "(about 20 seconds); later starts take a moment…")
def warm_engine() -> float:
    """Load (or, on a fresh checkout, compile) the numba settlement kernels once per server
    process, with a tiny simulation of every track; returns the seconds it took."""
    t0 = time.perf_counter()
    result = montecarlo.simulate(Scenario(), trials=100)
    rules, args = result.settlement_inputs(result.keys[0], 0, 0)
    explain(rules, **args)  # the one-ACO kernel of the walkthrough page
    return time.perf_counter() - t0



def _simulate(scenario_json: str) -> montecarlo.SimulationResult:
    try:
        return RESULTS.get(scenario_json)
    except RunTooLarge as exc:
        st.error(md(str(exc)), icon=":material/warning:")
        st.stop()
        raise


def simulate_cached(scenario: Scenario) -> montecarlo.SimulationResult:
    """The simulation of ``scenario`` (shared, read-only; cached on its JSON in a cache
    bounded by bytes, :data:`RESULTS`)."""
    return _simulate(scenario.model_dump_json())


@st.cache_data(max_entries=32, show_spinner=False)
def _summary(scenario_json: str):
    return montecarlo.summary(_simulate(scenario_json))


def summary_cached(scenario: Scenario):
    return _summary(scenario.model_dump_json())


@st.cache_data(max_entries=32, show_spinner=False)
def _by_year(scenario_json: str):
    return montecarlo.by_year(_simulate(scenario_json))


def by_year_cached(scenario: Scenario):
    return _by_year(scenario.model_dump_json())


@st.cache_data(max_entries=32, show_spinner=False)
def _quantiles(scenario_json: str) -> pd.DataFrame:
    res = _simulate(scenario_json)
    return charts.quantile_table(res.sorted_net, res.keys, presorted=True)


def quantiles_cached(scenario: Scenario) -> pd.DataFrame:
    """Quantiles of each track's agreement net (what the distribution charts draw)."""
    return _quantiles(scenario.model_dump_json())


#: Trials of the slower analyses (each reruns the simulation many times on the same seed).
TORNADO_TRIALS = 10_000
GRID_TRIALS = 3_000
BREAK_EVEN_TRIALS = 5_000


def few_trials(scenario: Scenario, trials: int) -> int:
    """The futures a slower analysis runs: the scenario's, at most ``trials``."""
    return min(scenario.trials, trials)


@st.cache_data(max_entries=32, show_spinner=False)
def _tornado(scenario_json: str, key: str, trials: int) -> pd.DataFrame:
    s = montecarlo.only_tracks(Scenario.model_validate_json(scenario_json), [key])
    df = montecarlo.tornado(s, trials=trials)
    texts = {p: ALL_INPUTS[p] for p in df["input"].unique() if p in ALL_INPUTS}
    df["low_text"] = [texts[p].text(v) if p in texts else f"{v:g}" for p, v in zip(df["input"], df["low_value"], strict=True)]
    df["high_text"] = [texts[p].text(v) if p in texts else f"{v:g}" for p, v in zip(df["input"], df["high_value"], strict=True)]
    return df


def tornado_cached(scenario: Scenario, key: str) -> pd.DataFrame:
    """Each main input's swing on ``key``'s expected net (settling only that track)."""
    return _tornado(scenario.model_dump_json(), key, few_trials(scenario, TORNADO_TRIALS))


#: Inputs offered for the heatmap: path -> ('add', step) or ('mul', factors) around the current value.
GRID_INPUTS: dict[str, tuple[str, Any]] = {
    "performance.savings_effect": ("add", 0.01),
    "performance.quality_mean": ("add", 0.05),
    "performance.qps_probability": ("add", 0.1),
    "performance.savings_effect_sd": ("mul", (0.25, 0.5, 0.75, 1, 1.5, 2, 3)),
    "aco.beneficiaries": ("mul", (0.25, 0.5, 0.75, 1, 1.5, 2, 3)),
    "noise.systemic_sd": ("mul", (0, 0.5, 0.75, 1, 1.5, 2, 3)),
    "noise.per_beneficiary_cv": ("mul", (0.5, 0.75, 1, 1.25, 1.5, 2)),
    "market.trend_sd": ("mul", (0, 0.5, 1, 1.5, 2, 3)),
    "market.prospective_gap_mean": ("add", 0.005),
    "costs.annual_operating_cost": ("mul", (0.25, 0.5, 0.75, 1, 1.5, 2)),
    "costs.revenue_loss_share": ("add", 0.1),
    "performance.ramp_years": ("add", 1),
}


def grid_values(scenario: Scenario, path: str, points: int = 7) -> list[float]:
    """Values of ``path`` for the heatmap: around the current value, inside its allowed range,
    always including the current value."""
    mode, arg = GRID_INPUTS[path]
    v = get_path(scenario, path)
    m = meta(path)
    lo = m["ge"] if m["ge"] is not None else -math.inf
    hi = m["le"] if m["le"] is not None else math.inf
    half = points // 2
    if mode == "add":
        raw = [v + k * arg for k in range(-half, half + 1)]
        if all(x < lo or x > hi for x in raw[:1]) or raw[0] < lo:
            shift = lo - raw[0]
            raw = [x + math.ceil(shift / arg - 1e-9) * arg for x in raw] if raw[0] < lo else raw
        if raw[-1] > hi:
            raw = [x - math.ceil((raw[-1] - hi) / arg - 1e-9) * arg for x in raw]
    else:
        raw = [v * f for f in arg]
    is_int = isinstance(v, int) and not isinstance(v, bool)
    vals = sorted({(round(x) if is_int else round(x, 6)) for x in raw if lo <= x <= hi} | {v})
    return vals


@st.cache_data(max_entries=32, show_spinner=False)
def _grid(scenario_json: str, key: str, x: str, xs: tuple, y: str, ys: tuple, trials: int) -> pd.DataFrame:
    s = montecarlo.only_tracks(Scenario.model_validate_json(scenario_json), [key])
    return montecarlo.grid(s, x, list(xs), y, list(ys), trials=trials)


def grid_cached(scenario: Scenario, key: str, x: str, y: str) -> pd.DataFrame:
    xs, ys = tuple(grid_values(scenario, x)), tuple(grid_values(scenario, y))
    return _grid(scenario.model_dump_json(), key, x, xs, y, ys, few_trials(scenario, GRID_TRIALS))


@st.cache_data(max_entries=16, show_spinner=False)
def _break_even(scenario_json: str, pairs: tuple, trials: int) -> pd.DataFrame:
    return montecarlo.crossings(Scenario.model_validate_json(scenario_json), list(pairs), trials=trials)


def break_even_cached(scenario: Scenario, pairs: list[tuple[str, str | None]]) -> pd.DataFrame:
    """Break-even effects (``other=None``) and crossings between tracks, on the same draws."""
    return _break_even(scenario.model_dump_json(), tuple(pairs), few_trials(scenario, BREAK_EVEN_TRIALS))



@st.cache_data(max_entries=16, show_spinner=False)
def _assumptions(scenario_json: str) -> pd.DataFrame:
    from simulation.model.assumptions import assumption_table

    return assumption_table(Scenario.model_validate_json(scenario_json))


def assumptions_cached(scenario: Scenario) -> pd.DataFrame:
    """Every SEC/INF value the scenario's tracks use, plus the model's own assumptions."""
    return _assumptions(scenario.model_dump_json())
