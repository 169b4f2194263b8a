"""The ``document`` blueprint: the clinician's point-of-care page of one launch, ``/s/<handle>/``.

GET shows the context (banner when the EHR asks, encounter, diagnoses, payer, role) and the documentation form
with the live check; the script in ``static/poc.js`` re-checks and saves the draft as the clinician types.
POST is the same page without JavaScript: every button submits the form, which is saved as the draft first, so
nothing typed is lost whichever way the page is used. The review, signing and result pages live in
``sign``; the JSON endpoints in ``api``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from billing_rules import icd10
from smart_app.launches import Launch, db_of, launch_required
from smart_app.point_of_care import api as document_api
from smart_app.point_of_care import context as document_context
from smart_app.point_of_care import drafts
from smart_app.point_of_care import sign as document_sign
from smart_app.point_of_care.api import draft_key
from smart_app.point_of_care.card import CardView, card_view, preselected_fields
from smart_app.point_of_care.evaluation import check, warm
from smart_app.point_of_care.form import fields_from
from smart_app.point_of_care.page import form_context
from smart_app.point_of_care.rows import add_row, coded_rows, remove_row, row_count, row_name, use_code

bp = Blueprint("document", __name__, url_prefix="/s/<handle>", template_folder="templates")
bp.register_blueprint(document_api.bp)
bp.register_blueprint(document_sign.bp)


@bp.record_once
def _warm(state: BlueprintSetupState) -> None:
    """Outside tests, load rules, ICD-10-CM and the live fragment's template when the app is built."""
    if not state.app.testing:
        warm()
        state.app.jinja_env.get_template("document/_results.html")


@bp.get("/")
@launch_required
def context(handle: str) -> str:
    """The page: one batch read of the EHR, then the form with the draft, or an offer to resume one."""
    launch: Launch = g.launch
    ctx = document_context.read_fresh(launch)
    db = db_of(current_app)
    key = draft_key(launch)
    draft = drafts.find_open(db, key)
    if draft is not None and draft.launch_handle != handle and _has_content(draft.fields):
        return render_template("document/context.html", **_page(launch, ctx, {}, resume=draft))
    last = drafts.latest(db, key) if draft is None else None
    signed = last if last is not None and last.status != drafts.OPEN else None
    # The card's code is chosen whenever the form would start with no service: no draft, an open draft with no
    # code yet, or after a signed one (the form then starts a new service). A chosen code is never replaced.
    starts_empty = draft is None or not coded_rows(draft.fields)
    card = card_view(launch.context.app_context, ctx, new_draft=starts_empty)
    fields = dict(draft.fields) if draft else {}
    if starts_empty:
        fields |= preselected_fields(card)
    page = _page(launch, ctx, fields, draft=draft, signed=signed, card=card)
    return render_template("document/context.html", **page)


@bp.post("/")
@launch_required
def submit(handle: str) -> str | Response:
    """The form without JavaScript: save the draft, then update, search ICD-10-CM, resume, or go to review."""
    launch: Launch = g.launch
    db = db_of(current_app)
    key = draft_key(launch)
    action = request.form.get("action", "update")
    if action in ("resume", "discard"):
        draft = drafts.find_open(db, key)
        if draft is not None and action == "resume":
            drafts.save_into(db, draft.id, handle=handle)  # this tab takes it over (unless signed meanwhile)
        elif draft is not None:
            drafts.discard(db, key)
        return redirect(url_for("document.context", handle=handle), 303)
    found = document_api.editable_draft(launch, request.form.get("draft_id", ""))
    if isinstance(found, Response):
        return redirect(url_for("document.context", handle=handle), 303)
    fields: dict[str, Any] = dict(fields_from(request.form))
    fields.pop("draft_id", None)
    if action != "icd_search":
        fields.pop("icd_q", None)
    focus = ""
    if action == "add_row":
        fields = add_row(fields)
        focus = f"f-{row_name(row_count(fields) - 1, 'code')}"
    elif action.startswith("use_code:"):
        code, _, instead_of = action.removeprefix("use_code:").partition(":")
        fields = use_code(fields, code, instead_of)
        focus = f"f-{row_name(row_count(fields) - 1, 'code')}"
    elif action.startswith("remove_") and action[7:].isdigit():
        fields = remove_row(fields, int(action[7:]))
        focus = "add-row"
    draft = document_api.save_fields(launch, found, fields)  # keeps an edited note (document_note)
    if draft is None:  # signed in another window or by a simultaneous Sign: the page shows that
        return redirect(url_for("document.context", handle=handle), 303)
    ctx = document_context.cached(launch)
    if action in ("review", "review_note_only"):
        result = check(fields, ctx)
        if result.can_sign_charge or result.can_sign_note_only:
            args: dict[str, Any] = {"note_only": "1"} if action == "review_note_only" else {}
            return redirect(url_for("document.poc_sign.review", handle=handle, **args), 303)
    results = None
    if action == "icd_search":
        query = str(fields.get("icd_q") or "").strip()
        results = icd10.search(query, limit=document_api.ICD_LIMIT) if len(query) >= 2 else []
    page = _page(launch, ctx, fields, draft=draft, icd_results=results)
    return render_template("document/context.html", autofocus=focus, **page)


def _has_content(fields: dict[str, Any]) -> bool:
    return any(
        v
        for k, v in fields.items()
        if k not in ("mode", "location", "patients_in_group", "service_date", "rows")
    )


def _page(
    launch: Launch,
    ctx: Any,
    fields: dict[str, Any],
    *,
    draft: drafts.Draft | None = None,
    resume: drafts.Draft | None = None,
    signed: drafts.Draft | None = None,
    icd_results: list[tuple[str, str]] | None = None,
    card: CardView | None = None,
) -> dict[str, Any]:
    result = check(fields, ctx)
    page = form_context(
        handle=launch.handle, context=ctx, fields=fields, check=result, icd_results=icd_results
    )
    page.update(launch=launch.context, draft=draft, resume=resume, signed=signed)
    page["card"] = card or card_view(launch.context.app_context, ctx, new_draft=False)
    page["saved_at"] = document_api.saved_at(draft) if draft else ""
    db = db_of(current_app)  # writes still in the outbox (one sent meanwhile from the command line is not)
    waiting = [document_sign.settle(db, d) for d in drafts.queued(db, draft_key(launch))]
    page["waiting"] = [d for d in waiting if d.status == drafts.QUEUED]
    return page
