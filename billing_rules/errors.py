"""Errors the engine raises at its edges: bad service input and bad rule data."""

from __future__ import annotations


class BadInput(ValueError):
    """A service record that cannot be evaluated; ``field`` names the offending input field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RuleDataError(ValueError):
    """A rule-data or edit-table file that does not have the expected shape (names the file and entry)."""
