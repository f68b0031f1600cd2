"""The preset files derived from CMS's results: ACO archetypes from the PY2023 results and
worst / realistic / best assumption sets from the results of every year and the calibration
file, plus the few secondary-source and inferred assumptions defined here with their citations.

``python -m simulation.calibration.derive_presets --derive ../shared/data --write`` writes
``data/presets/*.json`` through :func:`simulation.model.presets.write_presets`; the test suite
checks that the files still match what the data give. It sits on the calibration floor because
it reads CMS's files (:mod:`simulation.cms`); the model floor only loads and applies the files.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cms.acos import load_results, results_files
from ..cms.puf import load_puf
from ..model.eligibility import low_revenue_threshold
from ..model.presets import DERIVE_COMMAND, PresetError, list_presets, write_presets
from ..model.scenario import CALIBRATION_FILE

# --------------------------------------------------------------------------- derivation
#
# Assumptions that do not come from the CMS files, with their sources. [SEC] secondary
# source, [INF] inferred or a modelling choice; both are shown as assumptions.

NAACOS_STARTUP_LOW = 300_000.0
NAACOS_SOURCE = ("NAACOS national ACO survey of the 2012–2013 MSSP ACOs (press release 27 Jan 2014): "
                 "first-year start-up costs averaged $2.0M (range $0.3M–$6.7M), and an ACO risks "
                 "about $3.5M over its first two years")
NAACOS_YEAR2_COST = 1_500_000.0  # $3.5M over two years minus the $2.0M first year
START_YEAR = 2027                # the agreement the archetypes are set up for (the 2027 decision)
BASE_YEAR = 2023                 # the CMS results the archetypes are drawn from


@dataclass(frozen=True)
class _Archetype:
    name: str
    order: int
    title: str
    description: str
    rule: str
    select: Callable[[pd.DataFrame], pd.Series]
    entrant: bool            # modelled as entering its first agreement
    startup: tuple[float, str, str]       # value, confidence, source
    revenue_loss_share: tuple[float, str]  # value, source ([INF])


def _num(df: pd.DataFrame, column: str) -> pd.Series:
    raw = df.get(f"raw_{column}")
    if raw is None:
        raise PresetError(f"PY{BASE_YEAR} results have no {column} column")
    return pd.to_numeric(raw.astype(str).str.replace(",", "", regex=False).str.strip(), errors="coerce")


_HOSPITAL_SHARE = ("[INF] hospital inpatient and outpatient care is a large part (roughly 40–50%) of "
                   "Medicare Parts A and B spending, and avoidable admissions and visits are much of what "
                   "an ACO saves; a hospital-integrated ACO is assumed to have earned itself about a "
                   "quarter of the spending it avoids")
ARCHETYPES: tuple[_Archetype, ...] = (
    _Archetype(
        "small_rural", 1, "Small physician-led rural ACO",
        "A small, low-revenue (physician-led) ACO with rural health clinics or critical access "
        "hospitals among its participants and no other hospital, entering its first agreement.",
        "low revenue (Rev_Exp_Cat), no acute-care hospital participant (N_Hosp = 0), at least one "
        "rural health clinic or critical access hospital (N_RHC + N_CAH ≥ 1), assigned beneficiaries "
        "at or below the program median",
        lambda d: ((d["rev_exp_cat"] == "low") & (_num(d, "N_Hosp") == 0)
                   & ((_num(d, "N_RHC") + _num(d, "N_CAH")) >= 1) & (d["n_ab"] <= d["n_ab"].median())),
        True, (NAACOS_STARTUP_LOW, "SEC", NAACOS_SOURCE + "; a small ACO is put at the low end ($0.3M)"),
        (0.0, "[INF] a physician-led ACO's own revenue is mostly office visits, which care management "
              "tends to increase rather than cut"),
    ),
    _Archetype(
        "mid_independent", 2, "Mid-size independent physician ACO",
        "A mid-size, low-revenue ACO of independent practices with no hospital participant, "
        "renewing its agreement.",
        "low revenue (Rev_Exp_Cat), no acute-care hospital participant (N_Hosp = 0), assigned "
        "beneficiaries between the program's 25th and 75th percentiles",
        lambda d: ((d["rev_exp_cat"] == "low") & (_num(d, "N_Hosp") == 0)
                   & d["n_ab"].between(d["n_ab"].quantile(0.25), d["n_ab"].quantile(0.75))),
        False, (0.0, "INF", "[INF] an ACO renewing its agreement has already paid for its set-up"),
        (0.0, "[INF] a physician-led ACO's own revenue is mostly office visits, which care management "
              "tends to increase rather than cut"),
    ),
    _Archetype(
        "large_hospital", 3, "Large hospital-integrated ACO",
        "A large, high-revenue ACO whose participants include acute-care hospitals, renewing its "
        "agreement; every admission it avoids is also revenue its own hospitals lose.",
        "high revenue (Rev_Exp_Cat), at least one acute-care hospital participant (N_Hosp ≥ 1), "
        "assigned beneficiaries above the program median",
        lambda d: ((d["rev_exp_cat"] == "high") & (_num(d, "N_Hosp") >= 1) & (d["n_ab"] > d["n_ab"].median())),
        False, (0.0, "INF", "[INF] an ACO renewing its agreement has already paid for its set-up"),
        (0.25, _HOSPITAL_SHARE),
    ),
    _Archetype(
        "experienced_high_revenue", 4, "Experienced high-revenue ACO",
        "A high-revenue ACO in its second or later agreement that already bears two-sided risk "
        "(BASIC C–E or ENHANCED): under the rules it may renew only into ENHANCED.",
        "high revenue (Rev_Exp_Cat), agreement period 2 or later, in a two-sided track "
        "(BASIC C, D, E or ENHANCED)",
        lambda d: ((d["rev_exp_cat"] == "high") & (d["agreement_period_num"] >= 2)
                   & d["track"].isin(["BASIC_C", "BASIC_D", "BASIC_E", "ENHANCED"])),
        False, (0.0, "INF", "[INF] an ACO renewing its agreement has already paid for its set-up"),
        (0.25, _HOSPITAL_SHARE),
    ),
)

_REVENUE_RATIO = {"low": 0.20, "high": 1.00}
_REVENUE_SOURCE = ("[INF] CMS does not publish participant revenue. A low-revenue ACO bills under {line:.0%} of "
                   "its beneficiaries' spending by definition (42 CFR 425.20) and a physician group about "
                   "a fifth; a high-revenue ACO's hospitals bill about as much as the assigned "
                   "beneficiaries' total spending. Set to {ratio:.0%} of the total benchmark "
                   "({n:,} × ${bench:,.0f})")


def _calibration() -> dict[str, Any]:
    try:
        return json.loads(Path(CALIBRATION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise PresetError(f"{CALIBRATION_FILE}: the calibration file is needed (make calibration)") from None


def _round(x: float, step: float) -> float:
    return float(round(x / step) * step)


def _derive_archetype(a: _Archetype, py: pd.DataFrame, cost_per_ben: float, cost_note: str,
                      trend: float) -> dict[str, Any]:
    group = py[a.select(py).fillna(False).astype(bool)]
    k = len(group)
    if k < 5:
        raise PresetError(f"{a.name}: only {k} ACOs in PY{BASE_YEAR} match its definition")
    where = f"the {k} PY{BASE_YEAR} ACOs matching the definition (see derivation)"
    n = int(_round(float(group["n_ab"].median()), 10))
    bench23 = float(group["updated_benchmark_pc"].median())
    years = START_YEAR - BASE_YEAR
    bench = _round(bench23 * (1 + trend) ** years, 10)
    category = "low" if (group["rev_exp_cat"] == "low").mean() > 0.5 else "high"
    ratio = _REVENUE_RATIO[category]
    mix_cols = ["N_AB_Year_ESRD_PY", "N_AB_Year_DIS_PY", "N_AB_Year_AGED_Dual_PY", "N_AB_Year_AGED_NonDual_PY"]
    totals = np.array([_num(group, c).sum() for c in mix_cols])
    shares = [round(float(x), 3) for x in totals[:3] / totals.sum()]
    mix = {"esrd": shares[0], "disabled": shares[1], "aged_dual": shares[2],
           "aged_nondual": round(1.0 - sum(shares), 3)}
    two_sided = float((group["risk_model"] == "two_sided").mean())
    first = float((group["agreement_period_num"] == 1).mean())
    values: dict[str, dict[str, Any]] = {
        "aco.beneficiaries": {"value": n, "confidence": "CMS",
                              "source": f"median assigned beneficiaries (N_AB) of {where}, to the nearest 10"},
        "aco.benchmark_pc": {"value": bench, "confidence": "INF",
                             "source": f"median PY{BASE_YEAR} per-capita benchmark (UpdatedBnchmk, ${bench23:,.0f}) "
                                       f"of {where}, trended {years} years to {START_YEAR} at the calibrated "
                                       f"{trend:.2%} a year (data/calibration/noise_defaults.json)"},
        "aco.participant_revenue": {"value": _round(ratio * n * bench, 100_000), "confidence": "INF",
                                    "source": _REVENUE_SOURCE.format(
                                        line=low_revenue_threshold(), ratio=ratio, n=n, bench=bench)},
        "aco.revenue_category": {"value": category, "confidence": "CMS",
                                 "source": f"Rev_Exp_Cat of {where}"},
        "aco.enrollment_mix": {"value": mix, "confidence": "CMS",
                               "source": f"PY{BASE_YEAR} person-years by enrollment type "
                                         f"(N_AB_Year_ESRD/DIS/AGED_Dual/AGED_NonDual_PY) summed over {where}"},
        "aco.agreement_start_year": {"value": START_YEAR, "confidence": "INF",
                                     "source": f"[INF] set up for an agreement starting {START_YEAR}, the year "
                                               "the benchmark is trended to"},
    }
    if a.entrant:
        values["aco.experienced_with_risk"] = {
            "value": False, "confidence": "INF",
            "source": f"[INF] modelled as a new entrant; {first:.0%} of {where} were in their first agreement "
                      f"and {two_sided:.0%} in a two-sided track"}
        values["aco.first_agreement"] = {
            "value": True, "confidence": "INF", "source": "[INF] modelled as a new entrant (see above)"}
    else:
        values["aco.experienced_with_risk"] = {
            "value": two_sided > 0.5, "confidence": "CMS",
            "source": f"{two_sided:.0%} of {where} were in a two-sided track (BASIC C–E or ENHANCED)"}
        values["aco.first_agreement"] = {
            "value": first > 0.5, "confidence": "CMS",
            "source": f"{first:.0%} of {where} were in their first agreement period"}
    values["costs.annual_operating_cost"] = {
        "value": _round(cost_per_ben * n, 10_000), "confidence": "SEC",
        "source": f"{cost_note}; × {n:,} beneficiaries, to the nearest $10K"}
    startup, conf, src = a.startup
    values["costs.startup_investment"] = {"value": startup, "confidence": conf, "source": src}
    share, src = a.revenue_loss_share
    values["costs.revenue_loss_share"] = {"value": share, "confidence": "INF", "source": src}
    return {
        "name": a.name, "kind": "archetype", "order": a.order, "title": a.title,
        "description": a.description,
        "source": f"Size, benchmark, revenue category, enrollment mix and experience: the median ACO of its "
                  f"kind in CMS's PY{BASE_YEAR} Shared Savings Program results; operating and start-up "
                  "costs: NAACOS survey figures [SEC]; participant revenue and own revenue lost: "
                  "assumptions [INF].",
        "derivation": {"data": f"CMS MSSP Performance Year Financial and Quality Results PY{BASE_YEAR} "
                               f"(mssp_puf/PY{BASE_YEAR}.csv); operating cost scale from PY2013",
                       "rule": a.rule, "acos": k, "generated_by": DERIVE_COMMAND},
        "values": values,
    }


def _twelve_months(results: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    return results[results["performance_year"].isin(years) & (results["months_in_py"] == 12)]


def _derive_assumptions(results: pd.DataFrame, cal: dict[str, Any]) -> list[dict[str, Any]]:
    def c(key: str, part: str = "value") -> float:
        return float(cal[key][part])

    rates = _twelve_months(results, (2021, 2022, 2023))
    year_means = rates.groupby("performance_year")["sav_rate"].mean()
    mean_rate = round(float(year_means.mean()), 4)
    q25, q75 = (round(float(x), 4) for x in rates["sav_rate"].quantile([0.25, 0.75]))
    quality = _twelve_months(results, (2022, 2023))["qual_score"].dropna()
    qual_q25, qual_mean, qual_q75 = (round(float(x), 3) for x in (quality.quantile(0.25), quality.mean(),
                                                                  quality.quantile(0.75)))
    qps = _twelve_months(results, range(2016, 2024)).groupby("performance_year")["met_qps"]
    qps_share = qps.apply(lambda s: s.dropna().astype(bool).mean()).dropna()
    worst_qps_year = int(qps_share.idxmin())  # type: ignore[call-overload]
    worst_qps = math.floor(float(qps_share.min()) * 1000) / 1000
    n_rates = len(rates)
    rate_src = f"{n_rates:,} ACO-years of 12-month savings rates (Sav_rate), PY2021–PY2023"
    cal_src = "data/calibration/noise_defaults.json, fitted on CMS results " + str(cal.get("fitted_on", ""))

    def v(value: Any, confidence: str, source: str) -> dict[str, Any]:
        return {"value": value, "confidence": confidence, "source": source}

    common = {
        "performance.savings_effect_sd": v(round(c("true_effect_sd"), 4), "INF",
                                           f"calibrated spread of ACOs' true effects ({cal_src})"),
        "performance.alt_qps_probability": v(0.5, "INF", "[INF] no published data yet; even odds"),
        "performance.quality_sd": v(round(c("quality_sd"), 4), "INF",
                                    f"calibrated spread of quality scores ({cal_src})"),
        "market.trend_mean": v(round(c("trend_mean"), 4), "INF", f"calibrated benchmark growth ({cal_src})"),
        "market.prospective_gap_sd": v(0.01, "INF", "[INF] one point a year, the default"),
        "noise.shock_multiplier": v(round(c("shock_multiplier"), 3), "INF",
                                    f"calibrated PY2020 (COVID-19) noise multiplier, used only with a shock "
                                    f"year ({cal_src})"),
    }
    sets = [
        ("worst", 1, "Worst case (bottom-quartile ACO, rough market)",
         "Pessimistic but observed: the ACO performs like the bottom quarter of ACOs, quality is "
         "lower, trends are more volatile, the prospective trend runs against it and a COVID-like "
         "shock hits the first year.",
         {"performance.savings_effect": v(q25, "CMS", f"25th percentile of {rate_src}"),
          "performance.ramp_years": v(3, "INF", "[INF] care redesign takes a year longer than the default"),
          "performance.qps_probability": v(worst_qps, "CMS",
                                           f"lowest yearly share of ACOs meeting the quality standard in "
                                           f"PY2016–PY2023 (PY{worst_qps_year})"),
          "performance.quality_mean": v(qual_q25, "CMS", "25th percentile of quality scores (QualScore), PY2022–PY2023"),
          "market.trend_sd": v(round(c("trend_sd", "high"), 4), "INF", f"upper end of the calibrated trend volatility ({cal_src})"),
          "market.prospective_gap_mean": v(-0.01, "INF", "[INF] the prospective trend falls a point a year short of actual growth"),
          "noise.per_beneficiary_cv": v(round(c("per_beneficiary_cv", "high"), 3), "INF", f"upper end of the calibrated 90% interval ({cal_src})"),
          "noise.systemic_sd": v(round(math.sqrt(1 - c("persistence")) * c("true_effect_sd"), 4), "INF",
                                 "ACO-wide term the calibration suggests for a true effect held fixed over "
                                 f"the agreement: √(1 − persistence) × true-effect SD ({cal_src})"),
          "noise.shock_year": v(1, "INF", "[INF] a COVID-like shock in the first agreement year (valid for any agreement length)"),
          "noise.shock_multiplier": v(round(c("shock_multiplier", "high"), 3), "INF",
                                      f"upper end of the calibrated PY2020 (COVID-19) noise multiplier ({cal_src})")}),
        ("realistic", 2, "Realistic (the typical ACO today)",
         "The program as it is: the average ACO's savings rate and quality in recent years and the "
         "calibrated trend and noise, with no shock.",
         {"performance.savings_effect": v(mean_rate, "CMS", f"mean of the yearly mean savings rates, {rate_src}"),
          "performance.ramp_years": v(2, "INF", "[INF] the default two years to full effect"),
          "performance.qps_probability": v(round(c("qps_probability"), 3), "CMS", f"share of ACOs meeting the quality standard ({cal_src})"),
          "performance.quality_mean": v(qual_mean, "CMS", "mean quality score (QualScore), PY2022–PY2023"),
          "market.trend_sd": v(round(c("trend_sd"), 4), "INF", f"calibrated trend volatility ({cal_src})"),
          "market.prospective_gap_mean": v(0.0, "INF", "[INF] the prospective trend is right on average"),
          "noise.per_beneficiary_cv": v(round(c("per_beneficiary_cv"), 3), "INF", f"calibrated ({cal_src})"),
          "noise.systemic_sd": v(round(c("systemic_sd"), 4), "INF", f"calibrated ({cal_src})"),
          "noise.shock_year": v(None, "INF", "no shock")}),
        ("best", 3, "Best case (top-quartile ACO, calm market)",
         "Optimistic but observed: the ACO performs like the top quarter of ACOs, reaches its effect "
         "in a year, quality is high and the market is calm.",
         {"performance.savings_effect": v(q75, "CMS", f"75th percentile of {rate_src}"),
          "performance.ramp_years": v(1, "INF", "[INF] an ACO with care management already in place"),
          "performance.qps_probability": v(1.0, "CMS", f"every ACO met the quality standard in PY2022–PY2023 ({cal_src})"),
          "performance.quality_mean": v(qual_q75, "CMS", "75th percentile of quality scores (QualScore), PY2022–PY2023"),
          "market.trend_sd": v(round(c("trend_sd", "low"), 4), "INF", f"lower end of the calibrated trend volatility ({cal_src})"),
          "market.prospective_gap_mean": v(0.01, "INF", "[INF] the prospective trend runs a point a year above actual growth"),
          "noise.per_beneficiary_cv": v(round(c("per_beneficiary_cv", "low"), 3), "INF", f"lower end of the calibrated 90% interval ({cal_src})"),
          "noise.systemic_sd": v(0.0, "INF", f"calibrated ({cal_src}): at its bound 0"),
          "noise.shock_year": v(None, "INF", "no shock")}),
    ]
    out = []
    for name, order, title, description, values in sets:
        out.append({
            "name": name, "kind": "assumptions", "order": order, "title": title, "description": description,
            "source": "Savings rates, quality scores and the quality standard: CMS's Shared Savings Program "
                      "results PY2016–PY2023; trend and noise: the project's calibration on those results; "
                      "prospective-trend error, ramp-up and shock: assumptions [INF].",
            "derivation": {"data": "CMS MSSP Performance Year Financial and Quality Results PY2016–PY2023; "
                                   "data/calibration/noise_defaults.json",
                           "rule": "percentiles and means of the published savings rates and quality scores; "
                                   "calibrated values and their 90% intervals",
                           "acos": n_rates, "generated_by": DERIVE_COMMAND},
            "values": {**common, **values},
        })
    return out


def derive(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every preset document computed from the CMS results in ``data_dir`` and the
    calibration file (what ``--derive --write`` saves). Keys are preset names."""
    results, _warnings = load_results(data_dir)
    base_files = [p for p in results_files(data_dir) if str(BASE_YEAR) in p.name]
    if not base_files:
        raise PresetError(f"{data_dir}: no PY{BASE_YEAR} results file")
    py = load_puf(base_files[0], keep_raw=True)
    first = results[results["performance_year"] == results["performance_year"].min()]
    median_2013 = float(first["n_ab"].median())
    cost_per_ben = _round(NAACOS_YEAR2_COST / median_2013, 1)
    cost_note = (f"{NAACOS_SOURCE}: about ${NAACOS_YEAR2_COST / 1e6:.1f}M a year to run after start-up, "
                 f"÷ the median PY{int(first['performance_year'].iloc[0])} ACO's {median_2013:,.0f} "
                 f"beneficiaries = ${cost_per_ben:,.0f} per beneficiary a year [INF]")
    cal = _calibration()
    trend = float(cal["trend_mean"]["value"])
    docs = [_derive_archetype(a, py, cost_per_ben, cost_note, trend) for a in ARCHETYPES]
    docs += _derive_assumptions(results, cal)
    return {d["name"]: d for d in docs}








def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.calibration.derive_presets",
                                     description="List the presets, or derive them from the CMS results.")
    parser.add_argument("--derive", metavar="DATA_DIR", help="compute the presets from the CMS results here")
    parser.add_argument("--write", action="store_true", help="with --derive: write data/presets/*.json")
    args = parser.parse_args(argv)
    if not args.derive:
        for p in list_presets():
            print(f"{p['name']:<26} {p['kind']:<12} {p['title']}\n{'':<39} {p['description']}")
        return 0
    try:
        docs = derive(args.derive)
    except (PresetError, ValueError) as exc:
        print(f"presets: error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        for path in write_presets(docs):
            print(f"wrote {path}")
    else:
        print(json.dumps(docs, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
