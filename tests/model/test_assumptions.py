"""The assumptions table lists every non-regulation value a scenario uses; what-ifs apply."""

from __future__ import annotations

from simulation.model import montecarlo
from simulation.model.assumptions import assumption_table
from simulation.model.scenario import OVERRIDABLE, Scenario, TrackChoice, validate_scenario


def test_every_sec_and_inf_value_of_the_scenario_is_listed():
    s = Scenario()
    table = assumption_table(s)
    listed = {(r.track, r.parameter) for r in table.itertuples()}
    for choice in s.tracks:
        for yp in montecarlo.plan(choice, s):
            for name, _ref, conf in yp.rules.sources:
                if conf in ("SEC", "INF"):
                    assert (choice.key, name) in listed, (choice.key, name)
    assert set(table["confidence"]) <= {"SEC", "INF", "CMS"}
    assert table.loc[table["overridable"], "parameter"].isin(OVERRIDABLE).all()
    assert (table["track"] == "(all)").sum() >= 8  # the model's own assumptions
    catalog_rows = table[table["track"] != "(all)"]
    # each catalog value carries its parameter's plain-language description from data/tracks/
    assert (catalog_rows["description"].str.len() > 20).all()
    seq = catalog_rows[catalog_rows["parameter"] == "sequestration_rate"]["description"]
    assert seq.str.contains("sequestration", case=False).all()


def test_an_assumption_changed_as_a_what_if_changes_the_result():
    base = validate_scenario({"tracks": [{"track": "REACH_GLOBAL"}], "trials": 2_000})
    # no discount: a higher benchmark to settle against (REACH's quality withhold no
    # longer enters the corridors, CMS PY2023 REACH results, so it is not the what-if here)
    what_if = base.model_copy(update={"tracks": [TrackChoice(track="REACH_GLOBAL", overrides={"benchmark_discount": 0.0})]})
    a = montecarlo.summary(montecarlo.simulate(base))["expected_net"].iloc[0]
    b = montecarlo.summary(montecarlo.simulate(what_if))["expected_net"].iloc[0]
    assert b > a  # no discount off the benchmark
    row = assumption_table(what_if).query("parameter == 'benchmark_discount'").iloc[0]
    assert row["overridden"]
