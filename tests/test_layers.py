"""Layer guard: the engine never loads Streamlit, no floor imports a higher one, and no cycles.

The import graph is read from the source with ``ast`` (every ``import`` and ``from … import``,
at module level or inside functions, relative ones resolved), so an import that only runs
on some code path still counts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulation"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _project_modules() -> dict[str, Path]:
    """The engine, the dashboard's package, the page scripts and ``app.py``."""
    found = {_module_name(p): p for d in ("simulation", "dashboard", "pages")
             for p in sorted((ROOT / d).rglob("*.py"))}
    found["app"] = ROOT / "app.py"
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``simulation`` modules that module ``name`` imports."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return {m for m in found if m in known and m != name}


def _graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    modules = _modules() if modules is None else modules
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


#: The floors, from the ground up (docs/architecture.md): a module imports only from its own
#: floor or a lower one. ``simulation`` itself holds only ``__version__``.
FLOORS: dict[str, int] = {
    "simulation": 0,
    "simulation.text": 0,
    "simulation.style": 0,  # the house style of every figure (plotly only), beside text
    "simulation.rules": 1,
    "simulation.model": 2,
    "simulation.cms": 3,
    "simulation.calibration": 4,  # reads CMS's files through simulation.cms
    "simulation.reports": 5,
    "simulation.learn": 6,
    "simulation.cli": 7,
    "dashboard": 8,
    "pages": 9,
    "app": 10,
}

#: Imports that still climb a floor, each with why (phase 2 cut the last of them; an entry
#: here would be drawn dashed in docs/architecture.md). The guard fails on any other upward
#: import, and on an entry here that no longer exists.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


def _floor(name: str) -> int | None:
    best = max((k for k in FLOORS if name == k or name.startswith(k + ".")), key=len, default=None)
    return None if best is None else FLOORS[best]


def _upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Every import of a module from a higher floor than its own."""
    out = set()
    for name, targets in graph.items():
        low = _floor(name)
        for t in targets:
            high = _floor(t)
            if low is not None and high is not None and high > low:
                out.add((name, t))
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_cycle_among_simulation_modules() -> None:
    graph = _graph()
    # A submodule importing its own package's __init__ (or an ancestor) is not a cycle of
    # concern: Python has already started that package when the submodule loads.
    graph = {m: {t for t in targets if t not in _parents(m)} for m, targets in graph.items()}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_relative_and_lazy_imports() -> None:
    graph = _graph()
    assert "simulation.calibration.backtest" in graph["simulation.calibration.study"]
    assert "simulation.cms.results" in graph["simulation.cms.acos"]
    # simulation/cli/tracks.py imports the catalog inside a function.
    assert "simulation.rules.catalog" in graph["simulation.cli.tracks"]


def test_importing_every_simulation_module_never_loads_streamlit() -> None:
    """In a fresh interpreter, import every module of ``simulation``; streamlit stays unloaded."""
    names = sorted(m for m in _modules() if not m.endswith(".__main__"))  # __main__ runs the CLI
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.'))\n"
        "print(len(bad)); print(bad[:5])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == "0", done.stdout


def test_no_simulation_source_names_streamlit() -> None:
    """Not even a lazy import: no module of ``simulation`` imports streamlit anywhere."""
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            assert not any(m.split(".")[0] == "streamlit" for m in mods), name


def test_every_module_has_a_floor() -> None:
    """A new package (or a module left flat in ``simulation/``) must be placed on a floor."""
    assert sorted(m for m in _project_modules() if _floor(m) is None) == []
    flat = sorted(p.name for p in PACKAGE.glob("*.py")
                  if p.name not in ("__init__.py", "text.py", "style.py"))
    assert flat == []


def test_no_floor_imports_a_higher_one() -> None:
    up = _upward(_graph(_project_modules()))
    assert sorted(up - set(KNOWN_UPWARD)) == []
    # the list of known exceptions only shrinks: a fixed one must leave the list
    assert sorted(set(KNOWN_UPWARD) - up) == []


def test_floor_guard_catches_an_upward_import() -> None:
    graph = {
        "simulation.rules.catalog": {"simulation.model.scenario"},  # rules -> model: up
        "simulation.model.scenario": {"simulation.rules.catalog", "simulation.text"},
        "simulation.cms.acos": {"simulation.model.scenario"},
        "simulation.text": {"dashboard.engine"},  # the engine never reaches the dashboard
        "dashboard.engine": {"pages.common"},  # nor the dashboard the pages
        "pages.common": {"dashboard.engine", "simulation.cli.main"},
    }
    assert _upward(graph) == {
        ("simulation.rules.catalog", "simulation.model.scenario"),
        ("simulation.text", "dashboard.engine"),
        ("dashboard.engine", "pages.common"),
    }


def test_project_graph_sees_the_dashboard_and_pages() -> None:
    graph = _graph(_project_modules())
    assert any(t.startswith("simulation.") for t in graph["dashboard.engine"])
    assert "app" in graph and any(t.startswith("pages.") or t.startswith("dashboard.")
                                  or t.startswith("simulation.") for t in graph["app"])


#: The dashboard's rooms from the ground up: each imports only rooms before it (and the
#: engine). State first: every other room reads its keys; the page helpers last.
DASHBOARD: tuple[str, ...] = (
    "dashboard.a11y", "dashboard.state", "dashboard.fields", "dashboard.widgets", "dashboard.engine",
    "dashboard.horizon_view", "dashboard.links", "dashboard.sidebar", "dashboard.workflow", "dashboard.learn",
)


def test_dashboard_rooms_import_only_rooms_below_them() -> None:
    graph = _graph(_project_modules())
    rooms = sorted(m for m in graph if m.startswith("dashboard.") or m == "dashboard")
    assert sorted(set(rooms) - {"dashboard"}) == sorted(DASHBOARD)  # a new room takes its place here
    bad = [(m, t) for m in DASHBOARD for t in graph[m]
           if t.startswith("dashboard.") and DASHBOARD.index(t) >= DASHBOARD.index(m)]
    assert bad == []


def test_pages_import_only_the_dashboard_and_the_engine() -> None:
    """A page is a script: it never imports another page (nor app.py), and no page is a helper
    module: nothing imports a page."""
    graph = _graph(_project_modules())
    pages = [m for m in graph if m.startswith("pages.")]
    assert pages, "no page scripts found"
    for page in pages:
        assert all(t.startswith(("dashboard", "simulation")) for t in graph[page]), (page, graph[page])
    assert sorted((m, t) for m, ts in graph.items() for t in ts if t.startswith("pages")) == []


def test_pages_name_no_private_name_of_another_module() -> None:
    """``module._name`` is the module's own business: a page uses only public names."""
    bad = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id not in ("self", "st")):
                bad.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and any(a.name.startswith("_") and not a.name.startswith("__") for a in node.names):
                bad.append(f"{path.name}:{node.lineno}: from {node.module} import _…")
    assert bad == []


# --------------------------------------------------------------------------- the diagram

#: The rooms of the diagram in docs/architecture.md, from the ground up.
ROOMS: dict[str, str] = {
    "simulation.text": "simulation/text.py",
    "simulation.style": "simulation/style.py",
    "simulation.rules": "simulation/rules/",
    "simulation.model": "simulation/model/",
    "simulation.cms": "simulation/cms/",
    "simulation.calibration": "simulation/calibration/",
    "simulation.reports": "simulation/reports/",
    "simulation.learn": "simulation/learn/",
    "simulation.cli": "simulation/cli/",
    "dashboard": "dashboard/",
    "pages": "pages/",
    "app": "app.py",
}
DOC = ROOT / "docs" / "architecture.md"


def _room(name: str) -> str | None:
    return max((r for r in ROOMS if name == r or name.startswith(r + ".")), key=len, default=None)


def mermaid() -> str:
    """The floors and every import between rooms, drawn from the code (dashed: to be cut)."""
    graph = _graph(_project_modules())
    edges: dict[tuple[str, str], bool] = {}
    for name, targets in graph.items():
        for t in targets:
            a, b = _room(name), _room(t)
            if a and b and a != b:
                edges[(a, b)] = edges.get((a, b), False) or (name, t) in KNOWN_UPWARD
    node = {r: r.rpartition(".")[2] for r in ROOMS}
    lines = ["```mermaid", "flowchart BT"]
    lines += [f'    {node[r]}["{label}"]' for r, label in ROOMS.items()]
    for (a, b), up in sorted(edges.items(), key=lambda e: (_floor(e[0][0]) or 0, e[0])):
        lines.append(f"    {node[a]} {'-. phase 2 .->' if up else '-->'} {node[b]}")
    lines.append("```")
    return "\n".join(lines)


def _diagram_span(text: str) -> tuple[int, int]:
    start = text.index("```mermaid")
    return start, text.index("```", start + 3) + 3


def test_the_diagram_in_docs_is_drawn_from_the_imports() -> None:
    """Redraw it with ``PYTHONPATH=. .venv/bin/python tests/test_layers.py --write``."""
    text = DOC.read_text(encoding="utf-8")
    start, end = _diagram_span(text)
    assert text[start:end] == mermaid()


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        text = DOC.read_text(encoding="utf-8")
        start, end = _diagram_span(text)
        DOC.write_text(text[:start] + mermaid() + text[end:], encoding="utf-8")
        print(f"wrote the diagram into {DOC.relative_to(ROOT)}")
    else:
        print(mermaid())
