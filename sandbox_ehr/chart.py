"""The demo EHR's "Chart", "Orders" and "Notes": what the sandbox holds for the patient of an EHR session,
read server-side from the store, including the notes and charges the app wrote, so a new user sees the result
of signing without a FHIR token or the sandbox's database. Everything is rendered by autoescaping templates.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, render_template

from sandbox_ehr import directory
from sandbox_ehr.store import FhirStore

bp = Blueprint("chart", __name__)
LIMIT = 200
APP_TAG = "/CodeSystem/written-by"  # the app's meta.tag system on what it writes (fhir_mappings.extensions)


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    by_app: bool = False
    text: str = ""  # a note's text


def _code(concept: Mapping[str, Any] | None) -> str:
    concept = concept or {}
    for coding in concept.get("coding") or []:
        code, display = coding.get("code", ""), coding.get("display", "")
        return f"{code} {display}".strip()
    return str(concept.get("text", ""))


def _by_app(resource: Mapping[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    return any(str(t.get("system", "")).endswith(APP_TAG) for t in tags)


def _attachment_text(doc: Mapping[str, Any]) -> str:
    for content in doc.get("content") or []:
        data = (content.get("attachment") or {}).get("data")
        if data:
            try:
                return base64.b64decode(data).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                return "(the attachment is not readable text)"
    return ""


def _search(store: FhirStore, rtype: str, patient: str) -> list[dict[str, Any]]:
    return store.search(rtype, [], patient=patient, count=LIMIT)[1]


def chart_rows(store: FhirStore, patient: str) -> dict[str, list[Row]]:
    """The sections of the chart page: problems, coverage, encounters, plans of care, charges."""
    charges = []
    for c in _search(store, "ChargeItem", patient):
        mods = [
            str((x.get("valueCoding") or {}).get("code", ""))
            for e in c.get("extension") or []
            for x in e.get("extension") or []
            if x.get("url") == "modifier"
        ]
        qty = str((c.get("quantity") or {}).get("value", ""))
        charges.append(
            Row(
                (
                    str(c.get("occurrenceDateTime", ""))[:10],
                    _code(c.get("code")),
                    qty,
                    ", ".join(mods),
                    str(c.get("status", "")),
                ),
                _by_app(c),
            )
        )
    return {
        "Problems": [
            Row((_code(r.get("code")), _code(r.get("clinicalStatus")), str(r.get("onsetDateTime", ""))[:10]))
            for r in _search(store, "Condition", patient)
        ],
        "Coverage": [
            Row(
                (
                    _code(r.get("type")),
                    ", ".join(p.get("display", "") for p in r.get("payor") or []),
                    str(r.get("status", "")),
                )
            )
            for r in _search(store, "Coverage", patient)
        ],
        "Encounters": [
            Row(
                (
                    str((r.get("period") or {}).get("start", ""))[:16].replace("T", " "),
                    ", ".join(_code(t) for t in r.get("type") or []),
                    str(r.get("status", "")),
                )
            )
            for r in _search(store, "Encounter", patient)
        ][-10:],
        "Plans of care": [
            Row(
                (
                    str(r.get("title") or _code((r.get("category") or [{}])[0])),
                    str(r.get("status", "")),
                    str((r.get("period") or {}).get("start", ""))[:10],
                )
            )
            for r in _search(store, "CarePlan", patient)
        ],
        "Charges": charges,
    }


def order_rows(store: FhirStore, patient: str) -> list[Row]:
    return [
        Row(
            (
                str(r.get("authoredOn", ""))[:10],
                _code(r.get("code")),
                str(r.get("status", "")),
                str((r.get("requester") or {}).get("display", "")),
            )
        )
        for r in _search(store, "ServiceRequest", patient)
    ]


def note_rows(store: FhirStore, patient: str) -> list[Row]:
    out = []
    for d in _search(store, "DocumentReference", patient):
        when = str(d.get("date", ""))[:16].replace("T", " ")
        author = ", ".join(a.get("display") or a.get("reference", "") for a in d.get("author") or [])
        title = _code(d.get("type")) or str(d.get("description", ""))
        out.append(Row((when, title, author, str(d.get("status", ""))), _by_app(d), _attachment_text(d)))
    return out


def _page(sid: str, view: str, **extra: Any) -> str:
    from sandbox_ehr.launcher import state

    st = state()
    session = st.ehr_sessions.get(sid)
    if session is None:
        abort(404)
    patient = st.store.read("Patient", session.patient)
    return render_template(
        "chart.html",
        sid=sid,
        view=view,
        patient_name=directory.human_name(patient),
        birth_date=(patient or {}).get("birthDate", ""),
        headers=HEADERS,
        app_name="The app",
        **extra,
    )


@bp.get("/ehr/<sid>/chart")
def chart(sid: str) -> str:
    return _page(sid, "Chart", sections=_for_session(sid, chart_rows))


@bp.get("/ehr/<sid>/orders")
def orders(sid: str) -> str:
    return _page(sid, "Orders", sections={"Orders": _for_session(sid, order_rows)})


@bp.get("/ehr/<sid>/notes")
def notes(sid: str) -> str:
    return _page(sid, "Notes", sections={"Notes": _for_session(sid, note_rows)})


def _for_session(sid: str, read: Any) -> Any:
    from sandbox_ehr.launcher import state

    session = state().ehr_sessions.get(sid)
    if session is None:
        abort(404)
    store = current_app.extensions["sandbox"].store
    return read(store, session.patient)


HEADERS = {
    "Problems": ("Condition", "Status", "Onset"),
    "Coverage": ("Type", "Payer", "Status"),
    "Encounters": ("Start", "Type", "Status"),
    "Plans of care": ("Plan", "Status", "Start"),
    "Charges": ("Date", "Code", "Units", "Modifiers", "Status"),
    "Orders": ("Authored", "Order", "Status", "Requester"),
    "Notes": ("Date", "Type", "Author", "Status"),
}
