"""The note of a documented service: generated from the draft, edited by the clinician, and never silently
thrown away.

An edited note is kept with a *basis*: a hash of the generated text it started from. When the service
changes after the edit, the generated text changes and the basis no longer matches, so the review page keeps
the clinician's words and says the service changed, instead of replacing them; regenerating is the
clinician's explicit choice. A saved note that is just the old generated text (never edited) follows the
service.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from billing_rules import icd10
from billing_rules.model import ClinicalContext
from fhir_mappings.note import generate_note
from smart_app.point_of_care import drafts
from smart_app.point_of_care.evaluation import Check, code_choices
from smart_app.point_of_care.form import TIME_RE
from smart_app.point_of_care.page import linkable_diagnoses
from smart_app.store import Database


@dataclass(frozen=True)
class ReviewNote:
    """The note the review page shows; ``stale`` when it is the clinician's edit of an older service."""

    text: str
    stale: bool = False


def basis(text: str) -> str:
    """The fingerprint of a generated note (what an edit started from)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def generated(result: Check, ctx: ClinicalContext, fields: dict[str, Any]) -> str | None:
    """The note generated from the draft's fields; None when the fields do not make a service yet."""
    if result.visit is None or result.evaluation is None:
        return None
    start, end = session_times(fields, result)
    parts = []
    for record, evaluation in zip(result.visit.services, result.evaluation.services, strict=True):
        choice = code_choices().get(record.code)
        parts.append(
            generate_note(
                record,
                charge_lines=evaluation.charge_lines,
                start=start,
                end=end,
                diagnosis_labels=diagnosis_labels(ctx, record.diagnoses),
                code_text=choice.paraphrase if choice else None,
                author_name=ctx.provider.name,
            )
        )
    return "\n\n".join(parts)


def for_review(draft: drafts.Draft, generated_text: str) -> ReviewNote:
    """The clinician's note where there is one (flagged if the service changed since), else the generated."""
    saved = draft.note_text
    if not saved or saved == generated_text:
        return ReviewNote(generated_text)
    if draft.note_basis == basis(generated_text):
        return ReviewNote(saved)  # edited, and the service is as it was
    if draft.note_basis is not None and basis(saved) == draft.note_basis:
        return ReviewNote(generated_text)  # the old generated text, never edited: follow the service
    return ReviewNote(saved, stale=True)


def save_edit(
    db: Database, draft: drafts.Draft, note: str, generated_text: str | None, *, handle: str
) -> drafts.Draft:
    """Save the clinician's note with the basis it was written against (the old basis when the service does
    not make a note now)."""
    note_basis = basis(generated_text) if generated_text is not None else draft.note_basis
    return drafts.save(db, draft.key, draft.fields, handle=handle, note_text=note, note_basis=note_basis)


def session_times(fields: dict[str, Any], check_result: Check) -> tuple[datetime | None, datetime | None]:
    """Start and end of the session as datetimes, when the clinician gave times."""
    record = check_result.record
    day = record.service_date if record else None
    start, end = str(fields.get("start_time") or ""), str(fields.get("end_time") or "")
    m1, m2 = TIME_RE.match(start), TIME_RE.match(end)
    if not day or not m1 or not m2:
        return None, None
    return (
        datetime.combine(day, time(int(m1[1]), int(m1[2]))),
        datetime.combine(day, time(int(m2[1]), int(m2[2]))),
    )


def diagnosis_labels(ctx: ClinicalContext, codes: tuple[str, ...]) -> dict[str, str]:
    """Labels of the linked diagnoses: the EHR's own words first, else the ICD-10-CM description."""
    known = {d.code: d.label for d in linkable_diagnoses(ctx)}
    return {c: known.get(c) or icd10.describe(c) or "" for c in codes}
