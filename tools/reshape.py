#!/usr/bin/env python3
"""Reshape the tree into the target layout of docs/architecture.md: pure moves, re-runnable.

    python tools/reshape.py            # do it (git mv, rewrite imports, sort import blocks)
    python tools/reshape.py --dry-run  # print what would move and which files would change

Every move is in :data:`MODULES` (engine modules, old dotted name -> new dotted name) or
:data:`TESTS` (test files, old path -> new path). A move whose source is missing is skipped
(the module does not exist on this branch, or it has already moved), so the script can run
again on a tree that gained modules since: it moves what is still in the old place and
points every reference at the new place. It never edits code beyond references:

* ``from simulation.x import a`` / ``import simulation.x`` / ``from simulation import x`` and
  every relative import inside ``simulation/`` (recomputed for the file's new place, so a
  moved module keeps relative imports);
* dotted names in strings and prose (``mock.patch("simulation.x.f")``, ``:mod:`simulation.x```,
  ``python -m simulation.x``) and paths (``simulation/x.py``) in the project's text files;
* ``Path(__file__).parents[n]`` of a test that moves one folder deeper.

Afterwards ``ruff check --fix --select I`` re-sorts the import blocks it touched. A move onto
a target that already exists stops the script before anything changes (say which one).
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Engine modules: old dotted name -> new dotted name. A target of ``None`` would delete;
#: there is none: a shim that only re-exports is listed in :data:`RETIRED` instead.
MODULES: dict[str, str] = {
    # rules: policy as data and the settlement arithmetic
    "simulation.catalog": "simulation.rules.catalog",
    "simulation.settlement": "simulation.rules.settlement",
    "simulation.explain": "simulation.rules.explain",
    # model: the scenario, the plan of rules per year, the one place randomness is drawn
    "simulation.scenario": "simulation.model.scenario",
    "simulation.scenario_io": "simulation.model.io",
    "simulation.montecarlo": "simulation.model.montecarlo",
    "simulation.noise": "simulation.model.noise",
    "simulation.stats": "simulation.model.stats",
    "simulation.compare": "simulation.model.compare",
    "simulation.assumptions": "simulation.model.assumptions",
    "simulation.share": "simulation.model.share",
    "simulation.presets": "simulation.model.presets",
    "simulation.horizon": "simulation.model.horizon",
    "simulation.rebasing": "simulation.model.rebasing",
    # which tracks are open: it reads the scenario (the ACO's size, start year, history), so
    # it sits on the model floor, above the catalog it reads its cited rules from
    "simulation.eligibility": "simulation.model.eligibility",
    "simulation.asymmetry": "simulation.model.asymmetry",
    # cms: reading CMS's files and recomputing them
    "simulation.puf": "simulation.cms.puf",
    "simulation.puf_table": "simulation.cms.puf_table",
    "simulation.cms_results": "simulation.cms.results",
    "simulation.reach_results": "simulation.cms.reach_results",
    "simulation.realdata": "simulation.cms.acos",
    "simulation.reconcile": "simulation.cms.reconcile",
    "simulation.reconcile_report": "simulation.cms.reconcile_report",
    "simulation.download": "simulation.cms.download",
    # calibration: the REACH part joins the package the MSSP part already is
    "simulation.calibration_reach": "simulation.calibration.reach",
    # reports: every figure and every document; reports.py is the documents module until
    # phase 2 splits out provenance, words and tables
    "simulation.charts": "simulation.reports.charts",
    "simulation.reports": "simulation.reports.documents",
    "simulation.recommendation": "simulation.reports.words",
    "simulation.horizon_report": "simulation.reports.horizon",
    # learn: the walkthrough's logic, no Streamlit
    "simulation.walkthrough": "simulation.learn.walkthrough",
}

#: Shims that only re-export another module: references move to the target, the file goes.
RETIRED: dict[str, str] = {
    "simulation.backtest": "simulation.calibration.backtest",
}

#: New packages and the first line of their ``__init__.py``.
PACKAGES: dict[str, str] = {
    "simulation.rules": "The rules floor: the track catalog (policy as cited data) and the settlement arithmetic.",
    "simulation.model": "The model floor: the scenario, the plan of rules per year, the simulation and its analyses.",
    "simulation.cms": "CMS's files: the results reader, the ACO linker, real ACOs, reconciliation against CMS.",
    "simulation.reports": "Every figure (house style) and every document: CSV, Excel, PNG, PowerPoint, HTML, PDF.",
    "simulation.learn": "The walkthrough's logic and lesson content; no Streamlit.",
}

#: Test files: old path -> new path (tests mirror the packages).
TESTS: dict[str, str] = {
    "tests/test_catalog.py": "tests/rules/test_catalog.py",
    "tests/test_settlement.py": "tests/rules/test_settlement.py",
    "tests/test_montecarlo.py": "tests/model/test_montecarlo.py",
    "tests/test_assumptions.py": "tests/model/test_assumptions.py",
    "tests/test_horizon.py": "tests/model/test_horizon.py",
    "tests/test_rebasing.py": "tests/model/test_rebasing.py",
    "tests/test_stats.py": "tests/model/test_stats.py",
    "tests/test_share_snapshots.py": "tests/model/test_share_snapshots.py",
    "tests/test_eligibility.py": "tests/model/test_eligibility.py",
    "tests/test_puf.py": "tests/cms/test_puf.py",
    "tests/test_reconcile.py": "tests/cms/test_reconcile.py",
    "tests/test_reach.py": "tests/cms/test_reach.py",
    "tests/cms/test_cms_results.py": "tests/cms/test_results.py",
    "tests/test_deck.py": "tests/reports/test_deck.py",
    "tests/test_recommendation.py": "tests/reports/test_words.py",
    "tests/test_learn_walkthrough.py": "tests/learn/test_walkthrough.py",
}

#: New test folders and their ``__init__.py`` line.
TEST_PACKAGES: dict[str, str] = {
    "tests/rules": "Tests of simulation/rules/.",
    "tests/model": "Tests of simulation/model/.",
    "tests/cms": "Tests of simulation/cms/.",
    "tests/reports": "Tests of simulation/reports/.",
    "tests/learn": "Tests of simulation/learn/.",
}

#: Where references are rewritten (folders recursively, and single files).
SCOPE = ["simulation", "pages", "dashboard", "tests", "benchmarks", "tools", "docs", "data",
         "app.py", "README.md", "Makefile", "pyproject.toml"]
TEXT_SUFFIXES = {".py", ".md", ".json", ".yaml", ".yml", ".toml", ".txt", ".cfg", ""}
#: Never rewritten: history is history, and these files name the old modules on purpose.
SKIP = {"CHANGELOG.md", "tools/reshape.py", "tests/test_reshape.py"}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
DOTTED = re.compile(rf"(?<![\w.]){'simulation'}((?:\.{IDENT})+)")
PATH = re.compile(rf"(?<![\w/.])simulation/((?:{IDENT}/)*{IDENT})\.py\b")


# --------------------------------------------------------------------------- the tree


def module_path(name: str, root: Path = ROOT) -> Path | None:
    """The file of module ``name`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    base = root.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def current_modules(root: Path = ROOT) -> set[str]:
    out = set()
    for p in (root / "simulation").rglob("*.py"):
        parts = list(p.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.add(".".join(parts))
    return out


class Plan:
    """The moves still to do on this tree and the module names before and after them."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.before = current_modules(root)
        self.pending: dict[str, str] = {}  # old module -> new module, source present
        self.retire: dict[str, str] = {}
        problems = []
        for old, new in MODULES.items():
            src = module_path(old, root)
            if src is None or src.name == "__init__.py":
                continue  # missing here, or already a package of that name (moved)
            if module_path(new, root) is not None:
                problems.append(f"{old} -> {new}: both exist; merge them by hand first")
            self.pending[old] = new
        for old, new in RETIRED.items():
            if module_path(old, root) is not None:
                self.retire[old] = new
        self.tests = {o: n for o, n in TESTS.items() if (root / o).is_file()}
        for o, n in self.tests.items():
            if (root / n).exists():
                problems.append(f"{o} -> {n}: both exist; merge them by hand first")
        if problems:
            raise SystemExit("reshape: " + "; ".join(problems))
        self.after = {self.new_module(m) for m in self.before - set(self.retire)}
        self.after |= set(PACKAGES)

    # module renames --------------------------------------------------------------
    def new_module(self, name: str) -> str:
        """The name of existing module ``name`` after the moves (itself if it stays)."""
        if name in self.retire:
            return self.retire[name]
        return self.pending.get(name, name)

    def remap(self, name: str) -> str | None:
        """A dotted reference (module, or module.attribute...) rewritten, or None if unchanged.

        The longest old name that is ``name`` or a prefix of it decides:

        * its move is still to do here: everything under it is old;
        * it has become a package (``simulation.reports``): the package and its modules are
          new already, any other attribute is a stale reference to the old module;
        * it is gone: a stale reference (from a file merged after the move) if its new home
          exists, otherwise a mention of something this tree never had (left alone).
        """
        table = {**MODULES, **RETIRED}
        for old in sorted(table, key=len, reverse=True):
            if name != old and not name.startswith(old + "."):
                continue
            rest, new = name[len(old):], table[old]
            if old in self.pending or old in self.retire:
                return new + rest
            now = module_path(old, self.root)
            if now is not None:  # a package by that name (moved already)
                if rest and f"{old}.{rest.split('.')[1]}" not in self.after:
                    return new + rest
                return None
            return new + rest if new in self.after else None
        return None


# --------------------------------------------------------------------------- imports


def _package_of(module: str, is_package: bool) -> list[str]:
    parts = module.split(".")
    return parts if is_package else parts[:-1]


def _relative(from_module: str, is_package: bool, target: str) -> tuple[int, str]:
    """``(level, module)`` of a relative import of ``target`` written in ``from_module``."""
    pkg = _package_of(from_module, is_package)
    tgt = target.split(".")
    common = 0
    while common < min(len(pkg), len(tgt)) and pkg[common] == tgt[common]:
        common += 1
    return len(pkg) - common + 1, ".".join(tgt[common:])


def _resolve(node: ast.ImportFrom, module: str, is_package: bool, level: int | None = None) -> str:
    level = node.level if level is None else level
    if not level:
        return node.module or ""
    base = _package_of(module, is_package)
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _known(target: str, node: ast.ImportFrom, plan: Plan) -> bool:
    names = plan.before | plan.after
    return target in names or any(f"{target}.{a.name}" in names for a in node.names)


def _render_from(level: int, module: str, names: list[tuple[str, str | None]], indent: str) -> str:
    head = "from " + "." * level + module + " import "
    items = [n if a is None or a == n else f"{n} as {a}" for n, a in names]
    line = head + ", ".join(items)
    if len(indent + line) <= 100:
        return line
    body = "".join(f"{indent}    {i},\n" for i in items)
    return f"{head}(\n{body}{indent})"


def rewrite_imports(src: str, plan: Plan, module: str | None, new_module: str | None,
                    is_package: bool) -> tuple[str, list[tuple[int, int]]]:
    """Rewrite the import statements of a Python source; also return their line spans.

    ``module`` is the file's module name now (None outside ``simulation/``), ``new_module``
    its name after the moves; relative imports are resolved from the first and written
    from the second.
    """
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))
    edits: list[tuple[int, int, str]] = []
    spans: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        spans.append((node.lineno, node.end_lineno))
        indent = " " * node.col_offset
        new_text = None
        if isinstance(node, ast.Import):
            parts, changed = [], False
            for alias in node.names:
                target = plan.remap(alias.name) if alias.name.startswith("simulation.") else None
                if target is not None:  # usages ``simulation.x.f`` are rewritten as text
                    changed = True
                    parts.append(target if alias.asname is None else f"{target} as {alias.asname}")
                else:
                    parts.append(alias.name if alias.asname is None else f"{alias.name} as {alias.asname}")
            if changed:
                new_text = "import " + ", ".join(parts)
        else:
            if node.level and module is None:
                continue
            target = _resolve(node, module or "", is_package)
            stale = False
            if node.level and module and not _known(target, node, plan):
                # written for the file's old place (an edit merged into a file that moved
                # down, e.g. into simulation/cli/): resolve it from the folders above
                for level in range(node.level + 1, len(module.split(".")) + 1):
                    alt = _resolve(node, module, is_package, level)
                    if _known(alt, node, plan):
                        target, stale = alt, True
                        break
            if target != "simulation" and not target.startswith("simulation."):
                continue
            groups: dict[str, list[tuple[str, str | None]]] = {}
            changed = False
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in plan.before or full in plan.after:  # a module imported by name
                    new_full = plan.remap(full) or full
                    parent, _, last = new_full.rpartition(".")
                    if new_full != full:
                        changed = True
                    groups.setdefault(parent, []).append((last, alias.asname or (alias.name if last != alias.name else None)))
                else:
                    new_target = plan.remap(target) or target
                    if new_target != target:
                        changed = True
                    groups.setdefault(new_target, []).append((alias.name, alias.asname))
            moved_file = module is not None and new_module != module
            if not changed and not (node.level and (moved_file or stale)):
                continue
            stmts = []
            for mod, names in groups.items():
                if node.level:
                    level, rel = _relative(new_module or "", is_package, mod)
                    stmts.append(_render_from(level, rel, names, indent))
                else:
                    stmts.append(_render_from(0, mod, names, indent))
            new_text = ("\n" + indent).join(stmts)
            if new_text == src[start:end]:
                continue
        if new_text is not None:
            edits.append((start, end, new_text))
    for start, end, text in sorted(edits, reverse=True):
        src = src[:start] + text + src[end:]
    return src, spans


def rewrite_text(text: str, plan: Plan, skip_lines: set[int] | None = None) -> str:
    """Dotted names and ``simulation/...py`` paths in any text, outside ``skip_lines``."""

    def dotted(m: re.Match) -> str:
        name = "simulation" + m.group(1)
        new = plan.remap(name)
        return new if new else m.group(0)

    def path(m: re.Match) -> str:
        name = "simulation." + m.group(1).replace("/", ".")
        new = plan.remap(name)
        if new is None or (name not in plan.before and name not in MODULES and name not in RETIRED):
            return m.group(0)
        return new.replace(".", "/") + ".py"

    out = []
    for i, line in enumerate(text.splitlines(keepends=True), start=1):
        if not skip_lines or i not in skip_lines:
            line = PATH.sub(path, DOTTED.sub(dotted, line))
        out.append(line)
    return "".join(out)


def fix_depth(text: str, deeper: int) -> str:
    """Paths from ``__file__`` of a file moved ``deeper`` folders down still reach the same place.

    ``Path(__file__)...parents[n]`` becomes ``parents[n + deeper]`` and ``.parent.parent``
    gains ``deeper`` more ``.parent``, on the lines that name ``__file__``.
    """
    if not deeper:
        return text

    def bump(m: re.Match) -> str:
        return f"parents[{int(m.group(1)) + deeper}]"

    def longer(m: re.Match) -> str:
        return m.group(1) + ".parent" * (m.group(2).count(".parent") + deeper)

    out = []
    for ln in text.splitlines(keepends=True):
        if "Path(__file__)" in ln:
            ln = re.sub(r"parents\[(\d+)\]", bump, ln)
            ln = re.sub(r"(__file__\)(?:\.resolve\(\))?)((?:\.parent\b)+)", longer, ln)
        out.append(ln)
    return "".join(out)


# --------------------------------------------------------------------------- files


def scope_files(root: Path) -> list[Path]:
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.split("\n")
    out = []
    for rel in tracked:
        if not rel or rel in SKIP:
            continue
        if not any(rel == s or rel.startswith(s + "/") for s in SCOPE):
            continue
        p = root / rel
        if p.is_file() and p.suffix in TEXT_SUFFIXES:
            out.append(p)
    return out


def _module_of(rel: Path) -> tuple[str, bool] | None:
    if rel.parts[0] != "simulation" or rel.suffix != ".py":
        return None
    parts = list(rel.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True)


def reshape(root: Path = ROOT, *, dry_run: bool = False) -> list[str]:
    """Do every pending move; return the lines of what was done."""
    plan = Plan(root)
    moves = {module_path(o, root): n for o, n in plan.pending.items()}
    done: list[str] = [f"move {o} -> {n}" for o, n in plan.pending.items()]
    done += [f"retire {o} (use {n})" for o, n in plan.retire.items()]
    done += [f"move {o} -> {n}" for o, n in plan.tests.items()]
    changed: list[Path] = []
    new_text: dict[Path, str] = {}
    for p in scope_files(root):
        rel = p.relative_to(root)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        skip: set[int] = set()
        out = text
        if p.suffix == ".py":
            info = _module_of(rel)
            module, is_package = info if info else (None, False)
            new_module = plan.new_module(module) if module else None
            try:
                out, spans = rewrite_imports(text, plan, module, new_module, is_package)
            except SyntaxError:
                spans = []
            # the import statements are done; skip their lines in the text pass
            tree_lines = {i for a, b in spans for i in range(a, b + 1)}
            if out != text:  # line numbers moved: re-parse to find the new spans
                try:
                    _, spans = rewrite_imports(out, plan, new_module, new_module, is_package)
                except SyntaxError:
                    spans = []
                tree_lines = {i for a, b in spans for i in range(a, b + 1)}
            skip = tree_lines
        out = rewrite_text(out, plan, skip)
        moved_to = _moved(rel, plan)
        out = fix_depth(out, len(moved_to.parts) - len(rel.parts))
        if out != text:
            new_text[p] = out
            changed.append(rel)
    done += [f"rewrite {c}" for c in changed]
    if dry_run:
        return done
    for p, text in new_text.items():
        p.write_text(text, encoding="utf-8")
    for pkg, line in {**PACKAGES, **TEST_PACKAGES}.items():
        folder = root.joinpath(*pkg.replace("/", ".").split("."))
        used = any(n.startswith(pkg + ".") for n in plan.pending.values()) or any(
            n.startswith(pkg + "/") for n in plan.tests.values())
        init = folder / "__init__.py"
        if used and not init.exists():
            folder.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""{line}"""\n', encoding="utf-8")
            _git(root, "add", str(init.relative_to(root)))
            done.append(f"create {init.relative_to(root)}")
    for src, new in moves.items():
        assert src is not None
        dest = root.joinpath(*new.split(".")).with_suffix(".py")
        dest.parent.mkdir(parents=True, exist_ok=True)
        _git(root, "mv", str(src.relative_to(root)), str(dest.relative_to(root)))
    for old in plan.retire:
        p = module_path(old, root)
        assert p is not None
        _git(root, "rm", "-q", "-f", str(p.relative_to(root)))
    for o, n in plan.tests.items():
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        _git(root, "mv", o, n)
    py = [str(root / c) for c in changed if c.suffix == ".py"]
    py = [p if Path(p).exists() else str(root / _moved(Path(p).relative_to(root), plan)) for p in py]
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff") \
        or shutil.which("ruff", path=str(root / ".venv" / "bin"))
    if ruff and py:
        subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet", *py], cwd=root, check=False)
    elif py:
        done.append("ruff not found: run `ruff check --fix --select I .` to sort the import blocks")
    return done


def _moved(rel: Path, plan: Plan) -> Path:
    if str(rel) in plan.tests:
        return Path(plan.tests[str(rel)])
    info = _module_of(rel)
    if info:
        new = plan.new_module(info[0])
        if new != info[0]:
            return Path(*new.split(".")).with_suffix(".py")
    return rel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    args = parser.parse_args(argv)
    lines = reshape(ROOT, dry_run=args.dry_run)
    print("\n".join(lines) if lines else "nothing to do: the tree is in its target layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
