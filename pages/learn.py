"""Learn (for students): what an ACO is and why it exists, a glossary of every term the app
uses, and review questions - each idea with a link that shows it in the simulator.

The content is data (data/learn/*.yaml), loaded by :mod:`dashboard.learn`; this page
only lays it out.
"""

from __future__ import annotations

import sys
from itertools import groupby
from pathlib import Path

import streamlit as st

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # when this file is run on its own (tests, screenshots)
    sys.path.insert(0, _ROOT)

from dashboard import learn as lc  # noqa: E402
from dashboard.links import deep_link_guard  # noqa: E402

CATEGORY_ORDER = ("The program", "Money: the settlement", "Quality", "Tracks and models",
                  "Your ACO (scenario inputs)", "Simulation and results")


def _key_terms(terms: tuple[str, ...]) -> None:
    """The terms a lesson or answer uses, named in one line with all definitions on hover."""
    if terms:
        names = " · ".join(lc.lookup(t).term for t in terms)
        st.caption(f"Key terms: {names}", help=lc.tooltip(*terms))


def _see_it_buttons(ids: tuple[str, ...], where: str) -> None:
    """One button per 'see it' link; a message beside them if the link cannot open."""
    items = [lc.see_its()[i] for i in ids]
    if not items:
        return
    cols = st.columns(len(items))
    for col, item in zip(cols, items, strict=True):
        available = lc.page_available(item.page)
        help_text = item.help + (" Opens the settlement walkthrough with these numbers."
                                 if item.walkthrough else
                                 f" Replaces your current scenario and opens "
                                 f"{lc.PAGES[item.page]}.")
        if not available:
            help_text = f"The {lc.PAGES[item.page]} page is not in this version of the app yet."
        if col.button(item.label, key=f"learn.see.{where}.{item.id}", help=help_text,
                      disabled=not available, width="stretch"):
            message = lc.open_see_it(item)
            if message:
                st.warning(message)


def _lessons() -> None:
    st.markdown(
        f"The Medicare programs this app simulates, in {len(lc.lessons())} short sections. The "
        "buttons under a section open another page of the app on an example of the idea.")
    for lesson in lc.lessons():
        st.subheader(lesson.title, anchor=lc.slug(lesson.title))
        st.markdown(lesson.body)
        _key_terms(lesson.terms)
        _see_it_buttons(lesson.see_it, f"lesson.{lesson.id}")
        st.divider()


def _glossary() -> None:
    default = st.query_params.get("term", "")
    query = st.text_input("Find a term", value=default, key="learn.glossary_query",
                          placeholder="e.g. MSR, loss limit, 5th percentile",
                          help="Searches the terms, their other names and their definitions.")
    entries = [e for e in lc.glossary() if not query or e.matches(query)]
    st.caption(f"{len(entries)} of {len(lc.glossary())} terms. Labels in the app that say the "
               "same thing in other words are listed under *also*.")
    if not entries:
        st.info("No term matches that search. Try a shorter word.")
        return

    def order(e: lc.GlossaryEntry) -> int:
        return CATEGORY_ORDER.index(e.category) if e.category in CATEGORY_ORDER else 99

    for category, group in groupby(sorted(entries, key=order), key=lambda e: e.category):
        st.subheader(category, anchor=lc.slug(category))
        for entry in group:
            lines = [f"**{entry.term}**"]
            if entry.aliases:
                lines[0] += f"  \n*also: {', '.join(entry.aliases)}*"
            lines.append(entry.short)
            if entry.long:
                lines.append(entry.long)
            st.markdown("\n\n".join(lines))
            if entry.source:
                st.caption(f"Source: {entry.source}")


def _questions() -> None:
    st.markdown(
        "Try to answer each question before you open it. The first three are about ACOs in "
        "general; the others test the settlement rules - the buttons let you check the answer "
        "in the simulator.")
    for i, q in enumerate(lc.questions(), 1):
        st.markdown(f"**{i}. {q.question}**")
        answer = st.expander("Show the answer", key=f"learn.answer.{q.id}", on_change="rerun")
        if answer.open is not False:  # the answer is written when opened
            with answer:
                st.markdown(q.answer)
                _key_terms(q.terms)
                _see_it_buttons(q.see_it, f"question.{q.id}")


def main() -> None:
    st.title("Learn: accountable care organizations")
    st.markdown(
        "What an ACO is, why Medicare pays ACOs the way it does, and every term this app "
        "uses. To watch one year being settled step by step, open the settlement walkthrough.")
    lc.page_link("pages/walkthrough.py", label="Settlement walkthrough",
                 icon=":material/stairs:")
    try:
        problems = lc.content_problems()
    except Exception as exc:  # a content file that cannot be read at all
        st.error(f"The learning content in data/learn/ could not be read: {exc}")
        return
    if problems:  # a content file was edited badly: say so instead of failing
        st.warning("Some learning content could not be loaded: " + "; ".join(problems[:3]))
    tab_lessons, tab_glossary, tab_questions = st.tabs(
        ["What an ACO is", "Glossary", "Test yourself"])
    with tab_lessons:
        _lessons()
    with tab_glossary:
        _glossary()
    with tab_questions:
        _questions()


deep_link_guard()
main()
