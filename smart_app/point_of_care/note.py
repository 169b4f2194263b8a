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
from billing_rules.model import ClinicalContext, ServiceRecord
from billing_rules.visit import VisitRecord
from fhir_mappings.note import generate_note
from smart_app.point_of_care import drafts
from smart_app.point_of_care.evaluation import Check, code_choices
from smart_app.point_of_care.form import TIME_RE
from smart_app.point_of_care.page import linkable_diagnoses
from smart_app.point_of_care.rows import coded_rows
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
    if result.record is not None and result.service_evaluation is not None:  # one service: as before
        record: ServiceRecord | VisitRecord = result.record
        lines = result.service_evaluation.charge_lines
    else:
        record, lines = result.visit, result.evaluation.charge_lines
    codes = result.visit.codes
    diagnoses = tuple(dict.fromkeys(d for s in result.visit.services for d in s.diagnoses))
    texts = {c: code_choices()[c].paraphrase for c in codes if c in code_choices()}
    return generate_note(
        record,
        charge_lines=lines,
        start=start,
        end=end,
        diagnosis_labels=diagnosis_labels(ctx, diagnoses),
        code_text=texts if len(codes) > 1 else texts.get(codes[0]),
        author_name=ctx.provider.name,
        author_credentials=ctx.provider.role if ctx.provider.role not in ("unknown", "other") else None,
    )


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
) -> drafts.Draft | None:
    """Save the clinician's note into this draft with the basis it was written against (the old basis when
    the service does not make a note now); None when the draft was signed or discarded meanwhile."""
    return drafts.save_into(
        db, draft.id, handle=handle, note_text=note, note_basis=edit_basis(draft, generated_text)
    )


def edit_basis(draft: drafts.Draft, generated_text: str | None) -> str | None:
    """The basis a note edited now is kept with."""
    return basis(generated_text) if generated_text is not None else draft.note_basis


def session_times(fields: dict[str, Any], check_result: Check) -> tuple[datetime | None, datetime | None]:
    """Start and end of the visit as datetimes, when the clinician gave times: the earliest start and the
    latest end of its rows (one row: its own)."""
    visit = check_result.visit
    day = visit.service_date if visit else None
    starts, ends = [], []
    for row in coded_rows(fields):
        m1, m2 = TIME_RE.match(row.get("start_time")), TIME_RE.match(row.get("end_time"))
        if m1 and m2:
            starts.append(time(int(m1[1]), int(m1[2])))
            ends.append(time(int(m2[1]), int(m2[2])))
    if not day or not starts:
        return None, None
    return datetime.combine(day, min(starts)), datetime.combine(day, max(ends))


def diagnosis_labels(ctx: ClinicalContext, codes: tuple[str, ...]) -> dict[str, str]:
    """Labels of the linked diagnoses: the EHR's own words first, else the ICD-10-CM description."""
    known = {d.code: d.label for d in linkable_diagnoses(ctx)}
    return {c: known.get(c) or icd10.describe(c) or "" for c in codes}
