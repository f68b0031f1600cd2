"""The Learn content (data/learn/*.yaml) as Python objects, plus the few UI helpers both
student pages (pages/learn.py, pages/walkthrough.py) share: glossary tooltips, safe links to
other pages, and carrying out a "see it" link.

The loaders are pure and cached; only the ``show_*``/``open_*``/``page_link`` helpers at the
bottom touch streamlit. ``data/learn/glossary.yaml`` is the single source of every tooltip:
:func:`define` raises ``KeyError`` for a term it lacks, and the tests check that every scenario
label, track label and settlement step has an entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from dashboard.state import HORIZON, WALK_PRESET, notify, set_scenario
from simulation.learn.walkthrough import WalkInputs
from simulation.model.scenario import Scenario, TrackChoice, set_path
from simulation.rules.catalog import DATA_DIR, load_catalog

LEARN_DIR = DATA_DIR / "learn"

#: The dashboard pages a "see it" link may open (paths relative to app.py).
PAGES = {
    "pages/compare.py": "Compare tracks",
    "pages/agreement.py": "Agreement",
    "pages/drivers.py": "Drivers",
    "pages/walkthrough.py": "Settlement walkthrough",
    "pages/learn.py": "Learn",
}

#: Session-state key through which a "Walk it" link hands its example to the walkthrough.
WALK_PRESET_KEY = WALK_PRESET


# --------------------------------------------------------------------------- glossary


def normalize(name: str) -> str:
    """A term as matched: lower case, straight quotes, single spaces, and without a remark in
    parentheses after a space ('Track 1 (legacy)' -> 'track 1'; 'P(owing CMS)' is kept)."""
    name = str(name).replace("’", "'").replace("–", "-").replace("—", "-")
    name = re.sub(r"\s\([^)]*\)", " ", name)
    return re.sub(r"\s+", " ", name).strip(" .:").lower()


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalize(name)).strip("-")


@dataclass(frozen=True)
class GlossaryEntry:
    """One glossary term: its headword, other names, tooltip (short) and fuller text."""

    term: str
    short: str
    category: str
    aliases: tuple[str, ...] = ()
    long: str = ""
    source: str = ""
    steps: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)

    @property
    def anchor(self) -> str:
        return slug(self.term)

    def matches(self, query: str) -> bool:
        """Whether a search box text finds this entry (in any name or the definitions)."""
        q = normalize(query)
        hay = " ".join((*self.names, self.short, self.long)).lower()
        return all(word in hay for word in q.split())


def _read(name: str) -> Any:
    return yaml.safe_load((LEARN_DIR / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def glossary() -> tuple[GlossaryEntry, ...]:
    """Every glossary entry, sorted by headword (case-insensitive)."""
    entries = []
    for raw in _read("glossary.yaml"):
        entries.append(GlossaryEntry(
            term=raw["term"], short=" ".join(raw["short"].split()), category=raw["category"],
            aliases=tuple(str(a) for a in raw.get("aliases", ())),
            long=" ".join(raw.get("long", "").split()), source=raw.get("source", ""),
            steps=tuple(raw.get("steps", ())),
        ))
    return tuple(sorted(entries, key=lambda e: e.term.lower()))


@lru_cache(maxsize=1)
def _index() -> dict[str, GlossaryEntry]:
    out: dict[str, GlossaryEntry] = {}
    for entry in glossary():
        for name in entry.names:
            out.setdefault(normalize(name), entry)
    return out


def known_names() -> set[str]:
    """Every normalised headword and alias."""
    return set(_index())


def lookup(name: str) -> GlossaryEntry:
    """The entry for ``name`` (a headword or alias, any case); KeyError if there is none."""
    try:
        return _index()[normalize(name)]
    except KeyError:
        raise KeyError(f"{name!r} is not in data/learn/glossary.yaml") from None


def define(name: str) -> str:
    """The one- or two-sentence definition of ``name``, for a tooltip."""
    return lookup(name).short


def tooltip(*names: str) -> str:
    """A tooltip defining several terms: '**Term**: definition' paragraphs."""
    return "\n\n".join(f"**{lookup(n).term}**: {lookup(n).short}" for n in names)


def step_entry(key: str) -> GlossaryEntry | None:
    """The entry that explains settlement step ``key`` (simulation.rules.explain.explain)."""
    for entry in glossary():
        if key in entry.steps:
            return entry
    return None


# --------------------------------------------------------------------------- lessons etc.


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    body: str
    terms: tuple[str, ...] = ()
    see_it: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str
    origin: str
    terms: tuple[str, ...] = ()
    see_it: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeeIt:
    """A link that opens ``page`` on a scenario (``scenario``) or a walkthrough example."""

    id: str
    label: str
    help: str
    page: str
    scenario: dict[str, Any] | None = None
    walkthrough: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def lessons() -> tuple[Lesson, ...]:
    return tuple(Lesson(r["id"], r["title"], r["body"], tuple(r.get("terms", ())),
                        tuple(r.get("see_it", ()))) for r in _read("lessons.yaml"))


@lru_cache(maxsize=1)
def questions() -> tuple[Question, ...]:
    return tuple(Question(r["id"], r["question"], r["answer"], r["origin"],
                          tuple(r.get("terms", ())), tuple(r.get("see_it", ())))
                 for r in _read("questions.yaml"))


@lru_cache(maxsize=1)
def see_its() -> dict[str, SeeIt]:
    return {r["id"]: SeeIt(r["id"], r["label"], r.get("help", ""), r["page"],
                           r.get("scenario"), r.get("walkthrough"),
                           {k: r[k] for k in ("horizon", "look") if k in r})
            for r in _read("see_it.yaml")}


def see_it_scenario(item: SeeIt, base: Scenario | None = None) -> Scenario:
    """The scenario a 'see it' link opens: ``base`` (default scenario) with its changes."""
    if item.scenario is None:
        raise ValueError(f"{item.id} is a walkthrough example, not a scenario")
    data = (base or Scenario()).model_dump()
    spec = item.scenario
    if "name" in spec:
        data["name"] = spec["name"]
    for path, value in (spec.get("set") or {}).items():
        set_path(data, path, value, strict=True)
    if "tracks" in spec:
        data["tracks"] = [TrackChoice(**t).model_dump() for t in spec["tracks"]]
    return Scenario.model_validate(data)


def walkthrough_example(item: SeeIt) -> tuple[str, int, WalkInputs]:
    """(track, year, inputs) of a 'walk it' link, checked against the catalog."""
    if item.walkthrough is None:
        raise ValueError(f"{item.id} is a scenario link, not a walkthrough example")
    track, year = item.walkthrough["track"], int(item.walkthrough["year"])
    load_catalog().rules(track, year)  # raises CatalogError for an unknown (track, year)
    return track, year, WalkInputs(**item.walkthrough["inputs"])


@lru_cache(maxsize=1)
def content_problems() -> tuple[str, ...]:
    """Everything wrong with the Learn content, as messages (empty when it is consistent)."""
    problems = []
    items = see_its()
    for kind, rows in (("lesson", lessons()), ("question", questions())):
        for row in rows:
            for term in row.terms:
                try:
                    lookup(term)
                except KeyError as exc:
                    problems.append(f"{kind} {row.id}: {exc.args[0]}")
            problems += [f"{kind} {row.id}: unknown see_it {s!r}" for s in row.see_it if s not in items]
    seen: dict[str, str] = {}
    for entry in glossary():
        for name in entry.names:
            other = seen.setdefault(normalize(name), entry.term)
            if other != entry.term:
                problems.append(f"glossary: {name!r} names both {other!r} and {entry.term!r}")
        for key in entry.steps:
            if step_entry(key) is not entry:
                problems.append(f"glossary: step {key!r} is explained by more than one entry")
    for item in items.values():
        if item.page not in PAGES:
            problems.append(f"see_it {item.id}: unknown page {item.page}")
        try:
            if item.scenario is not None:
                see_it_scenario(item)
            elif item.walkthrough is not None:
                walkthrough_example(item)
            else:
                problems.append(f"see_it {item.id}: needs a scenario or a walkthrough")
        except Exception as exc:  # content check: report every kind of failure as a message
            problems.append(f"see_it {item.id}: {exc}")
    return tuple(problems)


# --------------------------------------------------------------------------- UI helpers


def page_link(page: str, label: str, **kwargs: Any) -> None:
    """``st.page_link`` that shows a plain caption when the page is not in the app."""
    import streamlit as st
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(page, label=label, **kwargs)
    except StreamlitAPIException:
        st.caption(f"{label} (open it from the menu)")


def page_available(page: str) -> bool:
    """Whether the page's script exists (colleagues' pages may not exist yet)."""
    return (Path(__file__).resolve().parents[1] / page).is_file()


def switch_page(page: str) -> str | None:
    """``st.switch_page``, or a message saying why the page cannot be opened."""
    import streamlit as st
    from streamlit.errors import StreamlitAPIException

    if not page_available(page):
        return f"The {PAGES.get(page, page)} page is not part of this version of the app yet."
    try:
        st.switch_page(page)
    except StreamlitAPIException:
        return f"The {PAGES.get(page, page)} page could not be opened from here; use the menu."
    return None


def open_see_it(item: SeeIt) -> str | None:
    """Carry out a 'see it' link: set the shared scenario or the walkthrough example, then
    switch page. Returns a message when that is not possible (the caller shows it)."""
    import streamlit as st

    if not page_available(item.page):
        return f"The {PAGES.get(item.page, item.page)} page is not part of this version of the app yet."
    try:
        if item.scenario is not None:
            scenario = see_it_scenario(item)
            set_scenario(scenario)
            if item.extra.get("horizon") == 10:  # land on Compare's ten-year view
                from dashboard import horizon_view

                st.session_state[HORIZON] = horizon_view.TEN
                if item.extra.get("look"):
                    notify("info", item.extra["look"], scenario)
        else:
            walkthrough_example(item)
            st.session_state[WALK_PRESET_KEY] = item.id
    except Exception as exc:  # bad content must not crash the page; say what failed
        return f"This example could not be loaded: {exc}"
    return switch_page(item.page)
