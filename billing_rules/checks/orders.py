"""order.missing: education codes need a physician/QHP order dated on or before the service."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, Order, ServiceRecord
from billing_rules.policy import Policy

CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
ORDERING_ROLES = frozenset({"MD", "DO", "NP", "PA"})
LIVE = frozenset({"active", "completed"})


def qualifies(order: Order, code: str, policy: Policy) -> bool:
    """Live, dated on/before the service, by a physician/QHP (or role not told), for this code or uncoded."""
    if order.status not in LIVE or order.authored_on is None or order.authored_on > policy.on:
        return False
    if order.requester_role is not None and order.requester_role not in ORDERING_ROLES:
        return False
    cpt = [c.code for c in order.codes if c.system == CPT_SYSTEM]
    return not cpt or code in cpt


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    code = policy.code["code"]
    if code not in policy.payer.get("order_required", ()):
        return []
    if any(qualifies(order, code, policy) for order in context.orders):
        return []
    return [policy.finding("order.missing")]
