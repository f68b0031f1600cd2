"""CMS results folders: the one folder scanner, year parser and ACO linker.

Both the calibration (:mod:`simulation.calibration`) and the Real ACOs data
(:mod:`simulation.cms.acos`) read folders of MSSP "Performance Year Financial and Quality
Results" files through this module, so both see the same files, give them the same years and
follow the same ACOs across the 2018 change of ID:

* :func:`results_files` lists the CSV files of a folder (and of its ``mssp_puf`` sub-folder)
  whose name gives a performance year;
* :func:`file_year` is the year a file's name gives (:func:`simulation.cms.puf.detect_year`'s rule);
* :func:`link_acos` links each pre-2018 row to the ACO's 2018+ ID. PY2013–PY2017 files carry
  ``ACO_Num`` (A67373 …), a numbering that never matches an ``ACO_ID`` (A1001 …); an
  ACO_Num is linked to the PY2018 ACO_ID whose normalised ACO name is the same, when that
  name is unique among both the PY2017 and the PY2018 rows.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .puf import detect_year

__all__ = ["NEW_ID_FROM", "AcoLinks", "file_year", "link_acos", "normalise_name", "results_files"]

#: First year CMS published the A1234-style ACO ID.
NEW_ID_FROM = 2018


def file_year(path: str | Path) -> int | None:
    """The performance year a results file's name gives ("PY2023…", else its only 20xx token)."""
    return detect_year(path, pd.DataFrame())


def results_files(folder: str | Path) -> list[Path]:
    """CSV files in ``folder`` and its ``mssp_puf`` sub-folder whose name gives a year.

    Sorted by year, then name. The folder is not checked here: callers raise their own error.
    """
    folder = Path(folder)
    candidates = [*folder.glob("*.csv"), *folder.glob("mssp_puf/*.csv")]
    found = [(year, p) for p in candidates if p.is_file() and (year := file_year(p)) is not None]
    return [p for _, p in sorted(set(found), key=lambda yp: (yp[0], yp[1].name, str(yp[1])))]


_LEGAL_FORMS = re.compile(r"\b(LLC|L L C|INC|PLLC|PC|LLP|CORP|CORPORATION|THE|CO|COMPANY)\b")


def normalise_name(name: object) -> str:
    """An ACO name reduced for matching: upper case, letters and digits, no legal-form words."""
    text = re.sub(r"[^A-Z0-9 ]", " ", str(name).upper())
    text = _LEGAL_FORMS.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class AcoLinks:
    """The result of :func:`link_acos`, row for row with the frame it was given.

    ``key``: the 2018+ ACO_ID for a linked pre-2018 row, else the row's own ``aco_id``;
    ``linked``: True where a pre-2018 row was linked by name; ``bridge``: ACO_Num → ACO_ID;
    ``report``: counts of IDs shared by consecutive years and of the PY2017→PY2018 bridge.
    """

    key: pd.Series
    linked: pd.Series
    bridge: dict[str, str]
    report: dict


def link_acos(results: pd.DataFrame) -> AcoLinks:
    """Link ACOs across years (see the module docstring for the rule).

    ``results`` needs ``performance_year``, ``aco_id`` and ``aco_name``; the bridge report
    also reads ``sav_rate``, ``n_ab``, ``updated_benchmark_pc`` and ``initial_start_year``.
    """
    ids_col = results.aco_id.astype(str)
    years = sorted(int(y) for y in results.performance_year.unique())
    ids = {y: set(ids_col[results.performance_year == y]) for y in years}
    pairs = [
        {
            "from": a,
            "to": b,
            "acos_from": len(ids[a]),
            "acos_to": len(ids[b]),
            "same_id": len(ids[a] & ids[b]),
        }
        for a, b in itertools.pairwise(years)
    ]
    report: dict = {"pairs": pairs, "bridge": None}
    bridge: dict[str, str] = {}
    before = results.performance_year < NEW_ID_FROM
    last_old, first_new = NEW_ID_FROM - 1, NEW_ID_FROM
    if last_old in ids and first_new in ids:
        names = results.aco_name.map(normalise_name)
        frame = results.assign(aco_id=ids_col, key=names)
        old = frame.loc[frame.performance_year == last_old]
        new = frame.loc[frame.performance_year == first_new]
        old = old[~old.key.duplicated(keep=False) & (old.key != "")]
        new = new[~new.key.duplicated(keep=False) & (new.key != "")]
        matched = old.merge(new, on="key", suffixes=("_17", "_18"))
        bridge = dict(zip(matched.aco_id_17, matched.aco_id_18, strict=True))
        all_new = frame.loc[frame.performance_year == first_new]
        older = all_new.initial_start_year.lt(first_new).fillna(False)
        report["bridge"] = {
            "acos_2017": len(ids[last_old]),
            "acos_2018": len(ids[first_new]),
            "id_overlap": len(ids[last_old] & ids[first_new]),
            "matched_by_name": len(matched),
            "acos_2018_started_before_2018": int(older.sum()),
            "rate_correlation": (
                float(np.corrcoef(matched.sav_rate_17, matched.sav_rate_18)[0, 1])
                if len(matched) > 2
                else float("nan")
            ),
            "median_size_ratio": float((matched.n_ab_18 / matched.n_ab_17).median()),
            "median_benchmark_ratio": float(
                (matched.updated_benchmark_pc_18 / matched.updated_benchmark_pc_17).median()
            ),
        }
    linked = before & ids_col.isin(bridge)
    key = ids_col.where(~linked, ids_col.map(bridge))
    return AcoLinks(key=key, linked=linked, bridge=bridge, report=report)
