"""Payer coverage: payer.not-covered (block; variant uncertain: warn, payers differ), payer.unknown,
payer.authorization (warn: the policy says the payer needs a prior authorization for the code; the EHR context
holds no authorizations, so the engine can only ask for one to be confirmed)."""

from __future__ import annotations

from billing_rules.estimate import range_for
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy

LABELS = {
    "medicare": "Medicare (fee-for-service)",
    "medicare-advantage": "Medicare Advantage",
    "medicaid": "Medicaid",
    "commercial": "This commercial plan",
    "self-pay": "Self-pay",
}


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    out = []
    if policy.payer_class == "unknown":
        out.append(policy.finding("payer.unknown"))
    if policy.code["code"] in policy.payer.get("not_paid", ()):
        payer = policy.payer_name or LABELS.get(policy.payer_class, policy.payer_class)
        alternatives = policy.code.get("alternatives", "")
        # The $0 range on file records the not-paid fact with its own source (named when unverified).
        cites = range_for(policy, policy.code["code"])
        out.append(policy.finding("payer.not-covered", cites=cites, payer=payer, alternatives=alternatives))
    elif policy.code["code"] in policy.payer.get("may_not_pay", ()):
        payer = policy.payer_name or LABELS.get(policy.payer_class, policy.payer_class)
        alternatives = policy.code.get("alternatives", "")
        out.append(policy.finding("payer.not-covered", "uncertain", payer=payer, alternatives=alternatives))
    if policy.code["code"] in policy.payer.get("authorization_required", ()):
        payer = policy.payer_name or LABELS.get(policy.payer_class, policy.payer_class)
        out.append(policy.finding("payer.authorization", payer=payer))
    return out
