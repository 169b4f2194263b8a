"""``--fhir-base URL [--profile NAME]``: the period's data fetched into ``<out>/export`` by ``smart_app.bulk``
(Bulk Data ``$export`` with SMART Backend Services, or paged search), then scrubbed from disk as ``--ndjson``.

The export folder is kept beside the report (what the scrub read, for the record); a rerun into the same
``--out`` takes ``export-2``, ``export-3``, ... so nothing earlier is overwritten.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from smart_app.scrub.errors import ScrubInputError, ScrubServerError

if TYPE_CHECKING:
    from smart_app.bulk import Progress
    from smart_app.profiles import Profile


def export_folder(out: Path) -> Path:
    """``<out>/export``, or the first ``export-N`` that does not exist yet."""
    candidate, n = out / "export", 1
    while candidate.exists():
        n += 1
        candidate = out / f"export-{n}"
    return candidate


def _profile(name: str | None) -> Profile | None:
    if not name:
        return None
    from smart_app.profiles import ProfileError, load_profiles
    from smart_app.settings import load_settings

    try:
        profiles = load_profiles(load_settings().launch_config_dir)
    except ProfileError as exc:
        raise ScrubInputError(f"--profile {name}: {exc}") from None
    profile = profiles.by_name(name)
    if profile is None:
        raise ScrubInputError(f"--profile {name}: no such launch profile")
    return profile


def _reporter() -> Callable[[Progress], None]:
    """On a terminal, each stage of the fetch on one line of stderr; nothing otherwise."""
    if not sys.stderr.isatty():
        return lambda progress: None

    def report(progress: Progress) -> None:
        print(f"export: {progress.message}", file=sys.stderr)

    return report


def fetch_export(
    fhir_base: str, profile_name: str | None, out: Path, since: date | None, until: date | None
) -> tuple[Path, list[str]]:
    """Fetch into a fresh folder under ``out``; returns it and the server's reported errors (text)."""
    from smart_app.bulk import BulkConfigError, BulkError, fetch_to_directory

    profile = _profile(profile_name)
    dest = export_folder(out)
    try:
        result = fetch_to_directory(fhir_base, profile, since, until, None, dest, progress=_reporter())
    except BulkConfigError as exc:
        raise ScrubInputError(exc.message) from None
    except BulkError as exc:
        raise ScrubServerError(exc.message) from None
    return result.dest_dir, list(result.errors)
