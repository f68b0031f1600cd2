"""The consultant workflow in the dashboard (AppTest) and its upload handling.

Each new page runs without an exception, shows its main element and reacts to one
interaction; share links restore the same scenario (or say why not); uploads of every kind of
bad file are answered with a message; the export buttons' files carry the provenance of the
result the page shows. Small scenarios (2,000 futures) keep it quick.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from simulation.model import presets
from simulation.model.io import MAX_SCENARIO_BYTES, scenario_to_json
from simulation.model.scenario import Scenario, TrackChoice
from simulation.model.share import decode_scenario, encode_scenario
from simulation.rules.catalog import rules_version
from tests.conftest import put_scenario

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 180
SMALL = Scenario(trials=2_000)
TRACKS = [TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED"), TrackChoice(track="BASIC_A")]


def _app(scenario: Scenario | None = SMALL, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if scenario is not None:
        put_scenario(at, scenario)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def _page(page: str, scenario: Scenario | None = SMALL) -> AppTest:
    at = _app(scenario).run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [h.proto.body for h in at.get("html")] + [s.value for s in at.subheader]
    return "\n".join(parts)


def _alerts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def _token_with(scenario: Scenario, **payload) -> str:
    token = encode_scenario(scenario)
    doc = json.loads(zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))
    doc.update(payload)
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(doc).encode())).decode().rstrip("=")


# --------------------------------------------------------------------------- share links


def test_a_share_link_restores_the_same_scenario_and_keeps_it_in_the_address():
    s = presets.apply_preset(presets.apply_preset(Scenario(trials=2_000, seed=5), "small_rural"), "worst")
    at = _app(None, s=encode_scenario(s)).run()
    assert not at.exception, at.exception
    assert at.session_state["scenario.current"] == s
    assert any("Opened the shared scenario" in m for m in _alerts(at, "success"))
    assert "seed 5" in _texts(at) and "6,480 beneficiaries" in _texts(at)
    assert decode_scenario(at.query_params["s"])[0] == s
    # an edit updates the address: the link always holds what is shown
    put_scenario(at, s.model_copy(update={"seed": 6}))
    at.run()
    assert decode_scenario(at.query_params["s"])[0].seed == 6


def test_a_link_made_under_older_rules_says_so():
    at = _app(None, s=_token_with(SMALL, r="0.0.1+000000000000")).run()
    assert not at.exception
    assert at.session_state["scenario.current"] == SMALL
    assert any("made under older rules" in w and rules_version() in w for w in _alerts(at, "warning"))


@pytest.mark.parametrize("token", ["garbage!", "eJzLSM3JyVcozy_KSQEAGgQEXQ", "AAAA" * 3000])
def test_a_garbage_link_gives_a_message_and_the_default_scenario(token):
    at = _app(None, s=token).run()
    assert not at.exception
    errors = _alerts(at, "error")
    assert any("link's scenario could not be opened" in e and "default scenario" in e for e in errors), errors
    assert at.session_state["scenario.current"] == Scenario()
    assert decode_scenario(at.query_params["s"])[0] == Scenario()  # the address now holds the default
    assert at.title[0].value == "Compare tracks"


def test_an_edit_after_opening_a_link_changes_only_that_field():
    """A value the sidebar rounds for display (509.8 $M, $14,842.43) is kept bit for bit."""
    s = Scenario(trials=2_000, aco={"participant_revenue": 509_800_000.0, "benchmark_pc": 14_842.43,
                                    "beneficiaries": 40_000}, performance={"savings_effect": 0.0123456789})
    at = _app(None, s=encode_scenario(s))
    at.session_state["group.ACO"] = True
    at.run()
    assert at.session_state["scenario.current"] == s
    at.number_input(key="in.aco.beneficiaries").set_value(41_000).run()
    got = at.session_state["scenario.current"]
    assert got.aco.beneficiaries == 41_000
    assert got.model_copy(update={"aco": got.aco.model_copy(update={"beneficiaries": 40_000})}) == s


def test_money_typed_in_the_sidebar_is_stored_exactly():
    from dashboard import fields

    revenue = fields.ALL_INPUTS["aco.participant_revenue"]
    assert revenue.store(509.8) == 509_800_000.0 and revenue.store(14.3) == 14_300_000.0


# --------------------------------------------------------------------------- Scenarios page


def test_scenarios_page_applies_a_preset_with_its_sources():
    at = _page("pages/scenarios.py")
    assert at.title[0].value == "Scenarios"
    assert at.get("code"), "the share link is shown"
    assert at.get("code")[0].proto.code_text.startswith("http://localhost:")
    at.selectbox(key="scenarios.preset.archetype").set_value("small_rural")
    at.selectbox(key="scenarios.preset.assumptions").set_value("best").run()
    assert not at.exception
    text = _texts(at)
    assert "rural health clinics" in text and "Where the numbers come from" in text
    assert "median assigned beneficiaries (N_AB)" in text  # the per-value sources
    at.button(key="scenarios.preset.apply").click().run()
    assert not at.exception
    s = at.session_state["scenario.current"]
    assert s == presets.apply_preset(presets.apply_preset(SMALL, "small_rural"), "best")
    assert any(m.startswith("Applied Small physician-led rural ACO + Best case") for m in _alerts(at, "success"))


def test_snapshots_compared_side_by_side_on_the_same_futures():
    stay = SMALL.model_copy(update={"name": "Stay in BASIC", "tracks": TRACKS})
    at = _page("pages/scenarios.py", stay)
    at.text_input(key="scenarios.snapshot_name").set_value("Stay in BASIC")
    at.button(key="scenarios.snapshot").click().run()
    go = stay.model_copy(update={"costs": stay.costs.model_copy(update={"annual_operating_cost": 2_000_000.0}),
                                 "performance": stay.performance.model_copy(update={"savings_effect": 0.05})})
    put_scenario(at, go)
    at.run()
    at.text_input(key="scenarios.snapshot_name").set_value("Go ENHANCED with care management")
    at.button(key="scenarios.snapshot").click().run()
    assert not at.exception, at.exception
    assert list(at.session_state["scenarios.snapshots"]) == ["Stay in BASIC", "Go ENHANCED with care management"]
    assert at.multiselect(key="scenarios.compare").value == ["Stay in BASIC", "Go ENHANCED with care management"]
    at.selectbox(key="scenarios.track.Stay in BASIC").set_value("BASIC E")
    at.selectbox(key="scenarios.track.Go ENHANCED with care management").set_value("ENHANCED").run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "Go ENHANCED with care management** (ENHANCED)" in text and "of the same futures" in text
    assert "What differs between them" in text
    assert 'class="changed"' in text and "Annual operating cost" in text and "True savings effect" in text
    table = at.session_state["scenarios.comparison"]
    assert list(table["track"]) == ["BASIC E", "ENHANCED"] and table.attrs["paired"]
    assert any(c.proto.id for c in at.get("plotly_chart"))
    # edit a snapshot: it goes back to the sidebar
    at.button(key="scenarios.load.0").click().run()
    assert at.session_state["scenario.current"].name == "Stay in BASIC"


def test_upload_widget_answers_each_file():
    from dashboard import state

    at = _page("pages/scenarios.py")
    uploader = at.file_uploader(key=state.UPLOAD)
    uploader.set_value(("notes.json", b"my notes", "application/json")).run()
    assert not at.exception
    assert any("not valid JSON" in e for e in _alerts(at, "error"))
    assert at.session_state["scenario.current"] == SMALL
    good = SMALL.model_copy(update={"name": "From a file", "seed": 11})
    at.file_uploader(key=state.UPLOAD).set_value(("good.json", scenario_to_json(good), "application/json"))
    at.run()
    assert not at.exception
    assert at.session_state["scenario.current"] == good
    assert any("Opened **From a file**" in m for m in _alerts(at, "success"))


# --------------------------------------------------------------------------- upload handling


def _saved(**changes) -> bytes:
    doc = json.loads(scenario_to_json(SMALL))
    doc.update(changes)
    return json.dumps(doc).encode()


def _out_of_range() -> bytes:
    doc = json.loads(scenario_to_json(SMALL))
    doc["scenario"]["aco"]["beneficiaries"] = 5
    doc["scenario"]["trials"] = 10
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("raw", "needles"), [
    (b"these are my notes", ["not valid JSON"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", ["not"]),
    (b"", ["empty"]),
    (b'{"hello": "world"}', ["not an acosim scenario", "hello"]),
    (b"[1, 2]", ["expected a JSON object"]),
    (_saved(schema_version=99), ["schema_version 99", "newer acosim"]),
    (_saved(format="other-tool"), ["format 'other-tool'"]),
    (b" " * (MAX_SCENARIO_BYTES + 1), [f"the limit is {MAX_SCENARIO_BYTES:,}"]),
    (_out_of_range(), ["aco.beneficiaries", "1,000 to 1,000,000", "trials"]),
    (json.dumps({"format": "acosim-scenario-set", "format_version": 9, "current": {}}).encode(),
     ["format_version 9"]),
])
def test_bad_uploads_are_answered_by_a_message(raw, needles):
    from dashboard.workflow import read_upload

    scenario, messages, snapshots = read_upload(raw, "upload.json")
    assert scenario is None and snapshots == {}
    assert [k for k, _ in messages] == ["error"]
    text = re.sub(r"\\(.)", r"\1", messages[0][1])  # user text in it is Markdown-escaped
    assert text.startswith("**upload.json** could not be opened") and "Traceback" not in text
    for needle in needles:
        assert needle in text, (needle, text)


def test_an_old_file_opens_with_a_warning():
    from dashboard.workflow import read_upload

    scenario, messages, _ = read_upload(_saved(rules_version="0.0.1+000000000000"), "old.json")
    assert scenario == SMALL
    assert [k for k, _ in messages] == ["success", "warning"]
    assert "older rules" in messages[1][1]
    bare, notes, _ = read_upload(json.dumps({"aco": {"beneficiaries": 9_000}}).encode(), "bare.json")
    assert bare.aco.beneficiaries == 9_000 and any("set to the default" in t for _, t in notes)


def test_a_file_with_snapshots_round_trips():
    from dashboard import workflow

    a = SMALL.model_copy(update={"name": "A"})
    b = SMALL.model_copy(update={"name": "B", "seed": 3})
    raw = workflow.scenario_set_file(SMALL, {"A": a, "B": b})
    scenario, messages, snapshots = workflow.read_upload(raw, "set.json")
    assert scenario == SMALL and snapshots == {"A": a, "B": b}
    assert messages[-1] == ("success", "2 snapshots loaded for side by side: “A”, “B”.")
    doc = json.loads(raw)
    doc["snapshots"]["B"]["scenario"]["aco"]["beneficiaries"] = 1
    scenario, messages, snapshots = workflow.read_upload(json.dumps(doc).encode(), "set.json")
    assert scenario == SMALL and list(snapshots) == ["A"]
    assert any(k == "warning" and "Snapshot “B” was left out" in t for k, t in messages)


# --------------------------------------------------------------------------- Real ACOs


def test_real_acos_page_finds_an_aco_and_starts_a_scenario(shared_data):
    at = _page("pages/real_acos.py")
    assert at.title[0].value == "Real ACOs"
    assert "ACOs, 4,795 ACO-years" in _texts(at) or "ACO-years" in _texts(at)
    at.text_input(key="real.folder").set_value(str(shared_data)).run()
    at.text_input(key="real.query").set_value("palm beach").run()
    assert not at.exception, at.exception
    assert "Palm Beach Accountable Care Organization" in [h.value for h in at.subheader]
    assert len(at.get("plotly_chart")) == 1  # its savings rate among all ACOs
    text = _texts(at)
    assert "mean savings rate of the last 3 years" in text and "78,364" in text
    at.button(key="real.start").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Compare tracks"
    s = at.session_state["scenario.current"]
    assert s.aco.beneficiaries == 78_364 and s.tracks[0].track == "ENHANCED" and s.trials == SMALL.trials
    assert any("Started a scenario from Palm Beach" in m for m in _alerts(at, "success"))


def test_real_acos_page_without_results_files_says_how_to_get_them(tmp_path):
    at = _page("pages/real_acos.py")
    at.text_input(key="real.folder").set_value(str(tmp_path)).run()
    assert not at.exception
    assert any("no CMS results files" in w for w in _alerts(at, "warning"))
    assert any(f"acosim data download --dest {tmp_path}" in c.proto.code_text for c in at.get("code"))


# --------------------------------------------------------------------------- Export


def test_export_page_offers_every_file_with_provenance():
    from dashboard import engine, workflow
    from simulation import reports

    s = SMALL.model_copy(update={"name": "Export check", "tracks": TRACKS})
    at = _page("pages/export.py", s)
    assert at.title[0].value == "Export"
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Summary (CSV)", "Every future (CSV)", "Excel workbook", "HTML report"]
    text = _texts(at)
    assert f"<dd>{s.seed}</dd>" in text and rules_version() in text
    assert "pays the most on average" in text or "No track covers" in text

    # the files the buttons hand out, made from the very result the page shows (cached)
    result = engine.simulate_cached(s)
    assert result is engine.simulate_cached(at.session_state["scenario.current"])
    summary = engine.summary_cached(s)
    files = {f.label: f.make() for f in workflow.export_files(result, summary, engine.by_year_cached(s))}
    for label in ("Summary (CSV)", "Every future (CSV)"):
        raw = files[label].decode()
        for needle in (f"# Seed: {s.seed}", "# Simulated futures (trials): 2,000", f"# Rules version: {rules_version()}",
                       "# Scenario: Export check", "# Created (UTC): "):
            assert needle in raw, (label, needle)
    back = pd.read_csv(io.StringIO(files["Summary (CSV)"].decode()), comment="#")
    assert np.allclose(back["expected_net"], summary["expected_net"], rtol=1e-12)
    trials = pd.read_csv(io.BytesIO(files["Every future (CSV)"]), comment="#", index_col="trial")
    assert np.allclose(trials.to_numpy(), result.net_total, rtol=1e-12)

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(files["Excel workbook"]), read_only=True)
    prov = dict(list(wb["Provenance"].iter_rows(values_only=True))[1:])
    assert prov["Seed"] == str(s.seed) and prov["Rules version"] == rules_version()
    page = files["HTML report"].decode()
    assert "acosim-provenance" in page and f"seed {s.seed}" in page and "Export check" in page
    assert workflow.recommendation(result, summary) in page.replace("&#x27;", "'")
    assert isinstance(reports.provenance(result).line(), str)


@pytest.mark.parametrize("page", ["pages/compare.py", "pages/agreement.py", "pages/drivers.py"])
def test_every_chart_saves_as_a_png_with_its_provenance(page):
    """Each chart has its own "Save as PNG" button (the image itself is drawn only when
    pressed; its footer is tested below); Plotly's camera button, which gives no
    provenance, is gone."""
    s = SMALL.model_copy(update={"tracks": TRACKS})
    at = _page(page, s)
    charts_shown = at.get("plotly_chart")
    saves = [b for b in at.get("download_button") if b.proto.label == "Save as PNG"]
    assert charts_shown and len(saves) == len(charts_shown)
    for chart in charts_shown:
        config = json.loads(chart.proto.config)
        assert config.get("displayModeBar") is False


def test_a_chart_image_carries_the_scenario_provenance():
    from PIL import Image

    from dashboard import widgets
    from simulation import reports

    if reports.find_browser() is None:
        pytest.skip("needs Chrome or Chromium")
    s = SMALL.model_copy(update={"name": "Board pack"})
    fig = go.Figure(go.Bar(x=["BASIC E", "ENHANCED"], y=[1.0, 2.0]))
    image = Image.open(io.BytesIO(widgets.chart_image(fig, s)))
    line = image.text["Description"]
    assert "Board pack" in line and f"seed {s.seed}" in line and rules_version() in line
    assert "2,000 futures" in line
    given = Image.open(io.BytesIO(widgets.chart_image(fig, s, "ACO X · CMS results PY2019–PY2023")))
    assert "CMS results PY2019–PY2023" in given.text["Description"]


def test_png_gets_a_provenance_footer():
    from PIL import Image

    from simulation.reports.images import png_with_provenance

    buf = io.BytesIO()
    Image.new("RGB", (800, 400), "white").save(buf, "PNG")
    out = png_with_provenance(buf.getvalue(), "Case · seed 7 · 2,000 futures · rules 0.1.0+x · 2026-11-23")
    image = Image.open(io.BytesIO(out))
    assert image.size[0] == 800 and image.size[1] > 400
    assert "seed 7" in image.text["Description"]
    footer = np.asarray(image.convert("L"))[400:]
    assert footer.min() < 200  # the footer line is drawn


def test_agreement_page_says_savings_are_shared_from_the_first_dollar():
    at = _page("pages/agreement.py")
    text = _texts(at)
    assert "from the first dollar" in text and "above the minimum savings rate" not in text


def test_a_page_run_on_its_own_is_drawn_as_it_is():
    """The deep-link guard switches to app.py only when app.py is among the pages."""
    at = AppTest.from_file(str(ROOT / "pages" / "scenarios.py"), default_timeout=TIMEOUT)
    at.session_state["scenario.current"] = SMALL
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Scenarios"
