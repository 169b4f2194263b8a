"""A small, independent check of a resource against a published US Core 6.1.0 profile (tests only).

The profiles in tests/data/us-core-6.1.0 are the published differentials (SOURCES.md). This walks each
differential element: cardinality per parent instance (slices selected by their pattern discriminator or, for
a binding-defined slice, by its code system), fixed patterns, reference targets (a contained ``#id`` resolved
to its resource, which is then checked against its own US Core profile where one is here), required bindings
with a value set known offline, and every FHIRPath invariant, evaluated with fhirpathpy at each instance with
``resolve()`` implemented over contained resources and literal references. Base R4 rules are left to the
model validators (fhir.resources, Medplum). Bindings it cannot expand offline are returned as "unchecked".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

DATA = Path(__file__).parent / "data" / "us-core-6.1.0"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
TARGET_TYPES = {
    f"{US_CORE}us-core-patient": "Patient",
    f"{US_CORE}us-core-practitioner": "Practitioner",
    f"{US_CORE}us-core-practitionerrole": "PractitionerRole",
    f"{US_CORE}us-core-organization": "Organization",
    f"{US_CORE}us-core-relatedperson": "RelatedPerson",
    f"{US_CORE}us-core-encounter": "Encounter",
    "http://hl7.org/fhir/StructureDefinition/Device": "Device",
}
PROFILE_OF = {"Organization": "us-core-organization"}
KNOWN_VALUE_SETS = {
    "http://hl7.org/fhir/ValueSet/document-reference-status": {"current", "superseded", "entered-in-error"}
}
CATEGORY_VS = "http://hl7.org/fhir/us/core/ValueSet/us-core-documentreference-category"


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return data


def check(
    resource: dict[str, Any], profile: str, report: Report | None = None, root: dict[str, Any] | None = None
) -> Report:
    """Check ``resource`` against the profile named like ``us-core-provenance``."""
    report = report or Report()
    root = root or resource
    sd = load(f"StructureDefinition-{profile}")
    elements = {e["id"]: e for e in sd["differential"]["element"]}
    for element in elements.values():
        if "." not in element["id"]:
            continue
        parent_id, name = element["id"].rsplit(".", 1)
        for parent in _instances(resource, parent_id, elements, root):
            base, _, slice_name = name.partition(":")
            values = _children(parent, base)
            if slice_name:
                values = [v for v in values if _in_slice(v, element["id"], elements)]
            _cardinality(element, values, report)
            for value in values:
                _value(element, value, report, root)
    return report


def _instances(resource: Any, element_id: str, elements: dict[str, Any], root: dict[str, Any]) -> list[Any]:
    parts = element_id.split(".")
    current = [resource]
    for i, part in enumerate(parts[1:], start=1):
        base, _, slice_name = part.partition(":")
        current = [c for item in current for c in _children(item, base)]
        if slice_name:
            current = [c for c in current if _in_slice(c, ".".join(parts[: i + 1]), elements)]
    return current


def _children(item: Any, name: str) -> list[Any]:
    if not isinstance(item, dict) or name not in item:
        return []
    value = item[name]
    return value if isinstance(value, list) else [value]


def _in_slice(value: Any, slice_id: str, elements: dict[str, Any]) -> bool:
    """Pattern discriminators (on a child or on $this); a slice defined by a binding: its code system."""
    own = elements.get(slice_id, {})
    patterns = [(k, v) for k, v in own.items() if k.startswith("pattern")]
    for child_id, child in elements.items():
        if child_id.startswith(slice_id + ".") and child_id.count(".") == slice_id.count(".") + 1:
            name = child_id.rsplit(".", 1)[1]
            for key, pattern in child.items():
                if key.startswith("pattern") and not any(
                    _matches(v, pattern) for v in _children(value, name)
                ):
                    return False
    if patterns:
        return all(_matches(value, p) for _, p in patterns)
    binding = own.get("binding", {})
    if binding.get("valueSet") == CATEGORY_VS:
        return _in_category(value)
    return True


def _matches(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_matches(v, p) for v in value) for p in pattern)
    return bool(value == pattern)


def _cardinality(element: dict[str, Any], values: list[Any], report: Report) -> None:
    low, high = element.get("min"), element.get("max")
    if low is not None and len(values) < low:
        report.errors.append(f"{element['id']}: {len(values)} found, at least {low} required")
    if high not in (None, "*") and len(values) > int(high):
        report.errors.append(f"{element['id']}: {len(values)} found, at most {high} allowed")


def _value(element: dict[str, Any], value: Any, report: Report, root: dict[str, Any]) -> None:
    for key, pattern in element.items():
        if key.startswith("pattern") and not _matches(value, pattern):
            report.errors.append(f"{element['id']}: does not match its pattern")
    targets = [p for t in element.get("type", []) for p in t.get("targetProfile", [])]
    if targets and isinstance(value, dict) and "reference" in value:
        _reference(element["id"], value["reference"], targets, report, root)
    _binding(element, value, report)
    for constraint in element.get("constraint", []):
        table = {"resolve": {"fn": _resolver(root), "arity": {0: []}}}
        result = evaluate(
            value, constraint["expression"], model=models["r4"], options={"userInvocationTable": table}
        )
        if result != [True] and constraint.get("severity", "error") == "error":
            report.errors.append(
                f"{element['id']}: invariant {constraint['key']} fails ({constraint['human']})"
            )


def _reference(where: str, ref: str, targets: list[str], report: Report, root: dict[str, Any]) -> None:
    allowed = {TARGET_TYPES.get(t, "?") for t in targets}
    target = _resolve_one(ref, root)
    kind = target.get("resourceType") if target else None
    if kind not in allowed:
        report.errors.append(f"{where}: {ref} is a {kind}, not one of {sorted(allowed)}")
        return
    if ref.startswith("#") and kind in PROFILE_OF and target is not None:
        check(target, PROFILE_OF[kind], report, root)


def _binding(element: dict[str, Any], value: Any, report: Report) -> None:
    binding = element.get("binding") or {}
    if binding.get("strength") != "required":
        return
    vs = binding.get("valueSet", "")
    if vs in KNOWN_VALUE_SETS:
        if value not in KNOWN_VALUE_SETS[vs]:
            report.errors.append(f"{element['id']}: {value!r} is not in {vs}")
    elif vs == CATEGORY_VS:
        if not _in_category(value):
            report.errors.append(f"{element['id']}: no coding from {vs}")
    else:
        report.unchecked.append(f"{element['id']} ({vs})")


def _in_category(value: Any) -> bool:
    system = load("CodeSystem-us-core-documentreference-category")
    codes = {c["code"] for c in system["concept"]}
    codings = value.get("coding", []) if isinstance(value, dict) else []
    return any(c.get("system") == system["url"] and c.get("code") in codes for c in codings)


def _resolve_one(ref: str, root: dict[str, Any]) -> dict[str, Any] | None:
    if ref.startswith("#"):
        return next((c for c in root.get("contained", []) if c.get("id") == ref[1:]), None)
    parts = ref.split("/")
    return {"resourceType": parts[-2], "id": parts[-1]} if len(parts) >= 2 else None


def _resolver(root: dict[str, Any]) -> Any:
    def resolve(inputs: list[Any]) -> list[Any]:
        out = []
        for ref in inputs:
            found = _resolve_one(ref.get("reference", ""), root) if isinstance(ref, dict) else None
            if found is not None:
                out.append(ResourceNode.create_node(found, found["resourceType"]))
        return out

    return resolve
