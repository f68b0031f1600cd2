"""Which tracks an ACO can take (42 CFR 425.600(d), 425.110, the programs' years), and the one
recommendation that only ever names those (simulation/model/eligibility.py, recommendation.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from simulation import reports
from simulation.cli import main
from simulation.model import eligibility, montecarlo
from simulation.model.scenario import AcoProfile, Scenario, TrackChoice
from simulation.reports.words import recommend
from simulation.rules.catalog import TRACKS_DIR, CatalogError, load_catalog
from tests.conftest import put_scenario

MSSP_2019 = ["BASIC_A", "BASIC_B", "BASIC_C", "BASIC_D", "BASIC_E", "ENHANCED"]
LEGACY = ["TRACK_1", "TRACK_1_PLUS", "TRACK_2", "TRACK_3", "NGACO_A", "NGACO_B", "REACH_PROFESSIONAL", "REACH_GLOBAL"]


def _aco(**kw) -> AcoProfile:
    return AcoProfile(**kw)


def _scenario(trials: int = 600, tracks: list[str] | None = None, **aco) -> Scenario:
    s = Scenario(trials=trials)
    data = s.model_dump()
    data["aco"].update(aco)
    if tracks is not None:
        data["tracks"] = [{"track": t} for t in tracks]
    return Scenario.model_validate(data)


# ---------------------------------------------------------------- the rules as data


def test_eligibility_file_is_validated_and_cited(catalog):
    names = catalog.eligibility_names()
    assert names == {"low_revenue_threshold", "inexperienced_tracks", "experienced_low_revenue_tracks",
                     "experienced_high_revenue_tracks", "stay_at_level_a"}
    for name in names:
        for year in (2019, 2024, 2027):
            _value, ref, conf, program = catalog.eligibility_rule(name, year)
            assert conf == "REG" and ref.startswith("42 CFR 425.") and program == "MSSP"
    assert catalog.eligibility_rule("low_revenue_threshold", 2027)[0] == 0.35
    # the eligibility file is not a track file: its names are not settlement parameters
    assert not names & catalog.parameter_names()


def _broken(tmp_path: Path, mutate) -> Path:
    d = tmp_path / "tracks"
    shutil.copytree(TRACKS_DIR, d)
    doc = yaml.safe_load((d / "eligibility.yaml").read_text())
    mutate(doc)
    (d / "eligibility.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return d


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["parameters"]["experienced_high_revenue_tracks"]["entries"][0].update(value=["ENHANCED_X"]),
     r"eligibility\.yaml: parameters\.experienced_high_revenue_tracks\.entries\[0\]\.value: unknown track 'ENHANCED_X'"),
    (lambda d: d["parameters"]["low_revenue_threshold"]["entries"][0].update(value=35),
     r"eligibility\.yaml: parameters\.low_revenue_threshold\.entries\[0\]\.value: 35 is not a fraction"),
    (lambda d: d["parameters"]["stay_at_level_a"]["entries"][0].pop("reference"),
     r"eligibility\.yaml: parameters\.stay_at_level_a\.entries\.0\.reference: Field required"),
    (lambda d: d["parameters"].update(bogus=d["parameters"]["stay_at_level_a"]),
     r"eligibility\.yaml: parameters\.bogus: unknown parameter"),
    (lambda d: d["parameters"]["inexperienced_tracks"]["entries"][0].update(value=[]),
     r"inexperienced_tracks\.entries\[0\]\.value: \[\] is not a non-empty list of track codes"),
])
def test_a_malformed_eligibility_file_is_refused(tmp_path, mutate, message):
    with pytest.raises(CatalogError, match=message):
        load_catalog(_broken(tmp_path, mutate))


def test_each_policy_value_lives_once():
    """The 35% line, the 5,000 minimum and the one-sided levels are no longer literals in code."""
    root = Path(__file__).resolve().parents[2]
    for path in [*(root / "simulation").glob("*.py"), *(root / "pages").glob("*.py")]:
        code = path.read_text()
        assert "0.35 *" not in code and "LOW_REVENUE_THRESHOLD" not in code and "LOW_REVENUE_SHARE" not in code, path
        assert "beneficiaries < 5_000" not in code, path
        assert '{"BASIC_A", "BASIC_B", "TRACK_1"}' not in code, path
    # the MSSP minimum is the track catalog's 42 CFR 425.110 value, which the engine also uses
    r = load_catalog().rules("BASIC_C", 2027)
    assert r.minimum_assigned_beneficiaries == 5000 and "425.110" in r.source("minimum_assigned_beneficiaries")


# ---------------------------------------------------------------- 42 CFR 425.600(d), by hand


@pytest.mark.parametrize(("experienced", "revenue", "expected"), [
    # settlement-rules.md 2.2, quoting 425.600(a)(4)(i)(C) and (d): inexperienced ACOs may enter
    # BASIC at any level A-E or ENHANCED; experienced low-revenue ACOs BASIC E or ENHANCED;
    # experienced high-revenue ACOs ENHANCED only.
    (False, "low", MSSP_2019),
    (False, "high", MSSP_2019),
    (True, "low", ["BASIC_E", "ENHANCED"]),
    (True, "high", ["ENHANCED"]),
])
@pytest.mark.parametrize("start", [2019, 2024, 2026])
def test_425_600_d_matrix(experienced, revenue, expected, start):
    aco = _aco(experienced_with_risk=experienced, revenue_category=revenue, agreement_start_year=start)
    assert eligibility.open_codes(aco, codes=MSSP_2019) == expected
    for code in set(MSSP_2019) - set(expected):
        ok, why = eligibility.check(aco, code)
        assert not ok and why.endswith("(42 CFR 425.600(d)).")
        assert ("A high-revenue" if revenue == "high" else "A low-revenue") in why


def test_the_glide_path_follows_the_levels_it_uses():
    low = _aco(experienced_with_risk=True, revenue_category="low")
    assert not eligibility.check(low, TrackChoice(track="BASIC_GLIDE", glide_start="A"))[0]
    assert eligibility.check(low, TrackChoice(track="BASIC_GLIDE", glide_start="E"))[0]  # E every year
    assert eligibility.check(_aco(), TrackChoice(track="BASIC_GLIDE", glide_start="A"))[0]


def test_staying_at_level_a_needs_a_first_2024_agreement_of_an_inexperienced_aco():
    stay = TrackChoice(track="BASIC_GLIDE", stay_at_a=True)
    assert eligibility.check(_aco(agreement_start_year=2027), stay)[0]
    for aco in (_aco(agreement_start_year=2022), _aco(first_agreement=False)):
        ok, why = eligibility.check(aco, stay)
        assert not ok and "2024 or later" in why and why.endswith("(42 CFR 425.600(a)(4)(i)(C)).")


def test_start_year_closes_programs():
    aco = _aco(agreement_start_year=2027)
    for code in LEGACY:
        ok, why = eligibility.check(aco, code)
        assert not ok and "none starts in 2027" in why, code
    assert "(42 CFR 425.600(a)(1))" in eligibility.check(aco, "TRACK_1")[1]
    assert "(CMS ACO REACH model page)" in eligibility.check(aco, "REACH_GLOBAL")[1]
    assert eligibility.open_codes(aco) == ["LEAD_PROFESSIONAL", "LEAD_GLOBAL", *MSSP_2019]
    ok, why = eligibility.check(aco, "LEAD_GLOBAL", 2026)
    assert not ok and why == "LEAD - Global takes its first agreements in 2027, not 2026 (CMS LEAD model page)."
    assert set(eligibility.open_codes(aco, 2026)) == {*MSSP_2019, "REACH_PROFESSIONAL", "REACH_GLOBAL"}
    assert set(eligibility.open_codes(aco, 2017)) == {"TRACK_1", "TRACK_2", "TRACK_3", "NGACO_A", "NGACO_B"}


def test_size_closes_every_track_below_the_minimum():
    aco = _aco(beneficiaries=3_000)
    assert eligibility.open_codes(aco) == []
    ok, why = eligibility.check(aco, "BASIC_C")
    assert not ok and why == ("MSSP requires at least 5,000 assigned beneficiaries and this ACO has 3,000 "
                              "(42 CFR 425.110(a), (b)).")
    assert eligibility.check(aco, "LEAD_GLOBAL")[1].startswith("LEAD requires at least 5,000")
    assert eligibility.open_codes(_aco(beneficiaries=5_000), codes=["BASIC_C", "LEAD_GLOBAL"]) == ["BASIC_C", "LEAD_GLOBAL"]


def test_revenue_category_from_the_numbers_and_its_change():
    small = _aco(beneficiaries=8_000)  # $60M of revenue against 8,000 x $12,500 = $100M: 60%
    assert small.low_revenue is False and _aco().low_revenue is True
    assert "60% of its assigned beneficiaries' expected spending $100.00M" in eligibility.revenue_explained(small)
    text = eligibility.category_change_text(_aco(), small)
    assert text.startswith("Revenue category changed: the ACO is now high-revenue (it was low-revenue).")
    assert "no longer gets BASIC's low-revenue exception" in text and "(42 CFR 425.605(h))" in text
    assert eligibility.category_change_text(_aco(), _aco(beneficiaries=19_000)) is None
    exp = eligibility.category_change_text(_aco(experienced_with_risk=True),
                                           _aco(experienced_with_risk=True, beneficiaries=8_000))
    assert exp.endswith("it may now enter only ENHANCED (42 CFR 425.600(d)).")


# ---------------------------------------------------------------- real ACOs


def _real(shared_data, name: str, **update) -> Scenario:
    from simulation.cms import acos as realdata

    results, _ = realdata.load_results(shared_data / "mssp_puf")
    hit = realdata.search_acos(results, name).iloc[0]
    s = realdata.scenario_from_aco(realdata.aco_history(results, hit["aco_id"]))
    return s.model_copy(update={"aco": s.aco.model_copy(update=update)}) if update else s


def test_essentia_is_offered_only_enhanced_and_lead(shared_data):
    s = _real(shared_data, "Essentia Health")
    assert s.aco.experienced_with_risk and not s.aco.low_revenue
    assert eligibility.open_keys(s) == ["ENHANCED"]  # its own 2024 start: LEAD is not open yet
    later = _real(shared_data, "Essentia Health", agreement_start_year=2027)
    assert eligibility.open_keys(later) == ["ENHANCED", "LEAD Professional", "LEAD Global"]


def test_polyclinic_is_offered_basic_e_and_enhanced(shared_data):
    s = _real(shared_data, "The Polyclinic", agreement_start_year=2027)
    assert s.aco.experienced_with_risk and s.aco.low_revenue
    assert eligibility.open_keys(s) == ["BASIC E", "ENHANCED", "LEAD Professional", "LEAD Global"]
    closed = {v.key: v.why for v in eligibility.assess(s) if not v.open}
    assert closed["BASIC C"] == ("A low-revenue ACO experienced with performance-based risk may enter only "
                                 "BASIC Level E or ENHANCED (42 CFR 425.600(d)).")


# ---------------------------------------------------------------- the recommendation


@pytest.fixture(scope="module")
def mixed():
    """A 2027 start comparing open tracks with closed ones that average more (NGACO B, REACH)."""
    s = _scenario(tracks=["BASIC_A", "BASIC_C", "ENHANCED", "TRACK_1", "TRACK_2", "TRACK_3", "NGACO_B",
                          "REACH_GLOBAL", "REACH_PROFESSIONAL"])
    result = montecarlo.simulate(s)
    return result, montecarlo.summary(result)


def test_a_2027_start_never_recommends_a_closed_track(mixed):
    _result, summ = mixed
    closed = {"Track 1", "Track 2", "Track 3", "NGACO B", "REACH Global", "REACH Professional"}
    assert set(summ.loc[~summ["open"], "track"]) == closed
    assert summ.loc[summ["open"], "why"].isna().all() and summ.loc[~summ["open"], "why"].str.len().min() > 20
    rec = recommend(summ)
    assert rec.track in {"BASIC A", "BASIC C", "ENHANCED"}
    assert [t for t, _ in rec.closed] == [t for t in summ["track"] if t in closed]
    named = " ".join(rec.paragraphs[:3])
    assert not any(f"**{t}**" in named for t in closed)
    better = summ[~summ["open"] & (summ["expected_net"] > summ.loc[summ["track"] == rec.track, "expected_net"].iloc[0])]
    if len(better):
        assert rec.paragraphs[-1].startswith("Not open to this ACO, so not recommended")
    # the deck's sentence and the reports use the same one recommendation
    assert reports.recommendation_text(summ) == rec.text
    assert reports.board_sentence(summ).startswith(f"Recommended: {rec.track},")


def test_reports_list_the_tracks_not_open(mixed):
    result, summ = mixed
    page = reports.report_html(result, summary=summ, figures={})
    assert "<h2>Not open to this ACO</h2>" in page
    assert "Track 1: Track 1 (legacy) took agreements starting 2012 to 2019; none starts in 2027" in page
    rec = recommend(summ)
    assert f"Recommended: {rec.track}," in page
    summary_table = page.split("<h2>Summary by track</h2>")[1].split("</table>")[0]
    assert "REACH Global" not in summary_table and rec.track in summary_table


def test_the_deck_lists_the_tracks_not_open(mixed):
    import io

    from pptx import Presentation

    result, summ = mixed
    deck = Presentation(io.BytesIO(reports.pptx_bytes(result, summary=summ, images={})))
    texts = [" ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame) for slide in deck.slides]
    page = next(t for t in texts if t.startswith(reports.NOT_OPEN_TITLE))
    assert "NGACO B: Next Generation ACO - Arrangement B took agreements starting 2016 to 2021" in page
    rec_slide = next(t for t in texts if t.startswith("Recommendation"))
    assert f"Recommended: {recommend(summ).track}," in rec_slide


def test_no_recommendation_below_the_minimum_size():
    s = _scenario(beneficiaries=3_000)
    result = montecarlo.simulate(s)
    summ = montecarlo.summary(result)
    assert not summ["open"].any()
    rec = recommend(summ)
    assert rec.track is None and rec.text == rec.reason
    assert rec.reason.startswith("None of the compared tracks is open to this ACO for an agreement starting in 2027, "
                                 "so there is no recommendation.")
    assert "MSSP requires at least 5,000 assigned beneficiaries and this ACO has 3,000 (42 CFR 425.110(a), (b))" \
        in rec.reason
    assert "pays the most" not in rec.text
    assert reports.board_sentence(summ) == rec.reason
    page = reports.report_html(result, summary=summ, figures={})
    assert page.count("there is no recommendation") == 1 and "Recommended:" not in page
    assert "<h2>Not open to this ACO</h2>" in page


def test_the_default_scenario_is_all_open():
    s = Scenario(trials=500)
    assert all(v.open for v in eligibility.assess(s))


# ---------------------------------------------------------------- acosim simulate --format json


def _cli_json(tmp_path, capsys, scenario: Scenario) -> dict:
    path = tmp_path / "s.json"
    path.write_text(scenario.model_dump_json())
    assert main(["simulate", "--scenario", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_open_why_and_recommended(tmp_path, capsys):
    out = _cli_json(tmp_path, capsys, _scenario(trials=400, tracks=["BASIC_C", "ENHANCED", "REACH_GLOBAL"],
                                                experienced_with_risk=True, revenue_category="high"))
    tracks = {t["track"]: t for t in out["tracks"]}
    assert tracks["ENHANCED"]["open"] is True and "why" not in tracks["ENHANCED"]
    assert tracks["BASIC C"]["open"] is False and "only ENHANCED" in tracks["BASIC C"]["why"]
    assert tracks["REACH Global"]["open"] is False and "none starts in 2027" in tracks["REACH Global"]["why"]
    assert out["summary"]["recommended"] == "ENHANCED" and out["summary"]["reason"] is None
    assert {d["track"] for d in out["summary"]["not_open"]} == {"BASIC C", "REACH Global"}


def test_cli_json_no_recommendation(tmp_path, capsys):
    out = _cli_json(tmp_path, capsys, _scenario(trials=400, beneficiaries=3_000))
    assert out["summary"]["recommended"] is None
    assert "5,000" in out["summary"]["reason"]
    assert all(t["open"] is False and "5,000" in t["why"] for t in out["tracks"])


# ---------------------------------------------------------------- Compare tracks (AppTest)


def _compare(**aco):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=180)
    put_scenario(at, _scenario(trials=1_000, **aco))
    return at.run()


def _order(at) -> list[str]:
    """The main area's elements in page order, as 'kind:key-or-text' strings."""
    out = []

    def walk(block):
        for child in block.children.values():
            key = getattr(child, "key", None) or getattr(getattr(child, "proto", None), "key", None)
            body = getattr(child, "value", None) or getattr(getattr(child, "proto", None), "body", "")
            out.append(f"{child.type}:{key or ''}:{str(body)[:60]}")
            if hasattr(child, "children"):
                walk(child)

    walk(at.main)
    return out


def test_compare_shows_reasons_first_and_cards_only_for_open_tracks():
    at = _compare(experienced_with_risk=True, revenue_category="high")
    assert not at.exception
    cards = next(h.proto.body for h in at.get("html") if 'class="kpis"' in h.proto.body)
    assert cards.count('class="kpi"') == 3
    for name in ("ENHANCED", "LEAD Professional", "LEAD Global"):
        assert f">{name}</div>" in cards
    assert "BASIC" not in cards
    warn = next(w.value for w in at.warning if "Not open to you" in w.value)
    assert "may enter only ENHANCED (42 CFR 425.600(d))" in warn
    order = _order(at)
    first_warning = next(i for i, e in enumerate(order) if e.startswith("alert") or "Not open to you" in e)
    first_chart = next(i for i, e in enumerate(order) if e.startswith("plotly_chart"))
    assert first_warning < first_chart
    table = next(h.proto.body for h in at.get("html") if 'class="acotable"' in h.proto.body)
    assert "Not open to you in 2027" in table and table.count("Not open to you: A high-revenue") == 6
    story = " ".join(m.value for m in at.markdown)
    assert "**BASIC" not in story


def test_compare_without_an_open_track_says_why():
    at = _compare(beneficiaries=3_000)
    assert not at.exception
    assert not any('class="kpis"' in h.proto.body for h in at.get("html"))
    err = " ".join(e.value for e in at.error)
    assert "there is no recommendation" in err and "5,000" in err
    assert "pays the most on average" not in " ".join(m.value for m in at.markdown)


def test_compare_names_a_revenue_category_change_where_the_numbers_are():
    at = _compare()
    assert not any("Revenue category changed" in i.value for i in at.info)
    at.session_state["group.ACO"] = True
    at.run()
    field = next(w for w in at.sidebar.number_input if w.key == "in.aco.beneficiaries")
    field.set_value(8_000).run()
    assert not at.exception
    notice = next(i.value for i in at.info if "Revenue category changed" in i.value)
    assert "now high-revenue (it was low-revenue)" in notice and "8,000" in notice and "425.605(h)" in notice
    at.run()  # stays while the ACO's numbers stay
    assert any("Revenue category changed" in i.value for i in at.info)
    order = _order(at)
    assert next(i for i, e in enumerate(order) if "Revenue category changed" in e) < \
        next(i for i, e in enumerate(order) if e.startswith("plotly_chart"))
