"""The ACO × year panel and the variance model: maximum-likelihood fit, bootstrap, profile interval, simulation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..model import noise
from .base import SHOCK_YEAR, CalibrationError

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
        """SD of the measured rate around the true effect (:func:`simulation.model.noise.noise_sd`)."""
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
    benchmark); by default it is 0, as in :mod:`simulation.model.noise`. ``start`` warm-starts the
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
    the measurement noise is drawn with :func:`simulation.model.noise.draw_rate_noise`. A share
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


