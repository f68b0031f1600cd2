"""Reading a folder of CMS results files and linking ACOs across years.

The folder scanner, the year of a file and the ACO linker are :mod:`simulation.cms.results`'s,
shared with the Real ACOs data (:mod:`simulation.cms.acos`), so both link the same ACOs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..cms.puf import PufFormatError, load_puf
from ..cms.results import file_year, link_acos, results_files
from .base import CalibrationError, size_band


def puf_files(data_dir: str | Path) -> dict[int, Path]:
    """The results files of a folder by performance year.

    ``data_dir`` may be the reference-data folder (holding ``mssp_puf/``) or the folder of
    ``PY*.csv`` files itself (:func:`simulation.cms.results.results_files`). Raises
    :class:`CalibrationError` when there is nothing to read or two files give one year.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise CalibrationError(f"--data: folder not found: {root}")
    files: dict[int, Path] = {}
    for path in results_files(root):
        year = file_year(path)
        if year is None:
            continue
        if year in files:
            raise CalibrationError(
                f"{root}: two files for PY{year} ({files[year].name}, {path.name})"
            )
        files[year] = path
    if not files:
        raise CalibrationError(f"{root}: no MSSP results files (PY<year>*.csv) in this folder")
    return dict(sorted(files.items()))


def _read(path: Path, year: int | None = None) -> pd.DataFrame:
    try:
        return load_puf(path, year=year)
    except PufFormatError as exc:
        raise CalibrationError(str(exc)) from None


def link_ids(results: pd.DataFrame) -> tuple[pd.Series, dict]:
    """A link id per row that follows an ACO across years, and a report of how it was made.

    The rule is :func:`simulation.cms.results.link_acos`'s: from PY2018 the ``ACO_ID``; an
    earlier ``ACO_Num`` linked by a unique name in PY2017 and PY2018 takes that ACO_ID, and
    an unlinked ACO_Num keeps its own id, prefixed ``NUM:``.
    """
    links = link_acos(results)
    new = results.performance_year >= 2018
    link = links.key.where(new | links.linked, "NUM:" + results.aco_id.astype(str))
    return link.rename("link_id"), links.report


def load_results(data_dir: str | Path, through: int | None = None) -> pd.DataFrame:
    """Every PUF of ``data_dir`` (up to ``through``) in one frame, with ``link_id`` and ``band``.

    ``attrs["linkage"]`` holds the report of :func:`link_ids`; ``attrs["files"]`` the files read.
    """
    files = puf_files(data_dir)
    if through is not None:
        files = {y: p for y, p in files.items() if y <= through}
        if not files:
            raise CalibrationError(f"--through {through}: no results file for that year or before")
    frames = [_read(path) for path in files.values()]
    results = pd.concat(frames, ignore_index=True)
    results["link_id"], report = link_ids(results)
    results["band"] = size_band(results.n_ab).array
    results.attrs["linkage"] = report
    results.attrs["files"] = {y: str(p) for y, p in files.items()}
    return results
