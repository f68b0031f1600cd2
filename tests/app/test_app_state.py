"""The scenario never changes behind the user (AppTest): an edit in the sidebar survives every
page change, with its group open or closed, and reaches the exports; a notice is shown once.

Streamlit deletes the state of a widget not drawn in a run (a closed group skips drawing its
fields), and a leftover of the value the widget was filled with can linger under its key;
dashboard/sidebar.py keeps the field values apart from the widgets, fills every widget from them
and lets only a widget's own change write them.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from simulation.model import presets
from simulation.model.scenario import Scenario
from tests.conftest import put_scenario

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 180
SMALL = Scenario(trials=2_000)
# the light pages, twice (the browser test visits all eight)
PAGES = ["pages/agreement.py", "pages/scenarios.py", "pages/compare.py", "pages/agreement.py",
         "pages/scenarios.py"]


def _app(scenario: Scenario = SMALL) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    put_scenario(at, scenario)
    return at


def _captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption) + "\n".join(m.value for m in at.markdown)


def test_an_edit_survives_page_changes_with_its_group_open():
    at = _app()
    at.session_state["group.ACO"] = True
    at.run()
    at.number_input(key="in.aco.beneficiaries").set_value(23_000).run()
    assert at.session_state["scenario.current"].aco.beneficiaries == 23_000
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.session_state["scenario.current"].aco.beneficiaries == 23_000, page
        assert "23,000 beneficiaries" in _captions(at), page


def test_an_edit_survives_when_its_group_closes():
    """Edit, close the group (its widgets are no longer drawn), change pages twice."""
    at = _app()
    at.session_state["group.Performance"] = True
    at.run()
    at.number_input(key="in.performance.savings_effect").set_value(2.5).run()
    at.session_state["group.Performance"] = False
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.session_state["scenario.current"].performance.savings_effect == 0.025, page
    # reopened, the field shows the edit, not the value it was first filled with
    at.session_state["group.Performance"] = True
    at.run()
    assert at.number_input(key="in.performance.savings_effect").value == 2.5
    assert at.session_state["scenario.current"].performance.savings_effect == 0.025


def test_a_preset_then_an_edit_reaches_the_export_page():
    at = _app()
    at.switch_page("pages/scenarios.py").run()
    at.selectbox(key="scenarios.preset.archetype").set_value("small_rural").run()
    at.button(key="scenarios.preset.apply").click().run()
    rural = presets.apply_preset(SMALL, "small_rural")
    assert at.session_state["scenario.current"] == rural
    at.session_state["group.ACO"] = True
    at.run()
    at.number_input(key="in.aco.beneficiaries").set_value(rural.aco.beneficiaries + 1_000).run()
    at.session_state["group.ACO"] = False
    at.run()
    at.switch_page("pages/agreement.py").run()
    at.switch_page("pages/export.py").run()
    assert not at.exception
    s = at.session_state["scenario.current"]
    assert s.aco.beneficiaries == rural.aco.beneficiaries + 1_000
    assert s.model_copy(update={"aco": s.aco.model_copy(update={"beneficiaries": rural.aco.beneficiaries})}) == rural
    # the page offers the files of the edited scenario: its provenance names it
    text = "\n".join(h.proto.body for h in at.get("html"))
    assert f"{s.aco.beneficiaries:,}" in _captions(at) or f"{s.aco.beneficiaries:,}" in text


def test_a_notice_is_not_shown_again_on_the_next_page():
    at = _app()
    at.switch_page("pages/scenarios.py").run()
    at.selectbox(key="scenarios.preset.archetype").set_value("small_rural").run()
    at.button(key="scenarios.preset.apply").click().run()
    applied = [a.value for a in at.success if a.value.startswith("Applied")]
    assert applied, [a.value for a in at.success]
    at.switch_page("pages/agreement.py").run()
    assert not [a.value for a in at.success if a.value.startswith("Applied")]


def test_reset_goes_back_to_the_default_after_an_edit():
    at = _app()
    at.session_state["group.ACO"] = True
    at.run()
    at.number_input(key="in.aco.beneficiaries").set_value(23_000).run()
    at.button(key="side.reset").click().run()
    assert at.session_state["scenario.current"] == Scenario()
    at.switch_page("pages/agreement.py").run()
    assert at.session_state["scenario.current"] == Scenario()
    assert at.number_input(key="in.aco.beneficiaries").value == 20_000


def test_the_presets_popover_closes_after_apply():
    at = _app()
    at.session_state["side.presets"] = True
    at.run()
    at.selectbox(key="side.preset.archetype").set_value("small_rural").run()
    at.button(key="side.preset.apply").click().run()
    assert not at.exception
    assert at.session_state["scenario.current"] == presets.apply_preset(SMALL, "small_rural")
    assert at.session_state["side.presets"] is False
