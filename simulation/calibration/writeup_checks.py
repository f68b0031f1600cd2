"""The write-up's later sections: quality, benchmark growth, the shock year, the back-test,
the simulated-against-observed check and how to reproduce the page (prose only)."""


from __future__ import annotations

from .base import COMMERCIAL_MAE
from .defaults import _disaster_note
from .writeup_format import _bands, _common, _md_table, _num, _pct, _sd_pairs, _versus


def section_quality(study: dict) -> list[str]:
    """Quality scores and the quality standard."""
    quality_years = study["windows"]["quality"]
    parts: list[str] = []
    add = parts.append
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

    return parts


def section_benchmark(study: dict) -> list[str]:
    """Benchmark growth."""
    parts: list[str] = []
    add = parts.append
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

    return parts


def section_shock(study: dict) -> list[str]:
    """The COVID-19 year as a shock year."""
    fit, _defaults, f, _bt, _fy, _effect_sd, _persist = _common(study)
    parts: list[str] = []
    add = parts.append
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
                        " – ".join(_num(v) for v in f["model"]["interval"]["shock_multiplier"]),
                    ],
                ],
                "lrr",
            )
            + "\n"
        )
        fell = f["shock_benchmark_change"]
        add(
            'CMS expected COVID-19 to "roughly double the standard deviation" of measured '
            f"savings (settlement-rules.md §8.5). The SD of all rates rose by a factor of "
            f"{_num(sh['raw_ratio'])} against the neighbouring years"
            + (", far from double" if sh["raw_interval"][1] < 1.6 else "")
            + f". The benchmark moved with spending: the program mean per-capita benchmark "
            f"changed by {fell:+.1%} in PY{y} (see [benchmark growth](#benchmark-trend)). "
            "In the model, the noise part — what `shock_multiplier` multiplies in "
            f"`simulation/model/noise.py` — grew by a factor of {_num(fit.shock_multiplier)} while the "
            "persistent spread of true effects stayed as it was, which is why the SD of all "
            "rates grew less. Use the multiplier for a COVID-type year with a benchmark that "
            "adjusts; a shock the benchmark does not absorb could be larger.\n"
        )

    return parts


def section_backtest(study: dict) -> list[str]:
    """The back-test and what its errors mean."""
    _fit, _defaults, f, bt, _fy, _effect_sd, _persist = _common(study)
    m = bt.metrics
    parts: list[str] = []
    add = parts.append
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

    b = f["backtest"]
    naive_by_year, prior, stable = study["naive_mae"], b["naive_prior_years"], b["stable_year"]
    noise_median = b["noise_sd_median_size"]
    text = (
        f"On PY{bt.target_year} the model's error is {m['mae_model'] * 100:.2f} points: "
        f"{_versus(b['model_minus_naive'])} the naive forecast and "
        f"{_versus(b['model_minus_commercial'])} the {COMMERCIAL_MAE * 100:.2f} reported "
        "for a commercial model (whose inputs are not known; this model uses nothing but the "
        "ACO's own past rates, sizes and agreement periods). "
        f"Over {m['n_compared']} ACOs these figures carry sampling error: the standard error of "
        f"the model's MAE is {m['mae_model_se'] * 100:.2f} points and that of its gain over the "
        f"naive forecast {m['gain_over_naive_se'] * 100:.2f} points, so "
        + ("the gap to the commercial figure is within sampling error" if b["commercial_within_se"]
           else "the gap to the commercial figure is larger than sampling error")
        + " and "
        + ("the gain over the naive forecast is not significant for this year alone. "
           if not b["gain_significant"]
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
        f"absolute error of {b['noise_mae_median_size'] * 100:.2f} points. "
        f"{m['coverage']:.0%} of actual rates fell inside the 90% intervals"
        + (" (close to nominal)." if b["coverage_near_nominal"] else ".")
    )
    add(text + "\n")
    add(
        "The same command checks a later year: `acosim backtest --through 2023 --actual "
        "PY2024.csv` fits on PY2018–PY2023 and scores the forecasts against the file given.\n"
    )

    return parts


def section_simulated(study: dict) -> list[str]:
    """Simulated against observed distributions."""
    _fit, defaults, f, _bt, _fy, effect_sd, _persist = _common(study)
    mean_years = study["windows"]["mean"]
    parts: list[str] = []
    add = parts.append
    add('<a id="simulated-vs-observed"></a>\n## Simulated against observed distributions\n')
    add(
        f"For every twelve-month ACO-year of PY{mean_years[0]}–PY{mean_years[1]} the check "
        f"draws {study['draws']} rates under the defaults — true effect ~ "
        f"Normal({_pct(defaults['true_effect_mean']['value'])}, "
        f"{_pct(effect_sd)}) plus `simulation.model.noise.draw_rate_noise` at the ACO's size — and "
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
    sim = f["simulated"]
    wide, narrow = sim["too_wide"], sim["too_narrow"]
    text = f"The simulated SD is within 10% of the observed one in {_bands(sim['close_bands'])}"
    if len(wide):
        text += f"; it is too wide in {_sd_pairs(wide)}"
    if len(narrow):
        text += f"; too narrow in {_sd_pairs(narrow)}"
    shifted = sim["shifted"]
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

    return parts


def section_reproduce(study: dict) -> list[str]:
    """How to reproduce the page, and its limitations."""
    parts: list[str] = []
    add = parts.append
    add('<a id="reproduce"></a>\n## Reproducing\n')
    add(
        "```\n"
        "make calibration            # = acosim calibrate --data ../shared/data\n"
        "acosim backtest --through 2022\n"
        "acosim backtest --through 2023 --actual PATH/TO/PY2024.csv\n"
        "```\n\n"
        f"The run is deterministic (seed {study['seed']}; each random step — "
        f"{', '.join(study['random_steps'])} — draws from its own child of that seed's "
        "`numpy.random.SeedSequence`); it reads the CMS files from the folder "
        "given and never copies them. The JSON keeps `generated_by` and `generated_at`.\n"
    )
    add('<a id="limitations"></a>\n## Limitations\n')
    add(
        "- The split between noise and persistent effect rests on the model's structure "
        "(AR(1) drift, an agreement-period term, independent yearly noise). Richer "
        "structures fit the data about as well with different splits — for example noise "
        "that partly persists within an agreement (the benchmark's own sampling noise), "
        "which raises cv, or a true-effect spread that is wider for small ACOs, which lowers "
        "it. The defaults take the structure of `simulation/model/noise.py`.\n"
        "- Year effects are common to all ACOs and estimated as plain means; the "
        "program-wide shift of a coming year is not a key of the JSON (it is in the "
        "back-test's interval).\n"
        "- Savings rates have heavier tails than a normal in some years (PY2013 especially); "
        "the Gaussian fit is not robust to them.\n"
        "- PY2019 lacks the July–December cohort, and the PY2017→PY2018 link rests on names.\n"
    )
    return parts


