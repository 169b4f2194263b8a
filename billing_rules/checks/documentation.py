"""What the note must name: curriculum.missing (98960-98962), consent.missing (97550-97552)."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    requires = policy.code.get("requires", ())
    out = []
    if "curriculum" in requires:
        missing = [
            name
            for name, value in (("curriculum", record.curriculum), ("topics", record.topics))
            if not value
        ]
        if missing:
            out.append(policy.finding("curriculum.missing", missing=", ".join(missing)))
    if "consent" in requires and record.consent_documented is not True:
        out.append(policy.finding("consent.missing"))
    return out
