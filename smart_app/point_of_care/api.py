"""JSON and asset endpoints of the point-of-care page: live check + draft save, draft save, ICD-10-CM search,
and the EHR-styled custom properties. Every POST carries the page's CSRF token (checked before the view runs).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from billing_rules import icd10
from smart_app.launches import Launch, db_of, launch_required
from smart_app.point_of_care import context as document_context
from smart_app.point_of_care import drafts
from smart_app.point_of_care import note as document_note
from smart_app.point_of_care import style as document_style
from smart_app.point_of_care.evaluation import check, check_json
from smart_app.point_of_care.form import fields_from
from smart_app.point_of_care.page import results_context

bp = Blueprint("poc_api", __name__)
ICD_LIMIT = 20


def draft_key(launch: Launch) -> drafts.DraftKey:
    """Drafts belong to issuer, patient, encounter and clinician: a relaunch of the same visit finds them."""
    ctx = launch.context
    return drafts.DraftKey(
        ctx.iss, str(ctx.patient or ""), str(ctx.encounter or ""), str(ctx.fhir_user or "")
    )


def saved_at(draft: drafts.Draft) -> str:
    return draft.updated_at.strftime("%H:%M:%S") + " UTC"


def editable_draft(launch: Launch, draft_id: str) -> drafts.Draft | Response | None:
    """The draft the page is editing; a 409 answer when it was signed or discarded meanwhile."""
    if not draft_id:
        return None
    draft = drafts.get(db_of(current_app), draft_id)
    if draft is None or draft.key != draft_key(launch) or draft.status != drafts.OPEN:
        return gone()
    return draft


def save_fields(launch: Launch, found: drafts.Draft | None, fields: dict[str, Any]) -> drafts.Draft | None:
    """Save the form into the draft the page edits (by id: None if it was signed meanwhile, never a new one),
    or, on a page that had none yet, into the key's open draft, creating it. An edited note is kept."""
    db = db_of(current_app)
    if found is not None:
        return drafts.save_into(db, found.id, fields, handle=launch.handle)
    return drafts.save(db, draft_key(launch), fields, handle=launch.handle)


def gone() -> Response:
    """409: the page's draft was signed or discarded meanwhile (another window or a simultaneous Sign)."""
    resp = jsonify(
        {"error": "This draft was signed or discarded in another window. Reload the page to continue."}
    )
    resp.status_code = 409
    return resp


@bp.post("/evaluate")
@launch_required
def evaluate(handle: str) -> Response:
    """Save the form as the draft and return the live check (JSON + the rendered results fragment)."""
    launch: Launch = g.launch
    fields = fields_from(request.form)
    draft_id = str(fields.pop("draft_id", "") or "")
    if draft_id:  # every check after the first: one conditional UPDATE, nothing read (a 409 if signed)
        stamp = drafts.save_checked(db_of(current_app), draft_id, draft_key(launch), fields, handle=handle)
        if stamp is None:
            return gone()
    else:  # the page's first check: the key's open draft, created if need be
        draft = save_fields(launch, None, fields)
        if draft is None:
            return gone()
        draft_id, stamp = draft.id, draft.updated_at
    ctx = document_context.cached(launch)
    result = check(fields, ctx)
    shown = results_context(result, ctx)
    html = render_template("document/_results.html", **shown)
    body: dict[str, Any] = {
        **check_json(result),
        "html": html,
        "rows_html": [render_template("document/_row_result.html", rc=rc, **shown) for rc in result.rows],
        "allocation_html": render_template("document/_allocation.html", **shown),
        "heading": shown["heading"],
        "draft_id": draft_id,
        "saved_at": stamp.strftime("%H:%M:%S") + " UTC",
    }
    return jsonify(body)


@bp.post("/draft")
@launch_required
def save_note(handle: str) -> Response:
    """Save the review page's note text into the open draft (the service fields stay as they are)."""
    launch: Launch = g.launch
    found = editable_draft(launch, request.form.get("draft_id", ""))
    if isinstance(found, Response):
        return found
    if found is None:
        resp = jsonify({"error": "No draft to save into."})
        resp.status_code = 404
        return resp
    note = request.form.get("note", "")[:20000]
    ctx = document_context.cached(launch)
    text = document_note.generated(check(found.fields, ctx), ctx, found.fields)
    draft = document_note.save_edit(db_of(current_app), found, note, text, handle=handle)
    if draft is None:  # signed meanwhile (another window, or the Sign this save raced with)
        return gone()
    return jsonify({"draft_id": draft.id, "saved_at": saved_at(draft)})


@bp.get("/icd10")
@launch_required
def icd10_search(handle: str) -> Response:
    """ICD-10-CM codes whose description matches the query (for conditions coded only in SNOMED CT)."""
    query = request.args.get("q", "").strip()[:100]
    results = icd10.search(query, limit=ICD_LIMIT) if len(query) >= 2 else []
    return jsonify({"query": query, "results": [{"code": c, "description": d} for c, d in results]})


@bp.get("/style.css")
@launch_required
def style(handle: str) -> Response:
    """The EHR's colours and fonts as CSS custom properties (validated values only)."""
    props = document_style.fetch_properties(
        g.launch.context.smart_style_url, g.launch.profile.trusted_origins
    )
    return Response(document_style.stylesheet(props), mimetype="text/css")
