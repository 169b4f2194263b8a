"""``batch`` and ``transaction`` Bundles.

A transaction is all-or-nothing: ids are assigned and ``ifNoneExist`` resolved first, ``urn:uuid:``
references rewritten, then every write runs inside one store unit of work; any failing entry rolls back all.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.rest import FhirRest, Result, _check, _check_compartment
from sandbox_ehr.scopes import Access
from sandbox_ehr.validate import validate_resource


def process_bundle(rest: FhirRest, access: Access, bundle: Any, *, keep_ids: bool = False) -> Result:
    """Answer a POSTed Bundle; ``keep_ids`` (seeding only) makes each ``urn:uuid:`` the resource id."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirProblem(400, "structure", "POST to the base needs a Bundle")
    kind = bundle.get("type")
    entries = bundle.get("entry", [])
    if kind == "batch":
        return Result(
            200, _response_bundle("batch-response", [_batch_entry(rest, access, e) for e in entries])
        )
    if kind == "transaction":
        return Result(
            200, _response_bundle("transaction-response", _transaction(rest, access, entries, keep_ids))
        )
    raise FhirProblem(400, "invalid", f"Bundle.type must be batch or transaction, not {kind}", "Bundle.type")


def _response_bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": uuid.uuid4().hex, "type": kind, "entry": entries}


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _response_entry(result: Result) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _status_line(result.status)}
    for header, key in (("Location", "location"), ("ETag", "etag")):
        if result.headers.get(header):
            response[key] = result.headers[header]
    if result.status < 400 and result.body and result.body.get("meta", {}).get("lastUpdated"):
        response["lastModified"] = result.body["meta"]["lastUpdated"]
    entry: dict[str, Any] = {"response": response}
    if result.status >= 400 and result.body:
        response["outcome"] = result.body
    elif result.body is not None:
        entry["resource"] = result.body
    return entry


def _request_of(entry: Any, index: int) -> tuple[str, str, dict[str, str]]:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
        raise FhirProblem(
            400,
            "structure",
            f"entry[{index}] needs request.method and request.url",
            f"Bundle.entry[{index}].request",
        )
    headers = {}
    if request.get("ifNoneExist"):
        headers["If-None-Exist"] = request["ifNoneExist"]
    if request.get("ifMatch"):
        headers["If-Match"] = request["ifMatch"]
    return request["method"].upper(), request["url"], headers


def _batch_entry(rest: FhirRest, access: Access, entry: Any) -> dict[str, Any]:
    try:
        method, url, headers = _request_of(entry, 0)
    except FhirProblem as problem:
        return _response_entry(Result(problem.status, problem.outcome()))
    return _response_entry(rest.execute(access, method, url, entry.get("resource"), headers))


def _transaction(rest: FhirRest, access: Access, entries: list[Any], keep_ids: bool) -> list[dict[str, Any]]:
    requests = [_request_of(e, i) for i, e in enumerate(entries)]
    for i, (method, _, _) in enumerate(requests):
        if method not in ("POST", "PUT", "GET"):
            raise FhirProblem(400, "not-supported", f"entry[{i}]: {method} is not supported in a transaction")
    results: list[Result | None] = [None] * len(entries)
    with rest.store.atomic():
        ids = _resolve_ids(rest, access, entries, requests, results, keep_ids)
        for i, entry in enumerate(entries):
            method, url, headers = requests[i]
            if method == "GET" or results[i] is not None:
                continue
            resource = _rewrite(entry.get("resource"), ids)
            try:
                target = ids.get(entry.get("fullUrl", ""))
                results[i] = _write(rest, access, (method, url, headers), resource, target)
            except FhirProblem as problem:
                raise _at(problem, i) from None
        for i, (method, url, headers) in enumerate(requests):
            if method == "GET":
                results[i] = rest.execute(access, method, _rewrite_url(url, ids), None, headers)
    return [_response_entry(r) for r in results if r is not None]


def _resolve_ids(
    rest: FhirRest,
    access: Access,
    entries: list[Any],
    requests: list[tuple[str, str, dict[str, str]]],
    results: list[Result | None],
    keep_ids: bool,
) -> dict[str, str]:
    """Map each entry's fullUrl to its final ``Type/id``; conditional creates that match become no-ops."""
    ids: dict[str, str] = {}
    for i, entry in enumerate(entries):
        method, url, headers = requests[i]
        full_url = entry.get("fullUrl", "") if isinstance(entry, dict) else ""
        rtype = url.split("?")[0].strip("/").split("/")[0]
        if method == "POST":
            existing = None
            if headers.get("If-None-Exist"):
                try:
                    existing = rest.conditional_match(access, rtype, headers["If-None-Exist"])
                except FhirProblem as problem:
                    raise _at(problem, i) from None
            if existing is not None:
                results[i] = rest._write_result(200, existing, None)
                new_id = existing["id"]
            elif keep_ids and full_url.startswith("urn:uuid:"):
                new_id = full_url.removeprefix("urn:uuid:")
            else:
                new_id = uuid.uuid4().hex
            if full_url:
                ids[full_url] = f"{rtype}/{new_id}"
        elif method == "PUT" and full_url:
            ids[full_url] = url.strip("/")
    return ids


def _write(
    rest: FhirRest,
    access: Access,
    request: tuple[str, str, dict[str, str]],
    resource: Any,
    target: str | None,
) -> Result:
    method, url, headers = request
    if method == "PUT":
        rtype, _, rid = url.strip("/").partition("/")
        return rest.update(access, rtype, rid, resource, headers.get("If-Match"), None)
    rtype = url.strip("/").split("?")[0]
    validate_resource(resource, expected_type=rtype)
    _check_compartment(_check(access, rtype, "c"), resource)
    new_id = (target or f"{rtype}/{uuid.uuid4().hex}").split("/", 1)[1]
    stored, _ = rest.store.put({**resource, "id": new_id})
    return rest._write_result(201, stored, None)


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    """Replace ``urn:uuid:`` references with the ids assigned in this transaction."""
    if isinstance(value, dict):
        return {
            k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, ids))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


def _rewrite_url(url: str, ids: dict[str, str]) -> str:
    """GET entries may search by a placeholder (``Condition?encounter=urn:uuid:…``): use ``Type/id``."""
    for full_url, ref in ids.items():
        url = url.replace(full_url, ref)
    return url


def _at(problem: FhirProblem, index: int) -> FhirProblem:
    problem.diagnostics = f"transaction entry[{index}]: {problem.diagnostics}; nothing was stored"
    return problem
