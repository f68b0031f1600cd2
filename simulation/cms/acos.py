"""Real ACOs from CMS's published results: load, search, history, and a scenario pre-filled.

The Shared Savings Program publishes one "Performance Year Financial and Quality Results"
file per year. :func:`load_results` reads every such file in a folder the user names (through
:func:`simulation.cms.puf.load_puf`, which knows each year's quirks), skipping unreadable ones
with a warning; :func:`download_results` fetches them from data.cms.gov. Then:

* :func:`search_acos` finds ACOs by name or ID (case-insensitive, partial);
* :func:`aco_history` gives one ACO's track, size, savings rate, quality and earned savings
  over the years, with where it stood in the program each year;
* :func:`program_distribution` gives the program's percentiles of a column by year;
* :func:`scenario_from_aco` pre-fills a :class:`~simulation.model.scenario.Scenario` from a history
  (:func:`prefill` says where each value comes from).

ACO IDs: from PY2018 CMS publishes the ``A1234`` ACO ID; PY2013–PY2017 files carry a
different, encrypted number. CMS's crosswalk between the two is not in the results files, so
an earlier row is linked to a 2018+ ID when its ACO name (normalised: case, punctuation,
"LLC"/"Inc." and "Accountable Care Organization" = "ACO") matches exactly one 2018+ ACO;
such rows say ``linked_by = "name"``.

No network is needed except by :func:`download_results`; it uses urllib with a timeout and
turns every failure into a one-line :class:`DownloadError`.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from .. import __version__
from ..model.scenario import Scenario, TrackChoice, calibrated_defaults, set_path, validate_scenario
from ..text import clip
from .puf import PufFormatError, load_puf
from .results import file_year, link_acos, results_files

#: The data.cms.gov catalog (DCAT JSON) that lists every dataset and its files.
CATALOG_URL = "https://data.cms.gov/data.json"
DATASET_TITLE = "Performance Year Financial and Quality Results"
DATASET_PAGE = ("https://data.cms.gov/medicare-shared-savings-program/"
                "performance-year-financial-and-quality-results")
USER_AGENT = f"acosim/{__version__} (Medicare ACO risk-track simulator)"
MAX_CATALOG_BYTES = 300_000_000
MAX_FILE_BYTES = 100_000_000

#: History columns, in order, for display.
HISTORY_COLUMNS = (
    "performance_year", "aco_id", "aco_name", "track", "risk_model", "n_ab", "total_benchmark",
    "updated_benchmark_pc", "sav_rate", "sav_rate_percentile", "published_msr", "qual_score",
    "gen_save_loss", "earned_save_loss", "rev_exp_cat", "agreement_start_year",
    "agreement_period_num", "months_in_py", "linked_by",
)

_YEAR = re.compile(r"(?<!\d)(20[1-3]\d)(?!\d)")


class RealDataError(ValueError):
    """The results folder or an ACO cannot be found or read; one line for the user."""


class DownloadError(RuntimeError):
    """A download from CMS failed; the message is one line that says what to do."""


# --------------------------------------------------------------------------- loading


_CACHE: dict[tuple, tuple[pd.DataFrame, tuple[str, ...]]] = {}


def load_results(folder: str | Path, *, years: Iterable[int] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every CMS results file in ``folder``, one row per ACO and year, and warnings.

    Columns: :data:`simulation.cms.puf.CANONICAL_COLUMNS` plus ``source_file`` and ``aco_key``
    (the ACO's 2018+ ID where an earlier row could be linked by name, else its own ID) and
    ``linked_by`` ('id' or 'name'). Files that cannot be read are skipped with a warning;
    a second file for a year already loaded adds only the ACOs it does not repeat.
    Raises :class:`RealDataError` if the folder is missing or holds no readable file.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise RealDataError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise RealDataError(f"{folder}: is a file, not a folder of CMS results files")
    files = results_files(folder)
    wanted = set(years) if years is not None else None
    if wanted is not None:
        files = [p for p in files if file_year(p) in wanted]
    if not files:
        raise RealDataError(f"{folder}: no CMS results files (CSV files named with their year, such as "
                            f"PY2023.csv); download them with: acosim data download --dest {folder}")
    key = (str(folder.resolve()), tuple(sorted(wanted)) if wanted else None,
           tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _CACHE:
        if len(_CACHE) >= 4:
            _CACHE.clear()
        _CACHE[key] = _load_files(files, wanted)
    df, warnings = _CACHE[key]
    return df.copy(), list(warnings)


def _load_files(files: list[Path], wanted: set[int] | None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    frames = []
    warnings = []
    seen: set[tuple[int, str, Any]] = set()
    for path in files:
        try:
            df = load_puf(path)
        except PufFormatError as exc:
            warnings.append(f"{path.name}: skipped, not readable as CMS results ({_strip_name(str(exc), path.name)})")
            continue
        except (OSError, ValueError) as exc:
            warnings.append(f"{path.name}: skipped ({exc})")
            continue
        year = int(df["performance_year"].iloc[0]) if len(df) else None
        if wanted is not None and year not in wanted:
            continue
        keys = list(zip(df["performance_year"], df["aco_id"], df["agreement_start_year"], strict=True))
        repeat = np.array([k in seen for k in keys])
        if repeat.any():
            warnings.append(f"{path.name}: {int(repeat.sum())} ACO rows for PY{year} already loaded from "
                            "another file; kept the first")
            df = df.loc[~repeat]
        seen.update(keys)
        frames.append(df.assign(source_file=path.name))
    if not frames:
        detail = f": {warnings[0]}" if warnings else ""
        raise RealDataError(f"none of the {len(files)} results files could be read{detail}")
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["performance_year", "aco_id"], kind="stable", ignore_index=True)
    links = link_acos(out)
    out["aco_key"] = links.key
    out["linked_by"] = links.linked.map({True: "name", False: "id"}).astype(object)
    return out, tuple(warnings)


def _strip_name(message: str, name: str) -> str:
    return message.removeprefix(f"{name}: ")


# --------------------------------------------------------------------------- search / history


def search_acos(results: pd.DataFrame, query: str, *, limit: int = 25) -> pd.DataFrame:
    """ACOs whose ID or any published name contains ``query`` (case-insensitive), best first.

    One row per ACO (its latest year): ``aco_id`` (the key to pass to :func:`aco_history`),
    ``aco_name``, ``latest_year``, ``first_year``, ``years`` (how many years published),
    ``track``, ``n_ab``, ``sav_rate``. An exact ID comes first, then names that start with the
    query, then the most recent and largest.
    """
    q = " ".join(str(query).split()).lower()
    if not q:
        raise RealDataError("type part of an ACO's name or its ID (e.g. A1001)")
    ids = results["aco_id"].astype(str).str.lower()
    keys = results["aco_key"].astype(str).str.lower()
    names = results["aco_name"].fillna("").astype(str).str.lower()
    hit = ids.str.contains(q, regex=False) | keys.str.contains(q, regex=False) | names.str.contains(q, regex=False)
    matched = results.loc[hit, "aco_key"].unique()
    rows = results[results["aco_key"].isin(matched)]
    if rows.empty:
        return pd.DataFrame(columns=["aco_id", "aco_name", "latest_year", "first_year", "years", "track",
                                     "n_ab", "sav_rate"])
    rows = rows.sort_values(["performance_year", "months_in_py"], kind="stable")
    latest = rows.groupby("aco_key", sort=False).tail(1).set_index("aco_key")
    grouped = rows.groupby("aco_key")
    out = pd.DataFrame({
        "aco_id": latest.index,
        "aco_name": latest["aco_name"].to_numpy(),
        "latest_year": latest["performance_year"].to_numpy(),
        "first_year": grouped["performance_year"].min().reindex(latest.index).to_numpy(),
        "years": grouped["performance_year"].nunique().reindex(latest.index).to_numpy(),
        "track": latest["track"].to_numpy(),
        "n_ab": latest["n_ab"].to_numpy(),
        "sav_rate": latest["sav_rate"].to_numpy(),
    })
    lower_name = out["aco_name"].fillna("").str.lower()
    out["_rank"] = np.select([out["aco_id"].str.lower() == q, lower_name.str.startswith(q)], [0, 1], 2)
    out = out.sort_values(["_rank", "latest_year", "n_ab"], ascending=[True, False, False], kind="stable")
    return out.drop(columns="_rank").head(limit).reset_index(drop=True)


def _percentile_rank(results: pd.DataFrame, column: str) -> pd.Series:
    """Each row's percentile (0–100) of ``column`` among all ACOs of its year."""
    return results.groupby("performance_year")[column].rank(pct=True) * 100.0


def aco_history(results: pd.DataFrame, aco_id: str) -> pd.DataFrame:
    """One ACO's published results by year (:data:`HISTORY_COLUMNS`), oldest first.

    ``sav_rate_percentile`` is where its savings rate stood among all ACOs that year (0–100).
    ``aco_id`` may be any ID the ACO has had (2018+ or, if linked, earlier). Raises
    :class:`RealDataError` for an unknown ID.
    """
    wanted = str(aco_id).strip().lower()
    if not wanted:
        raise RealDataError("give an ACO ID (find it with: acosim data search NAME)")
    ids = results["aco_id"].astype(str).str.lower()
    keys = results["aco_key"].astype(str).str.lower()
    match = keys[(ids == wanted) | (keys == wanted)]
    if match.empty:
        raise RealDataError(f"no ACO with ID {aco_id!r} in the results loaded; find IDs with: acosim data "
                            "search NAME")
    key = match.iloc[0]
    pct = _percentile_rank(results, "sav_rate")
    rows = results.assign(sav_rate_percentile=pct)[keys == key]
    rows = rows.sort_values(["performance_year", "months_in_py"], kind="stable", ignore_index=True)
    out = rows[[c for c in HISTORY_COLUMNS if c in rows.columns]].copy()
    out.attrs.update(aco_id=str(rows["aco_key"].iloc[-1]), aco_name=rows["aco_name"].iloc[-1])
    return out


def program_distribution(results: pd.DataFrame, column: str = "sav_rate",
                         percentiles: Iterable[float] = (5, 10, 25, 50, 75, 90, 95)) -> pd.DataFrame:
    """The program's spread of ``column`` by performance year: n, mean and percentiles
    (columns ``p5``, ``p10``, …), one row per year, for comparing an ACO with its peers."""
    if column not in results.columns:
        raise RealDataError(f"no column {column!r} in the results")
    ps = list(percentiles)
    rows = []
    for year, g in results.groupby("performance_year"):
        x = pd.to_numeric(g[column], errors="coerce").dropna().to_numpy(dtype=float)
        row: dict[str, Any] = {"performance_year": int(year), "n": len(x),  # type: ignore[arg-type]
                               "mean": float(x.mean()) if len(x) else math.nan}
        q = np.percentile(x, ps) if len(x) else [math.nan] * len(ps)
        row.update({f"p{p:g}": float(v) for p, v in zip(ps, q, strict=True)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["column"] = column
    return out


# --------------------------------------------------------------------------- scenario


#: Participants' Medicare revenue as a share of the ACO's total benchmark expenditure, used
#: when only the revenue category is known. CMS does not publish participant revenue; a
#: low-revenue ACO is below 35% by definition (42 CFR 425.20), a physician group bills
#: roughly a fifth of its patients' total spending; high-revenue ACOs include hospitals whose
#: Medicare revenue from all their patients is of the order of the assigned beneficiaries'
#: total spending. [INF] assumptions.
REVENUE_RATIO = {"low": 0.20, "high": 1.00}


@dataclass
class Prefill:
    """One pre-filled scenario field: dotted path, value, and where it comes from."""

    path: str
    value: Any
    reason: str


def _persistence() -> float:
    from ..model.scenario import CALIBRATION_FILE

    try:
        doc = json.loads(Path(CALIBRATION_FILE).read_text(encoding="utf-8"))
        return float(doc["persistence"]["value"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.9


#: Full years of published results needed before an ACO's own spread is used.
MIN_OWN_YEARS = 3


def _pct(x: float) -> str:
    return f"{x:.1%}".replace("-", "−")


def effect_uncertainty(full: pd.DataFrame, n: int, cv: float, *, recent: int = 3) -> tuple[float, str]:
    """The savings-effect uncertainty (SD, share of benchmark) of an ACO's next agreement and
    its reason in words, from the ACO's own history and the calibrated model.

    ``full`` holds the ACO's 12-month results (column ``sav_rate``), oldest first. Two parts,
    added as variances:

    * how well the recent mean is known: measurement noise of one year (per-beneficiary CV /
      √N) or the recent rates' own spread if larger, over √k years;
    * how far the ACO's true effect can move by the next agreement: the larger of the ACO's
      own spread across all its published years (its history: an ACO whose rate swung from
      −5.9% to +12.8% has shown that its level moves) and the calibrated model's drift of a
      typical ACO's true effect in a year (calibrated SD × √(1 − persistence²)). The own
      spread is used only with at least :data:`MIN_OWN_YEARS` full years.
    """
    all_rates = full["sav_rate"].dropna().to_numpy(dtype=float)
    rates = all_rates[-recent:]
    k = len(rates)
    noise_var = (cv / math.sqrt(max(n, 1))) ** 2
    spread_var = float(rates.var(ddof=1)) if k > 1 else 0.0
    mean_var = max(noise_var, spread_var) / max(k, 1)
    drift = calibrated_defaults()["true_effect_sd"][0] * math.sqrt(max(0.0, 1 - _persistence() ** 2))
    m = len(all_rates)
    own = float(all_rates.std(ddof=1)) if m >= MIN_OWN_YEARS else 0.0
    sd = float(np.clip(math.sqrt(mean_var + max(own, drift) ** 2), 0.0025, 0.20))
    years = full.loc[full["sav_rate"].notna(), "performance_year"].to_numpy()
    lo, hi = int(np.argmin(all_rates)), int(np.argmax(all_rates))
    mean_part = f"plus ±{_pct(math.sqrt(mean_var))} for how well the recent mean is known"
    if m < MIN_OWN_YEARS:
        why = (f"±{_pct(sd)}: only {m} full year{'s' * (m != 1)} published, so the calibrated model's drift of a "
               f"typical ACO's true effect (±{_pct(drift)} a year) sets it, {mean_part}")
    elif own > drift:
        why = (f"±{_pct(sd)}: the ACO's own savings rate ranged from {_pct(all_rates[lo])} (PY{years[lo]}) to "
               f"{_pct(all_rates[hi])} (PY{years[hi]}), a spread of ±{_pct(own)} over {m} years — more than the "
               f"calibrated model's drift of a typical ACO (±{_pct(drift)} a year), so its own history sets it, "
               f"{mean_part}")
    else:
        why = (f"±{_pct(sd)}: the ACO's own rates were steady (±{_pct(own)} over {m} years, "
               f"{_pct(all_rates[lo])} to {_pct(all_rates[hi])}), so the calibrated model's drift of a typical "
               f"ACO's true effect (±{_pct(drift)} a year) sets it, {mean_part}")
    return sd, why


def prefill(history: pd.DataFrame, base: Scenario | None = None, *, recent: int = 3) -> list[Prefill]:
    """What :func:`scenario_from_aco` sets, field by field, with its reason.

    * size: the latest published assigned beneficiaries;
    * benchmark: the latest per-capita updated benchmark trended one year at the base
      scenario's trend, for an agreement starting the year after the latest results;
    * savings effect: the mean savings rate of the last ``recent`` 12-month years; its
      uncertainty combines the ACO's own history with the calibrated model
      (:func:`effect_uncertainty`);
    * quality: the mean of the recent quality scores (when published);
    * revenue category, two-sided experience and the current track as the first choice.
    """
    base = base or Scenario()
    if history is None or len(history) == 0:
        raise RealDataError("the ACO has no published results to pre-fill a scenario from")
    h = history.sort_values(["performance_year", "months_in_py"], kind="stable")
    full = h[h["months_in_py"].fillna(12) >= 12] if "months_in_py" in h else h
    full = full if len(full) else h
    last = full.iloc[-1]
    year = int(last["performance_year"])
    out: list[Prefill] = []
    name = f"{last['aco_name']} ({history.attrs.get('aco_id', last['aco_id'])})"
    out.append(Prefill("name", name[:80], "the ACO's name and ID in CMS's results"))

    n = int(np.clip(int(last["n_ab"]), 1_000, 1_000_000))
    out.append(Prefill("aco.beneficiaries", n, f"assigned beneficiaries in PY{year}"))
    trend = base.market.trend_mean
    bench = last.get("updated_benchmark_pc")
    bench_note = f"PY{year} updated benchmark per beneficiary"
    if bench is None or not np.isfinite(bench):
        bench = float(last["total_benchmark"]) / max(1, int(last["n_ab"]))
        bench_note = f"PY{year} total benchmark ÷ assigned beneficiaries"
    bench_next = float(np.clip(round(float(bench) * (1 + trend), 2), 3_000, 60_000))
    out.append(Prefill("aco.benchmark_pc", bench_next,
                       f"{bench_note} (${float(bench):,.0f}) trended one year at {trend:.1%}"))
    out.append(Prefill("aco.agreement_start_year", year + 1, "the year after the latest published results"))

    all_rates = full["sav_rate"].dropna().to_numpy(dtype=float)
    rates = all_rates[-recent:]
    if len(rates):
        k = len(rates)
        effect = float(np.clip(rates.mean(), -0.15, 0.30))
        years = ", ".join(f"{r:.1%}" for r in rates)
        out.append(Prefill("performance.savings_effect", round(effect, 5),
                           f"mean savings rate of the last {k} year{'s' if k > 1 else ''} ({years})"))
        sd, why = effect_uncertainty(full, n, base.noise.per_beneficiary_cv, recent=recent)
        out.append(Prefill("performance.savings_effect_sd", round(sd, 5), why))
        out.append(Prefill("performance.ramp_years", 0, "an existing ACO already performs at its level"))
    quality: Any = full["qual_score"].dropna().to_numpy(dtype=float)[-recent:] if "qual_score" in full else []
    quality = [q for q in quality if 0.05 <= q <= 1.0]
    if len(quality):
        out.append(Prefill("performance.quality_mean", round(float(np.mean(quality)), 4),
                           f"mean quality score of the last {len(quality)} published year(s)"))

    category = last.get("rev_exp_cat")
    if category in ("low", "high"):
        out.append(Prefill("aco.revenue_category", category, f"revenue category in PY{year}"))
        revenue = round(REVENUE_RATIO[category] * n * bench_next, -5)
        out.append(Prefill("aco.participant_revenue", revenue,
                           f"assumption [INF]: {REVENUE_RATIO[category]:.0%} of the total benchmark, typical "
                           f"of a {category}-revenue ACO (CMS does not publish participant revenue)"))
    two_sided = bool((h["risk_model"] == "two_sided").any()) if "risk_model" in h else False
    out.append(Prefill("aco.experienced_with_risk", two_sided,
                       "has been in a two-sided track" if two_sided else "has only been in one-sided tracks"))
    out.append(Prefill("aco.first_agreement", False, "the ACO already has an MSSP agreement"))

    track = last.get("track")
    if isinstance(track, str) and track:
        rest = [t for t in base.tracks if t.track != track]
        choices = [TrackChoice(track=track), *rest]
        out.append(Prefill("tracks", choices, f"its PY{year} track ({track}) first, then the base scenario's"))
    return out


def scenario_from_aco(history: pd.DataFrame, base: Scenario | None = None) -> Scenario:
    """``base`` (default: the default scenario) with size, benchmark, recent performance,
    revenue category and current track taken from an ACO's history (see :func:`prefill`)."""
    base = base or Scenario()
    data = base.model_dump()
    for item in prefill(history, base):
        if item.path == "tracks":
            data["tracks"] = [t.model_dump() for t in item.value]
            continue
        set_path(data, item.path, item.value)
    return validate_scenario(data)


# --------------------------------------------------------------------------- download


@dataclass
class DownloadReport:
    """What :func:`download_results` did: files saved, files already there, warnings."""

    saved: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


def _fetch(url: str, *, timeout: float, max_bytes: int, what: str) -> bytes:
    """GET ``url`` (http/https only) within ``timeout`` seconds per read and ``max_bytes``."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        raise DownloadError(f"{what}: {clip(repr(url), 80)} is not a valid web address") from None
    if scheme not in ("http", "https"):
        raise DownloadError(f"{what}: {clip(repr(url), 80)} is not an http(s) address")
    host = _host(url)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    hint = f"check the network connection, or save the files from {DATASET_PAGE} into the folder by hand"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            chunks = []
            total = 0
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise DownloadError(f"{what}: {host} sent more than {max_bytes:,} bytes; stopped")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{what}: {host} answered {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise DownloadError(f"{what}: {host} did not answer within {timeout:g} s; {hint}") from None
        if isinstance(reason, socket.gaierror):
            raise DownloadError(f"{what}: cannot reach {host} (no network, or the name does not resolve); "
                                f"{hint}") from None
        if isinstance(reason, ConnectionRefusedError):
            raise DownloadError(f"{what}: {host} refused the connection; {hint}") from None
        raise DownloadError(f"{what}: cannot reach {host} ({reason}); {hint}") from None
    except TimeoutError:
        raise DownloadError(f"{what}: {host} did not answer within {timeout:g} s; {hint}") from None
    except (http.client.HTTPException, OSError) as exc:
        raise DownloadError(f"{what}: the connection to {host} failed ({exc.__class__.__name__}: {exc}); "
                            f"{hint}") from None


def _distribution_year(dist: dict[str, Any]) -> int | None:
    for key in ("temporal", "title", "description", "downloadURL"):
        value = dist.get(key)
        if isinstance(value, list) and value:
            value = json.dumps(value)
        if isinstance(value, str):
            m = _YEAR.search(value)
            if m:
                return int(m.group(1))
    return None


def find_result_urls(catalog_url: str = CATALOG_URL, *, timeout: float = 60.0) -> dict[int, list[str]]:
    """{performance year: [CSV download URLs]} of the results dataset in CMS's catalog.

    Reads the data.cms.gov DCAT catalog (``data.json``), takes the datasets whose title
    contains :data:`DATASET_TITLE`, and from their distributions the CSV files, with the year from
    each file's ``temporal`` period (or its title). PY2019 may have two files (the January
    and July 2019 starters).
    """
    raw = _fetch(catalog_url, timeout=timeout, max_bytes=MAX_CATALOG_BYTES, what="CMS catalog")
    try:
        catalog = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DownloadError(f"CMS catalog: {_host(catalog_url)} sent something that is not the JSON "
                            "catalog") from None
    datasets = catalog.get("dataset") if isinstance(catalog, dict) else None
    if not isinstance(datasets, list):
        raise DownloadError("CMS catalog: no 'dataset' list in the catalog")
    found: dict[int, list[str]] = {}
    for ds in datasets:
        if not isinstance(ds, dict) or DATASET_TITLE.lower() not in str(ds.get("title", "")).lower():
            continue
        for dist in ds.get("distribution") or []:
            if not isinstance(dist, dict):
                continue
            url = dist.get("downloadURL")
            is_csv = (str(dist.get("mediaType", "")).lower() == "text/csv"
                      or str(dist.get("format", "")).lower() == "csv"
                      or str(url or "").lower().split("?")[0].endswith(".csv"))
            year = _distribution_year(dist) or _distribution_year(ds)
            if isinstance(url, str) and is_csv and year is not None:
                found.setdefault(year, [])
                if url not in found[year]:
                    found[year].append(url)
    if not found:
        raise DownloadError(f"CMS catalog: it lists no '{DATASET_TITLE}' CSV files; save them from "
                            f"{DATASET_PAGE} by hand")
    return dict(sorted(found.items()))


def download_results(dest: str | Path, years: Iterable[int] | None = None, *,
                     catalog_url: str = CATALOG_URL, timeout: float = 60.0, overwrite: bool = False,
                     progress: Callable[[str], None] | None = None) -> DownloadReport:
    """Download CMS's results files into ``dest`` as ``PY<year>.csv`` (all years by default).

    Each file is checked with :func:`simulation.cms.puf.load_puf` before it is kept; one that
    is not readable is discarded with a warning. Files already in ``dest`` are left alone
    unless ``overwrite``. Raises :class:`DownloadError` (one line) when CMS cannot be
    reached or a requested year is not listed.
    """
    dest = Path(dest).expanduser()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{dest}: cannot create the folder ({exc.strerror or exc})") from None
    say = progress or (lambda _msg: None)
    say(f"reading the CMS catalog {catalog_url}")
    available = find_result_urls(catalog_url, timeout=timeout)
    wanted = sorted(set(years)) if years is not None else list(available)
    missing = [y for y in wanted if y not in available]
    if missing:
        listed = f"{min(available)}–{max(available)}" if available else "none"
        raise DownloadError(f"CMS lists no results file for PY{', PY'.join(map(str, missing))} (it lists {listed})")
    report = DownloadReport()
    for year in wanted:
        for i, url in enumerate(available[year]):
            target = dest / (f"PY{year}.csv" if i == 0 else f"PY{year}_{i + 1}.csv")
            if target.exists() and not overwrite:
                report.skipped.append(target)
                continue
            say(f"PY{year}: {url}")
            data = _fetch(url, timeout=timeout, max_bytes=MAX_FILE_BYTES, what=f"PY{year}")
            part = target.with_name(target.name + ".part")
            try:
                part.write_bytes(data)
                load_puf(part, year=year)
            except PufFormatError as exc:
                part.unlink(missing_ok=True)
                report.warnings.append(f"PY{year}: the file from {_host(url)} is not readable as CMS results "
                                       f"({_strip_name(str(exc), part.name)}); not kept")
                continue
            except OSError as exc:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{target}: cannot write ({exc.strerror or exc})") from None
            part.replace(target)
            report.saved.append(target)
    return report
