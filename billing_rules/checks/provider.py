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
        return [
            policy.finding(
                "provider.wrong-family", role=role, a_role=a_role(role), reason=reason, suggestion=suggestion
            )
        ]
    if role not in code["roles"] and code["unit"] != "em":
        allowed = ", ".join(code["roles"])
        return [policy.finding("provider.not-qualified", role=role, a_role=a_role(role), allowed=allowed)]
    return []


# Initials read letter by letter: "an MD", "an RN", "an OT", but "a PT", "a DO", "a CHW".
_VOWEL_SOUND = frozenset("AEFHILMNORSX")


def a_role(role: str) -> str:
    """The role with its article, as the start of a sentence ("An MD", "A PT", "Another clinician")."""
    if role == "other":
        return "Another clinician"
    return ("An " if role[:1] in _VOWEL_SOUND else "A ") + role
