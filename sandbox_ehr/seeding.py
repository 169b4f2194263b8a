"""Load the seed transaction Bundles (``sandbox_ehr/seed/*.json``) into an empty store at start.

A bundle made only of ``PUT Type/id`` entries (the generated ones: ``edu_cases.json``,
``month_charges.json``) is written straight into the store: those files are validated with the R4B models
when they are built and by ``tests/sandbox/test_seed_valid.py``, and validating 1,400 resources again at every
start would cost seconds (the end-to-end tests start the sandbox many times). Other bundles go through the
transaction code.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sandbox_ehr.bundles import process_bundle
from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.rest import FhirRest
from sandbox_ehr.scopes import Access
from sandbox_ehr.store import FhirStore


class SeedError(RuntimeError):
    """A seed bundle did not load; the sandbox refuses to start half-seeded."""


MONTH_FILE = "month_charges.json"


def seed_files(*, month: bool = False) -> list[str]:
    """The seed bundles; the month of charges (``MONTH_FILE``) only when asked for (``seed_month``)."""
    folder = resources.files("sandbox_ehr.seed")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    return [n for n in names if month or n != MONTH_FILE]


def load_seed(store: FhirStore, rest: FhirRest, *, month: bool = False) -> int:
    """Load every seed bundle (``urn:uuid`` fullUrls become the ids, so ids are stable); returns the count."""
    folder = resources.files("sandbox_ehr.seed")
    with store.atomic():
        for name in seed_files(month=month):
            bundle = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
            if _all_puts(bundle):
                store.load_new([entry["resource"] for entry in bundle["entry"]])
                continue
            try:
                process_bundle(rest, Access(open=True), bundle, keep_ids=True)
            except FhirProblem as exc:
                raise SeedError(f"{name}: {exc.diagnostics}") from exc
    return store.count()


def _all_puts(bundle: dict[str, Any]) -> bool:
    """Every entry is ``PUT Type/id`` of its own resource (so a direct write is what the server does)."""
    entries = bundle.get("entry") or []
    return bool(entries) and all(
        e.get("request", {}).get("method") == "PUT"
        and e["request"].get("url") == f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
        for e in entries
    )
