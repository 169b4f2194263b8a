"""What an order asks for: the one place that decides whether a ServiceRequest orders a kind of service.

The rules engine (order.missing) and the CDS Hooks cards both call ``asks_for``/``is_education_order``, so a
card never calls an order "education" that the engine would refuse, or the reverse. The codes, SNOMED CT
concepts and words of each kind are rule data (``data/orders.toml``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import cache

from billing_rules.loader import Entry, RuleSet, default_rules, pick
from billing_rules.model import Coding, Order

EDUCATION = "self-management education"
# ServiceRequest.intent values that are suggestions, not orders (FHIR R4 request-intent).
NOT_ORDERS = frozenset({"proposal", "plan", "directive", "option"})
SNOMED = "http://snomed.info/sct"


# OIDs of CPT and HCPCS Level II (billing-rules.md §11.1) as some EHRs send them (urn:oid:...).
BILLING_OIDS = ("2.16.840.1.113883.6.12", "2.16.840.1.113883.6.285")


def is_billing_coding(coding: Coding) -> bool:
    """A CPT or HCPCS coding (a coding without a system is read as one: local EHRs often omit it)."""
    system = (coding.system or "").lower()
    oid = system.removeprefix("urn:oid:")
    return not system or "cpt" in system or "hcpcs" in system or oid in BILLING_OIDS


def order_kind(name: str, rules: RuleSet | None = None, on: date | None = None) -> Entry | None:
    """The ``[[order_kind]]`` entry of that name in force on the date (today when not given)."""
    kinds = [k for k in (rules or default_rules()).entries("order_kind") if k["name"] == name]
    return pick(kinds, on or date.today())


@cache
def _words(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(rf"\b{re.escape(w)}\b" for w in words), re.IGNORECASE)


def asks_for(order: Order, kind: Entry, extra_codes: Iterable[str] = ()) -> bool:
    """True when the order's codes (or, without billing codes, its SNOMED code or words) name this kind.

    Status, date and requester are the caller's business; a proposal or plan is never an order.
    """
    if order.intent in NOT_ORDERS:
        return False
    allowed = {c.upper() for c in (*kind["codes"], *extra_codes)}
    billing = [c.code.strip().upper() for c in order.codes if is_billing_coding(c)]
    if billing:
        return any(code in allowed for code in billing)
    if any(c.system == SNOMED and c.code.strip() in kind["snomed"] for c in order.codes):
        return True
    texts = [order.text or "", *(c.display or "" for c in order.codes)]
    pattern = _words(tuple(kind["words"]))
    return any(pattern.search(t) for t in texts)


def is_education_order(
    order: Order, extra_codes: Iterable[str] = (), rules: RuleSet | None = None, on: date | None = None
) -> bool:
    """An order for self-management education (codes 98960-98962/DSMT, SNOMED education, or its words)."""
    kind = order_kind(EDUCATION, rules, on)
    return kind is not None and asks_for(order, kind, extra_codes)
