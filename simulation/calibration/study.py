"""The whole study: every step run in order, each with its own random stream, and the files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .backtest import run_backtest
from .base import DOC_PATH, FIT_YEARS, JSON_PATH, SHOCK_YEAR, CalibrationError, windows
from .defaults import (
    build_defaults,
    continuing_gain,
    disaster_flags,
    simulate_observed,
    write_defaults,
)
from .descriptive import (
    _year_demeaned,
    agreement_persistence,
    autocorrelation_table,
    band_decomposition,
    benchmark_growth,
    consecutive_pairs,
    dispersion_table,
    program_benchmark,
    quality_floors,
    quality_table,
    shock_table,
    size_curve,
)
from .figures import write_figures
from .findings import findings
from .fit import NoiseFit, bootstrap_noise_model, fit_noise_model, make_panel, profile_interval
from .loading import load_results
from .writeup import render_markdown

# ============================================================================================
# The whole study
# ============================================================================================

SEED = 20_250_601

#: The steps that draw random numbers, in the order their ``SeedSequence`` children are spawned.
#: Each step draws from its own child of ``SeedSequence(seed)``, so a change to how many
#: numbers one step draws (more resamples, another draw count) leaves the others' draws alone.
RANDOM_STEPS: tuple[str, ...] = ("bootstrap", "defaults", "simulated", "shock")


def step_streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per step of :data:`RANDOM_STEPS`, each from its own child of ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(RANDOM_STEPS))
    return {step: np.random.default_rng(child) for step, child in zip(RANDOM_STEPS, children, strict=True)}


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
                "to_year": int(year),  # type: ignore[arg-type]
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
    rng = step_streams(seed)
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
    boot = bootstrap_noise_model(panel, fit, reps, rng["bootstrap"], agreement=True)
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
        rng["defaults"],
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
        results, defaults, rng["simulated"], draws=10 if quick else draws, years=win["mean"]
    )
    pairs = consecutive_pairs(results, min(fit.years))
    naive_mae = {
        int(y) + 1: float((g.sav_rate_next - g.sav_rate).abs().mean())  # type: ignore[arg-type]
        for y, g in pairs.groupby("performance_year")
    }
    growth = benchmark_growth(results)
    program = program_benchmark(results)
    dispersion = dispersion_table(results)
    full = results[results.months_in_py == 12]
    study = {
        "command": command,
        "windows": win,
        "gain": continuing_gain(results),
        "quality_floors": quality_floors(results, 2019),
        "disaster": disaster,
        "results_qps": results[["performance_year", "met_qps"]],
        "naive_mae": naive_mae,
        "json_path": json_path,
        "seed": seed,
        "random_steps": RANDOM_STEPS,
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
        "shock": shock_table(results, fit, rng["shock"], reps=50 if quick else 300),
        "backtest": backtests[-1],
        "backtests": backtests,
        "sim_table": sim_table,
        "sim_samples": sim_samples,
    }
    study["findings"] = findings(study)
    return study


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
