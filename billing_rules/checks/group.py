"""Who was there: group.size-mismatch, patient.not-present, patient.present."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy


def _same_family(policy: Policy, size: int) -> list[str]:
    """Codes of the same kind (patient presence, therapy status, requirements) that fit the group size."""
    mine = policy.code
    out = []
    for code in policy.rules.codes:
        entry = policy.rules.code(code, policy.on)
        if entry is None or "group_size" not in entry:
            continue
        low, high = entry["group_size"]
        same = all(entry.get(k) == mine.get(k) for k in ("patient", "therapy", "requires"))
        if same and low <= size <= high:
            out.append(code)
    return out


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    code = policy.code
    out = []
    if "group_size" in code:
        low, high = code["group_size"]
        size = record.patients_in_group
        if not low <= size <= high:
            fits = _same_family(policy, size)
            suggestion = (
                f"Bill {' or '.join(fits)} for a group of {size}."
                if fits
                else f"No code of this family covers {size} patient(s): do not bill it as is."
            )
            out.append(policy.finding("group.size-mismatch", size=size, suggestion=suggestion))
    if code["patient"] == "required" and not record.patient_present:
        out.append(policy.finding("patient.not-present"))
    if code["patient"] == "absent" and record.patient_present:
        out.append(policy.finding("patient.present"))
    return out
