"""A stateful ``responses`` stub of a FHIR server (no tests here) reproducing HAPI, Epic and Oracle Health.

HAPI: transaction + conditional create; Epic: no ChargeItem, no batch/transaction/conditional create, 201
with a relative Location and an empty body; Oracle Health: ChargeItem only through ``$create``,
DocumentReference not searchable by identifier. Faults: a queued error answer, or "commit, then drop the
response".
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses

from tests.conftest import load_json

BASE = "https://ehr.test/fhir"
Reply = tuple[int, dict[str, str], str]


def hapi_caps() -> dict[str, Any]:
    caps = load_json("fixtures/capabilitystatement.smart-health-it-r4-sandbox.trimmed.json")
    caps["rest"][0]["interaction"].append({"code": "batch"})
    caps["rest"][0]["resource"].append({"type": "Provenance", "interaction": [{"code": "create"}]})
    return caps


def epic_caps() -> dict[str, Any]:
    doc = {"type": "DocumentReference", "interaction": [{"code": "create"}, {"code": "search-type"}]}
    doc["searchParam"] = [{"name": "identifier"}, {"name": "patient"}, {"name": "encounter"}]
    return {"resourceType": "CapabilityStatement", "rest": [{"mode": "server", "resource": [doc]}]}


def oracle_caps() -> dict[str, Any]:
    return load_json("fixtures/capabilitystatement.oracle-health-sandbox.trimmed.json")


@dataclass
class FakeFhir:
    caps: dict[str, Any]
    transactions: bool = True
    conditional: bool = True
    store: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path regex, reply|"drop")
    calls: list[tuple[str, str]] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # references the server does not hold (HAPI-1094)
    epic_answers: bool = False  # 201 with a relative Location and an empty body
    create_delay: float = 0.0  # seconds a create takes (widens the window of a double submit)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    def __post_init__(self) -> None:
        if not self.transactions:  # say so in the CapabilityStatement too
            self.caps["rest"][0]["interaction"] = []

    def install(self, rsps: responses.RequestsMock) -> FakeFhir:
        pattern = re.compile(re.escape(BASE) + r"(/.*)?$")
        for method in ("GET", "POST", "PUT"):
            rsps.add_callback(method, pattern, callback=self._handle)
        return self

    def seed(self, *resources: dict[str, Any]) -> FakeFhir:
        for r in resources:
            self.store[f"{r['resourceType']}/{r['id']}"] = r
        return self

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.store.values() if r["resourceType"] == resource_type]

    # -- dispatch

    def _handle(self, request: requests.PreparedRequest) -> Reply:
        url = urlsplit(str(request.url))
        path = url.path[len(urlsplit(BASE).path) :].strip("/")
        method = str(request.method)
        self.calls.append((method, path))
        body = json.loads(request.body) if request.body else None
        fault = self._fault(method, path)
        if fault is not None and fault not in ("drop", "pass"):  # "pass": answer this one normally
            return fault
        if method == "POST" and self.create_delay:
            time.sleep(self.create_delay)
        try:
            with self._lock:
                reply = self._route(method, path, dict(parse_qsl(url.query)), body, request.headers)
        except _Rejected as exc:
            return _json(exc.status, exc.outcome)
        if fault == "drop":
            raise requests.ConnectionError("connection reset after the server committed")
        return reply

    def _fault(self, method: str, path: str) -> Any:
        for i, (m, regex, reply) in enumerate(self.faults):
            if m == method and re.fullmatch(regex, path):
                del self.faults[i]
                return reply
        return None

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, headers: Any) -> Reply:
        if method == "GET" and path == "metadata":
            return _json(200, self.caps)
        if method == "PUT" and path.count("/") == 1:
            created = path not in self.store
            self.store[path] = {**body, "id": path.split("/")[1]}
            return _json(201 if created else 200, self.store[path], self.store[path])
        if method == "GET" and "/" in path:
            return self._read(path)
        if method == "GET":
            return _json(200, self._searchset(path, query))
        if path == "" and body["type"] == "transaction" and self.transactions:
            snapshot = dict(self.store)
            try:
                return _json(200, self._transaction(body))
            except _Rejected:
                self.store = snapshot  # all or nothing
                raise
        if path == "" and body["type"] == "batch" and self.transactions:
            return _json(200, self._batch(body))
        if path == "ChargeItem/$create" and self._operation_create():
            return self._oracle_create(body)
        if "/" not in path and self._allows(path, "create"):
            return self._create(body, headers.get("If-None-Exist"))
        return _json(405, _outcome("not-supported", f"{method} {path} is not supported"))

    # -- interactions

    def _create(self, resource: dict[str, Any], if_none_exist: str | None) -> Reply:
        if if_none_exist and self.conditional:
            matches = self._matches(resource["resourceType"], dict(parse_qsl(if_none_exist)))
            if len(matches) > 1:
                return _json(412, _outcome("duplicate", "HAPI-0958: multiple matches for the condition"))
            if matches:
                return _json(200, matches[0], matches[0])
        saved = self._save(resource)
        if self.epic_answers:
            return 201, {"Location": f"{saved['resourceType']}/{saved['id']}"}, ""
        return _json(201, saved, saved)

    def _save(self, resource: dict[str, Any]) -> dict[str, Any]:
        for ref in _references(resource):
            if ref.startswith("Encounter/") and ref in self.missing:
                raise _Rejected(
                    400, load_json("fixtures/operationoutcome.hapi-referential-integrity.derived.json")
                )
        saved = {**resource, "id": str(next(self._ids))}
        self.store[f"{saved['resourceType']}/{saved['id']}"] = saved
        return saved

    def _transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        resolved: dict[str, str] = {}
        answers = []
        for entry in bundle["entry"]:
            resource = json.loads(_replace(json.dumps(entry["resource"]), resolved))
            condition = dict(parse_qsl(entry["request"].get("ifNoneExist", "")))
            matches = self._matches(resource["resourceType"], condition) if condition else []
            if len(matches) > 1 and self.conditional:  # HAPI fails the whole transaction, as a single create
                raise _Rejected(412, _outcome("duplicate", "HAPI-0958: multiple matches for the condition"))
            if entry["request"]["method"] == "PUT":
                created = entry["request"]["url"] not in self.store
                saved = self.store[entry["request"]["url"]] = resource
                status = "201 Created" if created else "200 OK"
            else:
                saved, status = (matches[0], "200 OK") if matches else (self._save(resource), "201 Created")
            resolved[entry["fullUrl"]] = f"{saved['resourceType']}/{saved['id']}"
            answers.append(
                {"response": {"status": status, "location": f"{resolved[entry['fullUrl']]}/_history/1"}}
            )
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}

    def _read(self, path: str) -> Reply:
        if path in self.store:
            return _json(200, self.store[path])
        return _json(404, _outcome("not-found", f"HAPI-2001: Resource {path} is not known"))

    def _batch(self, bundle: dict[str, Any]) -> dict[str, Any]:
        answers = []
        for entry in bundle["entry"]:
            path, _, query = entry["request"]["url"].partition("?")
            if "/" in path:
                status, _headers, text = self._read(path)
                answers.append({"resource": json.loads(text), "response": {"status": str(status)}})
                continue
            answers.append(
                {"resource": self._searchset(path, dict(parse_qsl(query))), "response": {"status": "200 OK"}}
            )
        return {"resourceType": "Bundle", "type": "batch-response", "entry": answers}

    def _oracle_create(self, params: dict[str, Any]) -> Reply:
        item = next(p["resource"] for p in params["parameter"] if p["name"] == "chargeItem")
        saved = self._save({**item, "status": "billable"})
        return 200, {"Location": f"{BASE}/ChargeItem/{saved['id']}"}, ""

    def _searchset(self, resource_type: str, query: dict[str, str]) -> dict[str, Any]:
        entries = [{"resource": r} for r in self._matches(resource_type, query)]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}

    def _matches(self, resource_type: str, query: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for r in self.of_type(resource_type):
            if all(_param_matches(r, k, v) for k, v in query.items()):
                out.append(r)
        return out

    def _allows(self, resource_type: str, interaction: str) -> bool:
        for res in self.caps["rest"][0].get("resource") or []:
            if res["type"] == resource_type:
                return any(i["code"] == interaction for i in res.get("interaction") or [])
        return False

    def _operation_create(self) -> bool:
        for res in self.caps["rest"][0].get("resource") or []:
            if res["type"] == "ChargeItem":
                return any(op["name"] == "create" for op in res.get("operation") or [])
        return False


class _Rejected(Exception):
    def __init__(self, status: int, outcome: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.outcome = outcome


def _param_matches(resource: dict[str, Any], name: str, value: str) -> bool:
    if name == "identifier":
        system, _, code = value.partition("|")
        return any(
            i.get("system") == system and i.get("value") == code for i in resource.get("identifier") or []
        )
    if name == "_tag":
        system, _, code = value.partition("|")
        return any(
            t.get("system") == system and t.get("code") == code for t in resource["meta"].get("tag") or []
        )
    if name == "patient":
        refs = [(resource.get(k) or {}).get("reference") for k in ("subject", "beneficiary", "patient")]
        return value in refs or f"Patient/{value}" in refs
    if name in ("context", "encounter"):
        context = resource.get("context") or {}
        refs = [context.get("reference"), (resource.get("encounter") or {}).get("reference")]
        refs += (
            [e.get("reference") for e in context.get("encounter") or []] if isinstance(context, dict) else []
        )
        return value in refs or f"Encounter/{value}" in refs
    if name == "-status":
        return resource.get("status") == value
    return True  # like a lenient server: unknown parameters are ignored


def _references(resource: Any) -> list[str]:
    if isinstance(resource, dict):
        own = [resource["reference"]] if isinstance(resource.get("reference"), str) else []
        return own + [r for v in resource.values() for r in _references(v)]
    if isinstance(resource, list):
        return [r for v in resource for r in _references(v)]
    return []


def _replace(text: str, resolved: dict[str, str]) -> str:
    for placeholder, ref in resolved.items():
        text = text.replace(f'"{placeholder}"', json.dumps(ref))
    return text


def _json(status: int, body: dict[str, Any], saved: dict[str, Any] | None = None) -> Reply:
    headers = {"Content-Type": "application/fhir+json"}
    if saved:
        headers["Location"] = f"{BASE}/{saved['resourceType']}/{saved['id']}/_history/1"
    return status, headers, json.dumps(body)


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
