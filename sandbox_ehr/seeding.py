"""Load the seed transaction Bundles (``sandbox_ehr/seed/*.json``) into an empty store at start."""

from __future__ import annotations

import json
from importlib import resources

from sandbox_ehr.bundles import process_bundle
from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.rest import FhirRest
from sandbox_ehr.scopes import Access
from sandbox_ehr.store import FhirStore


class SeedError(RuntimeError):
    """A seed bundle did not load; the sandbox refuses to start half-seeded."""


def seed_files() -> list[str]:
    folder = resources.files("sandbox_ehr.seed")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))


def load_seed(store: FhirStore, rest: FhirRest) -> int:
    """Load every seed bundle (``urn:uuid`` fullUrls become the ids, so ids are stable); returns the count."""
    folder = resources.files("sandbox_ehr.seed")
    with store.atomic():
        for name in seed_files():
            bundle = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
            try:
                process_bundle(rest, Access(open=True), bundle, keep_ids=True)
            except FhirProblem as exc:
                raise SeedError(f"{name}: {exc.diagnostics}") from exc
    return store.count()
