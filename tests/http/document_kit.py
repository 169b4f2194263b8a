"""A stand-in EHR's FHIR answers for the point-of-care page tests: one launch's resources behind `responses`.

`stub_fhir` answers `/metadata` (batch + transaction supported), the launch's read batch (each GET answered
from the resources given, by type and search), and a transaction POST that creates what it is sent (counted,
so a test can assert how many ChargeItems were written). `launched` does the whole SMART launch in one line.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import responses
from flask import Flask
from flask.testing import FlaskClient

from tests.http.smart_kit import ISS, launch_to_handle, make_app

RN_TAXONOMY = "163W00000X"
TERM = "http://terminology.hl7.org/CodeSystem"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def patient(name: str = "Dana Diabetes") -> dict[str, Any]:
    given, _, family = name.rpartition(" ")
    return {
        "resourceType": "Patient",
        "id": "pat-1",
        "name": [{"family": family, "given": [given]}],
        "birthDate": "1960-04-02",
        "gender": "female",
    }


def encounter() -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "enc-1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/pat-1"},
        "period": {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z"},
    }


def condition(
    code: str = "E11.9", display: str = "Type 2 diabetes mellitus without complications"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "cond-1",
        "clinicalStatus": {"coding": [{"system": f"{TERM}/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": f"{TERM}/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": f"{TERM}/condition-category", "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": ICD10CM, "code": code, "display": display}]},
        "subject": {"reference": "Patient/pat-1"},
        "encounter": {"reference": "Encounter/enc-1"},
    }  # fmt: skip


def coverage(sopt: str = "5", payor: str = "Acme Health Plan") -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": "cov-1",
        "status": "active",
        "type": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.221.5", "code": sopt}]},
        "beneficiary": {"reference": "Patient/pat-1"},
        "payor": [{"reference": "Organization/payer-1", "display": payor}],
    }


def order() -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": "sr-1",
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "98960"}], "text": "DSME"},
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-01",
        "requester": {"reference": "Practitioner/doc-1", "display": "Dr. Ordering"},
    }


def commercial_diabetes() -> list[dict[str, Any]]:
    return [patient(), encounter(), condition(), coverage(), order()]


@dataclass
class FakeEhr:
    """What the stubbed server holds and what it was sent."""

    resources: list[dict[str, Any]]
    created: list[dict[str, Any]] = field(default_factory=list)
    transactions: int = 0
    fail_next_writes: int = 0
    unauthorized: bool = False  # every FHIR request answered 401 (the access token was revoked)

    def count(self, resource_type: str) -> int:
        return sum(1 for r in self.created if r.get("resourceType") == resource_type)


def _answer_get(ehr: FakeEhr, url: str) -> dict[str, Any]:
    path, _, query = url.partition("?")
    rtype, _, rid = path.partition("/")
    pool = [r for r in ehr.resources + ehr.created if r.get("resourceType") == rtype]
    if rid:
        found = [r for r in pool if r.get("id") == rid]
        return (
            {"response": {"status": "200 OK"}, "resource": found[0]}
            if found
            else {"response": {"status": "404"}}
        )
    ident = re.search(r"identifier=([^&]+)", query)
    if ident:
        wanted = ident.group(1).replace("%7C", "|")
        pool = [
            r
            for r in pool
            if any(f"{i.get('system')}|{i.get('value')}" == wanted for i in r.get("identifier", []))
        ]
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in pool]}
    return {"response": {"status": "200 OK"}, "resource": bundle}


def _failure(ehr: FakeEhr) -> tuple[int, dict[str, str], str] | None:
    if ehr.unauthorized:
        return (
            401,
            {},
            json.dumps(
                {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}
            ),
        )
    if ehr.fail_next_writes <= 0:
        return None
    ehr.fail_next_writes -= 1
    issue = {"severity": "error", "code": "exception", "diagnostics": "Database unavailable"}
    return 503, {}, json.dumps({"resourceType": "OperationOutcome", "issue": [issue]})


def _create(ehr: FakeEhr, request: Any) -> tuple[int, dict[str, str], str]:
    """A single (conditional) create, as servers without transactions take it."""
    failed = _failure(ehr)
    if failed:
        return failed
    res = json.loads(request.body)
    entry = {"resource": res, "request": {"ifNoneExist": request.headers.get("If-None-Exist", "")}}
    existing = _existing(ehr, entry)
    if existing is not None:
        return (
            200,
            {"Location": f"{existing['resourceType']}/{existing['id']}/_history/1"},
            json.dumps(existing),
        )
    res["id"] = uuid.uuid4().hex[:12]
    ehr.created.append(res)
    return 201, {"Location": f"{res['resourceType']}/{res['id']}/_history/1"}, json.dumps(res)


def _transaction(ehr: FakeEhr, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    ehr.transactions += 1
    failed = _failure(ehr)
    if failed:
        return failed
    urls: dict[str, str] = {}
    answers = []
    for entry in body.get("entry", []):
        res = dict(entry["resource"])
        existing = _existing(ehr, entry)
        if existing is not None:
            urls[entry.get("fullUrl", "")] = f"{existing['resourceType']}/{existing['id']}"
            answers.append(
                {
                    "response": {
                        "status": "200 OK",
                        "location": f"{existing['resourceType']}/{existing['id']}/_history/1",
                    }
                }
            )
            continue
        res["id"] = uuid.uuid4().hex[:12]
        urls[entry.get("fullUrl", "")] = f"{res['resourceType']}/{res['id']}"
        ehr.created.append(res)
        answers.append(
            {
                "response": {
                    "status": "201 Created",
                    "location": f"{res['resourceType']}/{res['id']}/_history/1",
                }
            }
        )
    text = json.dumps(ehr.created)
    for full, ref in urls.items():
        text = text.replace(full, ref)
    ehr.created[:] = json.loads(text)
    return 200, {}, json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": answers})


def _existing(ehr: FakeEhr, entry: dict[str, Any]) -> dict[str, Any] | None:
    cond = (entry.get("request") or {}).get("ifNoneExist") or ""
    m = re.search(r"identifier=([^&]+)", cond)
    if not m:
        return None
    wanted = m.group(1).replace("%7C", "|")
    rtype = entry["resource"]["resourceType"]
    for r in ehr.created:
        if r["resourceType"] == rtype and any(
            f"{i.get('system')}|{i.get('value')}" == wanted for i in r.get("identifier", [])
        ):
            return r
    return None


def stub_fhir(rsps: responses.RequestsMock, ehr: FakeEhr) -> None:
    interactions = [{"code": "create"}, {"code": "read"}, {"code": "search-type"}]
    types = ("ChargeItem", "DocumentReference", "Provenance")
    metadata = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": "batch"}, {"code": "transaction"}],
                "resource": [
                    {"type": t, "interaction": interactions, "conditionalCreate": True} for t in types
                ],
            }
        ],
    }
    rsps.get(f"{ISS}/metadata", json=metadata)

    def post_root(request: Any) -> tuple[int, dict[str, str], str]:
        if ehr.unauthorized:
            return _failure(ehr) or (500, {}, "")
        body = json.loads(request.body)
        if body.get("type") == "transaction":
            return _transaction(ehr, body)
        answers = [_answer_get(ehr, e["request"]["url"]) for e in body.get("entry", [])]
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": answers})

    rsps.add_callback(responses.POST, ISS, callback=post_root)
    rsps.add_callback(responses.POST, f"{ISS}/", callback=post_root)

    def get_any(request: Any) -> tuple[int, dict[str, str], str]:
        if ehr.unauthorized:
            return _failure(ehr) or (500, {}, "")
        rel = request.url.split(ISS + "/", 1)[1]
        answer = _answer_get(ehr, rel)
        status = int(answer["response"]["status"].split()[0])
        return (
            status,
            {},
            json.dumps(answer.get("resource") or {"resourceType": "OperationOutcome", "issue": []}),
        )

    rsps.add_callback(
        responses.GET, re.compile(re.escape(ISS) + r"/(?!metadata)[A-Za-z].*"), callback=get_any
    )
    rsps.add_callback(
        responses.POST,
        re.compile(re.escape(ISS) + r"/(ChargeItem|DocumentReference|Provenance)$"),
        callback=lambda request: _create(ehr, request),
    )


def app_for(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


def launched(app: Flask, rsps: responses.RequestsMock, ehr: FakeEhr, **token: Any) -> tuple[FlaskClient, str]:
    """A browser that completed an EHR launch, and its launch handle."""
    client = app.test_client()
    handle = launch_to_handle(client, rsps, **token)
    stub_fhir(rsps, ehr)
    return client, handle


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def draft_id_of(html: str) -> str:
    m = re.search(r'name="draft_id" value="([0-9a-f]*)"', html)
    assert m, "no draft id on the page"
    return m.group(1)
