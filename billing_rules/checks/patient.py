"""patient.deceased: nothing is billed for a date after the recorded death."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    patient = context.patient
    if patient.deceased_date is not None:
        if policy.on > patient.deceased_date:
            return [policy.finding("patient.deceased", death=patient.deceased_date.isoformat())]
        return []
    if patient.deceased:
        return [policy.finding("patient.deceased", "no-date")]
    return []
