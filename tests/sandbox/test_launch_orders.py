"""The launch's order query against a real FHIR store: completed orders are read and satisfy order.missing.

rules-contract §2 counts an order that is "active or completed" on or before the service date; a query that
asked for active orders only would turn every fulfilled referral into a false `order.missing` block.
"""

from __future__ import annotations

from datetime import date

import billing_rules
from fhir_mappings.read import context_from_resources
from smart_app.fhir_client import FhirClient
from smart_app.reads import launch_queries
from tests.sandbox.conftest import Ehr

PATIENT = "edu-dm-commercial"

COMPLETED_ORDER = {
    "resourceType": "ServiceRequest",
    "status": "completed",
    "intent": "order",
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "98960"}]},
    "subject": {"reference": f"Patient/{PATIENT}"},
    "authoredOn": "2026-01-05",
}


def _orders_query() -> str:
    return next(q for q in launch_queries(PATIENT, None, None) if q.startswith("ServiceRequest?"))


def test_the_launch_query_returns_completed_orders(store: Ehr) -> None:
    client = FhirClient(store.fhir)
    created = client.create(dict(COMPLETED_ORDER)).body
    assert created is not None
    found = client.search(
        "ServiceRequest", [tuple(p.split("=", 1)) for p in _orders_query().split("?")[1].split("&")]
    )
    assert created["id"] in {r["id"] for r in found}
    assert {r["status"] for r in found} >= {"completed"}


def test_a_completed_order_alone_satisfies_the_order_rule() -> None:
    patient = {"resourceType": "Patient", "id": PATIENT}
    order = {**COMPLETED_ORDER, "id": "o-1"}
    record = billing_rules.parse_service_record(
        {"code": "98960", "service_date": "2026-03-02", "minutes": 30, "payer_class": "commercial",
         "provider_role": "RN", "curriculum": "ADCES7", "topics": ["monitoring"], "diagnoses": ["E11.9"]}
    )  # fmt: skip
    with_order = context_from_resources([patient, order], patient_id=PATIENT)
    without = context_from_resources([patient], patient_id=PATIENT)
    rules = {f.rule for f in billing_rules.evaluate(record, with_order, as_of=date(2026, 3, 2)).findings}
    assert "order.missing" not in rules
    rules = {f.rule for f in billing_rules.evaluate(record, without, as_of=date(2026, 3, 2)).findings}
    assert "order.missing" in rules
