"""Tolerant accessors for FHIR JSON: every helper accepts anything and answers None/empty instead of raising.

Real EHR payloads break the spec in small ways (a CodeableConcept where a list is expected, a number where a
string is, a partial date); the reader must survive all of them and say what it could not tell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from billing_rules.model import Coding
from fhir_mappings.codes import normalise_code, normalise_system

Resource = Mapping[str, Any]


def as_list(value: Any) -> list[Any]:
    """A FHIR repeating element as a list (a single value sent where a list belongs is wrapped)."""
    if value is None:
        return []
    if type(value) is list or isinstance(value, list):
        return value
    return [value]


_EMPTY: Mapping[str, Any] = {}


def as_map(value: Any) -> Mapping[str, Any]:
    if type(value) is dict:  # the common case, without the cost of an ABC check
        return value
    return value if isinstance(value, Mapping) else _EMPTY


def text(value: Any) -> str | None:
    """A trimmed non-empty string, or None."""
    if isinstance(value, str):
        return value.strip() or None
    return None


def codings(concept: Any) -> list[Coding]:
    """Codings of a CodeableConcept (or of a bare Coding) with normalised systems and trimmed codes."""
    if type(concept) is dict:  # the usual shape, a CodeableConcept with a list of Codings: no helper calls
        inner = concept.get("coding")
        if type(inner) is list and all(type(c) is dict for c in inner):
            made = [_coding(c.get("system"), c.get("code"), c.get("display")) for c in inner]
            return [c for c in made if c is not None]
    out: list[Coding] = []
    for concept_item in as_list(concept):
        item = as_map(concept_item)
        raw = item.get("coding") if "coding" in item else [item]
        for coding in as_list(raw):
            c = as_map(coding)
            found = _coding(c.get("system"), c.get("code"), c.get("display"))
            if found is not None:
                out.append(found)
    return out


_CODINGS: dict[tuple[Any, Any, Any], Coding | None] = {}
_CODINGS_LIMIT = 100_000


def _coding(system: Any, code: Any, display: Any) -> Coding | None:
    """One normalised Coding, memoised: the same few codings recur across an export's resources, and each
    costs several regular-expression normalisations the first time (Coding is frozen, so sharing is safe)."""
    key = (system, code, display)
    try:
        return _CODINGS[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value where a string belongs: normalise without the memo
        return _new_coding(system, code, display)
    found = _new_coding(system, code, display)
    if len(_CODINGS) >= _CODINGS_LIMIT:
        _CODINGS.clear()
    _CODINGS[key] = found
    return found


def _new_coding(system: Any, code: Any, display: Any) -> Coding | None:
    normal = normalise_code(code)
    return Coding(normalise_system(system), normal, text(display)) if normal else None


def codes_in(concept: Any, system: str) -> list[str]:
    return [c.code for c in codings(concept) if c.system == system]


def concept_text(concept: Any) -> str | None:
    """``CodeableConcept.text``, else the first coding's display."""
    for item in as_list(concept):
        label = text(as_map(item).get("text"))
        if label:
            return label
    for c in codings(concept):
        if c.display:
            return c.display
    return None


def first_code(concept: Any) -> str | None:
    """The first code of a CodeableConcept whatever its system, lower-cased (status vocabularies)."""
    found = codings(concept)
    if found:
        return found[0].code.lower()
    label = concept_text(concept)
    return label.lower() if label else None


_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: Any) -> date | None:
    """The calendar date of a FHIR date or dateTime; partial dates (``2020``, ``2020-05``) give None."""
    if not isinstance(value, str):
        return None
    return _parse_date(value)


@lru_cache(maxsize=16384)
def _parse_date(value: str) -> date | None:
    """Memoised: an export's resources share a few hundred dates (date is immutable, so sharing is safe)."""
    match = _DATE.match(value)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


_NAME_USE_RANK = {"official": 0, "usual": 1, "old": 3, "maiden": 3}


def human_name(names: Any) -> str | None:
    """'Given Family' of the current name (official, else usual, never an old one when another exists),
    falling back to ``HumanName.text``."""
    candidates = [as_map(n) for n in as_list(names) if isinstance(n, Mapping)]
    if not candidates:
        return None
    chosen = min(candidates, key=lambda n: _NAME_USE_RANK.get(str(n.get("use")), 2))
    given = [g.strip() for g in as_list(chosen.get("given")) if isinstance(g, str) and g.strip()]
    family_parts = [f.strip() for f in as_list(chosen.get("family")) if isinstance(f, str) and f.strip()]
    parts = given + family_parts
    return " ".join(parts) if parts else text(chosen.get("text"))


def identifiers(resource: Resource) -> tuple[str, ...]:
    """Business identifiers as ``system|value`` (``|value`` when the system is absent)."""
    out = []
    for ident in as_list(resource.get("identifier")):
        item = as_map(ident)
        value = text(item.get("value"))
        if value:
            out.append(f"{text(item.get('system')) or ''}|{value}")
    return tuple(out)


def identifier_value(resource: Resource, system: str) -> str | None:
    for ident in as_list(resource.get("identifier")):
        item = as_map(ident)
        if normalise_system(item.get("system")) == system and text(item.get("value")):
            return text(item.get("value"))
    return None


class References:
    """Resolves references (relative, absolute, ``urn:uuid:`` fullUrls) to ``Type/id`` keys."""

    def __init__(self, entries: Iterable[tuple[Resource, str | None]]) -> None:
        self._by_full_url: dict[str, str] = {}
        self._by_id: dict[str, set[str]] = {}
        for resource, full_url in entries:
            key = resource_key(resource)
            if key is None:
                continue
            if full_url:
                self._by_full_url[full_url.strip()] = key
            self._by_id.setdefault(key.split("/", 1)[1], set()).add(key)

    def key(self, reference: Any) -> str | None:
        """``Type/id`` for a Reference (or a reference string), or None when it cannot be told."""
        if type(reference) is dict or isinstance(reference, Mapping):
            reference = reference.get("reference")
        ref = text(reference)
        if ref is None or ref.startswith("#"):
            return None
        if ref in self._by_full_url:
            return self._by_full_url[ref]
        if ref[:9].lower() == "urn:uuid:":
            keys = self._by_id.get(ref[len("urn:uuid:") :], set())
            return next(iter(keys)) if len(keys) == 1 else None
        return key_from_url(ref)


_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")


@lru_cache(maxsize=65536)
def key_from_url(ref: str) -> str | None:
    """``Patient/1`` from ``Patient/1``, ``https://ehr/fhir/Patient/1`` or ``Patient/1/_history/3``.

    Memoised: the same few references (the patient, the clinicians) recur in every resource of an export."""
    head, slash, tail = ref.partition("/")
    if slash and tail and "/" not in tail and "?" not in tail and _TYPE.match(head):
        return ref  # already Type/id, the usual shape in an export
    parts = [p for p in ref.split("?", 1)[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and _TYPE.match(parts[-2]):
        return f"{parts[-2]}/{parts[-1]}"
    return None


def resource_key(resource: Resource) -> str | None:
    rtype, rid = text(resource.get("resourceType")), resource.get("id")
    rid = text(rid) if not isinstance(rid, int) else str(rid)
    return f"{rtype}/{rid}" if rtype and rid else None


def key_id(key: str | None, rtype: str) -> str | None:
    """The id part of a ``Type/id`` key when it is of the wanted type."""
    if key and key.startswith(rtype + "/"):
        return key.split("/", 1)[1]
    return None
