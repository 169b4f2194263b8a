"""The result and progress of a fetch (what ``smart-edu scrub`` shows and records)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: What the charge rebuild reads, in export order (the server's CapabilityStatement may offer fewer).
EXPORT_TYPES = (
    "Patient", "Encounter", "Condition", "Coverage", "ServiceRequest", "ChargeItem", "DocumentReference",
    "Practitioner", "PractitionerRole", "Organization", "CarePlan",
)  # fmt: skip


@dataclass(frozen=True)
class Progress:
    """One step: ``stage`` is kick-off | waiting | download | search | done; ``done``/``total`` count files
    (download), pages (search) or the server's percentage (waiting) where known."""

    stage: str
    message: str
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class ExportedFile:
    type: str
    path: Path
    count: int


@dataclass
class ExportResult:
    """Where the data landed and how it was got."""

    dest_dir: Path
    method: Literal["bulk", "search"]
    files: list[ExportedFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the manifest's error files (OperationOutcome text)
    transaction_time: str | None = None
    request: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for f in self.files:
            totals[f.type] += f.count
        return dict(totals)
