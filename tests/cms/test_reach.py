"""ACO REACH: the results file, its reconciliation and the PY2025-2026 rules (hand-computed)."""

from pathlib import Path

import pytest

from simulation.cms.reach_results import (
    ReachFormatError,
    is_reach_file,
    load_reach_results,
    reconcile_reach,
)
from simulation.model import reach_level
from simulation.rules.catalog import load_catalog
from simulation.rules.settlement import settle

REACH_FILE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "other" / "reach_results_PY2023.csv"
CAT = load_catalog()


@pytest.mark.skipif(not REACH_FILE.exists(), reason="CMS REACH results not available")
def test_reach_py2023_reconciles():
    out, s = reconcile_reach(REACH_FILE)
    assert s.rows == 132 and s.global_rows == 108
    assert s.match / s.compared >= 0.995
    assert s.match / s.rows >= 0.99
    # every entity not matched has a reason from the vocabulary
    assert (out.loc[~out["match"], "reason"] != "").all()
    assert set(out.loc[out["reason"] != "", "reason"]) <= {"net_not_published"}
    # IDs lose CMS's footnote mark
    assert out["entity_id"].str.fullmatch(r"[A-Z]\d{4}").all()


@pytest.mark.skipif(not REACH_FILE.exists(), reason="CMS REACH results not available")
def test_reach_reader_quirks():
    df = load_reach_results(REACH_FILE)
    assert is_reach_file(REACH_FILE)
    row = df.set_index("entity_id").loc["D0004"]
    assert row["net_savings"] == pytest.approx(37_040_727.47)  # "$ 37,040,727.47"
    assert row["quality_score"] == pytest.approx(0.805)          # "80.5%"
    loss = df.set_index("entity_id").loc["D0343"]
    assert loss["net_savings"] == pytest.approx(-5_533_659.19)    # "$ (5,533,659.19)"


def test_reader_refuses_other_files(tmp_path):
    f = tmp_path / "x_PY2023.csv"
    f.write_text("ACO_ID,N_AB\nA1,100\n")
    assert not is_reach_file(f)
    with pytest.raises(ReachFormatError, match="not a REACH results file"):
        load_reach_results(f)


def test_reconcile_cli_reads_reach(tmp_path, capsys):
    from simulation.cli import main

    f = tmp_path / "reach_PY2023.csv"
    f.write_text(
        '"ACO\nID","Risk\nArrangement2","Net Savings\n(Loss)4","Pre-discount Benchmark10",'
        '"Final Benchmark11","Total Cost of Care12","Total Quality Score13"\n'
        # Global: final 970,000 - cost 900,000 = 70,000 (7.2% < 25%: kept 100%) x 0.98 = 68,600
        'D9001,Global," $ 68,600.00 "," $ 1,000,000.00 "," $ 970,000.00 "," $ 900,000.00 ",60%\n'
        # Professional loss: 500,000 - 510,000 = -10,000 (2% < 5%: 50%) = -5,000, no sequestration
        'D9002,Professional," $ (5,000.00)"," $ 500,000.00 "," $ 500,000.00 "," $ 510,000.00 ",90%\n'
    )
    assert main(["reconcile", str(f)]) == 0
    printed = capsys.readouterr().out
    assert "2/2 (100.0%)" in printed


def test_reach_withhold_does_not_cut_the_benchmark_py2023():
    # PY2023 Global, quality 50%: benchmark 1,000,000 x (1 - 3%) = 970,000 (withhold not in it)
    # cost 900,000 -> gross 70,000 (7.2%, first band 100%) -> x 0.98 = 68,600
    r = CAT.rules("REACH_GLOBAL", 2023)
    s = settle(r, benchmark=1_000_000, expenditure=900_000, beneficiaries=1, quality_score=0.5)
    assert float(s.earned) == pytest.approx(68_600)


def test_reach_py2026_global_corridor_and_discount():
    r = CAT.rules("REACH_GLOBAL", 2026)
    assert r.benchmark_discount == 0.04 and r.quality_withhold == 0.05
    # benchmark 1,000,000 x (1 - 4%) = 960,000; cost 760,000 -> gross 200,000 = 20.83%
    # PY2026 bands: 10% of 960,000 = 96,000 kept at 100%; 104,000 (10-35% band) at 50% = 52,000
    # kept 148,000 x 0.98 = 145,040
    s = settle(r, benchmark=1_000_000, expenditure=760_000, beneficiaries=1, quality_score=1.0)
    assert float(s.earned) == pytest.approx(145_040)
    # the same ACO in PY2024 (3% discount, first band 25%): 970,000 - 760,000 = 210,000
    # (21.6% < 25%, all kept) x 0.98 = 205,800
    s24 = settle(CAT.rules("REACH_GLOBAL", 2024), benchmark=1_000_000, expenditure=760_000,
                 beneficiaries=1, quality_score=1.0)
    assert float(s24.earned) == pytest.approx(205_800)


def test_reach_py2026_global_loss():
    # benchmark 1,000,000 x 0.96 = 960,000; cost 1,152,000 -> loss 192,000 = 20%
    # first 10% (96,000) at 100% + next 96,000 at 50% = 144,000 owed (no sequestration on losses)
    s = settle(CAT.rules("REACH_GLOBAL", 2026), benchmark=1_000_000, expenditure=1_152_000,
               beneficiaries=1, quality_score=1.0)
    assert float(s.earned) == pytest.approx(-144_000)


def test_reach_py2025_discount_raised_to_4pct():
    # 1,000,000 x (1 - 4%) = 960,000 performance benchmark in PY2025 (3.5% had been scheduled)
    s = settle(CAT.rules("REACH_GLOBAL", 2025), benchmark=1_000_000, expenditure=960_000,
               beneficiaries=1)
    assert float(s.benchmark_total) == pytest.approx(960_000) and float(s.earned) == pytest.approx(0)


def test_reach_blend_and_benchmark_kind():
    assert CAT.rules("REACH_GLOBAL", 2025).regional_blend_weight == 0.45
    assert CAT.rules("REACH_PROFESSIONAL", 2026).regional_blend_weight == 0.40
    assert CAT.rules("REACH_GLOBAL", 2026).benchmark_kind == "prospective"
    assert CAT.rules("ENHANCED", 2026).benchmark_kind == "retrospective"
    assert max(CAT.tracks["REACH_GLOBAL"].years) == 2026  # closed after 2026


@pytest.mark.skipif(not REACH_FILE.exists(), reason="CMS REACH results not available")
def test_reach_calibration_reproduces_py2023():
    from simulation.calibration import reach as c

    r = c.run(REACH_FILE)
    g_pub, g_sim = r["published"]["REACH_GLOBAL"], r["simulated"]["REACH_GLOBAL"]
    assert g_pub["share_net_savings"] == pytest.approx(0.759, abs=0.001)  # 82 of 108
    assert abs(g_sim["share_net_savings"] - 0.759) <= 0.10
    assert g_pub["median_gross_rate"] == pytest.approx(0.0735, abs=0.0001)
    assert abs(g_sim["median_gross_rate"] - 0.0735) <= 0.01
    # the committed defaults are this fit
    d = reach_level.load_defaults()
    assert d["REACH_GLOBAL"]["gross_rate_mean"] == pytest.approx(r["fit"]["REACH_GLOBAL"]["mean"])
    assert "PY2023" in d["REACH_GLOBAL"]["source"]
    assert "ACO REACH" in c.markdown_section(r)


def test_reach_simulation_uses_the_rules():
    from simulation.calibration import reach as c

    # a distribution with no spread at +2% gross: Global (3% discount) -> -1% against the final
    # benchmark, so no entity has net savings; Professional (no discount) -> all have
    sim = c.simulate({"REACH_GLOBAL": {"mean": 0.02, "sd": 0.0},
                      "REACH_PROFESSIONAL": {"mean": 0.02, "sd": 0.0}}, 2023, n=10)
    assert sim["REACH_GLOBAL"]["share_net_savings"] == 0.0
    assert sim["REACH_PROFESSIONAL"]["share_net_savings"] == 1.0


def test_engine_sets_reach_benchmark_level_from_reach_results():
    from simulation.model import montecarlo
    from simulation.model.reach_level import benchmark_factor, load_defaults
    from simulation.model.scenario import TrackChoice, calibrated_defaults, example_scenario

    s = example_scenario()
    choice = TrackChoice(track="REACH_GLOBAL")
    yp = montecarlo.plan(choice, s)[0]
    kw = montecarlo._job_inputs(choice, yp, s, 0, dict.fromkeys(("spending", "quality", "qps", "alt", "revenue", "prospective", "mssp"), 1.0))
    # k = (1 - MSSP mean effect) / (1 - REACH Global mean gross rate), e.g.
    # (1 - 0.0378) / (1 - 0.0804) = 1.0463; discount d' = 1 - k (1 - d)
    theta = calibrated_defaults()["true_effect_mean"][0]
    g = load_defaults()["REACH_GLOBAL"]["gross_rate_mean"]
    k = (1 - theta) / (1 - g)
    assert benchmark_factor("REACH_GLOBAL") == pytest.approx(k)
    assert kw["benchmark_discount"] == pytest.approx(1 - k * (1 - yp.rules.benchmark_discount))
    # an MSSP track is untouched
    mssp = TrackChoice(track="ENHANCED")
    kw2 = montecarlo._job_inputs(mssp, montecarlo.plan(mssp, s)[0], s, 0, dict.fromkeys(("spending", "quality", "qps", "alt", "revenue", "prospective", "mssp"), 1.0))
    assert "benchmark_discount" not in kw2
