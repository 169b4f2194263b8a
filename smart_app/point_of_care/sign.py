"""Review, sign, result, outbox retry and charge summary of the point-of-care page.

Signing re-evaluates the draft on the server (never trusting what the browser shows), requires an
acknowledgement with a reason for every ``warn`` finding (kept in the audit log), allows a blocked service
only as an explicitly chosen note alone, and claims the draft with one conditional UPDATE so a double click
writes once. The write itself is the write-back package's: one plan, idempotent identifiers, the outbox on
failure.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from billing_rules.model import ClinicalContext, Finding
from smart_app.clock import utcnow
from smart_app.config import current_settings
from smart_app.fhir_client import FhirError, FhirUnauthorized
from smart_app.launches import Launch, db_of, launch_required
from smart_app.point_of_care import context as document_context
from smart_app.point_of_care import drafts
from smart_app.point_of_care import note as document_note
from smart_app.point_of_care.api import draft_key
from smart_app.point_of_care.evaluation import Check, check, code_choices
from smart_app.point_of_care.form import focus_id
from smart_app.store import Database
from smart_app.writeback import (
    Acknowledgement,
    ChargeDecision,
    SignedService,
    WriteInProgressError,
    WriteResult,
    charge_summary_csv,
    retry_outbox_entry,
    settled_result,
    write_signed_service,
)
from smart_app.writeback.times import ehr_zone

bp = Blueprint("poc_sign", __name__)
SIGNED_STATES = {"written": drafts.SIGNED, "already-written": drafts.SIGNED, "note-only": drafts.SIGNED}


def _own(launch: Launch, draft_id: str) -> drafts.Draft:
    """The draft if it belongs to this launch's issuer, patient, encounter and clinician; 404 otherwise."""
    draft = drafts.get(db_of(current_app), draft_id)
    if draft is None or draft.key != draft_key(launch):
        abort(404)
    return draft


def _review_page(
    launch: Launch,
    draft: drafts.Draft,
    result: Check,
    note: document_note.ReviewNote,
    *,
    note_only: bool,
    errors: list[str],
    status: int,
) -> tuple[str, int]:
    warns: list[Finding] = result.findings_by_severity()["warn"] if result.evaluation else []
    page = render_template(
        "document/review.html",
        handle=launch.handle,
        launch=launch.context,
        draft=draft,
        check=result,
        note=note.text,
        note_stale=note.stale,
        note_only=note_only,
        warns=warns,
        errors=errors,
        form=request.form,
        focus_id=focus_id,
    )
    return page, status


@bp.get("/review")
@launch_required
def review(handle: str) -> Response | tuple[str, int]:
    """The generated note (editable), the charge lines, and the warnings to acknowledge."""
    launch: Launch = g.launch
    draft = drafts.find_open(db_of(current_app), draft_key(launch))
    if draft is None:
        return redirect(url_for("document.context", handle=handle), 303)
    ctx = document_context.cached(launch)
    result = check(draft.fields, ctx)
    if not (result.can_sign_charge or result.can_sign_note_only):
        return redirect(url_for("document.context", handle=handle), 303)
    generated = document_note.generated(result, ctx, draft.fields) or ""
    note = document_note.for_review(draft, generated)
    return _review_page(launch, draft, result, note, note_only=result.blocked, errors=[], status=200)


@bp.post("/review/regenerate")
@launch_required
def regenerate(handle: str) -> Response:
    """Drop the clinician's edited note, by their explicit choice, so the review shows the generated one."""
    launch: Launch = g.launch
    draft = _own(launch, request.form.get("draft_id", ""))
    drafts.save_into(db_of(current_app), draft.id, handle=handle, note_text="")  # only while it is open
    return redirect(url_for("document.poc_sign.review", handle=handle), 303)


def _acknowledgements(warns: list[Finding]) -> tuple[list[Acknowledgement], list[str]]:
    """Every warning acknowledged with a reason, in the order shown; the form's rule ids must still match."""
    acks: list[Acknowledgement] = []
    errors: list[str] = []
    for n, finding in enumerate(warns):
        if request.form.get(f"rule_{n}") != finding.rule:
            errors.append("The check changed since this page was shown. Review the warnings again.")
            return [], errors
        reason = request.form.get(f"reason_{n}", "").strip()[:2000]
        if request.form.get(f"ack_{n}") != "yes" or not reason:
            errors.append(f"Acknowledge “{finding.message}” and give a reason.")
            continue
        acks.append(Acknowledgement(finding.rule, reason))
    return acks, errors


@bp.post("/sign")
@launch_required
def sign(handle: str) -> Response | tuple[str, int]:
    """Sign once: validate, claim the draft, write through the write-back path, show the result.

    Everything here concerns the one draft the page names: its note is saved into it by id and the claim is
    by id, so a simultaneous second Sign (this instance or another) never starts a new draft; it waits for
    the first one's result and shows the same page."""
    launch: Launch = g.launch
    db = db_of(current_app)
    draft = _own(launch, request.form.get("draft_id", ""))
    if draft.status != drafts.OPEN:
        return _first_result(db, draft)  # a second click, or a resubmitted page: show the first result
    note = request.form.get("note", "").strip()[:20000]
    ctx = document_context.cached(launch)
    result = check(draft.fields, ctx)
    generated = document_note.generated(result, ctx, draft.fields)
    stale = generated is not None and document_note.for_review(draft, generated).stale and note != generated
    saved = document_note.save_edit(db, draft, note, generated, handle=handle)  # accepted for the service now
    if saved is None:  # claimed by a simultaneous Sign since it was read
        return _first_result(db, draft)
    draft = saved
    if generated is None:  # the service is incomplete: the note is kept, the clinician goes back to the form
        return redirect(url_for("document.context", handle=handle), 303)
    shown = document_note.ReviewNote(note, stale)
    note_only = request.form.get("note_only") == "yes"
    errors: list[str] = []
    if not note:
        errors.append("The note is empty.")
    if result.blocked and not note_only:
        errors.append(
            "A blocked service cannot be charged. Tick “sign the note alone” or go back and fix it."
        )
    acks: list[Acknowledgement] = []
    if not note_only:
        acks, ack_errors = _acknowledgements(result.findings_by_severity()["warn"])
        errors += ack_errors
    if errors:
        return _review_page(launch, draft, result, shown, note_only=result.blocked, errors=errors, status=422)
    if not drafts.claim_for_signing(
        db, draft.id, note_text=note, note_basis=document_note.edit_basis(draft, generated)
    ):
        return _first_result(db, draft)
    try:
        outcome = _write(launch, ctx, draft, result, note, note_only=note_only, acks=acks)
    except FhirUnauthorized:
        drafts.finish(db, draft.id, drafts.OPEN, {"error": "session ended before writing"})
        raise
    except WriteInProgressError:  # another process holds this write (it took this stalled one over)
        drafts.finish(db, draft.id, drafts.OPEN, {"error": drafts.STILL_WRITING})
        return redirect(url_for("document.poc_sign.result", handle=handle, draft_id=draft.id), 303)
    except (FhirError, ValueError) as exc:
        drafts.finish(db, draft.id, drafts.OPEN, {"error": str(exc)})
        message = getattr(exc, "message", None) or str(exc)
        return _review_page(
            launch,
            draft,
            result,
            shown,
            note_only=result.blocked,
            errors=[f"Not written: {message}"],
            status=502,
        )
    state = SIGNED_STATES.get(outcome.status, drafts.QUEUED)
    drafts.finish(db, draft.id, state, outcome.to_dict())
    return redirect(url_for("document.poc_sign.result", handle=handle, draft_id=draft.id), 303)


def _first_result(db: Database, draft: drafts.Draft) -> Response:
    """Another request signs this draft: wait for its result, then show that (the same page it shows)."""
    drafts.wait_settled(db, draft.id)
    return redirect(url_for("document.poc_sign.result", handle=g.launch.handle, draft_id=draft.id), 303)


def _write(
    launch: Launch,
    ctx: ClinicalContext,
    draft: drafts.Draft,
    result: Check,
    note: str,
    *,
    note_only: bool,
    acks: list[Acknowledgement],
) -> WriteResult:
    """The signed service, handed to the one write path (which audits it, acknowledgements included)."""
    assert result.visit is not None and result.evaluation is not None
    start, end = document_note.session_times(draft.fields, result)
    # One service is written as before (same identifiers for a draft from before the grid); several as the
    # visit: ONE note, one ChargeItem per charge line, one Provenance.
    one = result.record is not None and result.service_evaluation is not None
    record = result.record if one and result.record else result.visit
    evaluation = result.service_evaluation if one and result.service_evaluation else result.evaluation
    codes = result.visit.codes
    diagnoses = tuple(dict.fromkeys(d for s in result.visit.services for d in s.diagnoses))
    texts = {c: code_choices()[c].paraphrase for c in codes if c in code_choices()}
    signed = SignedService(
        issuer=launch.context.iss,
        patient_id=str(launch.context.patient),
        encounter_id=launch.context.encounter,
        fhir_user=launch.context.fhir_user,
        organization=ctx.encounter.service_provider,
        record=record,
        evaluation=evaluation,
        note_text=note,
        draft_id=draft.id,
        note_only=note_only,
        start=start,
        end=end,
        signed_at=utcnow(),
        diagnosis_labels=document_note.diagnosis_labels(ctx, diagnoses),
        code_text=texts,
        acknowledgements=tuple(acks),
        zone=ehr_zone(ctx.encounter.start, launch.profile.timezone),
    )
    lease = write_lease()
    db = db_of(current_app)
    alive = partial(drafts.keep_signing, db, draft.id)
    return write_signed_service(
        db, launch.fhir_client(), launch.profile.writeback, signed, lease=lease, alive=alive
    )


def write_lease() -> timedelta:
    """The deployment's write lease (SMART_EDU_WRITE_LEASE)."""
    return timedelta(seconds=current_settings().write_lease)


@bp.get("/result/<draft_id>")
@launch_required
def result(handle: str, draft_id: str) -> tuple[str, int]:
    """What was written (ids), or the outbox entry with the server's message and a retry button."""
    launch: Launch = g.launch
    # A write whose process died would otherwise show "writing" forever: reopen it to be signed again.
    drafts.reopen_if_stale(db_of(current_app), draft_id)
    draft = settle(db_of(current_app), _own(launch, draft_id))
    outcome = WriteResult.from_dict(draft.result) if draft.result and "status" in draft.result else None
    page = render_template(
        "document/result.html", handle=handle, launch=launch.context, draft=draft, outcome=outcome
    )
    return page, 200


@bp.post("/retry/<draft_id>")
@launch_required
def retry(handle: str, draft_id: str) -> Response:
    """Send a queued write again (same resources, same identifiers: never a second charge)."""
    launch: Launch = g.launch
    db = db_of(current_app)
    draft = _own(launch, draft_id)
    outbox_id = (draft.result or {}).get("outbox_id")
    if draft.status == drafts.QUEUED and outbox_id:
        decision = _decision(draft)
        try:
            outcome = retry_outbox_entry(
                db, launch.fhir_client(), str(outbox_id), decision=decision, lease=write_lease()
            )
        except ValueError:  # the charge named is no longer on the encounter: ask again with what is there now
            outcome = retry_outbox_entry(db, launch.fhir_client(), str(outbox_id), lease=write_lease())
        except WriteInProgressError:  # another click is still sending it: its result shows on the page
            return redirect(url_for("document.poc_sign.result", handle=handle, draft_id=draft.id), 303)
        drafts.finish(db, draft.id, SIGNED_STATES.get(outcome.status, drafts.QUEUED), outcome.to_dict())
    return redirect(url_for("document.poc_sign.result", handle=handle, draft_id=draft.id), 303)


def settle(db: Database, draft: drafts.Draft) -> drafts.Draft:
    """A queued draft whose write has since finished elsewhere (``smart-edu outbox retry``) becomes signed,
    with that result: the page must not keep showing it as waiting."""
    write_key = (draft.result or {}).get("write_key")
    if draft.status != drafts.QUEUED or not write_key:
        return draft
    done = settled_result(db, str(write_key))
    if done is None:
        return draft
    drafts.finish(db, draft.id, drafts.SIGNED, done.to_dict())
    return drafts.get(db, draft.id) or draft


def _decision(draft: drafts.Draft) -> ChargeDecision | None:
    """The clinician's answer to the write's question (an existing same-code same-day charge on Oracle
    Health): ``ours`` = the candidate that is this service's charge, ``separate`` = write another. Only an
    answer to the question the page showed counts."""
    question = (draft.result or {}).get("question") or {}
    answer = request.form.get("answer", "")
    if not question or not answer:
        return None
    if answer == "separate":
        return ChargeDecision(str(question["key"]))
    if answer in question.get("candidates", []):
        return ChargeDecision(str(question["key"]), ours=answer)
    abort(400)


@bp.get("/summary/<draft_id>.csv")
@launch_required
def summary_csv(handle: str, draft_id: str) -> Response:
    """The charge summary for EHRs that take no charges, as CSV for the biller."""
    launch: Launch = g.launch
    draft = _own(launch, draft_id)
    lines = (draft.result or {}).get("charge_summary") or []
    if not lines:
        abort(404)
    text = charge_summary_csv(
        lines, patient_id=str(launch.context.patient), encounter_id=launch.context.encounter
    )
    resp = Response(text, mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="charge-summary-{draft.id[:8]}.csv"'
    return resp
