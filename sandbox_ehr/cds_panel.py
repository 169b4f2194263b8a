"""The launcher's CDS Hooks panel: call the app's services for the chosen patient and show their cards.

No script, like the rest of the sandbox: every action is a form post (CSRF-checked). A card's ``smart`` link
opens the EHR page with a launch bound to the panel's patient, encounter, user AND the link's ``appContext``
(the authorization server returns it in the token response); a dismissal posts CDS Hooks feedback.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sandbox_ehr import directory
from sandbox_ehr.cds_cards import PanelCard, describe_app_context, panel_cards
from sandbox_ehr.cds_client import (
    HOOKS,
    MODES,
    CdsCallError,
    HookCall,
    call_service,
    discover,
    hook_request,
    send_feedback,
    service_for,
)
from sandbox_ehr.csrf import check_csrf, csrf_token
from sandbox_ehr.launcher import EhrSession, open_ehr, session_from

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

bp = Blueprint("cds_panel", __name__, url_prefix="/cds")
log = logging.getLogger(__name__)
MAX_RUNS = 200  # panel results kept in memory (oldest dropped)


@dataclass
class PanelRun:
    """One hook call's outcome as the panel shows it."""

    session: EhrSession
    hook: str
    mode: str
    service_url: str = ""
    service_title: str = ""
    cards: list[PanelCard] = field(default_factory=list)
    error: str | None = None
    dismissed: dict[str, str] = field(default_factory=dict)  # card uuid → what the panel says about it
    feedback_errors: dict[str, str] = field(default_factory=dict)  # card uuid → why dismissing failed

    def card(self, card_uuid: str) -> PanelCard:
        found = next((c for c in self.cards if c.uuid == card_uuid), None)
        if found is None:
            abort(404, description="no such card on this panel")
        return found


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _run(sid: str) -> PanelRun:
    run = state().cds_panels.get(sid)
    if run is None:
        abort(404, description="this CDS panel has expired; run the hook again from the launcher")
    assert isinstance(run, PanelRun)
    return run


@bp.post("")
def run_hook() -> Response:
    """Call one hook for the launcher's choices, then show the cards."""
    check_csrf()
    session = session_from(dict(request.form))
    hook, mode = request.form.get("hook", ""), request.form.get("cds_mode", "prefetch")
    if hook not in HOOKS or mode not in MODES:
        abort(400, description="unknown hook or data mode")
    run = PanelRun(session, hook, mode)
    _call(run)
    panels = state().cds_panels
    while len(panels) >= MAX_RUNS:
        panels.pop(next(iter(panels)))
    sid = secrets.token_urlsafe(16)
    panels[sid] = run
    return redirect(url_for("cds_panel.show", sid=sid), 303)


def _call(run: PanelRun) -> None:
    """Discovery, then the hook; a failure becomes the panel's error line (the launcher stays usable)."""
    st = state()
    client = st.config.client(run.session.client_id)
    if client is None or not client.cds_services_url:
        run.error = "This app offers no CDS Hooks services (no cds_services_url in the sandbox config)."
        return
    if run.hook != "patient-view" and not run.session.encounter:
        run.error = f"{run.hook} needs an encounter; the chosen patient has none."
        return
    try:
        service = service_for(discover(client.cds_services_url), run.hook)
        if service is None:
            run.error = f"The app's discovery lists no service for {run.hook}."
            return
        run.service_url = f"{client.cds_services_url.rstrip('/')}/{service['id']}"
        run.service_title = str(service.get("title") or service["id"])[:200]
        s = run.session
        call = HookCall(s.client_id, s.practitioner, s.patient, s.encounter, run.hook)
        run.cards = panel_cards(call_service(run.service_url, hook_request(st, call, service, run.mode)))
    except CdsCallError as exc:
        log.info("CDS panel: %s failed: %s", run.hook, exc)
        run.error = str(exc)


@bp.get("/<sid>")
def show(sid: str) -> str:
    run = _run(sid)
    st = state()
    s = run.session
    enc = st.store.read("Encounter", s.encounter) if s.encounter else None
    return render_template(
        "cds_panel.html",
        sid=sid,
        run=run,
        patient_name=directory.human_name(st.store.read("Patient", s.patient)),
        encounter_label=(enc or {}).get("period", {}).get("start", "none")[:10],
        practitioner_name=directory.human_name(st.store.read("Practitioner", s.practitioner)),
        describe=describe_app_context,
        csrf=csrf_token(),
    )


@bp.post("/<sid>/open")
def open_link(sid: str) -> Response:
    """EHR launch from a card's smart link, only to a registered app's launch URL, bound to its appContext."""
    check_csrf()
    run = _run(sid)
    card = run.card(request.form.get("card", ""))
    try:
        link = card.links[int(request.form.get("link", ""))]
    except (ValueError, IndexError):
        abort(400, description="no such link on this card")
    if link.type != "smart":
        abort(400, description="only smart links launch an app")
    client = next((c for c in state().config.clients if c.launch_uri and c.launch_uri == link.url), None)
    if client is None:
        abort(400, description="the card's link is not the launch URL of a registered app")
    s = run.session
    return open_ehr(EhrSession(client.client_id, s.practitioner, s.patient, s.encounter, link.app_context))


@bp.post("/<sid>/dismiss")
def dismiss(sid: str) -> Response:
    """Dismiss a card with a reason: CDS Hooks feedback ``overridden`` to the service's feedback endpoint."""
    check_csrf()
    run = _run(sid)
    card = run.card(request.form.get("card", ""))
    code = request.form.get("reason", "")
    reason = next((r for r in card.reasons if r.code == code), None)
    if code and reason is None:
        abort(400, description="that reason is not one the card offers")
    comment = request.form.get("comment", "").strip()[:500]
    try:
        answer = send_feedback(
            f"{run.service_url}/feedback", card.uuid, reason.coding() if reason else None, comment
        )
        recorded = answer.get("recorded")
        label = reason.display or reason.code if reason else "no reason given"
        run.dismissed[card.uuid] = f"Dismissed ({label}); feedback sent, recorded: {recorded}."
        run.feedback_errors.pop(card.uuid, None)
    except CdsCallError as exc:
        run.feedback_errors[card.uuid] = f"The feedback could not be sent: {exc}"
    return redirect(url_for("cds_panel.show", sid=sid), 303)
