"""order.missing, order.requester-unconfirmed: education needs a physician/QHP order for this service.

An order counts when it asks for the service's order kind (``billing_rules.orders``: its CPT code, a SNOMED CT
education concept or education words; an order for 98960 also covers 98961/98962), is active or completed, is
authored on or before the service date (same day counts) and was requested by an MD/DO/NP/PA. A requester
whose role could not be read is accepted with an info finding (the engine's assumption, rules-contract §2):
the launch reads rarely include the requester; a payer policy may raise it to warn.
"""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, Order, ServiceRecord
from billing_rules.orders import asks_for, order_kind
from billing_rules.policy import Policy

ORDERING_ROLES = frozenset({"MD", "DO", "NP", "PA"})
LIVE = frozenset({"active", "completed"})
UNCONFIRMED = frozenset({None, "unknown"})


def _asks_for_service(order: Order, code: str, policy: Policy) -> bool:
    name = policy.code.get("order_kind")
    kind = order_kind(name, policy.rules, policy.on) if name else None
    if kind is None:  # no kind in the data: only an order coded with this very code counts
        return any(c.code.strip().upper() == code for c in order.codes)
    return asks_for(order, kind)


def why_not(order: Order, code: str, policy: Policy) -> str | None:
    """Why an order for this service does not count (None: it counts, or it is not for this service)."""
    if not _asks_for_service(order, code, policy):
        return None
    if order.status not in LIVE:
        return f"status {order.status or 'not given'}"
    if order.authored_on is None:
        return "no authored date"
    if order.authored_on > policy.on:
        return f"authored {order.authored_on.isoformat()}, after the service"
    if order.requester_role not in ORDERING_ROLES | UNCONFIRMED:
        return f"requested by a {order.requester_role}, not a physician, NP or PA"
    return ""


def qualifies(order: Order, code: str, policy: Policy) -> bool:
    """Asks for this service, live, dated on/before the service, by a physician/QHP (or a role not told)."""
    return why_not(order, code, policy) == ""


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    code = policy.code["code"]
    if code not in policy.payer.get("order_required", ()):
        return []
    good = [o for o in context.orders if qualifies(o, code, policy)]
    if any(o.requester_role in ORDERING_ROLES for o in good):
        return []
    if good:
        ids = ", ".join(f"ServiceRequest/{o.id}" for o in good)
        return [policy.finding("order.requester-unconfirmed", orders=ids)]
    near = [(o, why_not(o, code, policy)) for o in context.orders]
    found = "; ".join(f"ServiceRequest/{o.id} ({why})" for o, why in near if why)
    return [policy.finding("order.missing", found=f" Orders found but not usable: {found}." if found else "")]
