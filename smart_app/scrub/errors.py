"""What can stop a scrub before any charge is evaluated: bad input (exit 2) and a server error (exit 3)."""

from __future__ import annotations


class ScrubInputError(Exception):
    """The input cannot be read as a Bulk Data export; the message names the file and line where it can."""


class ScrubServerError(Exception):
    """The FHIR server failed (status, timeout, an export job that errored)."""
