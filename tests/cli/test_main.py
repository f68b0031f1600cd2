"""The command table: every command has its own module, named as the command is, and ``--help`` works."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.cli import main as cli_main
from simulation.cli.main import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "simulation" / "cli"
#: Modules of simulation/cli/ that are not commands.
NOT_COMMANDS = {"__init__", "__main__", "main", "errors"}


def test_every_command_has_a_module_named_as_it_is():
    for name, module in COMMANDS.items():
        assert module.__name__ == f"simulation.cli.{name}"
        assert name == module.NAME
        assert isinstance(module.HELP, str) and module.HELP
        assert callable(module.add_arguments) and callable(module.run)


def test_every_module_of_the_package_is_a_command_in_the_table():
    modules = {p.stem for p in CLI.glob("*.py")} - NOT_COMMANDS
    assert modules == set(COMMANDS)


def test_no_command_registers_itself_on_import():
    """No decorator or registry call at module level: the table in main.py is the only list."""
    for path in CLI.glob("*.py"):
        if path.name == "__main__.py":  # its one call runs main()
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                pytest.fail(f"{path.name}: a call at module level ({ast.unparse(node)[:60]})")
            if isinstance(node, ast.FunctionDef):
                assert not node.decorator_list, f"{path.name}: {node.name} is decorated"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_of_each_command(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: acosim {name}")
    assert COMMANDS[name].HELP.split()[0] in out


def test_parser_lists_the_table_in_order():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
    assert list(COMMANDS)[:2] == ["tracks", "reconcile"]


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as done:
        main(["nonesuch"])
    assert done.value.code == 2
    assert "invalid choice: 'nonesuch'" in capsys.readouterr().err


def test_package_main_is_the_entry_point():
    assert cli_main is main


def test_python_dash_m_lists_every_command():
    done = subprocess.run(
        [sys.executable, "-m", "simulation.cli", "--help"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    listed = [line.split()[0] for line in done.stdout.splitlines()
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == list(COMMANDS)


def test_python_dash_m_runs_a_command():
    """Not only ``tracks``: every command is reachable through ``python -m`` (it once was not)."""
    done = subprocess.run(
        [sys.executable, "-m", "simulation.cli", "settle", "--track", "BASIC_A", "--year", "2027",
         "--benchmark", "10000", "--spending", "9000", "--beneficiaries", "12000", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"settlement"' in done.stdout
