"""What can go wrong fetching a period's data, split the way ``smart-edu scrub`` reports it: bad input or
configuration (exit 2) against a server that failed or gave up (exit 3)."""

from __future__ import annotations


class BulkError(Exception):
    """Fetching the data failed; ``message`` is safe to print (never holds a token)."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BulkConfigError(BulkError):
    """The profile, its key or the arguments cannot work (no [backend], key unset, another server's URL)."""

    exit_code = 2


class BulkServerError(BulkError):
    """The server refused or failed the export, its status, a file, or the search."""


class BulkTimeout(BulkServerError):
    """The export did not complete within the time limit (the job was deleted)."""
