"""The settlement walkthrough and the Learn page: pure logic, content, glossary coverage, app.

* simulation/learn/walkthrough.py: the walk's final amount is settle(...).earned; the simulated
  bad/median/good outcomes are ordered and reproduce the simulation; the step and input
  diffs; the waterfall adds up; the input checks.
* data/learn: every scenario label, track label, settlement step and app term has a glossary
  entry; lessons, questions and "see it" links are consistent; the worked examples of
  settlement-rules.md section 7 come out right through the walkthrough.
* AppTest: both pages run without an exception, show their main element, and react to one
  interaction (a number changed; an answer opened; a "walk it" link followed).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import learn as lc  # noqa: E402
from simulation.learn import walkthrough as wt  # noqa: E402
from simulation.model.montecarlo import simulate, summary  # noqa: E402
from simulation.model.scenario import DEFAULT_TRACKS, Scenario, TrackChoice  # noqa: E402
from simulation.rules.catalog import load_catalog  # noqa: E402
from simulation.rules.settlement import settle  # noqa: E402

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def result():
    """A small simulation: BASIC A, ENHANCED and the glide path, 3 years, 2,000 futures."""
    s = Scenario(trials=2_000, seed=7,
                 tracks=[TrackChoice(track="BASIC_A"), TrackChoice(track="ENHANCED"),
                         TrackChoice(track="BASIC_GLIDE")])
    s = s.model_copy(update={"aco": s.aco.model_copy(update={"agreement_years": 3})})
    return simulate(s)


def _earned(rules, inputs: wt.WalkInputs) -> float:
    return float(settle(rules, inputs.benchmark, inputs.expenditure, inputs.beneficiaries,
                        **inputs.settle_kwargs(rules)).earned)


# --------------------------------------------------------------------------- the walk


CASES = [  # (benchmark, spending, beneficiaries, extra inputs): savings, losses, corridors...
    (12_000, 11_520, 12_500, {}),
    (12_000, 11_760, 12_500, {"low_revenue": True, "agreement_start_year": 2024}),
    (11_000, 11_660, 30_000, {"quality_score": 0.6, "msr": 0.02}),
    (13_000, 13_910, 8_000, {"participant_revenue": 20e6}),
    (10_000, 7_000, 10_000, {}),
    (10_000, 10_500, 10_000, {"euc_share": 0.25, "participant_revenue": 5e6}),
    (10_000, 10_050, 6_000, {"qps_met": False, "alt_qps_met": True, "quality_score": 0.7}),
    (12_500, 13_200, 20_000, {"agreement_start_year": 2024, "benchmark_two_way": 12_900.0}),
]


@pytest.mark.parametrize("track", sorted(load_catalog().tracks))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_walk_final_equals_settle(track, case):
    info = load_catalog().tracks[track]
    b, e, n, extra = CASES[case]
    for year in (info.first_year, info.last_year):
        rules = wt.rules_for(track, year)
        inputs = wt.WalkInputs(b, e, n, **extra)
        walk = wt.walk(rules, inputs)
        assert walk.final == pytest.approx(_earned(rules, inputs), abs=0.01)
        assert walk.steps[-1].key == "net"


def test_settle_kwargs_leave_out_elections_the_track_lacks():
    inputs = wt.WalkInputs(10_000, 9_500, 10_000, msr=0.02, savings_cap=0.1,
                           benchmark_discount=0.02, benchmark_two_way=10_100.0)
    one_sided = inputs.settle_kwargs(wt.rules_for("BASIC_A", 2024))
    assert "msr" not in one_sided and "savings_cap" not in one_sided
    assert one_sided["benchmark_two_way"] == 10_100.0
    ngaco = inputs.settle_kwargs(wt.rules_for("NGACO_A", 2019))
    assert ngaco["savings_cap"] == 0.1 and "benchmark_two_way" not in ngaco
    assert inputs.with_savings_rate(0.03).expenditure == pytest.approx(9_700.0)


# --------------------------------------------------------------------------- outcomes


def test_outcomes_are_ordered_and_reproduce_the_simulation(result):
    for track in ("BASIC_A", "ENHANCED"):
        key, years = wt.simulation_key(result, track)
        assert key == load_catalog().tracks[track].short_label and years == [0, 1, 2]
        outcomes = wt.pick_outcomes(result, key, years)
        earned = result.earned[:, years, result.index(key)].ravel()
        bad, median, good = (outcomes[n] for n in ("bad", "median", "good"))
        assert bad.earned <= median.earned <= good.earned
        for o in (bad, median, good):
            assert o.earned == pytest.approx(np.percentile(earned, o.percentile, method="nearest"))
            # the outcome's own inputs, settled by the walkthrough, give the simulated amount
            assert wt.walk(o.rules, o.inputs).final == pytest.approx(o.earned, abs=0.01)
            assert result.earned[o.trial, o.year_index, result.index(key)] == pytest.approx(o.earned)


def test_glide_path_outcomes_use_only_the_years_at_that_level(result):
    key, years = wt.simulation_key(result, "BASIC_C")
    assert key == "BASIC glide" and years == [2]  # A, B, then C in the third year
    for o in wt.pick_outcomes(result, key, years).values():
        assert o.year_index == 2 and o.rules.track == "BASIC_C"


def test_a_track_the_scenario_lacks_is_simulated_on_its_own(result):
    assert wt.simulation_key(result, "TRACK_2") is None
    alone = wt.scenario_with_track(result.scenario, "TRACK_2")
    assert [c.track for c in alone.tracks] == ["TRACK_2"]
    assert alone.aco == result.scenario.aco


def test_inputs_round_trip_through_settle_args(result):
    rules, args = result.settlement_inputs("ENHANCED", 5, 1)
    inputs = wt.WalkInputs.from_settle_args(args)
    assert inputs.msr is None  # NaN in the simulation means size-based
    assert _earned(rules, inputs) == pytest.approx(float(settle(rules, **args).earned), abs=0.01)


# --------------------------------------------------------------------------- diffs, checks


def test_diff_steps_names_what_changed():
    rules = wt.rules_for("BASIC_A", 2024)
    below = wt.walk(rules, wt.WalkInputs(12_000, 11_760, 12_500))  # 2.0% < MSR 2.85%: $0
    above = wt.walk(rules, wt.WalkInputs(12_000, 11_520, 12_500))  # 4.0%: shared
    assert wt.diff_steps(above.steps, above.steps) == []
    diff = {d.key: d.status for d in wt.diff_steps(below.steps, above.steps)}
    assert diff["spending"] == "changed" and diff["net"] == "changed"
    assert diff["share"] == "new" and diff["sequestration"] == "new"
    back = {d.key: d.status for d in wt.diff_steps(above.steps, below.steps)}
    assert back["share"] == "gone"
    changes = wt.diff_inputs(below.inputs, above.inputs)
    assert changes == [("Spending per beneficiary", "$11,760", "$11,520")]


def test_step_changes_add_up_to_the_settlement():
    for b, e, n, extra in CASES:
        for track in ("BASIC_A", "BASIC_E", "ENHANCED", "REACH_GLOBAL"):
            steps = wt.walk(wt.rules_for(track, 2024), wt.WalkInputs(b, e, n, **extra)).steps
            changes = wt.step_changes(steps)
            gross = next(i for i, s in enumerate(steps) if s.key == "gross")
            moved = sum(c for c in changes[gross + 1:] if c is not None)
            assert steps[gross].total + moved == pytest.approx(steps[-1].total, abs=0.01)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_waterfall_bars_add_up(case):
    b, e, n, extra = CASES[case]
    for track in ("BASIC_A", "BASIC_E", "ENHANCED", "TRACK_2", "NGACO_B", "REACH_PROFESSIONAL"):
        walk = wt.walk(wt.rules_for(track, load_catalog().tracks[track].last_year),
                       wt.WalkInputs(b, e, n, **extra))
        bars = wt.waterfall_bars(walk.steps)
        gross = next(s.total for s in walk.steps if s.key == "gross")
        p1 = [x for x in bars if x.panel == 1]
        p2 = [x for x in bars if x.panel == 2]
        assert p1[0].height + sum(x.height for x in p1[1:-1]) == pytest.approx(gross, abs=0.01)
        assert p2[0].height == pytest.approx(gross, abs=0.01)
        assert gross + sum(x.height for x in p2[1:-1]) == pytest.approx(walk.final, abs=0.01)
        assert p2[-1].height == pytest.approx(walk.final, abs=0.01)
        for x in p2[1:-1]:  # every change bar starts where the previous one ended
            assert x.kind in ("up", "down")
        fig = wt.waterfall_figure(walk.steps)
        assert len(fig.data) == 2


def test_colours_follow_the_house_convention():
    from simulation.reports import charts

    assert wt.SAVINGS_COLOR == charts.SAVINGS and wt.LOSS_COLOR == charts.LOSS


def test_check_inputs():
    rules = wt.rules_for("BASIC_E", 2024)
    ok = wt.WalkInputs(13_000, 13_910, 8_000, participant_revenue=20e6)
    assert [p for p in wt.check_inputs(rules, ok) if p.level != "info"] == []
    bad = wt.check_inputs(rules, wt.WalkInputs(0.0, 13_910, 8_000))
    assert [(p.field, p.level) for p in bad] == [("benchmark", "error")]
    nan = wt.check_inputs(rules, wt.WalkInputs(13_000, math.nan, 8_000))
    assert ("expenditure", "error") in [(p.field, p.level) for p in nan]
    small = {p.field: p.level for p in wt.check_inputs(rules, dataclasses.replace(ok, beneficiaries=300))}
    assert small["beneficiaries"] == "warning"  # below the MSR scale: no MSR exists
    early = wt.check_inputs(wt.rules_for("BASIC_A", 2024),
                            wt.WalkInputs(12_000, 11_760, 12_500, low_revenue=True,
                                          agreement_start_year=2022))
    assert any(p.field == "low_revenue" and "2024" in p.message for p in early)


# --------------------------------------------------------------------------- worked examples


#: settlement-rules.md section 7, through the walkthrough's "walk it" links. All amounts are
#: before sequestration in the rules file; the 2024 rules withhold 2% of shared savings.
WORKED = {
    # Example A: 150M x 4% = 6.0M gross >= MSR 2.85%; 40% x 6.0M = 2.4M; x 0.98 = 2.352M
    "walk_first_dollar": 2_352_000.0,
    # Example B: 330M x 6% = 19.8M; loss rate 1 - 0.75 x 0.6 = 55%; owes 10.89M (no sequestration)
    "walk_quality": -10_890_000.0,
    # Example C: 7.28M x 30% = 2.184M; limit min(8% x 20M, 4% x 104M) = 1.6M
    "walk_loss_limit": -1_600_000.0,
    # one-sided: 5% over the benchmark, nothing owed
    "walk_one_sided": 0.0,
    # Example F-like: 165M benchmark (the withhold does not enter the corridors: CMS PY2023
    # REACH results); gross 165M - 151.8M = 13.2M = 8% of it; Professional keeps
    # 50% x 5% + 35% x 3% = 3.55% of 165M = 5.8575M; x 0.98 = 5.74035M
    "walk_reach": 0.98 * (0.5 * 0.05 + 0.35 * 0.03) * 165_000_000,
}


@pytest.mark.parametrize("item_id", sorted(WORKED))
def test_worked_examples(item_id):
    track, year, inputs = lc.walkthrough_example(lc.see_its()[item_id])
    assert wt.walk(wt.rules_for(track, year), inputs).final == pytest.approx(WORKED[item_id], rel=1e-6)


# --------------------------------------------------------------------------- glossary


def _labels(model: type[BaseModel]) -> list[str]:
    """Every field label of a pydantic model, recursively (the sidebar shows these)."""
    out = []
    for f in model.model_fields.values():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        if "label" in extra:
            out.append(extra["label"])
        for cand in (f.annotation, *typing.get_args(f.annotation)):
            for c in (cand, *typing.get_args(cand)):
                if isinstance(c, type) and issubclass(c, BaseModel):
                    out += _labels(c)
    return out


def _missing(names) -> list[str]:
    out = []
    for name in names:
        try:
            lc.lookup(name)
        except KeyError:
            out.append(name)
    return out


def test_every_scenario_label_is_in_the_glossary():
    labels = _labels(Scenario)
    assert len(labels) > 40
    assert _missing(labels) == []


def test_every_track_label_is_in_the_glossary():
    names = []
    for info in load_catalog().tracks.values():
        names += [info.label, info.short_label]
    names += [TrackChoice(track=t).key for t in DEFAULT_TRACKS]
    assert _missing(names) == []


#: Terms the dashboard's pages use (the issue's list and a scan of pages/*.py); each must
#: have an entry, under its own name or an alias.
APP_TERMS = [
    "benchmark", "MSR", "MLR", "shared savings", "shared losses", "sharing rate", "loss rate",
    "loss limit", "performance payment limit", "sequestration", "QPS", "alternative QPS",
    "HEAQS", "glide path", "BASIC levels", "ENHANCED", "Track 1", "Track 1+", "Track 2",
    "Track 3", "NGACO", "REACH Professional", "REACH Global", "risk corridor", "discount",
    "quality withhold", "ACPT", "low revenue", "high revenue", "EUC", "expected net",
    "P(owing CMS)", "5th percentile", "expected shortfall", "Monte Carlo standard error",
    "seed", "trials", "true savings effect", "per-beneficiary variation", "systemic variation",
    "Affordable Care Act", "Shared Savings Program", "5,000-beneficiary minimum",
    "quality domains", "quality benchmarks", "Next Generation ACO", "consolidation",
    "narrow network", "ACO", "fee-for-service", "assigned beneficiaries", "one-sided",
    "two-sided", "settlement", "gross savings", "savings rate", "MSR/MLR election",
    "participant revenue", "low-revenue exception", "agreement start year",
    "performance year", "first agreement", "quality score", "median", "percentile",
    # compare page and sidebar (pages/compare.py, dashboard/fields.py)
    "Any payment", "Owe CMS", "Net loss", "Chance of ending ahead", "Bad case (5th percentile)",
    "Good case (95th pct)", "Worst 1 in 20, averaged", "Most CMS can collect",
    "Downside measure", "Risk and return", "Glide path: first-year level",
    "Glide path: stay at Level A", "Money beyond settlement", "Uncertainty (noise)",
    "Calibrated default", "MSR/MLR election (two-sided MSSP tracks)", "simulated futures",
    "largest allowed loss", "rules carried forward", "break-even", "tornado chart",
    "common random numbers", "confidence label",
    # agreement and drivers pages (pages/agreement.py, pages/drivers.py)
    "Ends behind", "Level in force", "Share of savings", "Share of losses", "Own costs",
    "Payment", "Net, year", "Break-even effect", "What drives the result",
    "Two assumptions at once", "Shared savings", "Shared losses",
]


def test_every_app_term_is_in_the_glossary():
    assert _missing(APP_TERMS) == []


#: The summary columns the pages show, and the glossary entry that explains each. A new
#: column fails this test until it is mapped (and, if new, defined).
SUMMARY_TERMS = {
    "expected_net": "Expected net", "mcse": "Monte Carlo standard error",
    "expected_earned": "Settlement", "expected_shared_savings": "Shared savings",
    "expected_shared_losses": "Shared losses", "p_any_payment": "Chance of any payment",
    "p_owe_cms": "P(owing CMS)", "p_net_loss": "Chance of a net loss", "p5": "5th percentile",
    "p25": "25th percentile", "p50": "median", "p75": "75th percentile", "p95": "95th percentile",
    "es5": "Expected shortfall", "largest_allowed_loss": "Largest allowed loss",
    "rules_carried": "Rules carried forward", "track": "Risk track", "code": "Risk track",
    "open": "Open to this ACO", "why": "Open to this ACO",
}


def test_every_summary_column_has_a_glossary_entry(result):
    columns = set(summary(result).columns)
    assert columns - set(SUMMARY_TERMS) == set()
    assert _missing(SUMMARY_TERMS.values()) == []


STEP_KEYS = {"benchmark", "discount", "spending", "gross", "msr", "share", "sequestration",
             "cap", "paid", "one_sided", "mlr", "acpt", "loss_rate", "loss_limit", "euc",
             "owed", "net"}


def test_every_settlement_step_has_a_glossary_entry():
    seen = set()
    for track in load_catalog().tracks:
        for b, e, n, extra in CASES:
            rules = wt.rules_for(track, load_catalog().tracks[track].last_year)
            seen |= {s.key for s in wt.walk(rules, wt.WalkInputs(b, e, n, **extra)).steps}
    assert {"benchmark", "spending", "gross", "msr", "share", "mlr", "loss_rate", "net"} <= seen
    missing = sorted(k for k in seen | STEP_KEYS if lc.step_entry(k) is None)
    assert missing == []


def test_glossary_entries_are_complete():
    names = set()
    for e in lc.glossary():
        assert e.term and len(e.short) > 30, e.term
        assert e.category in ("The program", "Money: the settlement", "Quality",
                              "Tracks and models", "Your ACO (scenario inputs)",
                              "Simulation and results"), e.term
        assert e.short.endswith((".", ")")), e.term
        assert len(e.short) <= 330, f"{e.term}: a tooltip should be one or two sentences"
        names.add(lc.normalize(e.term))
    assert len(names) == len(lc.glossary())
    with pytest.raises(KeyError, match=r"not in data/learn/glossary\.yaml"):
        lc.define("a term nobody defined")


# --------------------------------------------------------------------------- learn content


def test_learn_content_is_consistent():
    assert lc.content_problems() == ()
    assert len(lc.lessons()) >= 6
    origins = [q.origin for q in lc.questions()]
    assert origins.count("seed") == 3 and origins.count("rules") >= 5
    for q in lc.questions():
        assert q.question.endswith("?") and len(q.answer) > 100
    assert "Why does a small ACO face a higher minimum savings rate?" in [
        q.question for q in lc.questions()]


def test_see_it_scenarios():
    items = lc.see_its()
    small = lc.see_it_scenario(items["small_aco"])
    assert small.aco.beneficiaries == 6_000 and small.name.startswith("Learn:")
    assert small.aco.low_revenue  # the same revenue share as the default ACO
    choice = lc.see_it_scenario(items["msr_choice"])
    assert [(c.track, c.msr) for c in choice.tracks] == [
        ("ENHANCED", "0"), ("ENHANCED", "2.0"), ("BASIC_E", "0"), ("BASIC_E", "2.0")]
    assert {i.page for i in items.values()} <= set(lc.PAGES)
    with pytest.raises(KeyError, match="no field"):
        lc.see_it_scenario(dataclasses.replace(items["small_aco"],
                                               scenario={"set": {"aco.size": 1}}))


def test_learn_text_is_not_copied_from_the_seeds():
    """No 8-word run of either seed text appears in the learning content."""
    seeds = Path(ROOT.parent / "shared" / "seeds")
    if not seeds.exists():
        pytest.skip("the seed texts are not beside the project")

    def shingles(text: str, k: int = 8) -> set[tuple[str, ...]]:
        words = [w.strip(".,;:()\"'*-").lower() for w in text.split()]
        words = [w for w in words if w]
        return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}

    seed = set().union(*(shingles(p.read_text(encoding="utf-8")) for p in seeds.glob("*.txt")))
    ours = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "data" / "learn").glob("*.yaml"))
    assert shingles(ours) & seed == set()


# --------------------------------------------------------------------------- the app


def _app(page: str):
    """AppTest on ``page``: through app.py's navigation when it exists, else the file alone."""
    from streamlit.testing.v1 import AppTest

    if (ROOT / "app.py").exists():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.run()
        return at.switch_page(page).run()
    return AppTest.from_file(str(ROOT / page), default_timeout=180).run()


def _settlement(at) -> str:
    return next(m.value for m in at.metric if m.label == "Settlement with CMS")


def test_walkthrough_page_runs_and_reacts_to_a_number():
    at = _app("pages/walkthrough.py")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Settlement walkthrough"]
    assert at.get("plotly_chart"), "the waterfall is missing"
    before = _settlement(at)
    spending = at.number_input(key="walkthrough.expenditure")
    spending.set_value(spending.value * 0.9).run()
    assert not at.exception, at.exception
    assert _settlement(at) != before
    assert at.selectbox(key="walkthrough.outcome").value == "own"
    assert any(m.label == "Before" and m.value == before for m in at.metric)
    assert any("Spending per beneficiary" in md.value for md in at.markdown)


def test_walkthrough_outcomes_and_tracks():
    at = _app("pages/walkthrough.py")
    values = {}
    for name in ("bad", "median", "good"):
        at.selectbox(key="walkthrough.outcome").set_value(name).run()
        assert not at.exception, at.exception
        values[name] = _settlement(at)
    at.selectbox(key="walkthrough.track").set_value("TRACK_2").run()  # a legacy track, 2012-2021
    assert not at.exception, at.exception
    assert at.selectbox(key="walkthrough.year").value in load_catalog().tracks["TRACK_2"].years
    at.selectbox(key="walkthrough.outcome").set_value("own").run()
    at.number_input(key="walkthrough.benchmark").set_value(0.0 + 1_000).run()  # the lowest allowed
    assert not at.exception, at.exception


def test_learn_page_runs_and_opens_an_answer():
    at = _app("pages/learn.py")
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Learn")
    questions = [e for e in at.expander if e.label == "Show the answer"]
    assert len(questions) == len(lc.questions())
    assert not any(md.value.startswith("Because its results are noisier") for md in at.markdown)
    at.session_state["learn.answer.small_msr"] = True  # the student opens one answer
    at.run()
    assert not at.exception, at.exception
    assert any(md.value.startswith("Because its results are noisier") for md in at.markdown)
    at.text_input(key="learn.glossary_query").set_value("loss limit").run()
    assert not at.exception, at.exception


@pytest.mark.skipif(not (ROOT / "app.py").exists(), reason="needs app.py's navigation")
def test_walk_it_link_opens_the_walkthrough_with_the_example():
    at = _app("pages/learn.py")
    at.button(key="learn.see.lesson.money.walk_first_dollar").click().run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Settlement walkthrough"]
    assert _settlement(at) == "$2.35M"


@pytest.mark.skipif(not (ROOT / "pages" / "compare.py").exists() or not (ROOT / "app.py").exists(),
                    reason="needs the compare page and app.py")
def test_see_it_link_sets_the_shared_scenario():
    at = _app("pages/learn.py")
    at.button(key="learn.see.lesson.size.small_aco").click().run()
    assert at.session_state["scenario.current"].aco.beneficiaries == 6_000


def test_lesson_statistics_match_the_cms_files():
    """The Learn lessons quote statistics computed from CMS's files: recompute them.

    Selection: ACOs in the PY2021 results that earned no shared savings (EarnSaveLoss == 0)
    against those that earned some, and how many of each appear again in PY2022 (by ACO_ID).
    REACH: the share of PY2023 Global entities with net savings.
    """
    data = ROOT.parent / "shared" / "data"
    if not (data / "mssp_puf" / "PY2021.csv").exists():
        pytest.skip("the CMS results files are not beside the project")
    import pandas as pd

    def rows(year):
        df = pd.read_csv(data / "mssp_puf" / f"PY{year}.csv", low_memory=False, thousands=",")
        return df.rename(columns=str.strip)

    a, b = rows(2021), rows(2022)
    earned = pd.to_numeric(a["EarnSaveLoss"].astype(str).str.replace(",", ""), errors="raise")
    back = a["ACO_ID"].isin(set(b["ACO_ID"]))
    none, some = earned == 0, earned > 0
    text = " ".join(lesson.body for lesson in lc.lessons())
    assert f"of the {int(none.sum())} ACOs that earned no shared savings in 2021, {back[none].mean():.0%} were back" in text
    assert f"against {back[some].mean():.0%} of the {int(some.sum())} that earned savings" in text

    reach = pd.read_csv(data / "other" / "reach_results_PY2023.csv")
    reach.columns = [" ".join(c.split()) for c in reach.columns]
    arrangement = next(c for c in reach.columns if c.startswith("Risk Arrangement"))
    net = next(c for c in reach.columns if c.startswith("Net Savings (Loss)"))
    glob = reach[reach[arrangement].astype(str).str.contains("Global")]
    value = pd.to_numeric(glob[net].astype(str).str.replace(r"[$,\s]", "", regex=True)
                          .str.replace(r"^\((.*)\)$", r"-\1", regex=True), errors="coerce")
    assert len(reach) == 132 and "132 entities took part in 2023" in text
    assert f"{(value > 0).mean():.0%} of the Global ones ended with net savings" in text
