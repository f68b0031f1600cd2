"""The dashboard's helpers that are not page scripts (the pages live in ``pages/``)."""
