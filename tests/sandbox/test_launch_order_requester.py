"""The launch reads bring each order's requester where the server lists ``ServiceRequest:requester``: the
98960 happy path (an RN's session on a physician's DSME order) no longer says the orderer's role is unknown.
A server that does not list the include is never sent it (an unsupported _include could fail the order read).
"""

from __future__ import annotations

from datetime import date

import billing_rules
from smart_app import capabilities
from smart_app.fhir_client import FhirClient
from smart_app.reads import launch_queries, read_launch_context
from tests.sandbox.conftest import Ehr

PATIENT, ENCOUNTER, RN = "edu-dm-commercial", "enc-dm-commercial-0302", "Practitioner/rn-okafor"
SERVICE = {
    "code": "98960", "minutes": 35, "curriculum": "ADCES7", "topics": ["monitoring"], "diagnoses": ["E11.9"],
    "response": "teach-back correct",
}  # fmt: skip


def test_the_orders_requester_is_read_and_the_order_is_confirmed(store: Ehr) -> None:
    capabilities.forget()
    reads = read_launch_context(
        FhirClient(store.fhir), patient_id=PATIENT, encounter_id=ENCOUNTER, fhir_user=RN
    )
    assert reads.round_trips == 2 and reads.used_batch  # /metadata, then the one batch
    (order,) = reads.context.orders
    assert order.requester == "Practitioner/md-hughes" and order.requester_role == "MD"
    record = billing_rules.parse_service_record(SERVICE)
    rules = {f.rule for f in billing_rules.evaluate(record, reads.context, as_of=date(2026, 3, 2)).findings}
    assert "order.requester-unconfirmed" not in rules and "order.missing" not in rules


def test_the_include_is_sent_only_when_asked() -> None:
    plain = launch_queries(PATIENT, ENCOUNTER, RN)
    included = launch_queries(PATIENT, ENCOUNTER, RN, include_requester=True)
    changed = [(a, b) for a, b in zip(plain, included, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1] == changed[0][0] + "&_include=ServiceRequest:requester"
