"""The write-up (simulation/calibration/writeup.py) states numbers the study derived, nothing else.

Derived numbers live in ``study["findings"]`` (simulation/calibration/findings.py); the
prose only looks them up and formats them.
"""

from __future__ import annotations

import ast
import copy
import math
import re
from pathlib import Path

import numpy as np
import pytest

from simulation.calibration import findings as findings_mod
from simulation.calibration import writeup
from simulation.calibration.study import RANDOM_STEPS, step_streams

#: The prose modules: the page's sections and their formatting helpers.
SOURCES = sorted(Path(writeup.__file__).parent.glob("writeup*.py"))
#: Calls that compute a statistic; none may appear in the prose module.
COMPUTING = {"mean", "median", "std", "var", "quantile", "sum", "sqrt", "noise_sd", "corrcoef",
             "corr", "pivot", "groupby", "agg"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_prose_module_computes_no_statistic(source: Path) -> None:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "math" not in imported and "scipy" not in imported
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            calls.add(fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", ""))
    assert calls & COMPUTING == set()


def test_prose_modules_found() -> None:
    assert [p.name for p in SOURCES] == ["writeup.py", "writeup_checks.py", "writeup_format.py"]


def test_one_function_per_section_in_page_order(quick_study) -> None:
    names = [f.__name__ for f in writeup.SECTIONS]
    assert names[:2] == ["section_title", "section_summary"] and names[-1] == "section_reproduce"
    assert len(names) == 12 and all(n.startswith("section_") for n in names)
    pieces = [writeup.SECTIONS[i](quick_study) for i in range(len(names))]
    assert all(isinstance(p, list) and p and all(isinstance(s, str) for s in p) for p in pieces)
    assert writeup.render_markdown(quick_study) == "\n".join(s for p in pieces for s in p)
    anchors = re.findall(r'<a id="([^"]+)"></a>', writeup.render_markdown(quick_study))
    assert anchors[:3] == ["summary", "data", "dispersion"] and "limitations" in anchors


def test_prose_quotes_the_findings(quick_study) -> None:
    """Change a finding and the page changes with it: the prose reads, it does not recompute."""
    study = copy.copy(quick_study)
    study["findings"] = copy.deepcopy(quick_study["findings"])
    f = study["findings"]
    f["change_sd_10k"] = 0.123456  # → "12.3%"
    f["noise_sd"][5_000] = 0.0777  # → "7.77%"
    f["model"]["innovation_sd"] = 0.0444  # → "4.44%"
    f["backtest"]["noise_mae_median_size"] = 0.0321  # → "3.21 points"
    f["dispersion"]["sd_all_before_2018"] = 0.0987  # → "9.9%"
    page = writeup.render_markdown(study)
    assert "about **12.3%**" in page
    assert "noise SD of 7.77% at 5,000 beneficiaries" in page
    assert "(innovation SD 4.44% a year)" in page
    assert "absolute error of 3.21 points" in page
    assert "averaged 9.9% in PY2013–PY2017" in page


def test_findings_by_hand(quick_study) -> None:
    fit, d, f = quick_study["fit"], quick_study["defaults"], quick_study["findings"]
    # Noise SD at N = 10,000: √(cv²/N + systemic²), e.g. cv 2.1, systemic 0 → 2.1/100 = 2.1%.
    n10 = math.sqrt(fit.cv**2 / 10_000 + fit.systemic_sd**2)
    assert f["noise_sd"][10_000] == pytest.approx(n10)
    # Year-to-year change of a 10k ACO: Var = 2(1 − rho)·sd² (true effect) + 2·noise².
    sd, rho = d["true_effect_sd"]["value"], d["persistence"]["value"]
    assert f["change_sd_10k"] == pytest.approx(math.sqrt(2 * (1 - rho) * sd**2 + 2 * n10**2))
    # A normal error's mean absolute value is sd·√(2/π) ≈ 0.798·sd.
    b = f["backtest"]
    assert b["noise_mae_median_size"] == pytest.approx(0.7979 * b["noise_sd_median_size"], rel=1e-4)
    boot = quick_study["boot"]
    assert f["model"]["interval"]["cv"] == pytest.approx(
        (boot.cv.quantile(0.05), boot.cv.quantile(0.95))
    )
    assert f["model"]["interval"]["systemic_sd"] == pytest.approx(quick_study["systemic_interval"])
    m = quick_study["backtest"].metrics
    assert b["model_minus_naive"] == pytest.approx(m["mae_model"] - m["mae_naive"])
    sim = quick_study["sim_table"]
    ratio = sim.simulated_sd / sim.observed_sd
    assert f["simulated"]["close_bands"] == list(sim.band[(ratio - 1).abs() <= findings_mod.CLOSE])


def test_each_random_step_has_its_own_seed_sequence_child() -> None:
    streams = step_streams(7)
    assert tuple(streams) == RANDOM_STEPS
    children = np.random.SeedSequence(7).spawn(len(RANDOM_STEPS))
    for child, step in zip(children, RANDOM_STEPS, strict=True):
        np.testing.assert_array_equal(streams[step].random(3), np.random.default_rng(child).random(3))
    # Drawing more in one step leaves the next step's draws unchanged.
    a, b = step_streams(7), step_streams(7)
    a["bootstrap"].random(1_000)
    np.testing.assert_array_equal(a["shock"].random(5), b["shock"].random(5))
