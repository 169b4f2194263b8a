"""Write-back of a signed service or visit to the EHR: ChargeItem(s), DocumentReference and Provenance, never
twice, never lost (DESIGN.md §3). Entry points: ``write_signed_service`` and ``retry_outbox_entry``.

Signing a visit draft (the page): evaluate it (``billing_rules.evaluate_visit``), generate its note
(``fhir_mappings.note.generate_note(visit, charge_lines=..., code_text={code: paraphrase}, author_name=...,
author_credentials=...)``, then the clinician's edit), and call::

    write_signed_service(db, client, profile.writeback, SignedService(
        issuer=..., patient_id=..., encounter_id=..., fhir_user=..., organization=...,
        record=visit, evaluation=visit_evaluation, note_text=note, draft_id=draft.id,
        start=start, end=end,                       # clock times may be naive: ``zone`` places them
        zone=ehr_zone(ctx.encounter.start, profile.timezone),   # smart_app.writeback.times
        signed_at=utcnow(), code_text={...}, diagnosis_labels={...}, acknowledgements=(...)))

It writes ONE DocumentReference, one ChargeItem per charge line and one Provenance, with identifiers per visit
and code (``identifiers.py``), on every strategy. It raises ``BlockedChargeError`` (a blocked visit not signed
as note-only), ``RefusedBeforeSending`` (a resource would not validate: ``str()`` is the plain message for the
clinician; the refusal is audited and kept in the outbox), ``WritebackConfigError`` and ``ValueError`` (an
acknowledgement of no warning). A single ``ServiceRecord`` with its ``Evaluation`` keeps working unchanged.
"""

from smart_app.writeback.config import WritebackConfig, WritebackConfigError, choose_strategy
from smart_app.writeback.outbox import list_entries as list_outbox
from smart_app.writeback.outbox import pending_for_draft
from smart_app.writeback.plan import (
    Acknowledgement,
    BlockedChargeError,
    RefusedBeforeSending,
    SignedService,
    WritePlan,
    build_plan,
)
from smart_app.writeback.service import (
    ChargeDecision,
    WriteInProgressError,
    WriteResult,
    execute_plan,
    plan_signed_service,
    retry_outbox_entry,
    settled_result,
    write_signed_service,
)
from smart_app.writeback.summary import charge_summary_csv, summary_rows

__all__ = [
    "Acknowledgement",
    "BlockedChargeError",
    "ChargeDecision",
    "RefusedBeforeSending",
    "SignedService",
    "WriteInProgressError",
    "WritePlan",
    "WriteResult",
    "WritebackConfig",
    "WritebackConfigError",
    "build_plan",
    "charge_summary_csv",
    "choose_strategy",
    "execute_plan",
    "list_outbox",
    "pending_for_draft",
    "plan_signed_service",
    "retry_outbox_entry",
    "settled_result",
    "summary_rows",
    "write_signed_service",
]
