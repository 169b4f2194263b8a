"""Payer coverage: payer.not-covered (block; variant uncertain: warn, payers differ), payer.unknown,
payer.authorization (warn: the policy says the payer needs a prior authorization for the code; the EHR context
holds no authorizations, so the engine can only ask for one to be confirmed)."""

from __future__ import annotations

from billing_rules import icd10
from billing_rules.estimate import range_for
from billing_rules.families import supporting_family
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import Policy

LABELS = {
    "medicare": "Medicare (fee-for-service)",
    "medicare-advantage": "Medicare Advantage",
    "medicaid": "Medicaid",
    "commercial": "This commercial plan",
    "self-pay": "Self-pay",
}


ROLE_WORDS = {
    "RD": "a dietitian",
    "RN": "a nurse",
    "CDCES": "a diabetes educator",
    "PT": "a PT",
    "OT": "an OT",
}
ABN = {
    "bundled": " It is bundled into the day's other services: no separate charge and no ABN.",
    "excluded": (
        " Medicare never pays it, so no advance beneficiary notice (ABN) is required; if the patient asks"
        " for a"
        " claim anyway (for a secondary payer), it carries GY."
    ),
}
BUNDLED = frozenset({"97010"})


def routes(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> str:
    """The payable routes for a code a payer will not pay, filtered by role and the linked diagnoses."""
    code = policy.code["code"]
    candidates = [
        r
        for r in policy.rules.entries("route")
        if code in r["for_codes"] and r["effective_from"] <= policy.on <= r["effective_to"]
    ]
    if not candidates:
        return policy.code.get("alternatives", "")
    role = policy.role
    families = {supporting_family(icd10.normalise(d), policy.rules, policy.on) for d in record.diagnoses}
    fits = []
    for r in candidates:
        if role not in ("unknown", "other") and role not in r["roles"]:
            continue
        if r["dx_families"] and record.diagnoses and not families & set(r["dx_families"]):
            continue
        fits.append(r["label"])
    who = ROLE_WORDS.get(role, f"a {role}") if role not in ("unknown", "other") else "this clinician"
    if not fits:
        return (
            f"No payable route fits {who} with the linked diagnoses: do not bill this service to this payer."
        )
    listed = "; ".join(fits)
    return f"Payable routes for {who}: {listed} - each only if the service met that code's definition."


def _abn(policy: Policy) -> str:
    if policy.payer_class != "medicare":
        return ""
    return ABN["bundled" if policy.code["code"] in BUNDLED else "excluded"]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    out = []
    if policy.payer_class == "unknown":
        read = context.payer
        if record.payer_class is None and (read.coverage_id or read.name):  # a coverage was read, not classed
            shown = read.name or f"Coverage/{read.coverage_id}"
            out.append(
                policy.finding("payer.unknown", "unclassified", coverage=shown, basis=read.basis or "")
            )
        else:
            out.append(policy.finding("payer.unknown"))
    if policy.code["code"] in policy.payer.get("not_paid", ()):
        payer = policy.payer_name or LABELS.get(policy.payer_class, policy.payer_class)
        alternatives = routes(record, context, policy)
        # The $0 range on file records the not-paid fact with its own source (named when unverified).
        cites = range_for(policy, policy.code["code"])
        values = {"payer": payer, "alternatives": alternatives, "abn": _abn(policy)}
        out.append(policy.finding("payer.not-covered", cites=cites, **values))
    elif policy.code["code"] in policy.payer.get("may_not_pay", ()):
        payer = policy.payer_name or LABELS.get(policy.payer_class, policy.payer_class)
        alternatives = routes(record, context, policy)
        out.append(policy.finding("payer.not-covered", "uncertain", payer=payer, alternatives=alternatives))
    if policy.code["code"] in policy.payer.get("authorization_required", ()):
        payer = policy.payer_name or LABELS.get(policy.payer_class, policy.payer_class)
        out.append(policy.finding("payer.authorization", payer=payer))
    return out
