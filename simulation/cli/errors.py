"""The one error type a command raises for something the user can fix."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""
