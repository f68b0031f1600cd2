"""Calibration of the uncertainty model (:mod:`simulation.noise`) on the CMS MSSP results PUFs.

The study behind ``docs/calibration.md`` and ``data/calibration/noise_defaults.json``:

* :func:`load_results` reads every "Performance Year Financial and Quality Results" file of a
  folder with :func:`simulation.puf.load_puf` and links ACOs across years (``ACO_Num`` before
  PY2018, ``ACO_ID`` from PY2018, bridged by a unique ACO name between PY2017 and PY2018).
* :func:`fit_noise_model` fits the noise model of :mod:`simulation.noise` together with a
  persistent, drifting true effect, by Gaussian maximum likelihood on the ACO × year panel::

      measured rate  r[i, t] = m[t] + u[i, t] + k[t] · (e_size + e_sys)
      u[i, ·]  stationary AR(1): sd true_effect_sd, year-to-year correlation persistence
      e_size ~ Normal(0, cv / sqrt(N[i, t])),  e_sys ~ Normal(0, systemic_sd)
      k[t] = shock_multiplier in the shock year (PY2020), else 1

  ``cv`` is identified by how the scatter falls with size, ``true_effect_sd`` and
  ``persistence`` by how an ACO's rates co-vary across years, and ``systemic_sd`` by what is
  left of each year's scatter that neither shrinks with size nor carries over to other years.
* :func:`bootstrap_noise_model` refits on ACOs resampled with replacement (90% intervals).
* :func:`calibrate` runs the whole study: descriptive tables, the fit, the bootstrap, the
  back-test (:mod:`simulation.backtest`), the simulated-vs-observed check drawn with
  :func:`simulation.noise.draw_rate_noise`, the JSON defaults, the figures and the write-up.

Rates are fractions of the benchmark throughout (0.02 = 2%).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from . import noise
from .puf import PufFormatError, detect_year, load_puf

__all__ = [
    "COMMERCIAL_MAE",
    "DEFAULT_KEYS",
    "SIZE_BANDS",
    "CalibrationError",
    "NoiseFit",
    "Panel",
    "bootstrap_noise_model",
    "calibrate",
    "fit_noise_model",
    "load_results",
    "make_panel",
    "puf_files",
    "simulate_panel",
    "size_band",
]

#: Size bands (label, lower bound inclusive, upper bound exclusive) in assigned beneficiaries.
SIZE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("under 5k", 0.0, 5_000.0),
    ("5k–10k", 5_000.0, 10_000.0),
    ("10k–20k", 10_000.0, 20_000.0),
    ("20k–50k", 20_000.0, 50_000.0),
    ("50k+", 50_000.0, math.inf),
)
SHOCK_YEAR = 2020
#: First year of the variance model behind the defaults (the ACO_ID era; see the write-up); the
#: window runs to the latest file. Other windows end at the latest year too (:func:`windows`).
FIT_YEARS = (2018, 2023)


def windows(latest: int) -> dict[str, tuple[int, int]]:
    """Year windows of the study when the latest results file is PY``latest``.

    ``fit``: the variance model; ``mean``: the program mean savings rate (last three years);
    ``quality``: the quality keys (last two years, from PY2022 when the score took its current
    scale); ``trend``: benchmark growth (pairs ending in these years).
    """
    return {
        "fit": (FIT_YEARS[0], latest),
        "mean": (latest - 2, latest),
        "quality": (max(2022, latest - 1), latest),
        "trend": (2014, latest),
    }


MEAN_YEARS = windows(FIT_YEARS[1])["mean"]
#: Mean absolute error on PY2023 savings rates reported by a commercial model.
COMMERCIAL_MAE = 0.0194
#: Every key of noise_defaults.json that holds a fitted value.
DEFAULT_KEYS: tuple[str, ...] = (
    "per_beneficiary_cv",
    "systemic_sd",
    "year_to_year_sd",
    "true_effect_mean",
    "true_effect_sd",
    "persistence",
    "trend_mean",
    "trend_sd",
    "quality_mean",
    "quality_sd",
    "qps_probability",
    "shock_multiplier",
)
DOC_PATH = "docs/calibration.md"
JSON_PATH = "data/calibration/noise_defaults.json"
FIGURE_DIR = "docs/figures/calibration"
Z90 = float(stats.norm.ppf(0.95))


class CalibrationError(ValueError):
    """Input the calibration cannot use (missing folder, no PUF files, too few years).

    The message is one line, so that the command line can print it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def size_band(n_ab) -> pd.Series:
    """Label of the size band of each number of assigned beneficiaries (ordered categorical)."""
    values = pd.Series(np.asarray(n_ab, dtype=float))
    edges = [lo for _, lo, _ in SIZE_BANDS] + [math.inf]
    labels = [label for label, _, _ in SIZE_BANDS]
    return pd.cut(values, edges, right=False, labels=labels)


# ============================================================================================
# Reading and linking the PUFs
# ============================================================================================


def puf_files(data_dir: str | Path) -> dict[int, Path]:
    """The results files of a folder by performance year.

    ``data_dir`` may be the reference-data folder (holding ``mssp_puf/``) or the folder of
    ``PY*.csv`` files itself. Raises :class:`CalibrationError` when there is nothing to read.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise CalibrationError(f"--data: folder not found: {root}")
    folder = root / "mssp_puf" if (root / "mssp_puf").is_dir() else root
    files: dict[int, Path] = {}
    for path in sorted(folder.glob("*.csv")):
        if not path.name.upper().startswith("PY"):
            continue
        year = detect_year(path, pd.DataFrame())
        if year is None:
            continue
        if year in files:
            raise CalibrationError(
                f"{folder}: two files for PY{year} ({files[year].name}, {path.name})"
            )
        files[year] = path
    if not files:
        raise CalibrationError(f"{folder}: no MSSP results files (PY<year>*.csv) in this folder")
    return dict(sorted(files.items()))


def _read(path: Path, year: int | None = None) -> pd.DataFrame:
    try:
        return load_puf(path, year=year)
    except PufFormatError as exc:
        raise CalibrationError(str(exc)) from None


def _normalise_name(name: object) -> str:
    """ACO name reduced for matching: upper case, letters and digits, no legal-form words."""
    text = re.sub(r"[^A-Z0-9 ]", " ", str(name).upper())
    text = re.sub(r"\b(LLC|L L C|INC|PLLC|PC|LLP|CORP|CORPORATION|THE|CO|COMPANY)\b", " ", text)
    return " ".join(text.split())


def link_ids(results: pd.DataFrame) -> tuple[pd.Series, dict]:
    """A link id per row that follows an ACO across years, and a report of how it was made.

    From PY2018 the ``ACO_ID`` (A1001 …) is the link. PY2013–PY2017 files carry ``ACO_Num``
    (A67373 …), a different numbering that never matches an ACO_ID; an ACO_Num is linked to
    the PY2018 ACO_ID whose normalised ACO name is the same, when that name is unique in both
    PY2017 and PY2018. Unlinked ACO_Nums keep their own id (prefixed ``NUM:``).
    """
    years = sorted(results.performance_year.unique())
    ids = {y: set(results.loc[results.performance_year == y, "aco_id"]) for y in years}
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
    link = results.aco_id.astype(str).where(
        results.performance_year >= 2018, "NUM:" + results.aco_id
    )
    report: dict = {"pairs": pairs, "bridge": None}
    if 2017 in ids and 2018 in ids:
        names = results.aco_name.map(_normalise_name)
        old = results.loc[results.performance_year == 2017].assign(key=names)
        new = results.loc[results.performance_year == 2018].assign(key=names)
        old = old[~old.key.duplicated(keep=False) & (old.key != "")]
        new = new[~new.key.duplicated(keep=False) & (new.key != "")]
        matched = old.merge(new, on="key", suffixes=("_17", "_18"))
        bridge = dict(zip(matched.aco_id_17, matched.aco_id_18, strict=True))
        before = results.performance_year < 2018
        link = link.where(~before | ~results.aco_id.isin(bridge), results.aco_id.map(bridge))
        new_2018 = results.loc[results.performance_year == 2018]
        older = new_2018.initial_start_year.lt(2018).fillna(False)
        report["bridge"] = {
            "acos_2017": len(ids[2017]),
            "acos_2018": len(ids[2018]),
            "id_overlap": len(ids[2017] & ids[2018]),
            "matched_by_name": len(matched),
            "acos_2018_started_before_2018": int(older.sum()),
            "rate_correlation": float(np.corrcoef(matched.sav_rate_17, matched.sav_rate_18)[0, 1]),
            "median_size_ratio": float((matched.n_ab_18 / matched.n_ab_17).median()),
            "median_benchmark_ratio": float(
                (matched.updated_benchmark_pc_18 / matched.updated_benchmark_pc_17).median()
            ),
        }
    return link.rename("link_id"), report


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


# ============================================================================================
# The panel and the variance model
# ============================================================================================


@dataclass(frozen=True)
class Panel:
    """ACO × year arrays of 12-month results (NaN where an ACO has no 12-month row)."""

    keys: np.ndarray
    years: np.ndarray
    rate: np.ndarray
    n_ab: np.ndarray
    agreement: np.ndarray

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.rate)

    def take(self, rows) -> Panel:
        rows = np.asarray(rows)
        return replace(
            self,
            keys=self.keys[rows],
            rate=self.rate[rows],
            n_ab=self.n_ab[rows],
            agreement=self.agreement[rows],
        )

    def year_means(self) -> np.ndarray:
        """Unweighted mean rate of each year (the program mean m[t])."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(self.rate, axis=0)


def make_panel(results: pd.DataFrame, years: Sequence[int] | None = None) -> Panel:
    """Panel of ``link_id`` × performance year from :func:`load_results` rows.

    Six-month rows (the PY2019 January–June cohort) are left out: their rates cover half a year.
    """
    rows = results[results.months_in_py == 12]
    if years is None:
        years = sorted(rows.performance_year.unique())
    years = np.asarray(sorted(years), dtype=int)
    rows = rows[rows.performance_year.isin(years)]
    if rows.empty:
        raise CalibrationError(f"no 12-month results in PY{years.min()}–PY{years.max()}")
    rows = rows.drop_duplicates(["link_id", "performance_year"], keep="last")
    keys, row_of = np.unique(rows.link_id.astype(str).to_numpy(), return_inverse=True)
    col_of = np.searchsorted(years, rows.performance_year.to_numpy())

    def wide(column: str) -> np.ndarray:
        out = np.full((len(keys), len(years)), np.nan)
        out[row_of, col_of] = pd.to_numeric(rows[column], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        return out

    return Panel(
        keys=keys,
        years=years,
        rate=wide("sav_rate"),
        n_ab=wide("n_ab"),
        agreement=wide("agreement_start_year"),
    )


@dataclass(frozen=True)
class NoiseFit:
    """Fitted variance components (rates as fractions of benchmark)."""

    cv: float
    systemic_sd: float
    true_effect_sd: float
    persistence: float
    shock_multiplier: float
    agreement_sd: float
    years: tuple[int, ...]
    year_means: dict[int, float]
    shock_year: int | None
    n_acos: int
    n_obs: int
    loglik: float
    converged: bool

    def noise_sd(self, n_ab, shock: bool = False):
        """SD of the measured rate around the true effect (:func:`simulation.noise.noise_sd`)."""
        mult = self.shock_multiplier if shock else 1.0
        return noise.noise_sd(n_ab, self.cv, self.systemic_sd, mult)

    def total_sd(self, n_ab, shock: bool = False):
        """SD of the measured rate across ACOs of size ``n_ab`` in one year."""
        effect = self.true_effect_sd**2 + self.agreement_sd**2
        return np.sqrt(effect + np.asarray(self.noise_sd(n_ab, shock)) ** 2)

    def params(self) -> dict[str, float]:
        return {
            "cv": self.cv,
            "systemic_sd": self.systemic_sd,
            "true_effect_sd": self.true_effect_sd,
            "persistence": self.persistence,
            "shock_multiplier": self.shock_multiplier,
            "agreement_sd": self.agreement_sd,
        }


# Parameters are optimised in these units (so that all are of order one).
_PARAMS = ("cv", "systemic_sd", "true_effect_sd", "persistence", "shock_multiplier", "agreement_sd")
_SCALE = np.array([1.0, 100.0, 100.0, 1.0, 1.0, 100.0])
_BOUNDS = [(0.05, 12.0), (0.0, 10.0), (0.01, 30.0), (-0.95, 0.995), (0.1, 10.0), (0.0, 20.0)]
_START = np.array([2.0, 0.003, 0.03, 0.7, 1.0, 0.01])


class _Likelihood:
    """Gaussian negative log-likelihood of the panel and its gradient, batched over ACOs."""

    def __init__(
        self,
        panel: Panel,
        shock_year: int | None,
        agreement: bool,
        fixed: dict[str, float] | None = None,
    ) -> None:
        obs = panel.observed
        keep = obs.any(axis=1)
        self.obs = obs[keep]
        self.means = panel.year_means()
        self.resid = np.where(self.obs, panel.rate[keep] - self.means, 0.0)
        self.inv_n = np.where(self.obs, 1.0 / np.where(self.obs, panel.n_ab[keep], 1.0), 0.0)
        t = len(panel.years)
        self.lag = np.abs(np.subtract.outer(np.arange(t), np.arange(t))).astype(float)
        self.pair = self.obs[:, :, None] & self.obs[:, None, :]
        agr = panel.agreement[keep]
        same = (agr[:, :, None] == agr[:, None, :]) | np.eye(t, dtype=bool)
        self.same = (same & self.pair).astype(float)
        self.is_shock = (
            (panel.years == shock_year) if shock_year is not None else np.zeros(t, dtype=bool)
        )
        self.free = np.array([True, True, True, True, bool(self.is_shock.any()), agreement])
        self.base = np.array([_START[0], 0.0, 0.0, 0.0, 1.0, 0.0])
        for name, value in (fixed or {}).items():
            j = _PARAMS.index(name)
            self.free[j] = False
            self.base[j] = value
        self.idx = np.arange(t)
        self.n_obs = int(self.obs.sum())

    def cov(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cv, s, tau, rho, shock, tb = p
        k2 = np.where(self.is_shock, shock**2, 1.0)
        rho_lag = rho**self.lag
        sigma = self.pair * (tau**2 * rho_lag) + tb**2 * self.same
        size_var = cv**2 * self.inv_n + s**2
        sigma[:, self.idx, self.idx] += np.where(self.obs, k2 * size_var, 1.0)
        return sigma, size_var

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        p = self.full(x)
        cv, s, tau, rho, shock, tb = p
        sigma, size_var = self.cov(p)
        inv, logdet = _inverse_logdet(sigma)
        alpha = (inv @ self.resid[:, :, None])[:, :, 0]
        value = 0.5 * (logdet.sum() + (alpha * self.resid).sum())
        # d(value)/d(theta) = 0.5 * sum over ACOs of <inv - alpha alpha', d(sigma)/d(theta)>
        a_diag = (np.diagonal(inv, axis1=1, axis2=2) - alpha**2) * self.obs
        a_pair = (inv * self.pair).sum(axis=0) - np.einsum("ni,nj->ij", alpha, alpha)
        k2 = np.where(self.is_shock, shock**2, 1.0)
        d_rho = np.where(self.lag > 0, self.lag * rho ** np.maximum(self.lag - 1, 0), 0.0)
        same = (inv * self.same).sum() - np.einsum("ni,nij,nj->", alpha, self.same, alpha)
        grad = np.array(
            [
                (a_diag * k2 * 2 * cv * self.inv_n).sum(),
                (a_diag * k2 * 2 * s).sum(),
                (a_pair * (2 * tau * rho**self.lag)).sum(),
                (a_pair * (tau**2 * d_rho)).sum(),
                (a_diag * self.is_shock * 2 * shock * size_var).sum(),
                same * 2 * tb,
            ]
        )
        grad = 0.5 * grad[self.free] / _SCALE[self.free]
        return float(value), grad

    def full(self, x: np.ndarray) -> np.ndarray:
        p = self.base.copy()
        p[self.free] = np.asarray(x) / _SCALE[self.free]
        return p


def _inverse_logdet(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and log-determinants of a stack of small SPD matrices, via Cholesky.

    The triangular inverse is formed by forward substitution, one row at a time over the whole
    stack, which for matrices of a dozen rows is several times faster than ``np.linalg.inv``.
    """
    try:
        low = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        sign, logdet = np.linalg.slogdet(sigma)
        return np.linalg.pinv(sigma), np.where(sign > 0, logdet, np.inf)
    t = sigma.shape[-1]
    diag = np.diagonal(low, axis1=1, axis2=2)
    linv = np.zeros_like(low)
    for i in range(t):
        linv[:, i, i] = 1.0 / diag[:, i]
        if i:
            row = (low[:, i : i + 1, :i] @ linv[:, :i, :i])[:, 0, :]
            linv[:, i, :i] = -row / diag[:, i, None]
    inv = linv.transpose(0, 2, 1) @ linv
    return inv, 2.0 * np.log(diag).sum(axis=1)


def fit_noise_model(
    panel: Panel,
    shock_year: int | None = SHOCK_YEAR,
    agreement: bool = False,
    start: NoiseFit | None = None,
    fixed: dict[str, float] | None = None,
) -> NoiseFit:
    """Maximum-likelihood fit of the variance components on ``panel`` (see the module doc).

    ``agreement=True`` adds a component shared by the years of one agreement period (its
    benchmark); by default it is 0, as in :mod:`simulation.noise`. ``start`` warm-starts the
    optimiser (the bootstrap passes the full-sample fit). ``fixed`` holds parameters at given
    values (names as in :meth:`NoiseFit.params`), e.g. for a profile likelihood.
    """
    like = _Likelihood(panel, shock_year, agreement, fixed)
    if like.n_obs < 20:
        raise CalibrationError("too few ACO-years to fit the noise model (need at least 20)")
    bounds = [b for b, free in zip(_BOUNDS, like.free, strict=True) if free]
    starts = []
    if start is not None:
        starts.append(np.array([getattr(start, name) for name in _PARAMS]))
    else:
        for s0 in (0.002, 0.012):
            guess = _START.copy()
            guess[1] = s0
            starts.append(guess)
    best = None
    for guess in starts:
        guess = guess.copy()
        if agreement and guess[5] == 0:
            guess[5] = 0.01
        x0 = np.clip(guess * _SCALE, [b[0] for b in _BOUNDS], [b[1] for b in _BOUNDS])[like.free]
        res = optimize.minimize(
            like, x0, jac=True, method="SLSQP", bounds=bounds, options={"maxiter": 300}
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    p = like.full(best.x)
    const = 0.5 * like.n_obs * math.log(2 * math.pi)
    years = tuple(int(y) for y in panel.years)
    return NoiseFit(
        cv=float(p[0]),
        systemic_sd=float(p[1]),
        true_effect_sd=float(p[2]),
        persistence=float(p[3]),
        shock_multiplier=float(p[4]),
        agreement_sd=float(p[5]),
        years=years,
        year_means={y: float(m) for y, m in zip(years, like.means, strict=True)},
        shock_year=shock_year if like.is_shock.any() else None,
        n_acos=int(like.obs.any(axis=1).sum()),
        n_obs=like.n_obs,
        loglik=float(-best.fun - const),
        converged=bool(best.success),
    )


def bootstrap_noise_model(
    panel: Panel,
    fit: NoiseFit,
    reps: int,
    rng: np.random.Generator,
    agreement: bool = False,
    steps: int = 6,
) -> pd.DataFrame:
    """Cluster bootstrap: refit on ``reps`` samples of ACOs drawn with replacement.

    Each refit starts from the full-sample estimate and takes Newton steps with the
    full-sample Hessian (from differences of the analytic gradient), which converges in a few
    likelihood evaluations because a resample's optimum is close to the full sample's.
    Parameters that sit on a bound in the full fit (``systemic_sd`` = 0) stay there; their
    interval comes from :func:`profile_interval`. One row of parameters per resample.
    """
    names = [n for n in _PARAMS if n != "agreement_sd" or agreement]
    if fit.shock_year is None:
        names.remove("shock_multiplier")
    lower = dict(
        zip(_PARAMS, (b[0] / sc for b, sc in zip(_BOUNDS, _SCALE, strict=True)), strict=True)
    )
    upper = dict(
        zip(_PARAMS, (b[1] / sc for b, sc in zip(_BOUNDS, _SCALE, strict=True)), strict=True)
    )
    at_bound = {n: getattr(fit, n) for n in names if getattr(fit, n) <= lower[n] + 1e-9}
    fixed = {**at_bound}
    if not agreement:
        fixed["agreement_sd"] = 0.0
    like = _Likelihood(panel, fit.shock_year, agreement, fixed)
    free = [n for n, f in zip(_PARAMS, like.free, strict=True) if f]
    scale = np.array([_SCALE[_PARAMS.index(n)] for n in free])
    x0 = np.array([getattr(fit, n) for n in free]) * scale
    lo = np.array([lower[n] for n in free]) * scale
    hi = np.array([upper[n] for n in free]) * scale
    h = 1e-4 * np.maximum(1.0, np.abs(x0))
    hess = np.empty((len(x0), len(x0)))
    for j in range(len(x0)):
        step = np.zeros_like(x0)
        step[j] = h[j]
        hess[:, j] = (like(x0 + step)[1] - like(x0 - step)[1]) / (2 * h[j])
    hess_inv = np.linalg.inv((hess + hess.T) / 2)
    rows = []
    n = len(panel.keys)
    for _ in range(reps):
        sample = _Likelihood(panel.take(rng.integers(0, n, n)), fit.shock_year, agreement, fixed)
        x = x0.copy()
        for _step in range(steps):
            _value, grad = sample(x)
            move = hess_inv @ grad
            x = np.clip(x - move, lo, hi)
            if np.max(np.abs(move)) < 1e-3:
                break
        p = sample.full(x)
        rows.append(dict(zip(_PARAMS, p.tolist(), strict=True)))
    return pd.DataFrame(rows)


def simulate_panel(
    rng: np.random.Generator,
    n_acos: int,
    years: Sequence[int],
    cv: float,
    systemic_sd: float,
    true_effect_sd: float,
    persistence: float,
    true_effect_mean: float = 0.03,
    shock_multiplier: float = 1.0,
    shock_year: int | None = None,
    size_median: float = 12_000.0,
    size_spread: float = 0.8,
    dropout: float = 0.15,
    agreement_sd: float = 0.0,
    agreement_years: int = 3,
) -> pd.DataFrame:
    """Synthetic results in the shape of :func:`load_results` (for tests of the fit).

    Sizes are lognormal (median ``size_median``, log-SD ``size_spread``, at least 1,000) and
    drift a little from year to year; true effects follow the stationary AR(1) of the model;
    the measurement noise is drawn with :func:`simulation.noise.draw_rate_noise`. A share
    ``dropout`` of ACO-years is removed at random, as ACOs join and leave the program. With
    ``agreement_sd`` > 0 each ACO's years fall into agreement periods of ``agreement_years``
    (staggered across ACOs), each with its own effect ~ Normal(0, agreement_sd).
    """
    years = np.asarray(years, dtype=int)
    t = len(years)
    base = np.maximum(1_000.0, size_median * np.exp(size_spread * rng.standard_normal(n_acos)))
    sizes = np.round(base[:, None] * np.exp(0.05 * rng.standard_normal((n_acos, t))))
    effect = np.empty((n_acos, t))
    effect[:, 0] = true_effect_sd * rng.standard_normal(n_acos)
    innovation = true_effect_sd * math.sqrt(1 - persistence**2)
    for j in range(1, t):
        effect[:, j] = persistence * effect[:, j - 1] + innovation * rng.standard_normal(n_acos)
    phase = rng.integers(0, agreement_years, n_acos)
    period = (np.arange(t)[None, :] + phase[:, None]) // agreement_years
    start = years[0] - phase[:, None] + agreement_years * period
    if agreement_sd > 0:
        effect = (
            effect
            + agreement_sd
            * rng.standard_normal((n_acos, t + 1))[np.arange(n_acos)[:, None], period]
        )
    mult = np.where(years == shock_year, shock_multiplier, 1.0) if shock_year else 1.0
    rates = (
        true_effect_mean
        + effect
        + noise.draw_rate_noise(rng, sizes, (n_acos, t), cv, systemic_sd, mult)
    )
    keep = rng.random((n_acos, t)) >= dropout
    aco, col = np.nonzero(keep)
    return pd.DataFrame(
        {
            "link_id": [f"S{i:05d}" for i in aco],
            "aco_id": [f"S{i:05d}" for i in aco],
            "performance_year": years[col],
            "n_ab": sizes[aco, col].astype(np.int64),
            "sav_rate": rates[aco, col],
            "months_in_py": 12,
            "agreement_start_year": start[aco, col],
        }
    )


def profile_interval(
    panel: Panel,
    fit: NoiseFit,
    name: str,
    upper: float,
    agreement: bool = False,
    threshold: float = float(stats.chi2.ppf(0.90, 1)),
) -> tuple[float, float]:
    """90% profile-likelihood interval of one parameter (likelihood ratio ≤ ``threshold``).

    Used for ``systemic_sd``, whose estimate sits on its lower bound 0, where bootstrap
    percentiles collapse to a point. ``upper`` brackets the search.
    """
    best = getattr(fit, name)

    def excess(value: float) -> float:
        refit = fit_noise_model(
            panel, fit.shock_year, agreement=agreement, start=fit, fixed={name: value}
        )
        return 2.0 * (fit.loglik - refit.loglik) - threshold

    def bound(lo: float, hi: float) -> float:
        if excess(hi) < 0:
            return hi
        return float(optimize.brentq(excess, lo, hi, xtol=1e-5))

    low = 0.0 if best <= 1e-6 or excess(0.0) < 0 else bound(best, 0.0)
    return low, bound(best, upper)


# ============================================================================================
# Descriptive analyses
# ============================================================================================


def _year_demeaned(rows: pd.DataFrame) -> pd.Series:
    return rows.sav_rate - rows.groupby("performance_year").sav_rate.transform("mean")


def dispersion_table(results: pd.DataFrame) -> pd.DataFrame:
    """SD of savings rates by performance year and size band (12-month rows)."""
    rows = results[results.months_in_py == 12]
    table = rows.groupby(["performance_year", "band"], observed=False).sav_rate.agg(
        ["count", "mean", "std"]
    )
    return table.reset_index()


def band_decomposition(results: pd.DataFrame, fit: NoiseFit) -> pd.DataFrame:
    """Observed and modelled scatter by size band, in the fit window, shock year left out.

    ``observed_sd`` is the SD of rates around their year's mean; ``noise_sd`` the model's
    size-and-systemic noise at the band's ACOs' sizes (root mean square); ``effect_sd`` the
    persistent part that does not shrink with size; ``change_sd`` / ``model_change_sd`` the SD
    of an ACO's change from one year to the next, observed and modelled.
    """
    rows = results[
        (results.months_in_py == 12)
        & results.performance_year.between(min(fit.years), max(fit.years))
        & (results.performance_year != fit.shock_year)
    ].copy()
    rows["dev"] = _year_demeaned(rows)
    nxt = rows[["link_id", "performance_year", "dev", "n_ab", "agreement_start_year"]].copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["change"] = pairs.dev_next - pairs.dev
    persist = _persistence_same(fit)
    effect = fit.true_effect_sd**2 + fit.agreement_sd**2
    out = []
    for band, grp in rows.groupby("band", observed=True):
        noise_var = float(np.mean(fit.noise_sd(grp.n_ab) ** 2))
        pb = pairs[pairs.band == band]
        model_change = np.sqrt(
            2 * (1 - persist) * effect
            + fit.noise_sd(pb.n_ab) ** 2
            + fit.noise_sd(pb.n_ab_next) ** 2
        )
        out.append(
            {
                "band": band,
                "aco_years": len(grp),
                "median_n": float(grp.n_ab.median()),
                "observed_sd": float(grp.dev.std()),
                "noise_sd": math.sqrt(noise_var),
                "effect_sd": math.sqrt(effect),
                "model_sd": math.sqrt(noise_var + effect),
                "implied_effect_sd": math.sqrt(max(0.0, float(grp.dev.var()) - noise_var)),
                "pairs": len(pb),
                "change_sd": float(pb.change.std()) if len(pb) > 2 else float("nan"),
                "model_change_sd": float(np.sqrt(np.mean(model_change**2)))
                if len(pb)
                else float("nan"),
            }
        )
    return pd.DataFrame(out)


def size_curve(results: pd.DataFrame, fit: NoiseFit, bins: int = 10) -> pd.DataFrame:
    """SD of rates (around the year mean) in ``bins`` equal-count size bins of the fit window."""
    rows = results[
        (results.months_in_py == 12)
        & results.performance_year.between(min(fit.years), max(fit.years))
        & (results.performance_year != fit.shock_year)
    ].copy()
    rows["dev"] = _year_demeaned(rows)
    rows["bin"] = pd.qcut(rows.n_ab, bins, duplicates="drop")
    grouped = rows.groupby("bin", observed=True)
    out = grouped.agg(n=("n_ab", "size"), median_n=("n_ab", "median"), sd=("dev", "std"))
    out["se"] = out.sd / np.sqrt(2 * (out.n - 1))
    return out.reset_index(drop=True)


def _persistence_same(fit: NoiseFit) -> float:
    """Lag-1 correlation of the true effect within one agreement period."""
    ta, tb = fit.true_effect_sd**2, fit.agreement_sd**2
    return (fit.persistence * ta + tb) / (ta + tb)


def _persistence_rebased(fit: NoiseFit) -> float:
    """Lag-1 correlation of the true effect across a change of agreement period."""
    ta, tb = fit.true_effect_sd**2, fit.agreement_sd**2
    return fit.persistence * ta / (ta + tb)


def autocorrelation_table(results: pd.DataFrame, fit: NoiseFit, max_lag: int = 5) -> pd.DataFrame:
    """Correlation of an ACO's rate (around the year mean) with its rate k years later.

    Observed over all linked years (PY2013–PY2023, 12-month rows, shock year left out) and in
    the fit window, with the correlation the fitted model implies for the same pairs.
    """
    rows = results[results.months_in_py == 12].copy()
    rows["dev"] = _year_demeaned(rows)
    rows = rows[rows.performance_year != fit.shock_year]
    keep = ["link_id", "performance_year", "dev", "n_ab", "agreement_start_year"]
    out = []
    effect = fit.true_effect_sd**2 + fit.agreement_sd**2
    lo, hi = min(fit.years), max(fit.years)
    for lag in range(1, max_lag + 1):
        later = rows[keep].copy()
        later["performance_year"] -= lag
        pairs = rows[keep].merge(later, on=["link_id", "performance_year"], suffixes=("", "_k"))
        window = pairs[pairs.performance_year.between(lo, hi - lag)]
        same = (window.agreement_start_year == window.agreement_start_year_k).to_numpy()
        cov = fit.true_effect_sd**2 * fit.persistence**lag + fit.agreement_sd**2 * same
        var_a = effect + fit.noise_sd(window.n_ab) ** 2
        var_b = effect + fit.noise_sd(window.n_ab_k) ** 2
        model = float(np.mean(cov / np.sqrt(var_a * var_b))) if len(window) else float("nan")
        out.append(
            {
                "lag": lag,
                "pairs_all": len(pairs),
                "corr_all": _corr(pairs.dev, pairs.dev_k),
                "pairs_window": len(window),
                "corr_window": _corr(window.dev, window.dev_k),
                "corr_model": model,
            }
        )
    return pd.DataFrame(out)


def _corr(a: pd.Series, b: pd.Series) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 else float("nan")


def agreement_persistence(results: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """Observed lag-1 correlation for pairs within one agreement period and across a renewal."""
    rows = results[(results.months_in_py == 12) & results.performance_year.between(*years)].copy()
    rows["dev"] = _year_demeaned(rows)
    nxt = rows[["link_id", "performance_year", "dev", "agreement_start_year"]].copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["same"] = pairs.agreement_start_year == pairs.agreement_start_year_next
    out = []
    for same, grp in pairs.groupby("same"):
        out.append(
            {
                "within_agreement": bool(same),
                "pairs": len(grp),
                "corr": _corr(grp.dev, grp.dev_next),
            }
        )
    return pd.DataFrame(out)


def consecutive_pairs(results: pd.DataFrame, first_year: int) -> pd.DataFrame:
    """(rate in t, rate in t+1) of the same ACO, t ≥ ``first_year`` (12-month rows)."""
    rows = results[(results.months_in_py == 12) & (results.performance_year >= first_year)]
    rows = rows[["link_id", "performance_year", "sav_rate", "n_ab"]]
    nxt = rows.copy()
    nxt["performance_year"] -= 1
    return rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))


_TRACK_GROUPS = {
    "TRACK_1": "Track 1",
    "TRACK_1_PLUS": "Track 1+",
    "TRACK_2": "Track 2/3",
    "TRACK_3": "Track 2/3",
    "BASIC_A": "BASIC A–B",
    "BASIC_B": "BASIC A–B",
    "BASIC_C": "BASIC C–E",
    "BASIC_D": "BASIC C–E",
    "BASIC_E": "BASIC C–E",
    "ENHANCED": "ENHANCED",
}


def quality_table(results: pd.DataFrame) -> pd.DataFrame:
    """Quality score and share meeting the quality standard by year and track group.

    Rows with no score (pay-for-reporting ACOs in PY2014–PY2015) are left out of the score.
    """
    rows = results.assign(
        track_group=results.track.map(_TRACK_GROUPS),
        met=results.met_qps.astype("Float64"),
    )
    out = []
    for keys, grp in rows.groupby(["performance_year", "track_group"]):
        year, group = keys
        out.append(_quality_row(int(year), str(group), grp))
    for year, grp in rows.groupby("performance_year"):
        out.append(_quality_row(int(year), "all", grp))
    return pd.DataFrame(out).sort_values(["year", "track_group"]).reset_index(drop=True)


def quality_floors(results: pd.DataFrame, first_year: int) -> dict[int, tuple[float, int]]:
    """Lowest quality score of each year from ``first_year`` and how many ACOs have it."""
    out = {}
    for year, grp in results[results.performance_year >= first_year].groupby("performance_year"):
        scores = grp.qual_score.dropna()
        if len(scores):
            low = float(scores.min())
            out[int(year)] = (low, int((scores - low).abs().lt(1e-6).sum()))
    return out


def _quality_row(year: int, group: str, grp: pd.DataFrame) -> dict:
    met = grp.met.dropna()
    return {
        "year": year,
        "track_group": group,
        "acos": len(grp),
        "scored": int(grp.qual_score.notna().sum()),
        "quality_mean": float(grp.qual_score.mean()),
        "quality_sd": float(grp.qual_score.std()),
        "met_qps_share": float(met.mean()) if len(met) else float("nan"),
        "met_qps_n": len(met),
    }


def benchmark_growth(results: pd.DataFrame) -> pd.DataFrame:
    """Growth of the same ACO's per-capita updated benchmark from one year to the next.

    One row per ACO and pair of consecutive years (12-month rows with `UpdatedBnchmk`), with
    whether both years fall in one agreement period (an update by trend) or the benchmark
    was rebased for a new agreement.
    """
    cols = ["link_id", "performance_year", "updated_benchmark_pc", "agreement_start_year"]
    rows = results[(results.months_in_py == 12)][cols].dropna(subset=["updated_benchmark_pc"])
    nxt = rows.copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["to_year"] = pairs.performance_year + 1
    pairs["growth"] = pairs.updated_benchmark_pc_next / pairs.updated_benchmark_pc - 1
    pairs["same_agreement"] = pairs.agreement_start_year == pairs.agreement_start_year_next
    return pairs


def program_benchmark(results: pd.DataFrame) -> pd.DataFrame:
    """Person-year-weighted mean per-capita updated benchmark by year, and its growth."""
    rows = results[(results.months_in_py == 12)].dropna(
        subset=["updated_benchmark_pc", "person_years"]
    )
    weighted = rows.assign(w=rows.updated_benchmark_pc * rows.person_years)
    sums = weighted.groupby("performance_year")[["w", "person_years"]].sum()
    out = (sums.w / sums.person_years).rename("mean_benchmark_pc").to_frame()
    out["growth"] = out.mean_benchmark_pc.pct_change()
    return out.reset_index()


def shock_table(
    results: pd.DataFrame, fit: NoiseFit, rng: np.random.Generator, reps: int = 500
) -> dict:
    """Dispersion of PY2020 against its neighbours PY2019 and PY2021 (12-month rows).

    ``raw_ratio``: SD(2020) / mean(SD(2019), SD(2021)) over all ACOs of each year;
    ``balanced_ratio``: the same over ACOs present in all three years; ``noise_ratio``: the
    fitted multiplier of the noise SD (what :mod:`simulation.noise` applies). The intervals
    come from resampling ACOs.
    """
    year = fit.shock_year or SHOCK_YEAR
    rows = results[(results.months_in_py == 12)]
    by_year = {
        y: rows.loc[rows.performance_year == y, "sav_rate"].to_numpy()
        for y in (year - 1, year, year + 1)
    }
    if any(len(v) < 10 for v in by_year.values()):
        return {}
    wide = (
        rows[rows.performance_year.isin(by_year)]
        .pivot_table(index="link_id", columns="performance_year", values="sav_rate")
        .dropna()
    )
    bal = wide.to_numpy()

    def ratio(a, b, c) -> float:
        return float(np.std(b, ddof=1) / ((np.std(a, ddof=1) + np.std(c, ddof=1)) / 2))

    raw = ratio(by_year[year - 1], by_year[year], by_year[year + 1])
    balanced = ratio(bal[:, 0], bal[:, 1], bal[:, 2])
    raw_bs, bal_bs = [], []
    for _ in range(reps):
        raw_bs.append(
            ratio(
                *(
                    rng.choice(v, len(v))
                    for v in (by_year[year - 1], by_year[year], by_year[year + 1])
                )
            )
        )
        pick = bal[rng.integers(0, len(bal), len(bal))]
        bal_bs.append(ratio(pick[:, 0], pick[:, 1], pick[:, 2]))
    sds = {y: float(np.std(v, ddof=1)) for y, v in by_year.items()}
    return {
        "year": year,
        "sd": sds,
        "n": {y: len(v) for y, v in by_year.items()},
        "raw_ratio": raw,
        "raw_interval": tuple(np.quantile(raw_bs, [0.05, 0.95]).tolist()),
        "balanced_n": len(bal),
        "balanced_ratio": balanced,
        "balanced_interval": tuple(np.quantile(bal_bs, [0.05, 0.95]).tolist()),
    }


# ============================================================================================
# Two-level bootstrap for program-level means and SDs
# ============================================================================================


def _two_level(
    groups: list[np.ndarray],
    statistic: Callable[[list[np.ndarray]], float],
    rng: np.random.Generator,
    reps: int,
) -> tuple[float, float]:
    """5th and 95th percentiles of ``statistic`` when years, and ACOs within years, are drawn
    with replacement (the uncertainty of a program-level value for a coming year)."""
    values = []
    k = len(groups)
    for _ in range(reps):
        picked = [groups[j] for j in rng.integers(0, k, k)]
        values.append(statistic([g[rng.integers(0, len(g), len(g))] for g in picked]))
    low, high = np.quantile(values, [0.05, 0.95])
    return float(low), float(high)


def _mean_of_means(groups: list[np.ndarray]) -> float:
    return float(np.mean([g.mean() for g in groups]))


def _pooled_sd(groups: list[np.ndarray]) -> float:
    return float(np.std(np.concatenate(groups), ddof=1))


def _pooled_mean(groups: list[np.ndarray]) -> float:
    return float(np.concatenate(groups).mean())


def _robust_sd(groups: list[np.ndarray]) -> float:
    q1, q3 = np.quantile(np.concatenate(groups), [0.25, 0.75])
    return float((q3 - q1) / (2 * stats.norm.ppf(0.75)))


# ============================================================================================
# The defaults
# ============================================================================================


def _make_entry(value, low, high, unit: str, anchor: str, note: str, doc: str = DOC_PATH) -> dict:
    return {
        "value": round(float(value), 6),
        "low": round(float(low), 6),
        "high": round(float(high), 6),
        "unit": unit,
        "source": f"{doc}#{anchor}",
        "note": " ".join(note.split()),
    }


def _window(results: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    return results[results.performance_year.between(*years)]


def build_defaults(
    results: pd.DataFrame,
    fit: NoiseFit,
    boot: pd.DataFrame,
    systemic_interval: tuple[float, float],
    rng: np.random.Generator,
    reps: int,
    doc: str = DOC_PATH,
    disaster: dict[int, float] | None = None,
) -> dict[str, dict]:
    """Every key of noise_defaults.json as {value, low, high, unit, source, note}."""
    q = boot.quantile([0.05, 0.95])
    out: dict[str, dict] = {}
    win = windows(max(fit.years))
    mean_years, quality_years, trend_years = win["mean"], win["quality"], win["trend"]

    def _entry(value, low, high, unit, anchor, note):
        return _make_entry(value, low, high, unit, anchor, note, doc)

    fy = f"PY{min(fit.years)}–PY{max(fit.years)}"
    effect_sd = math.sqrt(fit.true_effect_sd**2 + fit.agreement_sd**2)
    boot_effect = np.sqrt(boot.true_effect_sd**2 + boot.agreement_sd**2)
    boot_persist = (boot.persistence * boot.true_effect_sd**2 + boot.agreement_sd**2) / (
        boot.true_effect_sd**2 + boot.agreement_sd**2
    )
    out["per_beneficiary_cv"] = _entry(
        fit.cv,
        q.loc[0.05, "cv"],
        q.loc[0.95, "cv"],
        "coefficient of variation per assigned beneficiary",
        "per-beneficiary-cv",
        f"Maximum-likelihood fit on the ACO × year panel {fy} (12-month rows); 90% interval "
        f"from {len(boot)} bootstrap resamples of ACOs. noise SD of the savings rate = cv / "
        f"sqrt(N) (N = assigned beneficiaries).",
    )
    out["systemic_sd"] = _entry(
        fit.systemic_sd,
        systemic_interval[0],
        systemic_interval[1],
        "fraction of benchmark",
        "systemic-sd",
        "Year-specific ACO noise that neither shrinks with size nor carries over to the next "
        "year; the fit puts it at its bound 0 (90% profile-likelihood interval). What does not "
        "shrink with size is the ACO's own drifting true effect (true_effect_sd, persistence). "
        f"A scenario that holds the true effect fixed for several years can use "
        f"sqrt(1 − persistence) × true_effect_sd = "
        f"{math.sqrt(max(0.0, 1 - _persistence_same(fit))) * effect_sd:.4f} here instead.",
    )
    # The Monte Carlo holds each trial's true effect fixed over the agreement, so the drift of
    # the true effect enters it as year-to-year noise that does not shrink with size.
    boot_yty = np.sqrt(np.maximum(0.0, 1 - boot_persist)) * boot_effect
    out["year_to_year_sd"] = _entry(
        math.sqrt(max(0.0, 1 - _persistence_same(fit))) * effect_sd,
        float(np.quantile(boot_yty, 0.05)),
        float(np.quantile(boot_yty, 0.95)),
        "fraction of benchmark",
        "systemic-sd",
        "Year-to-year movement of an ACO's true effect that does not shrink with size: "
        "sqrt(1 − persistence) × true_effect_sd. The scenario's 'ACO-wide variation' default, "
        "because the simulation holds each future's true effect fixed over the agreement; "
        f"90% interval from {len(boot)} bootstrap resamples of ACOs.",
    )
    # Program mean savings rate (the centre of the true-effect distribution).
    full = results[results.months_in_py == 12]
    first_year = int(full.performance_year.min())
    first_mean = float(full.loc[full.performance_year == first_year, "sav_rate"].mean())
    gain = continuing_gain(results)
    mean_rows = _window(full, mean_years)
    groups = [g.sav_rate.to_numpy() for _, g in mean_rows.groupby("performance_year")]
    low, high = _two_level(groups, _mean_of_means, rng, reps)
    out["true_effect_mean"] = _entry(
        _mean_of_means(groups),
        low,
        high,
        "fraction of benchmark",
        "true-effect",
        f"Mean savings rate of ACOs (unweighted) averaged over PY{mean_years[0]}–"
        f"PY{mean_years[1]} (year means "
        + ", ".join(f"{g.mean():.2%}" for g in groups)
        + f"); interval from resampling years and ACOs. The program mean rose from "
        f"{first_mean:.1%} in PY{first_year}; ACOs present in consecutive years gained "
        f"{gain * 100:.2f} points a year on average (years next to PY{SHOCK_YEAR} left out).",
    )
    out["true_effect_sd"] = _entry(
        effect_sd,
        np.quantile(boot_effect, 0.05),
        np.quantile(boot_effect, 0.95),
        "fraction of benchmark",
        "true-effect",
        f"SD across ACOs of the persistent true effect (savings rate net of measurement noise) "
        f"around the year's program mean, {fy}; includes the part tied to the agreement "
        f"period's benchmark (SD {fit.agreement_sd:.4f}) and the drifting part (SD "
        f"{fit.true_effect_sd:.4f}). One SD for all sizes; the spread the data imply by size "
        "band is "
        + ", ".join(
            f"{r.implied_effect_sd:.3f} ({r.band})"
            for r in band_decomposition(results, fit).itertuples()
        )
        + ".",
    )
    out["persistence"] = _entry(
        _persistence_same(fit),
        np.quantile(boot_persist, 0.05),
        np.quantile(boot_persist, 0.95),
        "correlation",
        "persistence",
        f"Year-to-year correlation of an ACO's true effect within one agreement period; across "
        f"a renewal (rebased benchmark) it is {_persistence_rebased(fit):.2f}. Lag-k "
        f"correlation of the drifting part: {fit.persistence:.2f}^k.",
    )
    # Benchmark growth.
    growth = benchmark_growth(results)
    normal = growth[
        growth.same_agreement
        & growth.to_year.between(*trend_years)
        & ~growth.performance_year.isin([SHOCK_YEAR - 1, SHOCK_YEAR])
    ]
    groups = [g.growth.to_numpy() for _, g in normal.groupby("to_year")]
    low, high = _two_level(groups, _pooled_mean, rng, reps)
    covid = growth[growth.same_agreement & growth.to_year.isin([SHOCK_YEAR, SHOCK_YEAR + 1])]
    covid_means = covid.groupby("to_year").growth.mean()
    out["trend_mean"] = _entry(
        _pooled_mean(groups),
        low,
        high,
        "annual growth, fraction",
        "benchmark-trend",
        f"Growth of the same ACO's per-capita updated benchmark (UpdatedBnchmk) from one year "
        f"to the next within one agreement period, pairs ending PY{trend_years[0]}–"
        f"PY{trend_years[1]} except those into and out of PY{SHOCK_YEAR} ("
        + ", ".join(f"PY{int(y)} {v:+.1%}" for y, v in covid_means.items())
        + "); interval from resampling years and ACOs.",
    )
    low, high = _two_level(groups, _robust_sd, rng, reps)
    out["trend_sd"] = _entry(
        _robust_sd(groups),
        low,
        high,
        "annual growth, fraction",
        "benchmark-trend",
        f"Robust SD (interquartile range / 1.349) of the same growth across ACO-years, year "
        f"effects included; the plain SD is {_pooled_sd(groups):.4f} (a few ACOs' benchmarks "
        f"jump by 20–50%).",
    )
    # Quality.
    qrows = _window(results, quality_years)
    groups = [g.qual_score.dropna().to_numpy() for _, g in qrows.groupby("performance_year")]
    low, high = _two_level(groups, _pooled_mean, rng, reps)
    out["quality_mean"] = _entry(
        _pooled_mean(groups),
        low,
        high,
        "quality score, 0–1",
        "quality",
        f"Mean quality score PY{quality_years[0]}–PY{quality_years[1]} (the APP/MIPS-based "
        "score); the lowest score each year ("
        + ", ".join(
            f"PY{int(y)} {g.qual_score.min():.2%}" for y, g in qrows.groupby("performance_year")
        )
        + ") is a floor many ACOs share.",
    )
    low, high = _two_level(groups, _pooled_sd, rng, reps)
    out["quality_sd"] = _entry(
        _pooled_sd(groups),
        low,
        high,
        "quality score, 0–1",
        "quality",
        f"SD of the quality score across ACOs, PY{quality_years[0]}–PY{quality_years[1]}.",
    )
    met = qrows.met_qps.dropna().astype(bool)
    k, n = int(met.sum()), len(met)
    low = float(stats.beta.ppf(0.05, k, n - k + 1)) if k > 0 else 0.0
    high = float(stats.beta.ppf(0.95, k + 1, n - k)) if k < n else 1.0
    out["qps_probability"] = _entry(
        k / n,
        low,
        high,
        "probability",
        "quality",
        f"{k} of {n} ACOs met the quality performance standard in PY{quality_years[0]}–"
        f"PY{quality_years[1]} (Clopper–Pearson interval). {_disaster_note(results, disaster)}",
    )
    out["shock_multiplier"] = _entry(
        fit.shock_multiplier,
        q.loc[0.05, "shock_multiplier"],
        q.loc[0.95, "shock_multiplier"],
        "multiplier of the noise SD",
        "shock-year",
        f"Fitted multiplier of the measurement-noise SD in PY{fit.shock_year} (COVID-19) "
        f"relative to the other years of {fy}; the SD of all rates rose much less (see the "
        "write-up), because the benchmark update absorbed most of the fall in spending. CMS "
        "had expected about 2.",
    )
    return out


def continuing_gain(results: pd.DataFrame) -> float:
    """Mean yearly change in savings rate of ACOs present in consecutive years (12-month rows),
    averaged over year pairs that do not touch the shock year."""
    pairs = consecutive_pairs(results, int(results.performance_year.min()))
    pairs = pairs[~pairs.performance_year.isin([SHOCK_YEAR - 1, SHOCK_YEAR])]
    by_year = (pairs.sav_rate_next - pairs.sav_rate).groupby(pairs.performance_year).mean()
    return float(by_year.mean())


def _disaster_note(results: pd.DataFrame, disaster: dict[int, float] | None) -> str:
    """Sentence on the extreme-and-uncontrollable-circumstances flag and the earlier QPS share."""
    flagged = sorted(y for y, share in (disaster or {}).items() if share >= 0.999)
    early = results[results.performance_year.between(2016, 2018)].met_qps.dropna().astype(bool)
    text = ""
    if flagged:
        text = (
            f"Every ACO was flagged as affected by an extreme and uncontrollable circumstance "
            f"(DisAffQual = 1) in PY{flagged[0]}–PY{flagged[-1]}, which protects the standard. "
        )
    if len(early):
        text += f"In PY2016–PY2018 {early.mean():.1%} of ACOs met it."
    return text


def disaster_flags(files: dict[int, str]) -> dict[int, float]:
    """Share of ACOs with DisAffQual = 1 in each file that has the column."""
    out: dict[int, float] = {}
    for year, path in files.items():
        try:
            flags = pd.read_csv(
                path, usecols=lambda c: str(c).strip().lower() == "disaffqual", dtype=str
            )
        except (ValueError, OSError, UnicodeDecodeError):
            continue
        if flags.shape[1] == 1 and len(flags):
            out[int(year)] = float(flags.iloc[:, 0].str.strip().eq("1").mean())
    return out


def write_defaults(path: Path, defaults: dict[str, dict], fit: NoiseFit, command: str) -> dict:
    """Write noise_defaults.json (keys of :data:`DEFAULT_KEYS` plus provenance)."""
    payload: dict = {key: defaults[key] for key in DEFAULT_KEYS}
    payload["fitted_on"] = f"PY{min(fit.years)}-PY{max(fit.years)}"
    payload["generated_by"] = command
    payload["generated_at"] = _dt.date.today().isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return payload


# ============================================================================================
# Simulated against observed distributions
# ============================================================================================


def simulate_observed(
    results: pd.DataFrame,
    defaults: dict[str, dict],
    rng: np.random.Generator,
    draws: int = 100,
    years: tuple[int, int] = MEAN_YEARS,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Savings rates simulated under the defaults for the observed ACOs, band by band.

    For every observed 12-month ACO-year of ``years`` the simulation draws ``draws`` rates:
    a true effect ~ Normal(true_effect_mean, true_effect_sd) plus
    :func:`simulation.noise.draw_rate_noise` at the ACO's size. Per band: two-sample
    Kolmogorov–Smirnov and Anderson–Darling statistics against the observed rates.
    """
    rows = _window(results[results.months_in_py == 12], years)
    cv = defaults["per_beneficiary_cv"]["value"]
    sys_sd = defaults["systemic_sd"]["value"]
    mean = defaults["true_effect_mean"]["value"]
    sd = defaults["true_effect_sd"]["value"]
    table, samples = [], {}
    for band, grp in rows.groupby("band", observed=True):
        n_ab = grp.n_ab.to_numpy(dtype=float)
        effect = rng.normal(mean, sd, (draws, len(n_ab)))
        sim = (effect + noise.draw_rate_noise(rng, n_ab, (draws, len(n_ab)), cv, sys_sd)).ravel()
        obs = grp.sav_rate.to_numpy()
        ks = stats.ks_2samp(obs, sim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ad = stats.anderson_ksamp([obs, sim])
        samples[str(band)] = (obs, sim)
        table.append(
            {
                "band": str(band),
                "observed": len(obs),
                "observed_mean": float(obs.mean()),
                "simulated_mean": float(sim.mean()),
                "observed_sd": float(obs.std(ddof=1)),
                "simulated_sd": float(sim.std(ddof=1)),
                "ks": float(ks.statistic),
                "ks_p": float(ks.pvalue),
                "ad": float(ad.statistic),
                "ad_p": float(ad.pvalue),
            }
        )
    return pd.DataFrame(table), samples


# ============================================================================================
# Figures
# ============================================================================================

_FONT = {"family": "Arial, Helvetica, sans-serif", "size": 15}
_BAND_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def _layout(fig, title: str, height: int = 560, width: int = 1200) -> None:
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 20}},
        font=_FONT,
        width=width,
        height=height,
        margin={"l": 90, "r": 30, "t": 100, "b": 150},
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -0.2,
            "x": 0.0,
            "font": {"size": 14},
        },
    )
    fig.update_annotations(font_size=16)


def figure_dispersion_by_size(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fit: NoiseFit = study["fit"]
    curve = study["size_curve"]
    change = study["change_curve"]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=(
            "Scatter of savings rates around the year mean",
            "Scatter of an ACO's change from one year to the next",
        ),
    )
    n = np.geomspace(3_000, 250_000, 120)
    effect = fit.true_effect_sd**2 + fit.agreement_sd**2
    persist = _persistence_same(fit)
    fig.add_trace(
        go.Scatter(
            x=curve.median_n,
            y=curve.sd,
            mode="markers",
            name="observed (size deciles, ±2 SE)",
            marker={"size": 10, "color": "#1f77b4"},
            error_y={"type": "data", "array": 2 * curve.se, "visible": True},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(x=n, y=fit.total_sd(n), name="model: total", line={"color": "#1f77b4"}),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=fit.noise_sd(n),
            name="model: noise cv/√N (shrinks with size)",
            line={"color": "#d62728", "dash": "dash"},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=np.full_like(n, math.sqrt(effect)),
            name="model: true effect (does not shrink)",
            line={"color": "#2ca02c", "dash": "dot"},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=change.median_n,
            y=change.sd,
            mode="markers",
            showlegend=False,
            marker={"size": 10, "color": "#1f77b4"},
            error_y={"type": "data", "array": 2 * change.se, "visible": True},
        ),
        1,
        2,
    )
    model_change = np.sqrt(2 * (1 - persist) * effect + 2 * np.asarray(fit.noise_sd(n)) ** 2)
    fig.add_trace(
        go.Scatter(x=n, y=model_change, showlegend=False, line={"color": "#1f77b4"}), 1, 2
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=math.sqrt(2) * np.asarray(fit.noise_sd(n)),
            showlegend=False,
            line={"color": "#d62728", "dash": "dash"},
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=np.full_like(n, math.sqrt(2 * (1 - persist) * effect)),
            showlegend=False,
            line={"color": "#2ca02c", "dash": "dot"},
        ),
        1,
        2,
    )
    for col in (1, 2):
        fig.update_xaxes(
            type="log",
            title_text="Assigned beneficiaries (log scale)",
            row=1,
            col=col,
            tickvals=[3000, 5000, 10000, 20000, 50000, 100000, 200000],
            ticktext=["3k", "5k", "10k", "20k", "50k", "100k", "200k"],
        )
        fig.update_yaxes(tickformat=".1%", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="SD of savings rate (% of benchmark)", row=1, col=1)
    fig.update_yaxes(title_text="SD of year-to-year change (points)", row=1, col=2)
    years = f"PY{min(fit.years)}–PY{max(fit.years)} except PY{fit.shock_year}"
    _layout(fig, f"Dispersion of MSSP savings rates by ACO size, {years}")
    return fig


def figure_dispersion_by_year(study: dict):
    import plotly.graph_objects as go

    table = study["dispersion"]
    fig = go.Figure()
    for colour, (band, grp) in zip(
        _BAND_COLOURS, table.groupby("band", observed=True), strict=False
    ):
        grp = grp[grp["count"] >= 8]
        fig.add_trace(
            go.Scatter(
                x=grp.performance_year,
                y=grp["std"],
                name=f"{band} beneficiaries",
                mode="lines+markers",
                line={"color": colour},
            )
        )
    overall = study["dispersion_all"]
    fig.add_trace(
        go.Scatter(
            x=overall.performance_year,
            y=overall["std"],
            name="all ACOs",
            mode="lines+markers",
            line={"color": "black", "width": 4},
        )
    )
    shock = study["fit"].shock_year or SHOCK_YEAR
    fig.add_vrect(
        x0=shock - 0.4,
        x1=shock + 0.4,
        fillcolor="grey",
        opacity=0.15,
        line_width=0,
        annotation_text="COVID-19",
        annotation_position="top left",
    )
    fig.update_xaxes(title_text="Performance year", dtick=1)
    fig.update_yaxes(
        title_text="SD of savings rate (% of benchmark)", tickformat=".1%", rangemode="tozero"
    )
    _layout(
        fig,
        "Dispersion of savings rates by performance year and size band (12-month ACOs)",
        width=1100,
    )
    return fig


def figure_persistence(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pairs = study["pairs"]
    auto = study["autocorrelation"]
    first, last = int(pairs.performance_year.min()), int(pairs.performance_year.max()) + 1
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.1,
        subplot_titles=(
            f"Same ACO, consecutive years (PY{first}–PY{last})",
            "Correlation with the rate k years later",
        ),
    )
    fig.add_trace(
        go.Scattergl(
            x=pairs.sav_rate,
            y=pairs.sav_rate_next,
            mode="markers",
            name="ACO-year pairs",
            marker={"size": 5, "opacity": 0.35, "color": "#1f77b4"},
        ),
        1,
        1,
    )
    lim = [-0.15, 0.2]
    fig.add_trace(
        go.Scatter(x=lim, y=lim, name="same as last year", line={"color": "grey", "dash": "dash"}),
        1,
        1,
    )
    slope, intercept = np.polyfit(pairs.sav_rate, pairs.sav_rate_next, 1)
    fig.add_trace(
        go.Scatter(
            x=lim,
            y=[intercept + slope * v for v in lim],
            name=f"least squares: slope {slope:.2f}",
            line={"color": "#d62728"},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Bar(
            x=auto.lag,
            y=auto.corr_all,
            name="observed, PY2013–PY2023 linked",
            marker_color="#9ecae1",
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Bar(x=auto.lag, y=auto.corr_window, name="observed, fit window", marker_color="#3182bd"),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            x=auto.lag,
            y=auto.corr_model,
            name="model (same pairs)",
            mode="lines+markers",
            line={"color": "#d62728"},
        ),
        1,
        2,
    )
    ticks = [-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2]
    fig.update_xaxes(
        title_text="Savings rate in year t",
        tickformat=".0%",
        tickvals=ticks,
        range=lim,
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text="Savings rate in year t+1",
        tickformat=".0%",
        tickvals=ticks,
        range=lim,
        row=1,
        col=1,
    )
    fig.update_xaxes(title_text="Lag k (years)", dtick=1, row=1, col=2)
    fig.update_yaxes(
        title_text="Correlation of rates around the year mean", range=[0, 1], row=1, col=2
    )
    _layout(fig, "Persistence: an ACO's savings rate next year given this year", height=600)
    return fig


def figure_quality(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = study["quality"]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("Mean quality score by track", "Share meeting the quality standard"),
    )
    groups = [g for g in table.track_group.unique() if g != "all"]
    colours = ("#1f77b4", "#aec7e8", "#ff7f0e", "#2ca02c", "#98df8a", "#d62728", "#9467bd")
    for colour, group in zip(colours, groups, strict=False):
        grp = table[(table.track_group == group) & (table.scored >= 5)]
        fig.add_trace(
            go.Scatter(
                x=grp.year,
                y=grp.quality_mean,
                name=group,
                mode="lines+markers",
                line={"color": colour},
            ),
            1,
            1,
        )
    overall = table[table.track_group == "all"]
    fig.add_trace(
        go.Scatter(
            x=overall.year,
            y=overall.quality_mean,
            name="all ACOs",
            mode="lines+markers",
            line={"color": "black", "width": 4},
        ),
        1,
        1,
    )
    met = overall.dropna(subset=["met_qps_share"])
    fig.add_trace(
        go.Bar(
            x=met.year,
            y=met.met_qps_share,
            name="met the standard (all ACOs)",
            marker_color="#3182bd",
            text=[f"{v:.1%}" for v in met.met_qps_share],
            textposition="outside",
        ),
        1,
        2,
    )
    fig.update_xaxes(title_text="Performance year", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="Performance year", dtick=1, row=1, col=2)
    fig.update_yaxes(
        title_text="Quality score (0–100%)", tickformat=".0%", range=[0.6, 1.02], row=1, col=1
    )
    fig.update_yaxes(title_text="Share of ACOs", tickformat=".0%", range=[0.9, 1.015], row=1, col=2)
    _layout(
        fig, "Quality scores and the quality performance standard (MSSP results files)", height=600
    )
    return fig


def figure_benchmark(study: dict):
    import plotly.graph_objects as go

    growth = study["growth"]
    program = study["program_benchmark"].dropna(subset=["growth"])
    same = growth[growth.same_agreement]
    by_year = same.groupby("to_year").growth
    stats_by_year = pd.DataFrame({q: by_year.quantile(q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)})
    fig = go.Figure()
    fig.add_trace(
        go.Box(
            x=stats_by_year.index,
            q1=stats_by_year[0.25],
            median=stats_by_year[0.5],
            q3=stats_by_year[0.75],
            lowerfence=stats_by_year[0.05],
            upperfence=stats_by_year[0.95],
            name="same ACO, same agreement: box = quartiles, whiskers = 5th–95th percentile",
            marker_color="#3182bd",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=program.performance_year,
            y=program.growth,
            name="program mean per-capita benchmark",
            mode="lines+markers",
            line={"color": "#d62728", "width": 3},
        )
    )
    fig.add_hline(y=0, line={"color": "grey", "width": 1})
    fig.update_xaxes(title_text="Performance year (growth from the year before)", dtick=1)
    fig.update_yaxes(title_text="Growth of per-capita updated benchmark", tickformat=".0%")
    _layout(fig, "Benchmark growth year to year (UpdatedBnchmk per capita)", width=1100)
    return fig


def figure_backtest(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bt = study["backtest"]
    table = bt.table[bt.table.naive.notna()]
    m = bt.metrics
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        horizontal_spacing=0.12,
        subplot_titles=(
            f"PY{bt.target_year} forecast vs actual ({len(table)} ACOs with a PY{bt.through} rate)",
            "Mean absolute error (percentage points)",
        ),
    )
    inside = table[table.covered]
    outside = table[~table.covered]
    for part, name, colour in (
        (inside, "actual inside the 90% interval", "#3182bd"),
        (outside, "actual outside the 90% interval", "#d62728"),
    ):
        fig.add_trace(
            go.Scattergl(
                x=part.forecast,
                y=part.actual,
                mode="markers",
                name=name,
                marker={"size": 6, "opacity": 0.6, "color": colour},
            ),
            1,
            1,
        )
    lim = [-0.1, 0.2]
    fig.add_trace(
        go.Scatter(x=lim, y=lim, name="forecast = actual", line={"color": "grey", "dash": "dash"}),
        1,
        1,
    )
    labels = [
        "model",
        "naive (same<br>as last year)",
        "model before<br>recalibration",
        "program<br>mean",
        "commercial<br>model",
    ]
    values = [m["mae_model"], m["mae_naive"], m["mae_uncalibrated"], m["mae_mean"], COMMERCIAL_MAE]
    colours = ["#3182bd", "#969696", "#9ecae1", "#d9d9d9", "#fdae6b"]
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[v * 100 for v in values],
            marker_color=colours,
            showlegend=False,
            text=[f"{v * 100:.2f}" for v in values],
            textposition="outside",
        ),
        1,
        2,
    )
    fig.update_xaxes(
        title_text=f"Forecast PY{bt.target_year} savings rate",
        tickformat=".0%",
        range=lim,
        row=1,
        col=1,
    )
    fig.update_yaxes(
        title_text=f"Actual PY{bt.target_year} savings rate",
        tickformat=".0%",
        range=lim,
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="MAE (points)", range=[0, max(values) * 100 * 1.2], row=1, col=2)
    fig.update_xaxes(tickfont={"size": 13}, tickangle=0, row=1, col=2)
    _layout(
        fig,
        f"Back-test: PY{bt.target_year} savings rates forecast from "
        f"PY{min(bt.fit.years)}–PY{bt.through} "
        f"(coverage of 90% intervals {m['coverage']:.0%})",
        height=620,
    )
    return fig


def figure_simulated(study: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = study["sim_table"].set_index("band")
    samples = study["sim_samples"]
    bands = list(samples)
    fig = make_subplots(
        rows=1,
        cols=len(bands),
        shared_yaxes=True,
        horizontal_spacing=0.025,
        subplot_titles=[
            f"{b}<br>n={table.loc[b, 'observed']}, KS={table.loc[b, 'ks']:.2f}" for b in bands
        ],
    )
    for j, band in enumerate(bands, start=1):
        obs, sim = samples[band]
        for values, name, colour, dash in (
            (np.sort(sim), "simulated (defaults + noise.py)", "#d62728", "dash"),
            (np.sort(obs), "observed", "#1f77b4", "solid"),
        ):
            if len(values) > 2000:
                values = np.quantile(values, np.linspace(0, 1, 2000))
            fig.add_trace(
                go.Scatter(
                    x=values,
                    y=np.linspace(0, 1, len(values)),
                    name=name,
                    showlegend=j == 1,
                    line={"color": colour, "dash": dash, "width": 2.5},
                ),
                1,
                j,
            )
        fig.update_xaxes(
            tickformat=".0%", range=[-0.13, 0.2], tickvals=[-0.1, 0.0, 0.1], row=1, col=j
        )
    fig.update_xaxes(title_text="Savings rate", row=1, col=(len(bands) + 1) // 2)
    fig.update_yaxes(title_text="Cumulative share of ACOs", tickformat=".0%", row=1, col=1)
    years = "PY{}–PY{}".format(*study["windows"]["mean"])
    _layout(
        fig,
        f"Simulated vs observed savings rates by size band (assigned beneficiaries), {years}",
        height=580,
        width=1400,
    )
    fig.update_layout(margin={"t": 130})
    return fig


FIGURES: dict[str, Callable[[dict], object]] = {
    "dispersion_by_size": figure_dispersion_by_size,
    "dispersion_by_year": figure_dispersion_by_year,
    "persistence": figure_persistence,
    "quality": figure_quality,
    "benchmark_growth": figure_benchmark,
    "backtest": figure_backtest,
    "simulated_vs_observed": figure_simulated,
}


def write_figures(study: dict, folder: Path) -> list[Path]:
    """Render every figure of :data:`FIGURES` to ``folder/<name>.png`` with one browser."""
    import kaleido

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    figures = [(name, make(study)) for name, make in FIGURES.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaleido.start_sync_server(silence_warnings=True)
        try:
            for name, fig in figures:
                path = folder / f"{name}.png"
                fig.write_image(path, width=fig.layout.width, height=fig.layout.height, scale=1)
                paths.append(path)
        finally:
            kaleido.stop_sync_server(silence_warnings=True)
    return paths


# ============================================================================================
# The write-up
# ============================================================================================


def _pct(value: float, digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value * 100:.{digits}f}%"


def _num(value: float, digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _bands(names: Iterable[str]) -> str:
    """'the 5k–10k band' / 'the 10k–20k and 50k+ bands' / 'no band'."""
    names = list(names)
    if not names:
        return "no band"
    if len(names) == 1:
        return f"the {names[0]} band"
    return f"the {', '.join(names[:-1])} and {names[-1]} bands"


def _sd_pairs(table: pd.DataFrame) -> str:
    return ", ".join(
        f"{r.band} ({_pct(r.simulated_sd, 1)} simulated, {_pct(r.observed_sd, 1)} observed)"
        for r in table.itertuples()
    )


def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    header = list(header)
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt_value(key: str, value: float) -> str:
    if key in ("per_beneficiary_cv", "persistence", "shock_multiplier"):
        return _num(value, 3 if key == "per_beneficiary_cv" else 2)
    if key in ("quality_mean", "quality_sd", "qps_probability"):
        return _pct(value, 1)
    return _pct(value, 2)


def render_markdown(study: dict) -> str:
    """The write-up, from the results of :func:`run_study` (a template filled in code)."""
    fit: NoiseFit = study["fit"]
    defaults = study["defaults"]
    mean_years, quality_years = study["windows"]["mean"], study["windows"]["quality"]
    bt = study["backtest"]
    m = bt.metrics
    link = study["linkage"]
    fy = f"PY{min(fit.years)}–PY{max(fit.years)}"
    effect_sd = defaults["true_effect_sd"]["value"]
    persist = defaults["persistence"]["value"]
    n10 = float(fit.noise_sd(10_000))
    change10 = math.sqrt(2 * (1 - persist) * effect_sd**2 + 2 * n10**2)
    decomposition = study["decomposition"].set_index("band")
    obs_change = (
        decomposition.loc["10k–20k", "change_sd"]
        if "10k–20k" in decomposition.index
        else float("nan")
    )
    parts: list[str] = []
    add = parts.append

    add("# Calibrating and back-testing the uncertainty model\n")
    add(
        "<!-- Generated by `acosim calibrate` (simulation/calibration.py). Do not edit by hand: "
        "change the template in code and run `make calibration`. -->\n"
    )
    add(
        f"This page is generated by `{study['command']}` from the CMS Medicare Shared Savings "
        f'Program "Performance Year Financial and Quality Results" files '
        f"PY{min(study['files'])}–PY{max(study['files'])} ({study['n_rows']:,} ACO-years). "
        "Every number and figure below is computed by `simulation/calibration.py` and "
        "`simulation/backtest.py`; the fitted defaults are written to "
        f"`{study['json_path']}`, which the Monte Carlo scenario reads. Rates are savings as a "
        'share of the benchmark ((benchmark − expenditure) / benchmark); "points" are '
        "percentage points of that rate.\n"
    )

    add('<a id="summary"></a>\n## Summary\n')
    add(
        f"*How do we know how much a 10,000-life ACO swings?* Fitted on the {fit.n_obs:,} "
        f"twelve-month ACO-years of {fy}, an ACO's measured savings rate scatters around its "
        f"true effect with a standard deviation of cv/√N = {fit.cv:.2f}/√10,000 = "
        f"**{_pct(n10)}** of benchmark (a 90% band of ±{_pct(Z90 * n10, 1)}), and its change "
        f"from one year to the next has a standard deviation of about **{_pct(change10, 1)}** "
        f"(observed for ACOs of 10k–20k: {_pct(obs_change, 1)}). Across ACOs, true effects "
        f"differ with a standard deviation of {_pct(effect_sd)} around a program mean of "
        f"{_pct(defaults['true_effect_mean']['value'])}; that part does not shrink like 1/√N "
        "(it is somewhat narrower for the largest ACOs, see [dispersion](#dispersion)).\n"
    )
    rows = []
    for key in DEFAULT_KEYS:
        d = defaults[key]
        anchor = d["source"].split("#", 1)[1]
        rows.append(
            [
                f"`{key}`",
                _fmt_value(key, d["value"]),
                f"{_fmt_value(key, d['low'])} – {_fmt_value(key, d['high'])}",
                d["unit"],
                f"[{anchor}](#{anchor})",
            ]
        )
    add(_md_table(["key", "value", "90% interval", "unit", "section"], rows, "lrrll") + "\n")
    add(
        f"Back-test: forecasting each ACO's PY{bt.target_year} savings rate from its own "
        f"history (fit on PY{min(bt.fit.years)}–PY{bt.through}), the model's mean absolute "
        f"error is **{m['mae_model'] * 100:.2f} points** against {m['mae_naive'] * 100:.2f} for "
        f'"same as last year" and {COMMERCIAL_MAE * 100:.2f} reported by a commercial model; '
        f"{m['coverage']:.0%} of actual rates fell inside the model's 90% intervals "
        f"([details](#backtest)).\n"
    )

    # ------------------------------------------------------------------ data
    add('<a id="data"></a>\n## Data and how ACOs link across years\n')
    counts = study["counts"]
    add(
        _md_table(
            ["year", "ACOs", "12-month rows", "median assigned", "mean rate", "SD of rate"],
            [
                [
                    f"PY{r.performance_year}",
                    r.acos,
                    r.full_year,
                    f"{r.median_n:,.0f}",
                    _pct(r.mean_rate),
                    _pct(r.sd_rate),
                ]
                for r in counts.itertuples()
            ],
        )
        + "\n"
    )
    bridge = link.get("bridge") or {}
    pairs = link["pairs"]
    early = [p for p in pairs if p["to"] <= 2017]
    late = [p for p in pairs if p["from"] >= 2018]
    add(
        "**Identifiers.** PY2013–PY2017 files identify ACOs by `ACO_Num` (e.g. A67373), PY2018 "
        "onward by `ACO_ID` (e.g. A1001). Within each scheme the id links years: "
        + "; ".join(
            f"{p['same_id']} of PY{p['from']}'s {p['acos_from']} ACOs reappear in PY{p['to']}"
            for p in early[:1] + late[-1:]
        )
        + f" (every pair: {', '.join(str(p['same_id']) for p in pairs)}). "
        "Between PY2017 and PY2018 "
        f"the two schemes share **{bridge.get('id_overlap', 0)}** ids: ACO_Num was not carried "
        "over. "
    )
    if bridge:
        add(
            f"Matching a normalised ACO name that is unique in both years links "
            f"{bridge['matched_by_name']} of PY2017's {bridge['acos_2017']} ACOs to PY2018 (of "
            f"the {bridge['acos_2018']} PY2018 ACOs, {bridge['acos_2018_started_before_2018']} had "
            f"started before 2018). The matches behave like true links: median size ratio "
            f"{bridge['median_size_ratio']:.2f}, median per-capita benchmark ratio "
            f"{bridge['median_benchmark_ratio']:.3f} (a normal year's trend) and a savings-rate "
            f"correlation of {bridge['rate_correlation']:.2f}, in line with other consecutive "
            "years. The linked panel is used for the long-lag persistence figures; the noise "
            f"defaults are fitted on {fy}, where ids link without the bridge.\n"
        )
    add(
        "**Rows left out.** The PY2019 file is a derived extract holding the twelve-month ACOs "
        "and the January–June 2019 cohort (totals for six months) but not the July–December "
        "cohort; six-month rows are excluded from every savings-rate statistic. No ACO is excluded as "
        "an outlier.\n"
    )

    # ------------------------------------------------------------------ dispersion
    add('<a id="dispersion"></a>\n## Dispersion by size and year\n')
    add(
        "![Dispersion by size](figures/calibration/dispersion_by_size.png)\n\n"
        "Left: the SD of savings rates around each year's program mean, in ten equal-count "
        "size bins, with the fitted model: a part that shrinks like 1/√N (measurement noise, "
        "red) and a part that does not (the spread of ACOs' true effects, green). Right: the "
        "same for an ACO's change from one year to the next, where the persistent level "
        "cancels and what remains is noise plus the drift of the true effect.\n"
    )
    add(
        _md_table(
            [
                "size band",
                "ACO-years",
                "median N",
                "observed SD",
                "model SD",
                "model noise",
                "implied persistent",
                "obs. SD of change",
                "model SD of change",
            ],
            [
                [
                    band,
                    int(r.aco_years),
                    f"{r.median_n:,.0f}",
                    _pct(r.observed_sd),
                    _pct(r.model_sd),
                    _pct(r.noise_sd),
                    _pct(r.implied_effect_sd),
                    _pct(r.change_sd),
                    _pct(r.model_change_sd),
                ]
                for band, r in decomposition.iterrows()
            ],
        )
        + "\n"
    )
    dec = decomposition[decomposition.aco_years >= 30]
    noisy = [b for b, r in dec.iterrows() if r.noise_sd > r.implied_effect_sd]
    quiet = [b for b, r in dec.iterrows() if r.noise_sd < 0.5 * r.implied_effect_sd]
    gap = dec.model_sd / dec.observed_sd - 1
    good = [b for b in dec.index if abs(gap[b]) <= 0.1]
    off = [f"{b} ({gap[b]:+.0%})" for b in dec.index if abs(gap[b]) > 0.1]
    add(
        f"In {fy} (PY{fit.shock_year} left out) the noise that shrinks with size is larger "
        f"than the persistent spread in {_bands(noisy)} and less than half of it in "
        f"{_bands(quiet)}. The column *implied persistent* is what the observed SD leaves "
        "after the model's noise, √(observed² − noise²): "
        + ", ".join(f"{_pct(r.implied_effect_sd, 1)} ({b})" for b, r in dec.iterrows())
        + ". The model's SD — one true-effect SD "
        f"({_pct(effect_sd)}) for all sizes plus the noise — is within 10% of the observed SD "
        f"in {_bands(good)}"
        + (f"; it is off in {', '.join(off)} (model against observed)" if off else "")
        + ". Large ACOs' true effects are less dispersed — an ACO of 50,000 averages over many "
        "practices — which `simulation/noise.py`, with one true-effect SD for all sizes, does "
        "not represent; see the simulated-vs-observed check.\n"
    )
    add("![Dispersion by year](figures/calibration/dispersion_by_year.png)\n")
    wide = study["dispersion"].pivot_table(
        index="performance_year", columns="band", values="std", observed=False
    )
    cnt = study["dispersion"].pivot_table(
        index="performance_year", columns="band", values="count", observed=False
    )
    overall = study["dispersion_all"].set_index("performance_year")
    early_sd = float(overall.loc[overall.index < 2018, "std"].mean())
    late_sd = float(overall.loc[overall.index >= 2018, "std"].mean())
    add(
        _md_table(
            ["year", *[str(c) for c in wide.columns], "all"],
            [
                [f"PY{y}"]
                + [
                    _pct(wide.loc[y, c], 1) + f" ({int(cnt.loc[y, c])})"
                    if cnt.loc[y, c] >= 8
                    else "–"
                    for c in wide.columns
                ]
                + [_pct(overall.loc[y, "std"], 1)]
                for y in wide.index
            ],
        )
        + "\n\nSD of the savings rate (number of ACOs), twelve-month rows; bands with fewer "
        f"than 8 ACOs are not shown. The SD of all rates averaged {_pct(early_sd, 1)} in "
        f"PY2013–PY2017 and {_pct(late_sd, 1)} since PY2018; see the sensitivity fits below.\n"
    )

    # ------------------------------------------------------------------ model
    add('<a id="noise-model"></a>\n## The noise model and its fit\n')
    add(
        "The simulator's noise model (`simulation/noise.py`, settlement-rules.md §8) adds to an "
        "ACO's true effect a size noise ~ Normal(0, cv/√N) and a systemic noise ~ Normal(0, "
        "systemic_sd), both multiplied in a shock year. To separate true effects from noise "
        "the study fits that model jointly with how true effects persist, on the ACO × year "
        "panel:\n\n"
        "```\n"
        "r[i,t] = m[t] + a[i,t] + b[i,agreement] + k[t] · (e_size + e_sys)\n"
        "a[i,·]  AR(1) across years: SD true_effect_sd (drifting part), correlation rho per year\n"
        "b       constant within one agreement period (its benchmark), SD agreement_sd\n"
        "e_size ~ Normal(0, cv/sqrt(N[i,t])),  e_sys ~ Normal(0, systemic_sd)\n"
        f"k[t] = shock_multiplier in PY{fit.shock_year}, else 1;  m[t] = mean rate of year t\n"
        "```\n\n"
        "The parameters are estimated by Gaussian maximum likelihood over each ACO's whole "
        "record (each ACO's rates are one multivariate normal draw). cv is identified by how "
        "the scatter falls with size, the true-effect terms by how an ACO's rates co-vary "
        "across years — more within an agreement period than across a renewal, which rebases "
        "the benchmark — and systemic_sd by what is left of each year's scatter that neither "
        "shrinks with size nor recurs. Intervals: 5th–95th percentiles of "
        f"{study['reps']} refits on ACOs resampled with replacement (a cluster bootstrap), "
        "and a profile-likelihood interval for systemic_sd, which sits on its bound.\n"
    )
    q = study["boot"].quantile([0.05, 0.95])
    est_rows = []
    labels = {
        "cv": "per-beneficiary cv",
        "systemic_sd": "systemic_sd",
        "true_effect_sd": "SD of drifting true effect",
        "persistence": "rho (drifting part, per year)",
        "agreement_sd": "SD of agreement-period effect",
        "shock_multiplier": f"noise multiplier PY{fit.shock_year}",
    }
    for name, label in labels.items():
        value = getattr(fit, name)
        if name == "systemic_sd":
            low, high = study["systemic_interval"]
        else:
            low, high = q.loc[0.05, name], q.loc[0.95, name]
        fmt = _pct if name in ("systemic_sd", "true_effect_sd", "agreement_sd") else _num
        est_rows.append([label, fmt(value), f"{fmt(low)} – {fmt(high)}"])
    add(_md_table(["parameter", "estimate", "90% interval"], est_rows) + "\n")
    add(
        '<a id="per-beneficiary-cv"></a>\n**Per-beneficiary cv.** '
        f"The fitted cv = {fit.cv:.2f} means a noise SD of {_pct(float(fit.noise_sd(5_000)))} at "
        f"5,000 beneficiaries, {_pct(n10)} at 10,000 and {_pct(float(fit.noise_sd(50_000)))} at "
        "50,000. "
        + (
            "The value CMS's minimum-savings-rate table implies, cv ≈ 2.15 (settlement-rules.md "
            "§8.2), lies inside the 90% interval"
            if q.loc[0.05, "cv"] <= 2.15 <= q.loc[0.95, "cv"]
            else "The value CMS's minimum-savings-rate table implies, cv ≈ 2.15 "
            "(settlement-rules.md §8.2), lies outside the 90% interval"
        )
        + "; DeLia et al.'s figures imply 2.0–2.2 (§8.3).\n"
    )
    add(
        '<a id="systemic-sd"></a>\n**Systemic noise.** '
        f"The fit puts systemic_sd at {_pct(fit.systemic_sd)} (90% profile interval "
        f"{_pct(study['systemic_interval'][0])} – {_pct(study['systemic_interval'][1])}). The "
        "scatter that does not shrink with size is real and large, but it is *persistent*: it "
        "belongs to the ACO and carries into the next year, so the model assigns it to the "
        "true effect, not to noise. CMS kept a 2% MSR floor for large ACOs because some "
        'variation "persists regardless of size" (settlement-rules.md §8.1); in these data '
        "that variation is the ACO's true effect drifting (innovation SD "
        f"{_pct(fit.true_effect_sd * math.sqrt(max(0.0, 1 - fit.persistence**2)))} a year), "
        "not independent yearly noise. A scenario that holds an ACO's true effect fixed over "
        "several years should add the drift as extra yearly noise: systemic SD ≈ "
        f"√(1 − persistence) × true_effect_sd = "
        f"{_pct(math.sqrt(max(0.0, 1 - persist)) * effect_sd)}.\n"
    )
    add(
        '<a id="true-effect"></a>\n**True effect.** '
        f"true_effect_sd = √(drifting² + agreement²) = {_pct(effect_sd)}: the SD across ACOs "
        "of the savings rate an ACO would show with no measurement noise. Its centre, "
        f"true_effect_mean = {_pct(defaults['true_effect_mean']['value'])}, is the program "
        f"mean of PY{mean_years[0]}–PY{mean_years[1]}; year means:"
        + "".join(f" PY{y} {_pct(v)};" for y, v in fit.year_means.items())
        + f" ACOs present in consecutive years gained {study['gain'] * 100:.2f} points a year on "
        f"average (years next to PY{SHOCK_YEAR} left out).\n"
    )
    add("**Sensitivity.** The same likelihood on other windows and structures:\n")
    sens_rows = []
    for label, s in study["sensitivity"]:
        sens_rows.append(
            [
                label,
                s.n_obs,
                _num(s.cv),
                _pct(s.systemic_sd),
                _pct(s.true_effect_sd),
                _num(s.persistence),
                _pct(s.agreement_sd),
                _num(s.shock_multiplier) if s.shock_year else "–",
                f"{s.loglik:,.1f}",
            ]
        )
    add(
        _md_table(
            [
                "fit",
                "ACO-years",
                "cv",
                "systemic",
                "drifting SD",
                "rho",
                "agreement SD",
                "shock",
                "log-lik",
            ],
            sens_rows,
        )
        + "\n"
    )
    no_agr = [s_ for label, s_ in study["sensitivity"] if "no agreement" in label]
    text = ""
    if no_agr:
        text = (
            f"The agreement-period term raises the log-likelihood by "
            f"{fit.loglik - no_agr[0].loglik:.1f} for one extra parameter and is kept; without "
            f"it cv is {_num(no_agr[0].cv)} and the shock multiplier "
            f"{_num(no_agr[0].shock_multiplier)}. "
        )
    era = [s_ for label, s_ in study["sensitivity"] if "ACO_Num" in label]
    if era:
        text += (
            f"Per-beneficiary noise was {era[0].cv / fit.cv:.1f} times as large in the ACO_Num "
            "era (PY2013–PY2017) as since PY2018; the defaults describe the current program, "
            f"so they are fitted on PY{FIT_YEARS[0]} onward. "
        )
    largest = max(s_.systemic_sd for _, s_ in study["sensitivity"])
    text += (
        "Systemic noise is at its bound 0 in every variant."
        if largest < 5e-5
        else f"Systemic noise is at most {_pct(largest)} in every variant."
    )
    add(text + "\n")

    # ------------------------------------------------------------------ persistence
    add('<a id="persistence"></a>\n## Persistence\n')
    add("![Persistence](figures/calibration/persistence.png)\n")
    auto = study["autocorrelation"]
    add(
        _md_table(
            [
                "lag (years)",
                "pairs, PY2013–PY2023",
                "correlation",
                f"pairs, {fy}",
                "correlation",
                "model",
            ],
            [
                [
                    int(r.lag),
                    int(r.pairs_all),
                    _num(r.corr_all),
                    int(r.pairs_window),
                    _num(r.corr_window),
                    _num(r.corr_model),
                ]
                for r in auto.itertuples()
            ],
        )
        + "\n"
    )
    agr = study["agreement_persistence"]
    agr_text = "; ".join(
        f"{'within one agreement' if r.within_agreement else 'across a renewal'}: "
        f"{_num(r.corr)} ({int(r.pairs)} pairs)"
        for r in agr.itertuples()
    )
    add(
        "Correlations are of rates around each year's mean (PY2020 left out). Observed rates "
        "correlate less than true effects because each year carries its own noise. The "
        f"lag-1 correlation of observed rates differs by agreement: {agr_text}. The model's "
        f"true effect has a year-to-year correlation of {_num(persist)} within one agreement "
        f"period and {_num(_persistence_rebased(fit))} across a renewal, and decays "
        f"geometrically (rho = {_num(fit.persistence)}) beyond that.\n"
    )

    # ------------------------------------------------------------------ quality
    add('<a id="quality"></a>\n## Quality scores and the quality standard\n')
    add("![Quality](figures/calibration/quality.png)\n")
    qt = study["quality"]
    overall = qt[qt.track_group == "all"]
    add(
        _md_table(
            ["year", "ACOs", "scored", "mean score", "SD", "met standard"],
            [
                [
                    f"PY{r.year}",
                    r.acos,
                    r.scored,
                    _pct(r.quality_mean, 1),
                    _pct(r.quality_sd, 1),
                    _pct(r.met_qps_share, 1) if r.met_qps_n else "not published",
                ]
                for r in overall.itertuples()
            ],
        )
        + "\n"
    )
    recent = qt[(qt.year >= quality_years[0]) & (qt.track_group != "all")]
    add(
        f"By track, PY{quality_years[0]}–PY{quality_years[1]}:\n\n"
        + _md_table(
            ["year", "track", "ACOs", "mean score", "SD", "met standard"],
            [
                [
                    f"PY{r.year}",
                    r.track_group,
                    r.acos,
                    _pct(r.quality_mean, 1),
                    _pct(r.quality_sd, 1),
                    _pct(r.met_qps_share, 1),
                ]
                for r in recent.itertuples()
            ],
            "llrrrr",
        )
        + "\n"
    )
    add(
        "The score's scale changed: PY2013 and the first year of PY2014–PY2015 ACOs were "
        "pay-for-reporting, PY2016–PY2020 used the MSSP measure set, PY2021 was a transition "
        "year, and from PY2022 the score is the APP/MIPS-based percentage. Since PY2019 many "
        "ACOs share the lowest score of their year (a floor): "
        + "; ".join(
            f"PY{y} {_pct(lo, 2)} ({n} ACOs)" for y, (lo, n) in study["quality_floors"].items()
        )
        + f". The quality defaults use PY{quality_years[0]}–PY{quality_years[1]} only. "
        + _disaster_note(study["results_qps"], study["disaster"])
        + " A scenario for a year without that policy should lower `qps_probability`.\n"
    )

    # ------------------------------------------------------------------ benchmark
    add('<a id="benchmark-trend"></a>\n## Benchmark growth\n')
    add("![Benchmark growth](figures/calibration/benchmark_growth.png)\n")
    bg = study["growth_table"]
    add(
        _md_table(
            [
                "year",
                "pairs (same agreement)",
                "mean growth",
                "median",
                "SD",
                "pairs rebased",
                "mean rebased",
                "program mean growth",
            ],
            [
                [
                    f"PY{int(r.to_year)}",
                    int(r.n_same),
                    _pct(r.mean_same, 1),
                    _pct(r.median_same, 1),
                    _pct(r.sd_same, 1),
                    int(r.n_rebased),
                    _pct(r.mean_rebased, 1) if r.n_rebased >= 5 else "–",
                    _pct(r.program_growth, 1),
                ]
                for r in bg.itertuples()
            ],
        )
        + "\n"
    )
    add(
        "Growth of the same ACO's per-capita updated benchmark from the year before; the "
        "program mean is weighted by person-years (it also moves as ACOs join and leave). "
        "PY2014 (from PY2013) is missing: PY2013 has no per-capita benchmark. PY2018 pairs "
        "use the name bridge. The COVID-19 years swing hard (PY2020 down, PY2021 back up), "
        "because the benchmark update followed actual national spending; they are excluded "
        "from `trend_mean` and `trend_sd`, which describe normal years, and are covered by the "
        "shock-year option instead.\n"
    )

    # ------------------------------------------------------------------ shock
    add('<a id="shock-year"></a>\n## The COVID-19 year as a shock year\n')
    sh = study["shock"]
    if sh:
        y = sh["year"]
        add(
            _md_table(
                ["measure", "value", "90% interval"],
                [
                    [
                        f"SD of rates PY{y - 1} / PY{y} / PY{y + 1}",
                        " / ".join(_pct(sh["sd"][k]) for k in (y - 1, y, y + 1)),
                        "",
                    ],
                    [
                        f"ACOs (12-month rows) PY{y - 1} / PY{y} / PY{y + 1}",
                        " / ".join(str(sh["n"][k]) for k in (y - 1, y, y + 1)),
                        "",
                    ],
                    [
                        f"SD ratio PY{y} / mean of neighbours, all ACOs",
                        _num(sh["raw_ratio"]),
                        " – ".join(_num(v) for v in sh["raw_interval"]),
                    ],
                    [
                        f"same, {sh['balanced_n']} ACOs present all three years",
                        _num(sh["balanced_ratio"]),
                        " – ".join(_num(v) for v in sh["balanced_interval"]),
                    ],
                    [
                        f"fitted noise multiplier PY{y} (model)",
                        _num(fit.shock_multiplier),
                        " – ".join(_num(q.loc[p, "shock_multiplier"]) for p in (0.05, 0.95)),
                    ],
                ],
                "lrr",
            )
            + "\n"
        )
        prog = study["program_benchmark"].set_index("performance_year").growth
        fell = prog.get(y, float("nan"))
        add(
            'CMS expected COVID-19 to "roughly double the standard deviation" of measured '
            f"savings (settlement-rules.md §8.5). The SD of all rates rose by a factor of "
            f"{_num(sh['raw_ratio'])} against the neighbouring years"
            + (", far from double" if sh["raw_interval"][1] < 1.6 else "")
            + f". The benchmark moved with spending: the program mean per-capita benchmark "
            f"changed by {fell:+.1%} in PY{y} (see [benchmark growth](#benchmark-trend)). "
            "In the model, the noise part — what `shock_multiplier` multiplies in "
            f"`simulation/noise.py` — grew by a factor of {_num(fit.shock_multiplier)} while the "
            "persistent spread of true effects stayed as it was, which is why the SD of all "
            "rates grew less. Use the multiplier for a COVID-type year with a benchmark that "
            "adjusts; a shock the benchmark does not absorb could be larger.\n"
        )

    # ------------------------------------------------------------------ backtest
    add('<a id="backtest"></a>\n## Back-test\n')
    add(
        f"`acosim backtest --through {bt.through}` fits the model on PY{min(bt.fit.years)}–"
        f"PY{bt.through} only and forecasts every PY{bt.target_year} ACO's savings rate:\n\n"
        "1. **Shrinkage.** The best linear predictor of the ACO's true effect in the target "
        "year from all its past rates, each weighted by its own noise (cv²/N of that year's "
        "size): a small ACO with one year is pulled most of the way to the program mean, a "
        "large ACO with a long record keeps most of its own level. Years of the same "
        "agreement period count more, as the benchmark is shared.\n"
        "2. **Level.** The program mean of the last year plus the average yearly gain of "
        "continuing ACOs (years into and out of PY2020 left out).\n"
        "3. **Recalibration.** The same procedure is run for each earlier year it can be run "
        "for (fits on PY2018 to the year before, at least three years, neither year the "
        "shock year); regressing what happened on what was forecast corrects the amount of "
        "shrinkage (slope) and scales the intervals. Only years up to the `--through` year "
        "are used.\n"
        "4. **Interval.** ±1.645 × the predictive SD: uncertainty of the true effect given the "
        "history, the noise at the ACO's last known size and the year-to-year movement of the "
        "program mean. ACOs with no history get the program mean and the full spread.\n"
    )
    bt_rows = []
    for res in study["backtests"]:
        mm = res.metrics
        bt_rows.append(
            [
                f"PY{min(res.fit.years)}–PY{res.through} → PY{res.target_year}",
                mm["n_compared"],
                f"{mm['mae_model'] * 100:.2f}",
                f"{mm['mae_naive'] * 100:.2f}",
                f"{mm['mae_uncalibrated'] * 100:.2f}",
                f"{mm['mae_mean'] * 100:.2f}",
                _pct(mm["coverage"], 1),
                f"{mm['n_target']} / {mm['mae_model_all'] * 100:.2f} / "
                f"{_pct(mm['coverage_all'], 1)}",
                f"{res.calibration['slope']:.2f}"
                + (
                    f" (PY{', PY'.join(map(str, res.calibration['years']))})"
                    if res.calibration["years"]
                    else " (none)"
                ),
            ]
        )
    add(
        _md_table(
            [
                "fit → forecast",
                "ACOs",
                "MAE model",
                "MAE naive",
                "MAE uncalibrated",
                "MAE program mean",
                "90% coverage",
                "all ACOs: n / MAE / coverage",
                "slope (years)",
            ],
            bt_rows,
            "lrrrrrrrl",
        )
        + "\n\nMAE in percentage points, over ACOs with a rate in the last fitted year (the "
        "naive forecast needs one); the last column includes new and returning ACOs.\n"
    )
    add("![Back-test](figures/calibration/backtest.png)\n")

    def versus(a: float, b: float) -> str:
        return f"{abs(a - b) * 100:.2f} {'below' if a < b else 'above'}"

    naive_by_year = study["naive_mae"]
    prior = {y: v for y, v in naive_by_year.items() if y < bt.target_year}
    stable = bool(prior) and naive_by_year.get(bt.target_year, 1.0) < min(prior.values())
    noise_median = float(fit.noise_sd(bt.table.n_ab.median()))
    text = (
        f"On PY{bt.target_year} the model's error is {m['mae_model'] * 100:.2f} points: "
        f"{versus(m['mae_model'], m['mae_naive'])} the naive forecast and "
        f"{versus(m['mae_model'], COMMERCIAL_MAE)} the {COMMERCIAL_MAE * 100:.2f} reported "
        "for a commercial model (whose inputs are not known; this model uses nothing but the "
        "ACO's own past rates, sizes and agreement periods). "
        f"Over {m['n_compared']} ACOs these figures carry sampling error: the standard error of "
        f"the model's MAE is {m['mae_model_se'] * 100:.2f} points and that of its gain over the "
        f"naive forecast {m['gain_over_naive_se'] * 100:.2f} points, so "
        + ("the gap to the commercial figure is within sampling error" if abs(m['mae_model'] - COMMERCIAL_MAE) < 2 * m['mae_model_se']
           else "the gap to the commercial figure is larger than sampling error")
        + " and "
        + ("the gain over the naive forecast is not significant for this year alone. "
           if (m['mae_naive'] - m['mae_model']) < 2 * m['gain_over_naive_se']
           else "the gain over the naive forecast is significant. ")
    )
    if stable:
        text += (
            f'PY{bt.target_year} was an unusually stable year: "same as last year" erred by '
            f"{naive_by_year[bt.target_year] * 100:.2f} points, against "
            + ", ".join(f"{v * 100:.2f} (PY{y})" for y, v in sorted(prior.items()))
            + " in earlier years, so beating it is harder than usual. "
        )
    text += (
        "Much of the remaining error is noise no history can predict: at the median "
        f"PY{bt.target_year} size the noise alone has an SD of {_pct(noise_median)}, a mean "
        f"absolute error of {noise_median * math.sqrt(2 / math.pi) * 100:.2f} points. "
        f"{m['coverage']:.0%} of actual rates fell inside the 90% intervals"
        + (" (close to nominal)." if 0.85 <= m["coverage"] <= 0.95 else ".")
    )
    add(text + "\n")
    add(
        "The same command checks a later year: `acosim backtest --through 2023 --actual "
        "PY2024.csv` fits on PY2018–PY2023 and scores the forecasts against the file given.\n"
    )

    # ------------------------------------------------------------------ simulation check
    add('<a id="simulated-vs-observed"></a>\n## Simulated against observed distributions\n')
    add(
        f"For every twelve-month ACO-year of PY{mean_years[0]}–PY{mean_years[1]} the check "
        f"draws {study['draws']} rates under the defaults — true effect ~ "
        f"Normal({_pct(defaults['true_effect_mean']['value'])}, "
        f"{_pct(effect_sd)}) plus `simulation.noise.draw_rate_noise` at the ACO's size — and "
        "compares them with the observed rates, band by band:\n"
    )
    st = study["sim_table"]
    add(
        _md_table(
            [
                "size band",
                "observed",
                "mean obs.",
                "mean sim.",
                "SD obs.",
                "SD sim.",
                "KS",
                "KS p",
                "AD",
                "AD p",
            ],
            [
                [
                    r.band,
                    r.observed,
                    _pct(r.observed_mean),
                    _pct(r.simulated_mean),
                    _pct(r.observed_sd),
                    _pct(r.simulated_sd),
                    _num(r.ks, 3),
                    _num(r.ks_p, 3) if r.ks_p >= 0.001 else "< 0.001",
                    _num(r.ad, 2),
                    _num(r.ad_p, 3),
                ]
                for r in st.itertuples()
            ],
        )
        + "\n\nKS: two-sample Kolmogorov–Smirnov statistic (largest gap between the two "
        "cumulative distributions); AD: k-sample Anderson–Darling (scipy; its p-value is "
        "capped to 0.001–0.25).\n"
    )
    add("![Simulated vs observed](figures/calibration/simulated_vs_observed.png)\n")
    close = st[(st.simulated_sd / st.observed_sd - 1).abs() <= 0.1]
    wide = st[st.simulated_sd / st.observed_sd - 1 > 0.1]
    narrow = st[st.simulated_sd / st.observed_sd - 1 < -0.1]
    text = f"The simulated SD is within 10% of the observed one in {_bands(close.band)}"
    if len(wide):
        text += f"; it is too wide in {_sd_pairs(wide)}"
    if len(narrow):
        text += f"; too narrow in {_sd_pairs(narrow)}"
    shifted = st[(st.simulated_mean - st.observed_mean).abs() > 0.003]
    text += (
        ". The simulation uses one true-effect SD and one program mean for every size"
        + (
            "; observed means differ by band ("
            + ", ".join(f"{r.band} {_pct(r.observed_mean, 1)}" for r in shifted.itertuples())
            + f" against {_pct(defaults['true_effect_mean']['value'], 1)})"
            if len(shifted)
            else ""
        )
        + ". Where the simulated spread is too wide it is for large ACOs, whose true effects "
        "are less dispersed (see [dispersion](#dispersion)): a scenario about a large ACO "
        "may scale `true_effect_sd` down with size.\n"
    )
    add(text)

    # ------------------------------------------------------------------ reproduce
    add('<a id="reproduce"></a>\n## Reproducing\n')
    add(
        "```\n"
        "make calibration            # = acosim calibrate --data ../shared/data\n"
        "acosim backtest --through 2022\n"
        "acosim backtest --through 2023 --actual PATH/TO/PY2024.csv\n"
        "```\n\n"
        f"The run is deterministic (seed {study['seed']}); it reads the CMS files from the folder "
        "given and never copies them. The JSON keeps `generated_by` and `generated_at`.\n"
    )
    add('<a id="limitations"></a>\n## Limitations\n')
    add(
        "- The split between noise and persistent effect rests on the model's structure "
        "(AR(1) drift, an agreement-period term, independent yearly noise). Richer "
        "structures fit the data about as well with different splits — for example noise "
        "that partly persists within an agreement (the benchmark's own sampling noise), "
        "which raises cv, or a true-effect spread that is wider for small ACOs, which lowers "
        "it. The defaults take the structure of `simulation/noise.py`.\n"
        "- Year effects are common to all ACOs and estimated as plain means; the "
        "program-wide shift of a coming year is not a key of the JSON (it is in the "
        "back-test's interval).\n"
        "- Savings rates have heavier tails than a normal in some years (PY2013 especially); "
        "the Gaussian fit is not robust to them.\n"
        "- PY2019 lacks the July–December cohort, and the PY2017→PY2018 link rests on names.\n"
    )
    return "\n".join(parts)


# ============================================================================================
# The whole study
# ============================================================================================

SEED = 20_250_601


def _counts(results: pd.DataFrame) -> pd.DataFrame:
    full = results[results.months_in_py == 12]
    out = results.groupby("performance_year").agg(
        acos=("aco_id", "size"), median_n=("n_ab", "median")
    )
    agg = full.groupby("performance_year").agg(
        full_year=("aco_id", "size"), mean_rate=("sav_rate", "mean"), sd_rate=("sav_rate", "std")
    )
    return out.join(agg).reset_index()


def _change_curve(results: pd.DataFrame, fit: NoiseFit, bins: int = 10) -> pd.DataFrame:
    rows = results[
        (results.months_in_py == 12)
        & results.performance_year.between(min(fit.years), max(fit.years))
    ].copy()
    rows["dev"] = _year_demeaned(rows)
    rows = rows[rows.performance_year != fit.shock_year]
    nxt = rows[["link_id", "performance_year", "dev", "n_ab"]].copy()
    nxt["performance_year"] -= 1
    pairs = rows.merge(nxt, on=["link_id", "performance_year"], suffixes=("", "_next"))
    pairs["change"] = pairs.dev_next - pairs.dev
    pairs["size"] = np.sqrt(pairs.n_ab * pairs.n_ab_next)
    pairs["bin"] = pd.qcut(pairs["size"], bins, duplicates="drop")
    out = pairs.groupby("bin", observed=True).agg(
        n=("size", "size"), median_n=("size", "median"), sd=("change", "std")
    )
    out["se"] = out.sd / np.sqrt(2 * (out.n - 1))
    return out.reset_index(drop=True)


def _growth_table(growth: pd.DataFrame, program: pd.DataFrame) -> pd.DataFrame:
    out = []
    prog = program.set_index("performance_year").growth
    for year, grp in growth.groupby("to_year"):
        same = grp[grp.same_agreement].growth
        reb = grp[~grp.same_agreement].growth
        out.append(
            {
                "to_year": int(year),
                "n_same": len(same),
                "mean_same": float(same.mean()) if len(same) else float("nan"),
                "median_same": float(same.median()) if len(same) else float("nan"),
                "sd_same": float(same.std()) if len(same) > 1 else float("nan"),
                "n_rebased": len(reb),
                "mean_rebased": float(reb.mean()) if len(reb) else float("nan"),
                "program_growth": float(prog.get(year, float("nan"))),
            }
        )
    return pd.DataFrame(out)


def run_study(
    data_dir: str | Path,
    reps: int = 200,
    seed: int = SEED,
    command: str = "acosim calibrate",
    json_path: str = JSON_PATH,
    doc_path: str = DOC_PATH,
    draws: int = 100,
    quick: bool = False,
) -> dict:
    """Every analysis of the write-up, in one dictionary (no files written).

    ``quick=True`` skips the refits on other windows and the earlier back-tests and uses
    fewer resamples everywhere (for tests; the numbers are then rougher).
    """
    from .backtest import run_backtest

    rng = np.random.default_rng(seed)
    results = load_results(data_dir)
    years = sorted(results.performance_year.unique())
    if max(years) < FIT_YEARS[0] + 2:
        raise CalibrationError(
            f"--data: need results files from PY{FIT_YEARS[0]} to at least PY{FIT_YEARS[0] + 2}"
        )
    win = windows(max(years))
    fit_years = [y for y in years if win["fit"][0] <= y <= win["fit"][1]]
    panel = make_panel(results, fit_years)
    fit = fit_noise_model(panel, agreement=True)
    boot = bootstrap_noise_model(panel, fit, reps, rng, agreement=True)
    systemic_interval = profile_interval(panel, fit, "systemic_sd", 0.03, agreement=True)
    variants = [(f"main: PY{min(fit.years)}–PY{max(fit.years)}, agreement term", fit)]
    if not quick:
        variants.append(
            (
                f"PY{min(fit.years)}–PY{max(fit.years)}, no agreement term",
                fit_noise_model(panel, agreement=False),
            )
        )
    early = [y for y in years if y < FIT_YEARS[0]]
    if not quick and len(early) >= 3:
        variants.append(
            (
                f"PY{min(early)}–PY{max(early)} (ACO_Num era)",
                fit_noise_model(make_panel(results, early), agreement=True),
            )
        )
        variants.append(
            (
                f"PY{min(years)}–PY{max(years)} linked",
                fit_noise_model(make_panel(results, years), agreement=True),
            )
        )
    disaster = disaster_flags(results.attrs["files"])
    defaults = build_defaults(
        results,
        fit,
        boot,
        systemic_interval,
        rng,
        reps=100 if quick else 400,
        doc=doc_path,
        disaster=disaster,
    )
    backtests = []
    first_through = max(years) - 1 if quick else FIT_YEARS[0] + 3
    for through in range(first_through, max(years)):
        if through + 1 in years and through != SHOCK_YEAR:
            backtests.append(run_backtest(data_dir, through, results=results, agreement=True))
    if not backtests:
        raise CalibrationError("--data: too few years for a back-test")
    sim_table, sim_samples = simulate_observed(
        results, defaults, rng, draws=10 if quick else draws, years=win["mean"]
    )
    pairs = consecutive_pairs(results, min(fit.years))
    naive_mae = {
        int(y) + 1: float((g.sav_rate_next - g.sav_rate).abs().mean())
        for y, g in pairs.groupby("performance_year")
    }
    growth = benchmark_growth(results)
    program = program_benchmark(results)
    dispersion = dispersion_table(results)
    full = results[results.months_in_py == 12]
    return {
        "command": command,
        "windows": win,
        "gain": continuing_gain(results),
        "quality_floors": quality_floors(results, 2019),
        "disaster": disaster,
        "results_qps": results[["performance_year", "met_qps"]],
        "naive_mae": naive_mae,
        "json_path": json_path,
        "seed": seed,
        "reps": reps,
        "draws": draws,
        "files": results.attrs["files"],
        "n_rows": len(results),
        "linkage": results.attrs["linkage"],
        "counts": _counts(results),
        "fit": fit,
        "boot": boot,
        "systemic_interval": systemic_interval,
        "sensitivity": variants,
        "defaults": defaults,
        "decomposition": band_decomposition(results, fit),
        "size_curve": size_curve(results, fit),
        "change_curve": _change_curve(results, fit),
        "dispersion": dispersion,
        "dispersion_all": full.groupby("performance_year")
        .sav_rate.agg(["count", "std"])
        .reset_index(),
        "autocorrelation": autocorrelation_table(results, fit),
        "agreement_persistence": agreement_persistence(results, (min(fit.years), max(fit.years))),
        "pairs": pairs,
        "quality": quality_table(results),
        "growth": growth,
        "program_benchmark": program,
        "growth_table": _growth_table(growth, program),
        "shock": shock_table(results, fit, rng, reps=50 if quick else 300),
        "backtest": backtests[-1],
        "backtests": backtests,
        "sim_table": sim_table,
        "sim_samples": sim_samples,
    }


def calibrate(
    data_dir: str | Path,
    out: str | Path = JSON_PATH,
    doc: str | Path = DOC_PATH,
    reps: int = 200,
    seed: int = SEED,
    command: str = "acosim calibrate",
    figures: bool = True,
    quick: bool = False,
) -> dict:
    """Run the study and write the JSON defaults, the figures (beside ``doc``) and the write-up.

    Returns the study dictionary, with ``payload`` (the JSON written) and ``paths``.
    """
    out, doc = Path(out), Path(doc)
    study = run_study(
        data_dir,
        reps=reps,
        seed=seed,
        command=command,
        json_path=_posix(out),
        doc_path=_posix(doc),
        quick=quick,
    )
    payload = write_defaults(out, study["defaults"], study["fit"], command)
    paths = [out]
    if figures:
        paths += write_figures(study, doc.parent / "figures" / "calibration")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render_markdown(study), encoding="utf-8")
    paths.append(doc)
    study["payload"] = payload
    study["paths"] = paths
    return study


def _posix(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
