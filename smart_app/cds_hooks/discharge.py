"""encounter-discharge: our documented services re-checked, and education ordered but left undocumented.

A charge this app wrote passed the engine when it was signed, but the chart may have moved since (coverage
changed, a second charge for the same code and day appeared, the order was cancelled). So each of our charges
is re-evaluated from what the ChargeItem itself carries (code, date, linked diagnoses) against today's chart,
keeping the chart-decided findings. Structural gaps (a charge without its note, a note without a charge) are
reported too, since those are the lost-charge and audit-risk cases billing teams chase after discharge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import billing_rules
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from fhir_mappings.extensions import ICD10CM_SYSTEM, IDENTIFIER_SYSTEM
from smart_app.cds_hooks.advice import Advice, chart_findings, education_orders, findings_markdown
from smart_app.cds_hooks.cards import md_escape, shorten
from smart_app.cds_hooks.ours import billing_code, is_app_written

SOURCE = "smart-edu-billing CDS service (encounter-discharge)"


def advise(
    ctx: ClinicalContext,
    charges: Sequence[Mapping[str, Any]],
    notes: Sequence[Mapping[str, Any]],
    *,
    encounter_id: str,
    today: date,
    acknowledged: Mapping[str, frozenset[str]] | None = None,
) -> list[Advice]:
    """``acknowledged``: for a charge's business identifier, the warnings the clinician acknowledged, with a
    reason, when signing it (the audit log's "signed" row); the re-check does not raise them again."""
    ours_charges = [c for c in charges if is_app_written(c) and _on_encounter(c, "context", encounter_id)]
    ours_notes = [n for n in notes if is_app_written(n) and _note_on_encounter(n, encounter_id)]
    base = {"patientId": ctx.patient.id or "", "encounterId": encounter_id}
    if not ours_charges and not ours_notes:
        orders = [o for o in education_orders(ctx) if (o.status or "active") == "active"]
        if not orders:
            return []
        order = orders[0]
        what = md_escape(order.text or next((c.display or c.code for c in order.codes), "education"))
        when = order.authored_on.isoformat() if order.authored_on else "an unknown date"
        return [
            Advice(
                kind="ordered-not-documented",
                indicator="warning",
                summary="Education was ordered for this patient but nothing is documented on this encounter",
                detail=(
                    f"Order: {what} (authored {when}). No education note or charge from this app exists for "
                    "this encounter. If education was given, open the app to document it before the "
                    "encounter closes; if not, override this card with the reason."
                ),
                code="",
                app_context={**base, "orderId": order.id or ""},
                link_label="Document the education session",
            )
        ]
    findings: list[Finding] = []
    codes: list[str] = []
    for charge in ours_charges:
        code = billing_code(charge)
        if code:
            codes.append(code)
            seen = _acknowledged_for(charge, acknowledged or {})
            findings.extend(
                f for f in _recheck(charge, code, ctx, today) if not (f.severity == "warn" and f.rule in seen)
            )
    findings.extend(_structure(ours_charges, ours_notes))
    if not findings:
        return []
    blocks = sum(1 for f in findings if f.severity == "block")
    label = ", ".join(dict.fromkeys(codes)) or "education note"
    summary = f"{label} on this encounter: {len(findings)} item(s) to fix before billing"
    return [
        Advice(
            kind="documented-needs-fix",
            indicator="warning" if blocks or any(f.severity == "warn" for f in findings) else "info",
            summary=shorten(summary),
            detail=(
                "This app documented education or therapy on this encounter; the rules engine re-checked it "
                "against the chart at discharge.\n\n" + findings_markdown(findings)
            ),
            code=codes[0] if codes else "",
            codes=tuple(dict.fromkeys(codes)),
            findings=tuple(findings),
            app_context={**base, "code": codes[0] if codes else "", "chargeItemId": _first_id(ours_charges)},
            link_label="Fix the documentation in the app",
        )
    ]


def _recheck(charge: Mapping[str, Any], code: str, ctx: ClinicalContext, today: date) -> list[Finding]:
    own = tuple(
        f"{i.get('system')}|{i.get('value')}"
        for i in charge.get("identifier") or []
        if isinstance(i, Mapping) and i.get("system") == IDENTIFIER_SYSTEM
    )
    day = _charge_date(charge) or ctx.encounter.service_date or today
    record = ServiceRecord(code=code, service_date=day, diagnoses=_reason_codes(charge))
    evaluation = billing_rules.evaluate(record, replace(ctx, own_identifiers=own), as_of=day)
    # The discharging user is not the performer of the charge: role findings would be about the wrong person.
    return [f for f in chart_findings(evaluation) if not f.rule.startswith("provider.")]


def _structure(charges: Sequence[Mapping[str, Any]], notes: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Charges without their note, and notes without a charge."""
    out: list[Finding] = []
    for charge in charges if not notes else ():
        out.append(
            Finding(
                rule="cds.note-missing",
                severity="warn",
                message=f"Charge {billing_code(charge) or ''} has no education note on this encounter.",
                prompt="Sign the note in the app so the charge has its supporting documentation.",
                field="note",
                source=SOURCE,
            )
        )
    if notes and not charges:
        out.append(
            Finding(
                rule="cds.charge-missing",
                severity="warn",
                message="An education note was signed on this encounter without a charge.",
                prompt=(
                    "If the service is billable, open the app to add the charge; if this EHR takes no "
                    "charges, hand the charge summary to billing."
                ),
                field="charge",
                source=SOURCE,
            )
        )
    return out


def _on_encounter(resource: Mapping[str, Any], element: str, encounter_id: str) -> bool:
    ref = resource.get(element)
    text = str(ref.get("reference", "")) if isinstance(ref, Mapping) else ""
    return not text or text.rstrip("/").endswith(f"Encounter/{encounter_id}")


def _note_on_encounter(note: Mapping[str, Any], encounter_id: str) -> bool:
    ctx = note.get("context") if isinstance(note.get("context"), Mapping) else {}
    assert isinstance(ctx, Mapping)
    encounters = [e for e in ctx.get("encounter") or [] if isinstance(e, Mapping)]
    if not encounters:
        return True  # the search was by encounter: trust the server when the note does not say
    return any(str(e.get("reference", "")).endswith(f"Encounter/{encounter_id}") for e in encounters)


def _reason_codes(charge: Mapping[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for reason in charge.get("reason") or []:
        for coding in (reason or {}).get("coding") or []:
            if coding.get("system") == ICD10CM_SYSTEM and coding.get("code"):
                out.append(str(coding["code"]).strip().upper())
    return tuple(dict.fromkeys(out))


def _charge_date(charge: Mapping[str, Any]) -> date | None:
    raw = charge.get("occurrenceDateTime") or (charge.get("occurrencePeriod") or {}).get("start")
    try:
        return date.fromisoformat(str(raw)[:10]) if raw else None
    except ValueError:
        return None


def _first_id(resources: Sequence[Mapping[str, Any]]) -> str:
    return next((str(r["id"]) for r in resources if r.get("id")), "")


def _acknowledged_for(
    charge: Mapping[str, Any], acknowledged: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The rules acknowledged at signing for this charge (by its business identifier)."""
    out: set[str] = set()
    for ident in charge.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") == IDENTIFIER_SYSTEM:
            out |= acknowledged.get(str(ident.get("value")), frozenset())
    return frozenset(out)
