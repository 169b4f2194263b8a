"""Write-back of a signed service to the EHR: ChargeItem, DocumentReference and Provenance, never twice, never
lost (DESIGN.md §3). Entry points: ``write_signed_service`` and ``retry_outbox_entry``."""

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
