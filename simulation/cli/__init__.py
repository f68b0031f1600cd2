"""``acosim``, the command line: :mod:`.main` holds the command table, one module per command.

``acosim`` (the ``pyproject`` entry point ``simulation.cli:main``) and ``python -m
simulation.cli`` run the same :func:`main`.
"""

from .errors import UserError
from .main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]
