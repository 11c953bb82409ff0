"""Domain errors; the API maps each to an HTTP status."""

from __future__ import annotations


class ValidationError(ValueError):
    """Input is malformed. ``errors`` lists each problem as {"field": ..., "message": ...}."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


class NotFound(LookupError):
    """The thing asked for does not exist (or is not visible to the caller)."""
