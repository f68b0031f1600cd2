"""ACO risk-track simulator engine: track catalog, settlement rules, Monte Carlo.

This package never imports streamlit; the dashboard in ``app.py`` and ``pages/`` calls it.
"""

__version__ = "0.1.0"
