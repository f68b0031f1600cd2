"""tools/reshape.py: the target layout's moves, on this tree (done) and on a small tree (re-runnable)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("reshape", ROOT / "tools" / "reshape.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["reshape"] = module
    spec.loader.exec_module(module)
    return module


reshape = _load()


def test_this_tree_is_in_the_target_layout():
    """A module added at an old place (or a test at the top that has a package home) fails here."""
    plan = reshape.Plan(ROOT)
    assert plan.pending == {} and plan.retire == {} and plan.tests == {}


def test_a_run_here_changes_nothing():
    """Not even the text of a file (this test's small tree names old modules: it is skipped)."""
    assert reshape.reshape(ROOT, dry_run=True) == []


def test_every_target_is_in_a_package_of_the_layout():
    floors = ("simulation.rules.", "simulation.model.", "simulation.cms.", "simulation.calibration.",
              "simulation.reports.", "simulation.learn.")
    for old, new in {**reshape.MODULES, **reshape.RETIRED}.items():
        assert new.startswith(floors), (old, new)
        assert old.count(".") == 1, old  # only flat modules move


SMALL = {
    "simulation/__init__.py": '__version__ = "1"\n',
    "simulation/text.py": "def money(x):\n    return str(x)\n",
    "simulation/catalog.py": (
        "from pathlib import Path\n\n"
        "from .text import money\n\n"
        'DATA = Path(__file__).resolve().parents[1] / "data"\n'
    ),
    "simulation/scenario.py": "from . import catalog\nfrom .catalog import DATA\n",
    "simulation/charts.py": "def figure():\n    return 1\n",
    "simulation/reports.py": "from . import charts\nfrom .scenario import DATA\n\n\ndef build():\n    return charts.figure()\n",
    "simulation/recommendation.py": "def recommend():\n    return 'x'\n",
    "simulation/cli/__init__.py": "",
    # an edit merged into a file that moved down into cli/: its import is for the old place
    "simulation/cli/simulate.py": "from .recommendation import recommend\nfrom ..scenario import DATA\n",
    "tests/test_x.py": (
        "from unittest import mock\n\n"
        "from simulation import reports\n"
        "from simulation.scenario import DATA\n\n\n"
        "def test_it():\n"
        '    with mock.patch("simulation.reports.build"):\n'
        "        assert reports and DATA\n"
    ),
    "docs/notes.md": "See `simulation/reports.py` and :mod:`simulation.charts`; not `simulation/cli/main.py`.\n",
}


def _tree(tmp_path: Path) -> Path:
    for rel, text in SMALL.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    return tmp_path


def test_a_small_tree_is_reshaped_and_a_second_run_does_nothing(tmp_path):
    root = _tree(tmp_path)
    done = reshape.reshape(root)
    assert "move simulation.reports -> simulation.reports.documents" in done
    read = lambda rel: (root / rel).read_text(encoding="utf-8")  # noqa: E731
    assert not (root / "simulation" / "reports.py").exists()
    catalog = read("simulation/rules/catalog.py")
    assert "from ..text import money" in catalog
    assert "parents[2]" in catalog  # still the project's data/
    scenario = read("simulation/model/scenario.py")
    assert "from ..rules import catalog" in scenario and "from ..rules.catalog import DATA" in scenario
    documents = read("simulation/reports/documents.py")
    assert "from . import charts" in documents and "from ..model.scenario import DATA" in documents
    cli = read("simulation/cli/simulate.py")
    assert "from ..reports.words import recommend" in cli and "from ..model.scenario import DATA" in cli
    test = read("tests/test_x.py")
    assert "from simulation.reports import documents as reports" in test
    assert "from simulation.model.scenario import DATA" in test
    assert 'mock.patch("simulation.reports.documents.build")' in test
    assert read("docs/notes.md") == (
        "See `simulation/reports/documents.py` and :mod:`simulation.reports.charts`; "
        "not `simulation/cli/main.py`.\n"
    )
    assert (root / "simulation" / "model" / "__init__.py").is_file()
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    before = {p: p.read_bytes() for p in root.rglob("*.py")}
    assert reshape.reshape(root) == []
    assert {p: p.read_bytes() for p in root.rglob("*.py")} == before


def test_a_move_onto_an_existing_file_stops_before_any_change(tmp_path):
    root = _tree(tmp_path)
    (root / "simulation" / "model").mkdir()
    (root / "simulation" / "model" / "scenario.py").write_text("", encoding="utf-8")
    with pytest.raises(SystemExit, match=re.escape("simulation.scenario -> simulation.model.scenario: both exist")):
        reshape.reshape(root)
    assert (root / "simulation" / "scenario.py").is_file()
