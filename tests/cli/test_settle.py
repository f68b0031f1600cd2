"""``acosim settle``: one ACO-year settled and explained on the command line."""

from __future__ import annotations

import argparse
import json

import pytest

from simulation.cli import main
from simulation.cli import settle as settle_cli
from simulation.rules.catalog import load_catalog
from simulation.rules.explain import explain
from simulation.rules.settlement import settle

BASE = ["settle", "--benchmark", "10000", "--beneficiaries", "10000"]


def _json(capsys, *args: str) -> dict:
    assert main([*BASE, *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_lead_professional_twelve_percent_keeps_six_point_seven(capsys):
    # no discount, quality 1: final benchmark $100M; spending $88M: 12% gross savings;
    # corridors 10% x 60% + 2% x 35% = 6.7% = $6.7M; sequestration 2%: $6.566M paid
    out = _json(capsys, "--track", "LEAD_PROFESSIONAL", "--year", "2027", "--spending", "8800")
    assert out["settlement"]["shared_savings"] == pytest.approx(6_566_000.0)
    steps = {s["key"]: s for s in out["steps"]}
    assert steps["share"]["total"] == pytest.approx(6_700_000.0)
    assert "[SEC]" in steps["share"]["citation"]
    assert out["steps"][-1]["total"] == pytest.approx(out["settlement"]["earned"])
    assert out["policy_variant"] is None and out["proposed_parameters"] == []


def test_json_is_explain_itself(capsys):
    out = _json(capsys, "--track", "LEAD_GLOBAL", "--year", "2031", "--spending", "10300",
                "--quality", "0.75", "--spending-vs-region", "1.2")
    rules = load_catalog().rules("LEAD_GLOBAL", 2031)
    kw = {"quality_score": 0.75, "higher_spending": True}
    steps = explain(rules, 10_000.0, 10_300.0, 10_000, **kw)
    assert [s["key"] for s in out["steps"]] == [s.key for s in steps]
    assert [s["text"] for s in out["steps"]] == [s.text for s in steps]
    assert [s["citation"] for s in out["steps"]] == [s.citation for s in steps]
    # higher-spending 2031: 2.75% discount [INF], 3% withhold on 25% unearned, add-on 1.5% x $100M
    assert out["settlement"]["admin_add_on"] == pytest.approx(1_500_000.0)
    s = settle(rules, 10_000.0, 10_300.0, 10_000, **kw)
    assert out["settlement"]["earned"] == pytest.approx(float(s.earned))


def test_table_prints_every_step_with_its_rule(capsys):
    assert main([*BASE, "--track", "ENHANCED", "--year", "2027", "--spending", "9600", "--msr", "0"]) == 0
    out = capsys.readouterr().out
    for label in ("Updated benchmark", "Actual spending", "Gross savings", "Minimum savings rate test",
                  "Final sharing rate", "Sequestration", "Shared savings paid", "Settlement"):
        assert label in out
    assert "42 CFR 425.610(d)" in out and "[REG]" in out
    # 4% of $100M at 75% x 0.98 = $2,940,000
    assert "CMS pays the ACO $2,940,000.00." in out


def test_proposal_is_labelled(capsys):
    out = _json(capsys, "--track", "BASIC_E", "--year", "2027", "--spending", "9500", "--msr", "0",
                "--proposal")
    assert out["policy_variant"] == "CY2027 proposal [PROPOSED, not final law]"
    # 5% of $100M at 60% x 0.98 = $2.94M (the law in force: 50% -> $2.45M)
    assert out["settlement"]["shared_savings"] == pytest.approx(2_940_000.0)
    assert any("[PROPOSED]" in s["citation"] for s in out["steps"])
    assert main([*BASE, "--track", "BASIC_E", "--year", "2027", "--spending", "9500", "--msr", "0",
                 "--proposal"]) == 0
    assert "PROPOSED" in capsys.readouterr().out.splitlines()[1]


@pytest.mark.parametrize(("args", "message"), [
    (["--track", "NOPE", "--year", "2027", "--spending", "9000"], "--track: unknown track 'NOPE'; one of"),
    (["--year", "2027", "--spending", "9000"], "--track: required"),
    (["--track", "LEAD_GLOBAL", "--year", "2026", "--spending", "9000"],
     "--year: 2026 is outside LEAD_GLOBAL's years; allowed 2027 to 2036"),
    (["--track", "LEAD_GLOBAL", "--year", "soon", "--spending", "9000"], "--year: 'soon' is not a year"),
    (["--track", "LEAD_GLOBAL", "--year", "2027"], "--spending: required; allowed 0 to 600,000"),
    (["--track", "LEAD_GLOBAL", "--year", "2027", "--spending", "lots"], "--spending: 'lots' is not a number"),
    (["--track", "LEAD_GLOBAL", "--year", "2027", "--spending", "9000", "--quality", "1.5"],
     "--quality: 1.5 is out of range; allowed 0 to 1"),
    (["--track", "LEAD_GLOBAL", "--year", "2027", "--spending", "9000", "--quality", "nan"],
     "--quality: nan is out of range"),
    (["--track", "LEAD_GLOBAL", "--year", "2027", "--spending", "9000", "--spending-vs-region", "3"],
     "--spending-vs-region: 3 is out of range; allowed 0.5 to 1.5"),
    (["--track", "LEAD_GLOBAL", "--year", "2027", "--spending", "9000", "--msr", "1.0"],
     "--msr: LEAD_GLOBAL has no MSR/MLR election"),
    (["--track", "BASIC_E", "--year", "2027", "--spending", "9000", "--msr", "3"], "--msr: '3' is not one of"),
    (["--track", "BASIC_E", "--year", "2027", "--spending", "9000", "--format", "xml"],
     "--format: 'xml' is not one of table, json"),
])
def test_bad_input_is_one_line_naming_the_flag(capsys, args, message):
    assert main(["settle", "--benchmark", "10000", "--beneficiaries", "10000", *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and captured.out == ""
    assert err.startswith("acosim settle: error: ") and message in err


def test_bad_counts(capsys):
    for value, message in (("0", "out of range; a whole number allowed 1 to 1,000,000"),
                           ("12.5", "a whole number"), ("2e6", "out of range")):
        assert main(["settle", "--track", "BASIC_A", "--year", "2027", "--benchmark", "10000",
                     "--spending", "9000", "--beneficiaries", value]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("acosim settle: error: --beneficiaries: ") and message in err


def test_register_adds_the_command_to_any_parser():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    settle_cli.register(sub)
    args = parser.parse_args(["settle", "--track", "BASIC_A", "--year", "2027", "--benchmark", "10000",
                              "--spending", "9000", "--beneficiaries", "12000"])
    assert args.func is settle_cli.run
