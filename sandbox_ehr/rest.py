"""FHIR REST interactions (read, search, create, update) independent of Flask, so batch entries and HTTP
requests go through exactly the same code, scope checks included."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sandbox_ehr import oracle_charges
from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.scopes import Access, Forbidden
from sandbox_ehr.searchparams import PARAMS, PATIENT_LINK, SUPPORTED_TYPES, include_params, patient_of, walk
from sandbox_ehr.store import Criterion, FhirStore, SearchError, VersionConflict
from sandbox_ehr.validate import validate_resource

IGNORED_PARAMS = frozenset({"_format", "_pretty"})
MAX_COUNT = 500


@dataclass
class Result:
    """An interaction's outcome: HTTP status, FHIR body (None for an empty body) and headers."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


def problem_result(problem: FhirProblem) -> Result:
    return Result(problem.status, problem.outcome(), dict(problem.headers))


class FhirRest:
    """The server's interactions over one store; ``base_url`` is the public FHIR base for links."""

    def __init__(self, store: FhirStore, base_url: str, *, oracle_chargeitem: bool = False) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.oracle_chargeitem = oracle_chargeitem  # ChargeItem as on Oracle Health (oracle_charges.py)

    # -- dispatch (batch entries and the HTTP layer) -----------------------------------------------------
    def execute(
        self, access: Access, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Result:
        """Run one interaction given as method + URL relative to the base; errors become OperationOutcomes."""
        headers = headers or {}
        path, query = self._split(url)
        parts = [p for p in path.split("/") if p]
        try:
            if parts and parts[0] not in SUPPORTED_TYPES:
                raise FhirProblem(404, "not-supported", f"resource type {parts[0]} is not supported")
            if self.oracle_chargeitem and parts[:1] == ["ChargeItem"] and method != "GET":
                return self._oracle_charge_write(access, method, parts, body)
            if method == "GET" and len(parts) == 2:
                return self.read(access, parts[0], parts[1])
            if method == "GET" and len(parts) == 4 and parts[2] == "_history":
                return self.vread(access, parts[0], parts[1], parts[3])
            if method == "GET" and len(parts) == 1:
                return self.search(access, parts[0], parse_qsl(query, keep_blank_values=True))
            if method == "POST" and len(parts) == 1:
                return self.create(
                    access, parts[0], body, headers.get("If-None-Exist"), headers.get("Prefer")
                )
            if method == "PUT" and len(parts) == 2:
                return self.update(
                    access, parts[0], parts[1], body, headers.get("If-Match"), headers.get("Prefer")
                )
            raise FhirProblem(405, "not-supported", f"{method} {path} is not supported")
        except FhirProblem as problem:
            return problem_result(problem)

    def _split(self, url: str) -> tuple[str, str]:
        if url.startswith(self.base_url):
            url = url[len(self.base_url) :]
        parts = urlsplit(url)
        return parts.path.strip("/"), parts.query

    # -- interactions ------------------------------------------------------------------------------------
    def read(self, access: Access, rtype: str, rid: str) -> Result:
        limit = _check(access, rtype, "r")
        resource = self.store.read(rtype, rid)
        if resource is None or (limit is not None and _owner(resource) not in (limit, None)):
            raise FhirProblem(404, "not-found", f"{rtype}/{rid} is not known")
        return Result(200, resource, self._version_headers(resource))

    def vread(self, access: Access, rtype: str, rid: str, version: str) -> Result:
        """Only the current version is kept, so that is the one version ``_history/n`` can return."""
        result = self.read(access, rtype, rid)
        if result.body is None or result.body["meta"]["versionId"] != version:
            raise FhirProblem(
                404, "not-found", f"{rtype}/{rid}/_history/{version}: only the current version is kept"
            )
        return result

    def search(self, access: Access, rtype: str, params: list[tuple[str, str]]) -> Result:
        limit = _check(access, rtype, "s")
        if self.oracle_chargeitem and rtype == "ChargeItem":
            params = oracle_charges.search_params(params)
        criteria, count, offset, includes = self._parse_search(rtype, params)
        if limit is not None and rtype not in PATIENT_LINK and rtype != "Patient":
            limit = None  # shared resources (Practitioner, Organization…) are outside the compartment
        if limit is not None and rtype == "Patient":
            criteria.append(Criterion("_id", None, (limit,)))
            limit = None
        try:
            total, found = self.store.search(rtype, criteria, patient=limit, count=count, offset=offset)
        except SearchError as exc:
            raise FhirProblem(400, "not-supported", str(exc)) from None
        entries = [self._entry(r, "match") for r in found]
        entries += [self._entry(r, "include") for r in self._included(access, found, includes)]
        links = [{"relation": "self", "url": self._page_url(rtype, params, offset)}]
        if offset + count < total:
            links.append({"relation": "next", "url": self._page_url(rtype, params, offset + count)})
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": entries,
        }
        return Result(200, bundle)

    def create(
        self,
        access: Access,
        rtype: str,
        resource: Any,
        if_none_exist: str | None = None,
        prefer: str | None = None,
    ) -> Result:
        limit = _check(access, rtype, "c")
        validate_resource(resource, expected_type=rtype)
        _check_compartment(limit, resource)
        with self.store.atomic():
            if if_none_exist:
                existing = self.conditional_match(access, rtype, if_none_exist)
                if existing is not None:
                    return self._write_result(200, existing, prefer)
            stored = self.store.create({k: v for k, v in resource.items() if k != "id"})
        return self._write_result(201, stored, prefer)

    def _oracle_charge_write(self, access: Access, method: str, parts: list[str], body: Any) -> Result:
        """Oracle's one ChargeItem write: ``POST ChargeItem/$create`` → 200, a Location, no body."""
        if method != "POST" or parts[1:] != ["$create"]:
            raise FhirProblem(
                405, "not-supported", f"{method} {'/'.join(parts)} is not supported: use ChargeItem/$create"
            )
        item = oracle_charges.charge_item_of(body)
        stored = self.create(access, "ChargeItem", item).body or {}
        return Result(200, None, {"Location": f"{self.base_url}/ChargeItem/{stored['id']}"})

    def conditional_match(self, access: Access, rtype: str, query: str) -> dict[str, Any] | None:
        """The one resource matching an ``If-None-Exist`` query, None for no match, 412 for several."""
        criteria, _, _, _ = self._parse_search(rtype, parse_qsl(query.lstrip("?"), keep_blank_values=True))
        limit = access.patient if not access.open and rtype in PATIENT_LINK else None
        try:
            total, found = self.store.search(rtype, criteria, patient=limit, count=2)
        except SearchError as exc:
            raise FhirProblem(400, "not-supported", f"If-None-Exist: {exc}") from None
        if total > 1:
            raise FhirProblem(412, "duplicate", f"If-None-Exist matched {total} {rtype} resources")
        return found[0] if found else None

    def update(
        self,
        access: Access,
        rtype: str,
        rid: str,
        resource: Any,
        if_match: str | None = None,
        prefer: str | None = None,
    ) -> Result:
        limit = _check(access, rtype, "u")
        validate_resource(resource, expected_type=rtype)
        if resource.get("id") != rid:
            raise FhirProblem(400, "invalid", f"resource id must equal the URL id {rid}", f"{rtype}.id")
        _check_compartment(limit, resource)
        version = if_match.removeprefix("W/").strip('"') if if_match else None
        try:
            stored, created = self.store.put(resource, if_match=version)
        except VersionConflict as exc:
            raise FhirProblem(412, "conflict", str(exc)) from None
        return self._write_result(201 if created else 200, stored, prefer)

    # -- helpers -------------------------------------------------------------------------------------------
    def _parse_search(
        self, rtype: str, params: list[tuple[str, str]]
    ) -> tuple[list[Criterion], int, int, list[str]]:
        criteria: list[Criterion] = []
        count, offset, includes = 50, 0, []
        for key, value in params:
            if key == "_count":
                count = _int_param(key, value, 0, MAX_COUNT)
            elif key == "_offset":
                offset = _int_param(key, value, 0, 10**9)
            elif key == "_include":
                includes.append(self._include_param(rtype, value))
            elif key not in IGNORED_PARAMS:
                name, _, modifier = key.partition(":")
                criteria.append(Criterion(name, modifier or None, tuple(value.split(","))))
        return criteria, count, offset, includes

    @staticmethod
    def _include_param(rtype: str, value: str) -> str:
        source, _, param = value.partition(":")
        if source != rtype or param not in include_params(rtype):
            raise FhirProblem(400, "not-supported", f"_include={value} is not supported")
        return param

    def _included(
        self, access: Access, found: list[dict[str, Any]], includes: list[str]
    ) -> list[dict[str, Any]]:
        if not includes or not found:
            return []
        seen: dict[str, dict[str, Any]] = {}
        for resource in found:
            params = PARAMS[resource["resourceType"]]
            for path in (p for name in includes for p in params[name].paths):
                for ref in walk(resource, path):
                    target = ref.get("reference", "") if isinstance(ref, dict) else ""
                    rtype, _, rid = target.partition("/")
                    if rid and "/" not in rid and target not in seen and rtype in SUPPORTED_TYPES:
                        try:
                            seen[target] = self.read(access, rtype, rid).body or {}
                        except (FhirProblem, Forbidden):
                            seen[target] = {}  # includes the caller may not read are left out, as servers do
        return [r for r in seen.values() if r]

    def _page_url(self, rtype: str, params: list[tuple[str, str]], offset: int) -> str:
        kept = [(k, v) for k, v in params if k != "_offset"] + ([("_offset", str(offset))] if offset else [])
        return f"{self.base_url}/{rtype}" + (f"?{urlencode(kept)}" if kept else "")

    def _entry(self, resource: dict[str, Any], mode: str) -> dict[str, Any]:
        url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
        return {"fullUrl": url, "resource": resource, "search": {"mode": mode}}

    def _version_headers(self, resource: dict[str, Any]) -> dict[str, str]:
        meta = resource.get("meta", {})
        headers = {"ETag": f'W/"{meta.get("versionId", "1")}"'}
        if meta.get("lastUpdated"):
            instant = datetime.fromisoformat(meta["lastUpdated"].replace("Z", "+00:00"))
            headers["Last-Modified"] = format_datetime(instant.astimezone(UTC), usegmt=True)
        return headers

    def _write_result(self, status: int, stored: dict[str, Any], prefer: str | None) -> Result:
        rtype, rid, version = stored["resourceType"], stored["id"], stored["meta"]["versionId"]
        headers = self._version_headers(stored)
        headers["Location"] = f"{self.base_url}/{rtype}/{rid}/_history/{version}"
        body: dict[str, Any] | None = stored
        if prefer and "return=minimal" in prefer:
            body = None
        elif prefer and "return=OperationOutcome" in prefer:
            body = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational"}],
            }
        return Result(status, body, headers)


def _check(access: Access, rtype: str, letter: str) -> str | None:
    try:
        return access.check(rtype, letter)
    except Forbidden as exc:
        other = exc.needed.split("/", 1)[1]
        raise FhirProblem(
            403, "forbidden", f"insufficient scope: {exc}; grant {exc.needed} or user/{other}"
        ) from None


def _owner(resource: dict[str, Any]) -> str | None:
    return patient_of(resource)


def _check_compartment(limit: str | None, resource: dict[str, Any]) -> None:
    if limit is None:
        return
    owner = _owner(resource)
    in_compartment = resource["resourceType"] in PATIENT_LINK or resource["resourceType"] == "Patient"
    if in_compartment and owner != limit:
        raise FhirProblem(403, "forbidden", f"patient-scoped token may only write for Patient/{limit}")


def _int_param(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise FhirProblem(400, "invalid", f"{name} must be an integer") from None
    return max(low, min(high, number))
