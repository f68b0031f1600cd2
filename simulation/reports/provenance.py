"""What every export carries: its provenance (scenario, seed, trials, rules and acosim
versions, date), enough to reproduce every number in it, and the one error an export raises.

CSV files start with ``# key: value`` lines (read them back with
``pandas.read_csv(..., comment="#")``), the workbook has a *Provenance* sheet and document
properties, every slide has a footer, and the HTML and PDF reports a provenance block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..model.montecarlo import SimulationResult
from ..model.scenario import SCHEMA_VERSION, Scenario
from ..rules.catalog import rules_version


class ReportError(RuntimeError):
    """An export could not be produced (e.g. no browser to draw charts); one line."""


@dataclass(frozen=True)
class Provenance:
    """Where a set of numbers comes from: enough to reproduce every one of them."""

    scenario: str
    seed: int
    trials: int
    rules_version: str
    created: str          # ISO 8601, UTC, to the second
    acosim_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    years: str = ""

    @property
    def date(self) -> str:
        return self.created[:10]

    def items(self) -> list[tuple[str, str]]:
        """(label, value) pairs in reading order."""
        out = [("Scenario", self.scenario), ("Seed", str(self.seed)),
               ("Simulated futures (trials)", f"{self.trials:,}")]
        if self.years:
            out.append(("Agreement years", self.years))
        out += [("Rules version", self.rules_version), ("acosim version", self.acosim_version),
                ("Scenario schema version", str(self.schema_version)), ("Created (UTC)", self.created)]
        return out

    def line(self) -> str:
        """One line for footers: scenario · seed · trials · rules · date."""
        return (f"{self.scenario} · seed {self.seed} · {self.trials:,} futures · rules "
                f"{self.rules_version} · acosim {self.acosim_version} · {self.date}")

    def as_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "seed": self.seed, "trials": self.trials,
                "years": self.years, "rules_version": self.rules_version,
                "acosim_version": self.acosim_version, "schema_version": self.schema_version,
                "created": self.created}


def provenance(source: SimulationResult | Scenario, *, name: str | None = None,
               created: datetime | None = None) -> Provenance:
    """The provenance of a simulation result (or of a scenario about to be simulated)."""
    scenario = source.scenario if isinstance(source, SimulationResult) else source
    seed = source.seed if isinstance(source, SimulationResult) else scenario.seed
    trials = source.trials if isinstance(source, SimulationResult) else scenario.trials
    years = scenario.years
    stamp = (created or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    return Provenance(scenario=name or scenario.name, seed=int(seed), trials=int(trials),
                      rules_version=rules_version(), created=stamp,
                      years=f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0]))
