"""Who may bill the code: provider.wrong-family, provider.not-qualified, provider.unknown."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy

REASONS = {
    "em": "therapists bill therapy and evaluation codes, not E/M visits.",
    "education": "clinicians who can bill E/M report education within E/M (or 99078 in a group).",
}


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    code, role = policy.code, policy.role
    if role == "unknown":
        return [policy.finding("provider.unknown")]
    if role in code.get("wrong_family_roles", ()) and role not in policy.payer.get(
        "education_roles_allowed", ()
    ):
        reason = REASONS["em" if code["unit"] == "em" else "education"]
        suggestion = code.get("wrong_family_suggestion", "Choose the code family for your role.")
        return [policy.finding("provider.wrong-family", role=role, reason=reason, suggestion=suggestion)]
    if role not in code["roles"] and code["unit"] != "em":
        return [policy.finding("provider.not-qualified", role=role, allowed=", ".join(code["roles"]))]
    return []
