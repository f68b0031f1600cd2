"""Every chart is built without plotly's per-property validation (simulation/reports/charts.py
``_figure``): here each one is built both ways from real results and must give the same JSON,
so a misspelt or invalid property still fails (validation raises on it)."""

from __future__ import annotations

import copy
import json

import plotly.io as pio
import pytest

from simulation.model import montecarlo as mc
from simulation.model.scenario import Scenario
from simulation.reports import charts


@pytest.fixture(scope="module")
def specs():
    """(name, data, layout) of every figure the chart functions build for a small scenario."""
    s = Scenario(trials=1_000)
    res = mc.simulate(s)
    summ = mc.summary(res)
    by = mc.by_year(res)
    colors = charts.color_map(res.keys, [c.track for c in res.choices])
    quant = charts.quantile_table(res.sorted_net, res.keys, presorted=True)
    keys = list(res.keys)
    programs = dict.fromkeys(keys, "MSSP")
    seen: list[tuple[str, list, dict]] = []
    real = charts._figure

    current = {"name": ""}

    def spy(data, layout, **kw):
        seen.append((current["name"], copy.deepcopy(data), copy.deepcopy(layout)))
        return real(data, layout, **kw)

    one = mc.only_tracks(s, keys[:1])
    tdf = mc.tornado(one, trials=300)
    tdf["low_text"] = [f"{v:g}" for v in tdf["low_value"]]
    tdf["high_text"] = [f"{v:g}" for v in tdf["high_value"]]
    be = mc.crossings(s, [(k, None) for k in keys[:3]], trials=300)
    grid = mc.grid(one, "performance.savings_effect", [0.0, 0.02], "aco.beneficiaries", [10_000, 20_000],
                   trials=200)
    from simulation.model import horizon
    from simulation.reports import horizon as horizon_report

    hy = horizon_report.by_year(horizon.simulate_horizon(Scenario(trials=500)))
    hcolors = dict.fromkeys(hy["path"].unique(), "#336699")
    builders = {
        "horizon_cumulative": lambda: charts.horizon_cumulative(hy, hcolors, 2032, present_value=True),
        "horizon_benchmark": lambda: charts.horizon_benchmark(hy, hcolors, 2032),
        "distribution": lambda: charts.distribution(quant, summ, colors),
        "exceedance": lambda: charts.exceedance(quant, colors, keys[:3]),
        "risk_return": lambda: charts.risk_return(summ, colors),
        "fan": lambda: charts.fan(by, colors, keys[:3]),
        "benchmark_path": lambda: charts.benchmark_path(by, programs, keys[:2]),
        "tornado": lambda: charts.tornado(tdf),
        "heatmap": lambda: charts.heatmap(grid[grid["track"] == keys[0]], {0.0: "0%", 0.02: "2%"},
                                          {10_000: "10k", 20_000: "20k"}, x_title="Effect", y_title="Size",
                                          current=(0.02, 20_000)),
        "break_even_chart": lambda: charts.break_even_chart(be[be["versus"].isna()], colors, 0.02),
    }
    charts._figure = spy
    try:
        for name, build in builders.items():
            current["name"] = name
            build()
    finally:
        charts._figure = real
    return seen


def test_every_chart_function_was_built(specs):
    assert {name for name, _, _ in specs} == {"distribution", "exceedance", "risk_return", "fan",
                                              "benchmark_path", "tornado", "heatmap", "break_even_chart",
                                              "horizon_cumulative", "horizon_benchmark"}


def test_fast_figures_equal_validated_ones(specs):
    for name, data, layout in specs:
        fast = charts._figure(copy.deepcopy(data), copy.deepcopy(layout))
        slow = charts._figure(copy.deepcopy(data), copy.deepcopy(layout), validate=True)
        a, b = json.loads(pio.to_json(fast)), json.loads(pio.to_json(slow))
        assert a == b, (name, _diff(a, b))


def _diff(a, b, path=""):
    """Where two JSON values first differ (for the failure message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _diff(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _diff(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:120]} != {str(b)[:120]}"


def test_a_real_aco_position_chart_escapes_the_name():
    import pandas as pd

    dist = pd.DataFrame({"performance_year": [2021, 2022], "p5": [-0.05, -0.04], "p25": [0.0, 0.01],
                         "p50": [0.03, 0.03], "p75": [0.06, 0.07], "p95": [0.12, 0.13]})
    hist = pd.DataFrame({"performance_year": [2021, 2022], "sav_rate": [0.02, 0.05], "track": ["BASIC_E", "ENHANCED"],
                         "sav_rate_percentile": [40.0, 70.0]})
    fig = charts.aco_position(hist, dist, '<a href="http://x.invalid">ACO</a>', str.lower)
    hover = fig.data[-1].hovertext
    assert "&lt;a href" in hover[0] and "<a " not in hover[0] and "enhanced" in hover[1]
    assert "<a " not in fig.data[-1].name


def test_an_invalid_property_is_caught_by_the_validated_build():
    with pytest.raises(ValueError):
        charts._figure([{"type": "bar", "x": [1], "y": [2], "colour": "red"}], {}, validate=True)


def test_the_shared_template_is_not_changed_by_a_figure():
    before = json.dumps(charts._template("plotly_white"), sort_keys=True)
    fig = charts._figure([{"type": "bar", "x": [1], "y": [2]}], {"template": "plotly_white"})
    fig.update_layout(title="changed", template=None)
    fig.add_annotation(text="note", x=0, y=0)
    assert json.dumps(charts._template("plotly_white"), sort_keys=True) == before
