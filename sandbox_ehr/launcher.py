"""The launcher page (like the SMART Health IT launcher) and the EHR-like page that frames the app.

An EHR session holds the chosen client, practitioner, patient and encounter; each render of its page mints a
fresh single-use ``launch`` value, so reloading the EHR page relaunches the app cleanly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sandbox_ehr import directory
from sandbox_ehr.csrf import check_csrf, csrf_token
from sandbox_ehr.tokens import LaunchContext

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

bp = Blueprint("launcher", __name__)
RECENT_ENCOUNTERS = 5


@dataclass(frozen=True)
class EhrSession:
    client_id: str
    practitioner: str
    patient: str
    encounter: str | None
    app_context: str | None = None  # a CDS card's smart link: handed to the app in the token response


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


@bp.get("/")
def index() -> str:
    st = state()
    pats = directory.patients(st.store)
    groups = [
        {"patient": p, "encounters": directory.encounters(st.store, p.id)[:RECENT_ENCOUNTERS]} for p in pats
    ]
    return render_template(
        "launcher.html",
        clients=[c for c in st.config.clients if c.launch_uri],
        practitioners=directory.practitioners(st.store),
        patients=pats,
        encounter_groups=[g for g in groups if g["encounters"]],
        fhir_base=st.config.fhir_base,
        base_url=st.config.base_url,
        csrf=csrf_token(),
        cds_enabled=any(c.cds_services_url for c in st.config.clients),
    )


def session_from(values: dict[str, str]) -> EhrSession:
    """Validate the choices (400 on anything unknown). An empty encounter means the patient's most recent one,
    an empty practitioner the encounter's primary performer (the clinician who saw the patient)."""
    st = state()
    client = st.config.client(values.get("client_id", ""))
    if client is None or not client.launch_uri:
        abort(400, description="unknown app")
    patient = values.get("patient", "")
    if st.store.read("Patient", patient) is None:
        abort(400, description="unknown patient")
    mine = [e.id for e in directory.encounters(st.store, patient)]
    encounter = values.get("encounter") or (mine[0] if mine else None)
    if encounter is not None and encounter not in mine:
        abort(400, description="that encounter belongs to another patient")
    practitioner = values.get("practitioner") or directory.performer(st.store, encounter)
    if not practitioner or st.store.read("Practitioner", practitioner) is None:
        abort(400, description="unknown practitioner (and the encounter names none)")
    return EhrSession(client.client_id, practitioner, patient, encounter)


@bp.post("/launch")
def launch() -> Response:
    check_csrf()
    st = state()
    if request.form.get("launch_type") == "standalone":
        client = st.config.client(request.form.get("client_id", ""))
        if client is None or not client.launch_uri:
            abort(400, description="unknown app")
        return redirect(f"{client.launch_uri}?{urlencode({'iss': st.config.fhir_base})}")
    return open_ehr(session_from(dict(request.form)))


@bp.get("/launcher")
def programmatic() -> Response:
    """Scripted entry (SMART launcher style): ``/launcher?client_id=&practitioner=&patient=[&encounter=]``
    answers with the EHR page's URL, or with ``frame=0`` a redirect straight to the app."""
    session = session_from(dict(request.args))
    if request.args.get("frame", "1") == "0":
        return redirect(_app_launch_url(session))
    return open_ehr(session)


def open_ehr(session: EhrSession) -> Response:
    sid = secrets.token_urlsafe(16)
    state().ehr_sessions[sid] = session
    return redirect(url_for("launcher.ehr", sid=sid))


def _app_launch_url(session: EhrSession) -> str:
    st = state()
    context = LaunchContext(
        session.practitioner, session.patient, session.encounter, session.client_id, True, session.app_context
    )
    value = st.tokens.mint_launch(context, st.config.launch_lifetime)
    client = st.config.client(session.client_id)
    assert client is not None and client.launch_uri
    return f"{client.launch_uri}?{urlencode({'iss': st.config.fhir_base, 'launch': value})}"


@bp.get("/ehr/<sid>")
def ehr(sid: str) -> str:
    st = state()
    session = st.ehr_sessions.get(sid)
    if session is None:
        abort(404)
    patient = st.store.read("Patient", session.patient)
    enc = st.store.read("Encounter", session.encounter) if session.encounter else None
    client = st.config.client(session.client_id)
    return render_template(
        "ehr.html",
        patient_name=directory.human_name(patient),
        birth_date=(patient or {}).get("birthDate", ""),
        encounter_label=(enc or {}).get("period", {}).get("start", "none")[:10],
        practitioner_name=directory.human_name(st.store.read("Practitioner", session.practitioner)),
        app_name=(client.name or client.client_id) if client else "",
        app_url=_app_launch_url(session),
        from_card=session.app_context is not None,
        sid=sid,
        view="",
    )
