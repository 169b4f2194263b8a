"""The launch's clinical context for every keystroke, without a FHIR round trip per keystroke.

The page's GET reads the EHR once (one batch) and keeps the raw resources server-side, keyed by launch handle;
the live check maps them again on another worker (a few milliseconds) or takes the mapped context from this
worker's memory. Raw resources, not the mapped context, are stored so a newer mapper gives a newer context.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from typing import Any

from billing_rules.model import ClinicalContext
from smart_app.clock import utcnow
from smart_app.config import current_settings
from smart_app.launches import Launch
from smart_app.reads import read_launch_context
from smart_app.store import LaunchContextRow

MEMORY_SLOTS = 256
_lock = threading.Lock()
_memory: OrderedDict[str, tuple[datetime, ClinicalContext]] = OrderedDict()


def _remember(handle: str, read_at: datetime, context: ClinicalContext) -> None:
    with _lock:
        _memory[handle] = (read_at, context)
        _memory.move_to_end(handle)
        while len(_memory) > MEMORY_SLOTS:
            _memory.popitem(last=False)


def _from_memory(handle: str) -> tuple[datetime, ClinicalContext] | None:
    with _lock:
        return _memory.get(handle)


def forget(handle: str | None = None) -> None:
    """Drop remembered contexts (one launch, or all: tests)."""
    with _lock:
        if handle is None:
            _memory.clear()
        else:
            _memory.pop(handle, None)


def read_fresh(launch: Launch) -> ClinicalContext:
    """Read the EHR now (one batch), store the resources for the live checks, and return the context."""
    reads = read_launch_context(
        launch.fhir_client(),
        patient_id=str(launch.context.patient),
        encounter_id=launch.context.encounter,
        fhir_user=launch.context.fhir_user,
        max_workers=current_settings().read_workers,
    )
    read_at = utcnow()
    with launch.db.session() as s:
        row = s.get(LaunchContextRow, launch.handle) or LaunchContextRow(handle=launch.handle)
        row.resources_json = json.dumps(reads.resources)
        row.read_notes_json = json.dumps(list(reads.problems))
        row.read_at = read_at
        s.add(row)
    _remember(launch.handle, read_at, reads.context)
    return reads.context


def cached(launch: Launch) -> ClinicalContext:
    """The context read for this launch: this worker's memory when current, else the store, else the EHR.

    When the context was read comes with the launch record (one query for both); a remembered context at
    least as new is used as it is, so a live check on the worker that served the page reads nothing more."""
    read_at = launch.context_read_at
    if read_at is None:
        return read_fresh(launch)
    hit = _from_memory(launch.handle)
    if hit and hit[0] >= read_at:
        return hit[1]
    with launch.db.session() as s:
        row = s.get(LaunchContextRow, launch.handle)
        resources = json.loads(row.resources_json) if row else []
        notes = json.loads(row.read_notes_json) if row else []
    context = _map(launch, resources, notes)
    _remember(launch.handle, read_at, context)
    return context


def _map(launch: Launch, resources: list[dict[str, Any]], notes: list[str]) -> ClinicalContext:
    from fhir_mappings.read import context_from_resources

    context = context_from_resources(
        resources,
        patient_id=str(launch.context.patient),
        encounter_id=launch.context.encounter,
        practitioner_ref=launch.context.fhir_user,
    )
    if notes:
        context = replace(context, read_notes=(*context.read_notes, *notes))
    return context
