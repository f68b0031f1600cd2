"""The dashboard's calls into the engine: one server, many users, bounded memory.

Simulations are cached per scenario (its JSON) in a cache bounded by bytes, not by count:
one link asking for 2,000,000 futures of 30 tracks holds gigabytes, so a count bound let four
such links take the server's memory. A per-run budget (futures × tracks × years) refuses
what one request may not ask of a shared server, with a message that says how to run it
with the command line instead. Nothing here imports streamlit: the pages call it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from simulation.model import montecarlo
from simulation.model.scenario import Scenario

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
