"""Hostile links, files and commands (issue: hardening): each answered by a short message
naming the problem, never a traceback, a formula, a link or a wrong result."""

from __future__ import annotations

import base64
import http.server
import io
import json
import threading
import time
import tomllib
import zlib
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from simulation import reports
from simulation.cli import main
from simulation.model import montecarlo as mc
from simulation.model.io import scenario_to_json
from simulation.model.scenario import Scenario, ScenarioError, TrackChoice, validate_scenario
from simulation.model.share import decode_link, decode_scenario, encode_scenario
from simulation.text import cell_safe, clip, md_escape, plain_label, printable
from tests.conftest import put_scenario

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PUF = ROOT.parent / "shared" / "data" / "mssp_puf" / "PY2023.csv"
SMALL = Scenario(trials=500, tracks=[TrackChoice(track="BASIC_E"), TrackChoice(track="ENHANCED")])
#: {"v":1,"s":{"\ud800":1}} — a link whose scenario has a lone-surrogate key (from the issue)
SURROGATE_LINK = "eNqrVipTslIw1FFQKgbS1UoxpSkWBgYgodpaAGRnBy8"


def _token(doc) -> str:
    raw = json.dumps(doc).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def _problems(data) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(data)
    return info.value.problems


# --------------------------------------------------------------------------- share links


def test_the_surrogate_link_decodes_to_a_message():
    with pytest.raises(ScenarioError) as info:
        decode_scenario(SURROGATE_LINK)
    problems = info.value.problems
    assert problems == ["the link's scenario is invalid: \\ud800: unknown field"]


@pytest.mark.parametrize("token", ["http://[x", "?s=http://[x", "https://host/?s=" + "%ff" * 5])
def test_a_malformed_address_is_a_message(token):
    with pytest.raises(ScenarioError) as info:
        decode_scenario(token)
    problems = info.value.problems
    assert problems[0].startswith("the link is damaged or incomplete")


def _app_with_link(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["s"] = token
    return at.run()


@pytest.mark.parametrize("token", [SURROGATE_LINK, "http://[x"])
def test_a_hostile_link_opens_the_default_scenario_with_a_notice(token):
    at = _app_with_link(token)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("This link's scenario could not be opened") for e in errors), errors
    assert at.session_state["scenario.current"] == Scenario()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200),
                 st.binary(max_size=300).map(lambda b: base64.urlsafe_b64encode(zlib.compress(b)).decode()),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=20).map(lambda s: _token({"v": 1, "s": s}))))
def test_fuzz_share_tokens_never_raise_anything_else(token):
    """Whatever a link holds, decoding gives a scenario or a ScenarioError whose text can be
    shown (encoded as UTF-8) and is short."""
    try:
        decode_link(token)
    except ScenarioError as exc:
        text = "; ".join(exc.problems)
        text.encode("utf-8")
        assert len(text) < 2_000


# --------------------------------------------------------------------------- uploads


def _set(doc) -> bytes:
    return json.dumps(doc).encode()


def test_an_upload_with_a_surrogate_snapshot_name_is_answered():
    from dashboard.workflow import read_upload

    current = json.loads(scenario_to_json(SMALL))
    loaded = read_upload(_set({"format": "acosim-scenario-set", "format_version": 1, "current": current,
                               "snapshots": {"\ud800": current}}), "team.json")
    assert loaded.scenario == SMALL and loaded.snapshots == {}
    assert ("warning", "Snapshot “\\\\ud800” was left out: its name is not plain text.") in loaded.messages
    for _, text in loaded.messages:
        text.encode("utf-8")


def test_an_upload_with_a_surrogate_extra_key_is_answered():
    from dashboard.workflow import read_upload

    current = json.loads(scenario_to_json(SMALL))
    loaded = read_upload(_set({"format": "acosim-scenario-set", "format_version": 1, "current": current,
                               "\udfff": 1}), "team.json")
    assert loaded.scenario is None
    assert loaded.messages == [("error", "**team.json** could not be opened:\n\n- \\\\udfff\\: unknown field")]


def test_an_upload_with_60000_unknown_keys_is_summarised_fast():
    from dashboard.workflow import read_upload

    doc = json.loads(scenario_to_json(SMALL))
    doc["scenario"].update({f"k{i}": 1 for i in range(60_000)})
    t0 = time.perf_counter()
    loaded = read_upload(json.dumps(doc).encode(), "big.json")
    assert time.perf_counter() - t0 < 5
    (kind, text), = loaded.messages
    assert kind == "error" and "60,000 unknown fields: k0, k1, k2 and 59,997 more" in text.replace("\\", "")
    assert len(text) < 500


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=25).map(lambda d: json.dumps(d).encode()),
                 st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5).map(
                     lambda extra: json.dumps({"format": "acosim-scenario-set", "format_version": 1,
                                               "current": {}, **extra}).encode())))
def test_fuzz_uploads_never_raise(raw):
    from dashboard.workflow import read_upload

    loaded = read_upload(raw, "fuzz.json")
    for _, text in loaded.messages:
        text.encode("utf-8")


def test_a_hostile_upload_in_the_page_shows_no_exception():
    from dashboard import state

    at = AppTest.from_file(APP, default_timeout=120)
    put_scenario(at, SMALL)
    at.run()
    at.switch_page("pages/scenarios.py").run()
    current = json.loads(scenario_to_json(SMALL))
    raw = _set({"format": "acosim-scenario-set", "format_version": 1, "current": current,
                "snapshots": {"\ud800": current, "![x](http://host.invalid/p)": current}})
    at.file_uploader(key=state.UPLOAD).set_value(("team.json", raw, "application/json")).run()
    assert not at.exception
    shown = " ".join(e.value for e in (*at.success, *at.warning))
    assert "\\!\\[x\\](http\\://host.invalid/p)" in shown and "![x](" not in shown


# --------------------------------------------------------------------------- scenario fields


@pytest.mark.parametrize(("data", "message"), [
    ({"seed": True}, "seed: expected a number, got true/false True; allowed range 0 to "
                     "9,223,372,036,854,775,807 (integer)"),
    ({"aco": {"agreement_years": True}}, "aco.agreement_years: expected a number, got true/false True; "
                                         "allowed range 1 to 6 (years)"),
    ({"aco": {"beneficiaries": " 20000 "}}, "aco.beneficiaries: expected a number, got text ' 20000 '; "
                                           "allowed range 1,000 to 1,000,000 (beneficiaries)"),
    ({"aco": {"beneficiaries": "1_000"}}, "aco.beneficiaries: expected a number, got text '1_000'; "
                                          "allowed range 1,000 to 1,000,000 (beneficiaries)"),
    ({"name": "a\x00b"}, "name: a scenario name may not contain control characters such as NUL or line breaks"),
    ({"tracks": [{"track": "ENHANCED", "label": "<a href='http://x.invalid'>c</a>"}]},
     "tracks.0.label: a track name may not contain < or > (they would be read as chart markup)"),
])
def test_loose_values_are_refused_with_the_field_named(data, message):
    assert _problems(data) == [message]


def test_a_5000_digit_integer_is_a_validation_error():
    (msg,) = _problems({"aco": {"beneficiaries": 10**5000}})
    assert msg.startswith("aco.beneficiaries: Input should be less than or equal to 1000000 "
                          "(got a number of about 5,001 digits)")
    assert len(msg) < 250


def test_a_long_name_gives_a_short_message():
    (msg,) = _problems({"tracks": [{"track": "x" * 100_000}]})
    assert msg.startswith("tracks.0.track: unknown track 'xxxx") and "(100,002 characters)" in msg
    assert len(msg) < 400


def test_many_unknown_keys_are_summarised():
    (msg,) = _problems({f"k{i}": 1 for i in range(60_000)})
    assert msg == "60,000 unknown fields: k0, k1, k2 and 59,997 more"


# --------------------------------------------------------------------------- text helpers


def test_text_helpers():
    assert md_escape("![x](http://h/p)") == "\\!\\[x\\](http\\://h/p)"
    assert md_escape("[x](http://h)") == "\\[x\\](http\\://h)"
    assert cell_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and cell_safe("\tx") == "'\tx"
    assert cell_safe("+1") == "'+1" and cell_safe("@a") == "'@a" and cell_safe("ok") == "ok"
    assert cell_safe(-3.5) == -3.5
    assert plain_label('<a href="x">c</a> & co') == "c &amp; co"
    assert printable("a\ud800b\x00") == "a\\ud800b"
    assert clip("y" * 100, 20) == "y" * 19 + "… (100 characters)"


# --------------------------------------------------------------------------- exports


FORMULA = '=HYPERLINK("http://x.invalid","c")'


def test_exports_never_hold_a_formula():
    s = SMALL.model_copy(update={"name": "=1+2 evil", "tracks": [TrackChoice(track="ENHANCED", label=FORMULA),
                                                                  TrackChoice(track="BASIC_E")]})
    result = mc.simulate(s)
    wb = openpyxl.load_workbook(io.BytesIO(reports.xlsx_bytes(result)))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert "'" + FORMULA in texts and any(t.startswith("'=1+2 evil") for t in texts)
    assert not [t for t in texts if t[:1] in "=+-@\t\r"]
    prov = reports.provenance(result)
    for data in (reports.trials_csv(result, prov), reports.summary_csv(mc.summary(result), prov)):
        import csv
        rows = [r for r in csv.reader(io.StringIO(data.decode())) if r and not r[0].startswith("#")]
        # (an empty cell, e.g. the summary's "why" of an open track, starts with nothing)
        assert not [c for r in rows for c in r if c and (c[:1] in "=+@\t\r" or (c[:1] == "-" and not _number(c)))]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- command line


def _err(capsys) -> str:
    return capsys.readouterr().err.strip()


@pytest.mark.parametrize("timeout", ["nan", "inf", "1e308", "0"])
def test_download_timeout_is_checked(tmp_path, capsys, timeout):
    assert main(["data", "download", "--dest", str(tmp_path), "--timeout", timeout]) == 2
    err = _err(capsys)
    assert err.startswith("acosim data: error: --timeout:") and "600" in err and err.count("\n") == 0


def test_download_refuses_a_bad_catalog_address_and_an_empty_folder(tmp_path, capsys):
    assert main(["data", "download", "--dest", str(tmp_path), "--catalog-url", "http://[::1"]) == 2
    assert _err(capsys).splitlines()[-1] == ("acosim data: error: CMS catalog: 'http://[::1' is not a valid "
                                             "web address")
    assert main(["data", "download", "--dest", ""]) == 2
    assert _err(capsys) == "acosim data: error: --dest: give a folder name (it was empty)"


class _Deep(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"[" * 100_000 + b"]" * 100_000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_deeply_nested_catalog_is_one_line(tmp_path, capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Deep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/data.json"
        assert main(["data", "download", "--dest", str(tmp_path), "--catalog-url", url, "--timeout", "5"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    assert "is not the JSON catalog" in _err(capsys).splitlines()[-1]


def _unterminated(tmp_path) -> Path:
    lines = PUF.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    # line 6's name loses its closing quote: read on, the quote would close in a later line
    # and swallow the ACOs between into one field
    assert '",' in lines[5]
    lines[5] = lines[5].replace('",', ",", 1)
    path = tmp_path / "PY2023.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_reconcile_refuses_an_unterminated_quote(tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["reconcile", str(_unterminated(tmp_path)), "--out", str(out)]) == 2
    err = _err(capsys)
    assert err == ("acosim reconcile: error: PY2023.csv: line 6: a quoted field runs on over several lines "
                   "(an unterminated quote?); fix the file and try again")
    assert not out.exists()


def test_reconcile_refuses_an_empty_out(capsys):
    assert main(["reconcile", str(PUF), "--out", ""]) == 2
    assert _err(capsys) == "acosim reconcile: error: --out: give a file name (it was empty)"


def test_reconcile_writes_its_file_even_when_the_reader_stops(tmp_path, monkeypatch):
    """`acosim reconcile F --out X | head -3`: the pipe closes after three lines; X is written."""
    import sys

    class Closed(io.StringIO):
        def write(self, _s):
            raise BrokenPipeError

    out = tmp_path / "out.csv"
    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["reconcile", str(PUF), "--out", str(out)]) == 0
    assert out.exists() and len(out.read_text().splitlines()) > 400


def test_error_details_show_no_traceback():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "type"


# --------------------------------------------------------------------------- heavy scenarios


def _huge() -> Scenario:
    """2,000,000 futures × 30 tracks × 6 years: a valid scenario, at every limit."""
    from simulation.model.scenario import DEFAULT_TRACKS

    # the default tracks, repeated under new names until there are 30 (the most allowed)
    tracks = [TrackChoice(track=t, label=f"{t} copy {r}" if r else None)
              for r in range(-(-30 // len(DEFAULT_TRACKS))) for t in DEFAULT_TRACKS]
    return Scenario(trials=2_000_000, tracks=tracks[:30],
                    aco={"agreement_years": 6, "agreement_start_year": 2021})


def test_the_run_budget_names_the_size_and_the_command_line():
    from dashboard import engine

    s = _huge()
    assert engine.run_size(s) == 360_000_000
    msg = engine.budget_problem(s)
    assert msg.startswith("2,000,000 simulated futures × 30 tracks × 6 years is 360,000,000 settlements")
    assert "at most 166,600 futures" in msg and "acosim simulate --scenario FILE" in msg
    assert engine.affordable(s).trials == 166_600 and engine.budget_problem(engine.affordable(s)) is None
    assert engine.budget_problem(Scenario()) is None
    with pytest.raises(engine.RunTooLarge):
        engine.ResultCache().get(s.model_dump_json())


def test_a_link_at_the_limits_opens_within_the_budget():
    at = _app_with_link(encode_scenario(_huge()))
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("asks for 2,000,000 simulated futures" in w and "166,600" in w for w in warnings), warnings
    assert at.session_state["scenario.current"].trials == 166_600


def test_the_result_cache_is_bounded_by_bytes():
    from dashboard import engine

    cache = engine.ResultCache(max_bytes=1)  # every result is larger: only the newest is kept
    a, b = (SMALL.model_copy(update={"seed": k}).model_dump_json() for k in (1, 2))
    first = cache.get(a)
    assert cache.get(a) is first and len(cache) == 1
    cache.get(b)
    assert len(cache) == 1 and cache.get(b) is not first
    big = engine.ResultCache(max_bytes=10**12)
    big.get(a)
    big.get(b)
    assert len(big) == 2 and big.bytes > engine.nbytes(first)
