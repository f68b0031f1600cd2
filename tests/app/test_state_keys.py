"""One naming convention for the session state (dashboard/state.py): every key is
``"<owner>.<name>"`` with a registered owner, and a page writes only its own keys by name.

Read two ways: from the source (every ``key=`` argument, every ``st.session_state[...]``,
``.get``, ``.pop``, ``.setdefault`` and ``page_choice`` with a written key), and from a session
that visited every page (every key Streamlit holds, dynamic ones included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state
from simulation.model.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SOURCES = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "dashboard").glob("*.py"), ROOT / "app.py"])
#: A page script's owner prefix (its file name, but Real ACOs is "real").
PAGE_OWNER = {"real_acos": "real"}
#: Calls whose ``key=`` is not session state: layout hooks (``.st-key-…`` CSS classes) and sorts.
NOT_STATE = {"container", "sorted", "sort", "sort_values", "groupby", "min", "max"}


def _prefix(node: ast.AST) -> str | None:
    """The written text of a key: a string, or an f-string's leading text (None otherwise)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def _is_session_state(node: ast.AST) -> bool:
    """``st.session_state`` (a local alias ``state = st.session_state`` is not followed: the
    session through every page below sees what such code writes)."""
    return isinstance(node, ast.Attribute) and node.attr == "session_state"


def written_keys(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every session key written out in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in NOT_STATE:
                out += [(node.lineno, t) for kw in node.keywords if kw.arg == "key"
                        for t in [_prefix(kw.value)] if t is not None]
            if (isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
                    and _is_session_state(func.value) and node.args):
                out += [(node.lineno, t) for t in [_prefix(node.args[0])] if t is not None]
            if name == "page_choice" and node.args:
                out += [(node.lineno, t) for t in [_prefix(node.args[0])] if t is not None]
        elif isinstance(node, ast.Subscript) and _is_session_state(node.value):
            out += [(node.lineno, t) for t in [_prefix(node.slice)] if t is not None]
    return out


def test_the_finder_sees_every_kind_of_written_key(tmp_path):
    src = tmp_path / "page.py"
    src.write_text(
        "st.session_state['a.b'] = 1\nst.session_state.get('c.d')\nst.selectbox('x', [], key=f'e.{i}')\n"
        "st.container(key='story')\nsorted(x, key='f')\ncommon.page_choice('g.h', [], 1)\n")
    assert [t for _, t in written_keys(src)] == ["a.b", "c.d", "e.", "g.h"]


def test_every_written_key_has_a_registered_owner():
    bad = [f"{p.relative_to(ROOT)}:{line}: {text!r}" for p in SOURCES for line, text in written_keys(p)
           if state.owner(text) is None]
    assert bad == []


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.stem)
def test_a_page_writes_only_its_own_keys_by_name(page):
    """A key another module owns is a constant of dashboard/state.py, never retyped."""
    own = PAGE_OWNER.get(page.stem, page.stem)
    assert own in state.OWNERS
    assert [(line, text) for line, text in written_keys(page) if state.owner(text) != own] == []


def test_a_session_through_every_page_holds_only_owned_keys():
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state[state.SCENARIO] = Scenario(trials=500)
    at.session_state[state.PENDING] = True
    at.run()
    for page in ("agreement", "drivers", "scenarios", "export", "walkthrough", "learn", "compare"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
    keys = [k for k in at.session_state if not k.startswith("$$")]
    assert state.SCENARIO in keys and any(k.startswith(state.WIDGET) for k in keys)
    assert sorted(k for k in keys if state.owner(k) is None) == []
