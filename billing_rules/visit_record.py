"""Parse a visit's JSON (DESIGN.md §4) into a VisitRecord; ``parse_record`` takes a service or a visit.

Visit-level fields are any ServiceRecord field except ``code`` and apply to each service that does not
set its own (a service's ``null`` means "not given here", so the visit's value applies).
``other_timed_minutes`` is derived from the services and refused anywhere in a visit. Bad input raises
``BadInput`` naming the field's path, e.g. ``services[1].minutes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing_rules.errors import BadInput
from billing_rules.model import ServiceRecord
from billing_rules.service_record import PARSERS, parse_service_record
from billing_rules.service_record import _unknown as unknown_field
from billing_rules.visit import VisitRecord

MAX_SERVICES = 20  # more distinct services than this in one visit is not credible
DERIVED = "is derived from the visit's services; remove it (each service gives its own minutes)"


def parse_record(data: Mapping[str, Any]) -> ServiceRecord | VisitRecord:
    """A JSON object with ``services`` is a visit; anything else is one service."""
    if isinstance(data, Mapping) and "services" in data:
        return parse_visit_record(data)
    return parse_service_record(data)


def _shared(data: Mapping[str, Any]) -> dict[str, Any]:
    """The visit-level values, each checked on its own (a bad one is named at the visit level)."""
    shared = {}
    for key, raw in data.items():
        if key == "services":
            continue
        if key == "other_timed_minutes":
            raise BadInput(key, DERIVED)
        if key == "code":
            raise BadInput(key, "belongs to each service: put it in services[...]")
        if key not in PARSERS:
            raise BadInput(str(key), unknown_field(str(key), {**PARSERS, "services": None}))
        if raw is not None:
            PARSERS[key](key, raw)
            shared[key] = raw
    return shared


def _service(index: int, raw: Any, shared: Mapping[str, Any]) -> ServiceRecord:
    where = f"services[{index}]"
    if not isinstance(raw, Mapping):
        raise BadInput(where, "must be an object with at least a code")
    if "other_timed_minutes" in raw:
        raise BadInput(f"{where}.other_timed_minutes", DERIVED)
    own = {k: v for k, v in raw.items() if v is not None}
    try:
        return parse_service_record({**shared, **own})
    except BadInput as exc:
        top = exc.field.split(".")[0].split("[")[0]
        if top in own or top not in shared:
            raise BadInput(f"{where}.{exc.field}", exc.message) from exc
        raise


def parse_visit_record(data: Mapping[str, Any]) -> VisitRecord:
    """Build a VisitRecord from JSON-like data; raise BadInput naming the first bad field's path."""
    if not isinstance(data, Mapping):
        raise BadInput("visit", "must be a JSON object")
    services = data.get("services")
    if not isinstance(services, list):
        raise BadInput("services", "must be a list of services" if services is not None else "is required")
    if not services:
        raise BadInput("services", "must list at least one service")
    if len(services) > MAX_SERVICES:
        raise BadInput(
            "services", f"{len(services)} services are not credible for one visit (at most {MAX_SERVICES})"
        )
    shared = _shared(data)
    records = [_service(i, raw, shared) for i, raw in enumerate(services)]
    _one_date_and_distinct_codes(records)
    return VisitRecord(services=tuple(records))


def _one_date_and_distinct_codes(records: list[ServiceRecord]) -> None:
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        if record.code in seen:
            first = seen[record.code]
            raise BadInput(
                f"services[{i}].code",
                f"{record.code} is already on this visit (services[{first}]); give its minutes once",
            )
        seen[record.code] = i
    first_date = next((r.service_date for r in records if r.service_date is not None), None)
    for i, record in enumerate(records):
        if record.service_date not in (None, first_date):
            raise BadInput(
                f"services[{i}].service_date", "a visit is on one date; document another day as its own visit"
            )
