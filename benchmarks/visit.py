"""Visit engine figures: visit evaluations per CPU-second once loaded, for a Medicare PT visit of three
timed codes (97110 33 min, 97112 24 min by a PTA, 97140 7 min), and the same visit's note. The scrub groups a
patient's same-day charges into such visits, so this is its per-visit cost.

Usage: python benchmarks/visit.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from billing_rules import default_rules, evaluate_visit, parse_visit_record
from billing_rules.model import ClinicalContext, Order, Payer, Provider
from fhir_mappings.note import generate_note

VISIT = {
    "service_date": "2026-03-02",
    "provider_role": "PT",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 500,
    "services": [
        {"code": "97110", "minutes": 33},
        {"code": "97112", "minutes": 24, "provider_role": "PTA"},
        {"code": "97140", "minutes": 7},
    ],
}


def rate(fn: object, seconds: float) -> float:
    """Calls per CPU-second of this process (the machine is shared: wall time would measure the others)."""
    assert callable(fn)
    n, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        fn()
        n += 1
    return n / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    on = date(2026, 3, 2)
    order = Order("o1", text="PT", status="active", intent="order", authored_on=on, requester_role="MD")
    ctx = ClinicalContext(payer=Payer("medicare"), provider=Provider("PT"), orders=(order,))
    rules = default_rules()
    visit = parse_visit_record(VISIT)
    ev = evaluate_visit(visit, ctx, as_of=on, rules=rules)
    assert ev.billable and [(c.code, c.units) for c in ev.charge_lines] == [("97110", 2), ("97112", 2)]
    evaluations = rate(lambda: evaluate_visit(visit, ctx, as_of=on, rules=rules), args.seconds)
    parsed = rate(lambda: evaluate_visit(parse_visit_record(VISIT), ctx, as_of=on, rules=rules), args.seconds)
    notes = rate(lambda: generate_note(visit, charge_lines=ev.charge_lines, rules=rules), args.seconds)
    each = f"{1e6 / evaluations:,.0f} us each"
    print(f"3-code visit: {evaluations:,.0f} evaluate_visit per CPU-second ({each})")
    print(f"3-code visit parsed from JSON and evaluated: {parsed:,.0f} per CPU-second")
    print(f"3-code visit note: {notes:,.0f} generate_note per CPU-second")


if __name__ == "__main__":
    main()
