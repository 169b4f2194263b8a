"""Validation of incoming resources with ``fhir.resources.R4B`` (strict writes, like a real server)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from sandbox_ehr.outcome import FhirProblem
from sandbox_ehr.searchparams import SUPPORTED_TYPES


def validate_resource(resource: Any, *, expected_type: str | None = None) -> None:
    """Raise a 400 FhirProblem naming the first invalid element's path; unknown types are 404."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirProblem(400, "structure", "body is not a FHIR resource (no resourceType)")
    rtype = resource["resourceType"]
    if expected_type and rtype != expected_type:
        raise FhirProblem(400, "invalid", f"resourceType {rtype} does not match the URL ({expected_type})")
    if rtype not in SUPPORTED_TYPES:
        raise FhirProblem(404, "not-supported", f"resource type {rtype} is not supported by this server")
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _fhirpath(rtype, first.get("loc", ()))
        raise FhirProblem(400, "invalid", f"{path}: {first.get('msg', 'invalid')}", path) from None


def _fhirpath(rtype: str, loc: tuple[Any, ...]) -> str:
    path = rtype
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path
