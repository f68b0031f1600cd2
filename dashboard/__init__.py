"""The dashboard's helpers (the page scripts live in ``pages/``, ``app.py`` at the top): the
session state (``state``), the sidebar, the cached engine calls, the widgets, the links and the
consultant workflow. See docs/architecture.md, floor 8."""
