"""Consultant workflow: presets, saved and shared scenarios, side by side, exports, real ACOs.

Simulations are small (500–1,500 trials); chart images need Chrome/Chromium and are rendered
at most once (the PowerPoint test uses a tiny PNG made here, so it always runs).
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import shutil
import socket
import threading
import time
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from simulation import reports
from simulation.calibration import derive_presets
from simulation.cli import main
from simulation.cms import acos as realdata
from simulation.model import montecarlo as mc
from simulation.model import presets
from simulation.model.compare import (
    compare_results,
    compare_scenarios,
    scenario_diff,
    simulate_named,
)
from simulation.model.io import (
    MAX_SCENARIO_BYTES,
    parse_scenario_bytes,
    read_saved,
    read_scenario_file,
    scenario_to_json,
)
from simulation.model.scenario import Scenario, ScenarioError, TrackChoice
from simulation.model.share import QUERY_PARAM, decode_scenario, encode_scenario, share_url
from simulation.reports.charts import tradeoff_text
from simulation.rules.catalog import rules_version
from simulation.text import money

TRACKS = [TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED"), TrackChoice(track="BASIC_A")]


def small(**update) -> Scenario:
    return Scenario(trials=1_000, tracks=TRACKS).model_copy(update=update)


@pytest.fixture(scope="module")
def result():
    return mc.simulate(small())


@pytest.fixture(scope="module")
def summ(result):
    return mc.summary(result)


@pytest.fixture(scope="module")
def prov(result):
    return reports.provenance(result)


def tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (60, 30), (0, 158, 115)).save(buf, "PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- presets


def test_presets_list_with_descriptions_and_sources():
    listed = presets.list_presets()
    names = [p["name"] for p in listed]
    assert names == ["small_rural", "mid_independent", "large_hospital", "experienced_high_revenue",
                     "worst", "realistic", "best"]
    for p in listed:
        assert len(p["description"]) > 40 and "CMS" in p["source"]
    assert [p["name"] for p in presets.list_presets("assumptions")] == ["worst", "realistic", "best"]
    table = presets.preset_table("small_rural")
    assert set(table["confidence"]) <= {"REG", "CMS", "SEC", "INF"}
    assert table.set_index("path").loc["aco.beneficiaries", "value"] == 6480  # an int, not 6480.0
    assert table.set_index("path").loc["costs.startup_investment", "confidence"] == "SEC"


@pytest.mark.parametrize("name", ["small_rural", "mid_independent", "large_hospital", "experienced_high_revenue"])
def test_archetype_sets_only_aco_and_costs(name):
    base = small()
    s = presets.apply_preset(base, name)
    changed = {path.split(".")[0] for path, _a, _b in scenario_diff(base, s, ignore=())}
    assert changed <= {"aco", "costs", "name"} and "aco" in changed
    assert s.name == presets.get_preset(name).title
    assert s.performance == base.performance and s.tracks == base.tracks and s.seed == base.seed


def test_assumption_sets_order_and_scope():
    base = small()
    sets = {n: presets.apply_preset(base, n) for n in ("worst", "realistic", "best")}
    for s in sets.values():
        changed = {path.split(".")[0] for path, _a, _b in scenario_diff(base, s)}
        assert changed <= {"performance", "market", "noise"}
        assert s.aco == base.aco and s.name == base.name
    effect = [sets[n].performance.savings_effect for n in ("worst", "realistic", "best")]
    assert effect == sorted(effect) and effect[0] < effect[2]
    assert sets["worst"].noise.shock_year == 1 and sets["best"].noise.shock_year is None
    # on the same draws, the best case pays more than the worst for every track
    nets = {n: mc.summary(mc.simulate(s, trials=500)).set_index("track")["expected_net"] for n, s in sets.items()}
    assert (nets["best"] > nets["realistic"]).all() and (nets["realistic"] > nets["worst"]).all()


def test_archetype_then_assumptions_validates():
    s = presets.apply_preset(presets.apply_preset(small(), "large_hospital"), "worst")
    assert s.aco.revenue_category == "high" and s.costs.revenue_loss_share == 0.25
    assert s.performance.savings_effect < 0.02
    with pytest.raises(presets.PresetError, match=r"unknown preset 'nope'"):
        presets.apply_preset(s, "nope")


def test_preset_files_are_what_the_cms_data_give(shared_data):
    """The files hold exactly what ``--derive`` computes from the CMS results: not invented."""
    derived = derive_presets.derive(shared_data)
    for name, doc in derived.items():
        on_disk = json.loads((presets.PRESETS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert on_disk == json.loads(json.dumps(doc)), f"{name}.json is stale: run {presets.DERIVE_COMMAND}"
    rural = derived["small_rural"]
    assert rural["derivation"]["acos"] >= 5 and rural["values"]["aco.revenue_category"]["value"] == "low"
    assert derived["large_hospital"]["values"]["aco.beneficiaries"]["value"] > \
        derived["small_rural"]["values"]["aco.beneficiaries"]["value"]


def _write_preset(folder: Path, doc: dict) -> None:
    (folder / f"{doc['name']}.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["values"].update({"performance.savings_effect": {"value": 0.02, "confidence": "INF",
                                                                  "source": "x" * 5}}),
     "an archetype preset sets only aco.*, costs.*"),
    (lambda d: d["values"].update({"aco.nonsense": {"value": 1, "confidence": "INF", "source": "xxxxx"}}),
     "no such scenario field"),
    (lambda d: d["values"]["aco.beneficiaries"].update({"confidence": "GUESS"}), "confidence"),
    (lambda d: d["values"]["aco.beneficiaries"].update({"value": 5}), "aco.beneficiaries"),
    (lambda d: d.update({"name": "other"}), "must match the file name"),
    (lambda d: d.update({"kind": "mystery"}), "kind"),
])
def test_malformed_preset_is_refused(tmp_path, change, message):
    doc = json.loads((presets.PRESETS_DIR / "small_rural.json").read_text(encoding="utf-8"))
    change(doc)
    (tmp_path / "small_rural.json").write_text(json.dumps(doc))
    with pytest.raises(presets.PresetError, match=r"small_rural\.json") as exc:
        presets.load_presets(tmp_path)
    assert message in str(exc.value)


# --------------------------------------------------------------------------- save and load


def test_save_load_round_trip_is_identical():
    s = presets.apply_preset(small(seed=42, name="Board case — Ünïcode"), "mid_independent")
    raw = scenario_to_json(s)
    doc = json.loads(raw)
    assert doc["schema_version"] == 1 and doc["rules_version"] == rules_version()
    assert doc["created_at"].endswith("+00:00") and doc["format"] == "acosim-scenario"
    warnings: list[str] = []
    back = parse_scenario_bytes(raw, "saved.json", warnings)
    assert back == s and warnings == []
    saved = read_saved(raw)
    assert saved.rules_version == rules_version() and saved.created_at == doc["created_at"]


def test_saved_file_works_with_the_cli(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_bytes(scenario_to_json(small(trials=500)))
    assert read_scenario_file(path) == small(trials=500)
    assert main(["scenario", "--check", str(path)]) == 0
    assert "valid scenario" in capsys.readouterr().out


def _envelope(**changes) -> bytes:
    doc = json.loads(scenario_to_json(small()))
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("raw", "message"), [
    (b"this is not json", "not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not"),
    (b"", "empty"),
    (b"[1, 2, 3]", "expected a JSON object (a saved acosim scenario), got a JSON list"),
    (b"{}", "not an acosim scenario"),
    (b'{"hello": "world"}', "none of its fields (hello)"),
    (_envelope(extra=1), "extra: unknown field"),
    (json.dumps({"format": "acosim-scenario", "rules_version": "x", "schema_version": 1}).encode(),
     "scenario: missing"),
    (_envelope(schema_version=99), "schema_version 99 was written by a newer acosim"),
    (_envelope(scenario={**small().model_dump(mode="json"), "schema_version": 99}), "schema_version 99"),
    (_envelope(scenario=[1]), "scenario: expected a JSON object"),
    (_envelope(format_version=7), "format_version 7 was written by a newer acosim"),
    (b" " * (50 * 1024 * 1024), f"the limit is {MAX_SCENARIO_BYTES:,}"),
    (json.dumps({"aco": {"beneficiaries": 5}, "trials": 50}).encode(),
     "aco.beneficiaries: Input should be greater than or equal to 1000 (got 5); allowed range 1,000 to 1,000,000"),
    (json.dumps({"aco": {"beneficiaries": 20_000, "mystery": 1}}).encode(), "aco.mystery: unknown field"),
    (b'{"trials": NaN}', "NaN is not a number JSON allows"),
    (b'{"trials": 500, "trials": 600}', "appears twice"),
    (b"[" * 5000 + b"]" * 5000, "nested far too deeply"),
])
def test_bad_upload_is_answered_with_a_message(raw, message):
    with pytest.raises(ScenarioError) as exc:
        parse_scenario_bytes(raw, "upload.json")
    text = "; ".join(exc.value.problems)
    assert message in text
    assert "\n" not in text and "Traceback" not in text


def test_out_of_range_values_list_every_field():
    data = small().model_dump(mode="json")
    data["aco"]["beneficiaries"] = 10**9
    data["performance"]["qps_probability"] = 2
    data["trials"] = 10
    with pytest.raises(ScenarioError) as exc:
        parse_scenario_bytes(json.dumps(data).encode())
    fields = [p.split(":")[0] for p in exc.value.problems]
    assert fields == ["aco.beneficiaries", "performance.qps_probability", "trials"]


@pytest.mark.parametrize(("saved", "word"), [
    ("0.0.1+000000000000", "older rules"),
    (rules_version().split("+")[0] + "+ffffffffffff", "different track rules"),
    ("99.0.0+000000000000", "newer rules"),
])
def test_other_rules_are_accepted_with_a_warning(saved, word):
    warnings: list[str] = []
    s = parse_scenario_bytes(_envelope(rules_version=saved), "old.json", warnings)
    assert s == small()
    assert len(warnings) == 1 and word in warnings[0] and saved in warnings[0] and rules_version() in warnings[0]


def test_partial_bare_scenario_names_the_defaults():
    warnings: list[str] = []
    s = parse_scenario_bytes(json.dumps({"aco": {"beneficiaries": 9000}}).encode(), "p.json", warnings)
    assert s.aco.beneficiaries == 9000
    assert warnings and warnings[0].startswith("Not in the file, so set to the default: name")


# --------------------------------------------------------------------------- links


def test_link_round_trip_gives_the_same_numbers():
    s = presets.apply_preset(presets.apply_preset(small(seed=7, trials=800), "small_rural"), "best")
    token = encode_scenario(s)
    assert len(token) < 2_000 and all(c.isalnum() or c in "-_" for c in token)
    back, warnings = decode_scenario(token)
    assert back == s and warnings == []
    a = mc.summary(mc.simulate(s)).set_index("track")["expected_net"]
    b = mc.summary(mc.simulate(back)).set_index("track")["expected_net"]
    assert a.equals(b)


def test_links_are_short_for_typical_scenarios():
    default = encode_scenario(Scenario())
    custom = encode_scenario(Scenario(
        name="Go ENHANCED with care management", aco={"beneficiaries": 31_000, "benchmark_pc": 13_900.0},
        costs={"annual_operating_cost": 2_500_000.0}, trials=50_000, seed=123456789,
        tracks=[TrackChoice(track="BASIC_E", msr="1.0"), TrackChoice(track="ENHANCED", msr="2.0"),
                TrackChoice(track="BASIC_GLIDE", glide_start="B")]))
    assert len(default) < 500 and len(custom) < 600
    url = share_url("http://localhost:8501/compare?page=1", Scenario(seed=5))
    assert f"&{QUERY_PARAM}=" in url and len(url) < 2_000
    assert decode_scenario(url)[0] == Scenario(seed=5)


def test_link_made_under_older_rules_says_so():
    token = encode_scenario(small())
    payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))
    payload["r"] = "0.0.1+000000000000"
    old = base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode().rstrip("=")
    scenario, warnings = decode_scenario(old)
    assert scenario == small()
    assert len(warnings) == 1 and "link was made under older rules" in warnings[0]


def _token(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


@pytest.mark.parametrize(("token", "message"), [
    ("", "no scenario in it"),
    ("not a token!", "characters a scenario link never has"),
    ("abc", "could not be unpacked"),
    ("AAAA" * 3000, "at most 10,000"),
    (_token(b"just text"), "not an acosim scenario link"),
    (_token([1, 2]), "not an acosim scenario link"),
    (_token({"v": 9, "s": {}}), "made by a newer acosim"),
    (_token({"v": 1, "sv": 1, "s": {"aco": {"beneficiaries": 3}}}), "the link's scenario is invalid: aco.beneficiaries"),
    (_token({"v": 1, "sv": 1, "s": {"bogus": 1}}), "bogus: unknown field"),
    (_token(b"0" * 1_000_000), "far too much data"),
    ("https://example.org/compare?page=2", "no 's=' part"),
])
def test_garbage_link_gives_a_message(token, message):
    with pytest.raises(ScenarioError) as exc:
        decode_scenario(token)
    assert message in "; ".join(exc.value.problems)


def test_truncated_link_gives_a_message():
    token = encode_scenario(small())
    with pytest.raises(ScenarioError, match="damaged or incomplete"):
        decode_scenario(token[: len(token) // 2])


# --------------------------------------------------------------------------- side by side


def test_side_by_side_runs_on_the_same_draws():
    base = small(trials=1_500)
    costly = base.model_copy(update={"costs": base.costs.model_copy(update={"annual_operating_cost": 2_000_000.0})})
    twin = base.model_copy(update={"name": "twin"})
    df = compare_scenarios({"base": base, "costly": costly, "twin": twin})
    assert df.attrs["paired"] and df.attrs["trials"] == 1_500 and df.attrs["seed"] == base.seed
    rows = df.set_index(["scenario", "track"])
    years = base.aco.agreement_years
    for track in ("BASIC E", "ENHANCED", "BASIC A"):
        # only the operating cost differs: on the same draws the difference is exactly the cost
        r = rows.loc[("costly", track)]
        assert r["delta_expected_net"] == pytest.approx(-500_000.0 * years, abs=1e-3)
        assert r["delta_mcse"] == pytest.approx(0.0, abs=1e-6) and r["p_better"] == 0.0
        assert r["delta_p5"] == pytest.approx(-500_000.0 * years, abs=1e-3)
        assert r["delta_p_owe_cms"] == 0.0  # costs do not change the settlement
        assert rows.loc[("twin", track), "delta_expected_net"] == 0.0
        assert r["versus"] == f"base / {track}"


def test_stay_in_basic_against_go_enhanced():
    stay = small()
    go = small(name="go").model_copy(update={
        "performance": stay.performance.model_copy(update={"savings_effect": 0.06}),
        "costs": stay.costs.model_copy(update={"annual_operating_cost": 2_200_000.0})})
    df = compare_scenarios({"stay in BASIC": stay, "go ENHANCED": go},
                           {"stay in BASIC": "BASIC E", "go ENHANCED": ["ENHANCED"]}, trials=1_000)
    assert list(df["track"]) == ["BASIC E", "ENHANCED"]
    row = df.iloc[1]
    assert row["versus"] == "stay in BASIC / BASIC E"
    assert row["delta_expected_net"] == pytest.approx(row["expected_net"] - df.iloc[0]["expected_net"])
    assert 0.0 <= row["p_better"] <= 1.0 and row["delta_mcse"] < row["mcse"]  # pairing pays
    with pytest.raises(KeyError, match="has no track 'TRACK_9'"):
        compare_scenarios({"a": stay, "b": go}, ["TRACK_9"])
    with pytest.raises(ValueError, match="at least two"):
        compare_scenarios({"a": stay})


def test_different_draws_are_flagged():
    runs = simulate_named({"a": small()}, trials=500)
    runs["b"] = mc.simulate(small(), trials=500, seed=1)
    df = compare_results(runs)
    assert not df.attrs["paired"] and df.attrs["warnings"]
    assert df["p_better"].isna().all()


def test_scenario_diff_lists_what_differs():
    a = small()
    b = a.model_copy(update={"name": "other", "seed": 9,
                             "aco": a.aco.model_copy(update={"beneficiaries": 30_000}),
                             "tracks": [TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED")]})
    diff = scenario_diff(a, b)
    assert ("aco.beneficiaries", 20_000, 30_000) in diff and ("seed", a.seed, 9) in diff
    assert ("tracks", ["BASIC E", "ENHANCED", "BASIC A"], ["BASIC E", "ENHANCED"]) in diff
    assert all(path != "name" for path, _x, _y in diff)
    assert ("name", a.name, "other") in scenario_diff(a, b, ignore=())
    assert scenario_diff(a, a) == []


# --------------------------------------------------------------------------- exports


def test_recommendation_reuses_the_dashboard_sentence(summ):
    text = reports.recommendation_text(summ)
    best = summ.sort_values("expected_net", ascending=False).iloc[0]
    assert text.startswith(f"{best.track} pays the most on average")
    assert money(best.expected_net, signed=True) in text and "**" not in text
    assert text == " ".join(s.replace("**", "") for s in tradeoff_text(summ, 5))


def test_csv_exports_carry_provenance_and_the_numbers(result, summ, prov):
    raw = reports.summary_csv(summ, prov).decode()
    for needle in (f"# Seed: {result.seed}", "# Simulated futures (trials): 1,000",
                   f"# Rules version: {rules_version()}", f"# Scenario: {result.scenario.name}"):
        assert needle in raw
    back = pd.read_csv(io.StringIO(raw), comment="#")
    assert np.allclose(back["expected_net"], summ["expected_net"], rtol=1e-12)
    trials = pd.read_csv(io.BytesIO(reports.trials_csv(result, prov)), comment="#", index_col="trial")
    assert trials.shape == (1_000, 3) and list(trials.columns) == result.keys
    assert np.allclose(trials.to_numpy(), result.net_total, rtol=1e-12)


def test_xlsx_reads_back_with_the_right_numbers(result, summ, prov):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(reports.xlsx_bytes(result, summary=summ, prov=prov)), read_only=True)
    assert wb.sheetnames == ["Summary", "By year", "Per trial", "Assumptions", "Provenance"]
    rows = list(wb["Summary"].iter_rows(values_only=True))
    header = rows[0]
    col = header.index("Expected net ($)")
    owe = header.index("Chance of owing CMS")
    got = {r[0]: (r[col], r[owe]) for r in rows[1:]}
    for _, r in summ.iterrows():
        assert got[r.track][0] == pytest.approx(r.expected_net, rel=1e-12)
        assert got[r.track][1] == pytest.approx(r.p_owe_cms, rel=1e-12)
    per_trial = list(wb["Per trial"].iter_rows(values_only=True))
    assert per_trial[0] == ("trial", *result.keys) and len(per_trial) == 1 + result.trials
    assert np.allclose(np.array([r[1:] for r in per_trial[1:]], dtype=float), result.net_total, rtol=1e-12)
    provenance = dict(list(wb["Provenance"].iter_rows(values_only=True))[1:])
    assert provenance["Seed"] == str(result.seed) and provenance["Rules version"] == rules_version()
    assert provenance["Simulated futures (trials)"] == "1,000"
    assumptions = list(wb["Assumptions"].iter_rows(values_only=True))
    assert any(r[1] == "Assigned beneficiaries" and r[2] == "20,000" for r in assumptions)


def test_pptx_holds_the_recommendation_charts_and_assumptions(result, summ, prov):
    from pptx import Presentation

    text = reports.recommendation_text(summ)
    data = reports.pptx_bytes(result, summary=summ, prov=prov, images={"Range of outcomes": tiny_png()})
    deck = Presentation(io.BytesIO(data))
    slides = list(deck.slides)
    texts = []
    pictures = 0
    for slide in slides:
        slide_text = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                slide_text.append(shape.text_frame.text)
            if shape.has_table:
                slide_text += [c.text for row in shape.table.rows for c in row.cells]
            pictures += shape.shape_type == 13  # MSO_SHAPE_TYPE.PICTURE
        texts.append("\n".join(slide_text))
        assert f"seed {result.seed}" in texts[-1] and rules_version() in texts[-1]  # every footer
    assert result.scenario.name in texts[0]
    assert text in texts[1]
    best = summ.sort_values("expected_net", ascending=False).iloc[0]
    assert money(best.expected_net, signed=True) in texts[1]
    assert pictures == 1 and "Range of outcomes" in texts[2]
    assumptions = "\n".join(texts[3:])
    assert "Assigned beneficiaries" in assumptions and "20,000" in assumptions and "Random seed" in assumptions
    assert deck.core_properties.keywords.startswith(f"seed={result.seed}")


def test_html_report_holds_the_figures_once_and_provenance(result, summ, prov):
    evil = small(name="<script>alert(1)</script>")
    res = mc.simulate(evil, trials=500)
    figs = reports.key_figures(res)
    page = reports.report_html(res, figures=figs, prov=reports.provenance(res))
    assert page.count("Plotly.newPlot") == len(figs) == 3
    assert page.count("plotly.js v") == 1  # the library is embedded once
    for i, title in enumerate(figs, 1):
        assert f'id="chart-{i}"' in page and title in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"seed {res.seed}" in page and rules_version() in page and "Assigned beneficiaries" in page
    static = reports.report_html(result, summary=summ, prov=prov, images={"Chart": tiny_png()})
    assert "Plotly.newPlot" not in static and "data:image/png;base64," in static
    assert reports.recommendation_text(summ).split(":")[0] in static


needs_browser = pytest.mark.skipif(reports.find_browser() is None, reason="needs Chrome or Chromium")


@needs_browser
def test_png_of_a_plotly_figure(result, summ):
    fig = next(iter(reports.key_figures(result, summ).values()))
    png = reports.figure_png(fig, width=500, scale=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


@needs_browser
def test_pdf_report(result, summ, prov):
    pdf = reports.report_pdf(result, summary=summ, prov=prov, images={"Chart": tiny_png()})
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_pdf_without_a_browser_is_one_line(result, summ, monkeypatch):
    monkeypatch.setattr(reports.documents, "find_browser", lambda: None)
    with pytest.raises(reports.ReportError, match="needs Chrome or Chromium"):
        reports.report_pdf(result, summary=summ, images={})


# --------------------------------------------------------------------------- real ACOs


@pytest.fixture(scope="module")
def cms(shared_data):
    results, warnings = realdata.load_results(shared_data)
    return results, warnings


def test_load_every_year(cms):
    results, warnings = cms
    assert warnings == []
    assert sorted(results["performance_year"].unique()) == list(range(2013, 2024))
    assert (results.loc[results["performance_year"] >= 2018, "linked_by"] == "id").all()
    assert (results["linked_by"] == "name").sum() > 500


def test_search_by_name_or_id(cms):
    results, _ = cms
    by_name = realdata.search_acos(results, "PALM beach")
    assert by_name.iloc[0]["aco_id"] == "A1001" and by_name.iloc[0]["latest_year"] == 2023
    assert by_name.iloc[0]["first_year"] == 2013  # earlier years linked by name
    assert realdata.search_acos(results, "a1001").iloc[0]["aco_id"] == "A1001"
    many = realdata.search_acos(results, "health", limit=5)
    assert len(many) == 5 and many["aco_name"].str.lower().str.contains("health").all()
    assert realdata.search_acos(results, "no such aco zzz").empty
    with pytest.raises(realdata.RealDataError):
        realdata.search_acos(results, "  ")


def test_history_of_one_aco(cms):
    results, _ = cms
    h = realdata.aco_history(results, "a1001")
    assert list(h["performance_year"]) == list(range(2013, 2024))
    last = h.iloc[-1]
    assert last["track"] == "ENHANCED" and last["n_ab"] == 78_364
    assert last["sav_rate"] == pytest.approx(0.0909) and last["earned_save_loss"] == pytest.approx(73_426_268)
    assert 80 < last["sav_rate_percentile"] < 95
    assert set(h.loc[h["performance_year"] < 2018, "linked_by"]) == {"name"}
    with pytest.raises(realdata.RealDataError, match="no ACO with ID 'A0000'"):
        realdata.aco_history(results, "A0000")


def test_program_distribution(cms):
    results, _ = cms
    dist = realdata.program_distribution(results).set_index("performance_year")
    rates = results.loc[results["performance_year"] == 2023, "sav_rate"]
    assert dist.loc[2023, "n"] == 453
    assert dist.loc[2023, "p50"] == pytest.approx(np.percentile(rates, 50))
    assert (dist["p5"] < dist["p50"]).all() and (dist["p50"] < dist["p95"]).all()


def test_scenario_from_aco(cms):
    results, _ = cms
    h = realdata.aco_history(results, "A1001")
    base = small()
    s = realdata.scenario_from_aco(h, base)
    assert s.aco.beneficiaries == 78_364 and s.aco.agreement_start_year == 2024
    assert s.aco.benchmark_pc == pytest.approx(14_286 * (1 + base.market.trend_mean), abs=0.01)
    assert s.performance.savings_effect == pytest.approx(np.mean([0.0717, 0.0646, 0.0909]), abs=1e-5)
    assert 0.005 < s.performance.savings_effect_sd < 0.05
    assert s.aco.revenue_category == "low" and s.aco.experienced_with_risk and not s.aco.first_agreement
    assert [t.track for t in s.tracks] == ["ENHANCED", "BASIC_E", "BASIC_A"]
    assert "Palm Beach" in s.name and s.seed == base.seed
    reasons = {p.path: p.reason for p in realdata.prefill(h, base)}
    assert "7.2%, 6.5%, 9.1%" in reasons["performance.savings_effect"]
    assert mc.summary(mc.simulate(s, trials=500))["expected_net"].notna().all()


def test_unreadable_files_are_skipped_with_a_warning(tmp_path, shared_data):
    shutil.copy(shared_data / "mssp_puf" / "PY2023.csv", tmp_path / "PY2023.csv")
    shutil.copy(shared_data / "mssp_puf" / "PY2023.csv", tmp_path / "PY2023 copy.csv")
    (tmp_path / "PY2022.csv").write_text("this,is\nnot,results\n")
    (tmp_path / "notes.csv").write_text("ignored: no year in the name\n")
    results, warnings = realdata.load_results(tmp_path)
    assert set(results["performance_year"]) == {2023} and len(results) == 453
    assert any(w.startswith("PY2022.csv: skipped") for w in warnings)
    assert any("already loaded" in w for w in warnings)
    assert not any("notes.csv" in w for w in warnings)


@pytest.mark.parametrize("setup", ["missing", "empty", "garbage", "file"])
def test_bad_results_folder(tmp_path, setup):
    folder = tmp_path / "data"
    if setup != "missing":
        folder.mkdir()
    if setup == "garbage":
        (folder / "PY2023.csv").write_bytes(b"\x00\x01binary")
    if setup == "file":
        folder.rmdir()
        folder.write_text("x")
    with pytest.raises(realdata.RealDataError) as exc:
        realdata.load_results(folder)
    assert "\n" not in str(exc.value)


def test_cli_search_and_history(shared_data, capsys):
    assert main(["data", "search", "palm beach", "--data", str(shared_data)]) == 0
    assert "A1001" in capsys.readouterr().out
    assert main(["data", "history", "A1001", "--data", str(shared_data), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["performance_year"] == 2023 and rows[-1]["track"] == "ENHANCED"
    assert main(["data", "history", "A0000", "--data", str(shared_data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no ACO with ID" in err


# --------------------------------------------------------------------------- download


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}

    def do_GET(self):
        if self.path == "/slow.json":
            time.sleep(2.0)
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def cms_server(shared_data):
    lines = (shared_data / "mssp_puf" / "PY2023.csv").read_bytes().splitlines(keepends=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def catalog(files):
        return json.dumps({"dataset": [
            {"title": "Some other dataset", "distribution": [{"downloadURL": f"{base}/other.csv"}]},
            {"title": "Performance Year Financial and Quality Results",
             "distribution": [{"mediaType": "text/csv", "downloadURL": f"{base}{path}",
                               "title": f"Performance Year Financial and Quality Results : {year}-01-01",
                               "temporal": f"{year}-01-01/{year}-12-31"} for year, path in files]
             + [{"format": "API", "accessURL": f"{base}/data-api/v1/dataset/x/data"}]}]}).encode()

    _Handler.routes = {
        "/data.json": catalog([(2023, "/files/py2023.csv"), (2022, "/files/garbage.csv")]),
        "/missing.json": catalog([(2023, "/files/gone.csv")]),
        "/files/py2023.csv": b"".join(lines[:31]),
        "/files/garbage.csv": b"not,a,results,file\n1,2,3,4\n",
        "/bad.json": b"<html>maintenance</html>",
        "/empty.json": b'{"dataset": []}',
        "/slow.json": b"{}",
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_download_saves_checked_files(tmp_path, cms_server):
    report = realdata.download_results(tmp_path, [2023], catalog_url=f"{cms_server}/data.json", timeout=10)
    assert report.saved == [tmp_path / "PY2023.csv"] and report.warnings == []
    from simulation.cms.puf import load_puf

    assert len(load_puf(tmp_path / "PY2023.csv")) == 30
    again = realdata.download_results(tmp_path, [2023], catalog_url=f"{cms_server}/data.json", timeout=10)
    assert again.saved == [] and again.skipped == [tmp_path / "PY2023.csv"]
    every = realdata.download_results(tmp_path, catalog_url=f"{cms_server}/data.json", timeout=10, overwrite=True)
    assert every.saved == [tmp_path / "PY2023.csv"]  # PY2022 is not a results file: not kept
    assert len(every.warnings) == 1 and every.warnings[0].startswith("PY2022: the file from")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PY2023.csv"]
    results, warnings = realdata.load_results(tmp_path)
    assert len(results) == 30 and warnings == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("url", "message"), [
    ("/bad.json", "not the JSON catalog"),
    ("/empty.json", "lists no 'Performance Year Financial and Quality Results' CSV files"),
    ("/nothing-here.json", "answered 404 Not Found"),
    ("/slow.json", "did not answer within 0.5 s"),
    ("/missing.json", "PY2023: 127.0.0.1"),
    ("CLOSED", "refused the connection"),
    ("file:///etc/passwd", "is not an http(s) address"),
])
def test_download_errors_are_one_line(tmp_path, cms_server, url, message):
    if url == "CLOSED":
        url = f"http://127.0.0.1:{_closed_port()}/data.json"
    elif url.startswith("/"):
        url = cms_server + url
    with pytest.raises(realdata.DownloadError) as exc:
        realdata.download_results(tmp_path, catalog_url=url, timeout=0.5)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_download_of_a_year_cms_does_not_list(tmp_path, cms_server):
    with pytest.raises(realdata.DownloadError, match=r"no results file for PY2030 \(it lists 2022–2023\)"):
        realdata.download_results(tmp_path, [2030], catalog_url=f"{cms_server}/data.json")


def test_cli_download(tmp_path, cms_server, capsys):
    dest = tmp_path / "cms"
    assert main(["data", "download", "--dest", str(dest), "--year", "2023",
                 "--catalog-url", f"{cms_server}/data.json"]) == 0
    assert f"saved {dest / 'PY2023.csv'}" in capsys.readouterr().out
    url = f"http://127.0.0.1:{_closed_port()}/data.json"
    assert main(["data", "download", "--dest", str(dest), "--catalog-url", url, "--timeout", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("acosim data: error: CMS catalog:") and "refused" in err[-1]


def test_no_network_is_one_line(tmp_path, monkeypatch):
    def no_network(*_args, **_kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(realdata.DownloadError) as exc:
        realdata.download_results(tmp_path, timeout=1)
    assert str(exc.value).startswith("CMS catalog: cannot reach data.cms.gov (no network")
    assert "\n" not in str(exc.value)
