"""Provider role from NUCC taxonomy codes (PractitionerRole.code/specialty, Practitioner.qualification) and,
as a fallback, HL7 v2-0360 degree/licence codes (rules-contract §1).

NUCC codes checked against the NUCC Health Care Provider Taxonomy: PT 2251..., PTA 225200000X, OT 225X...,
OTA 224Z... (224Z00000X and its specialisations; there is no 224Z00100X), RN 163W..., dietitian 133V...,
physicians 20... (allopathic and osteopathic: 202/204/207/208/2098), NP 363L..., PA 363A..., community health
worker 172V00000X.

Decision on CDCES: NUCC has no code for the CDCES credential. 163WD0400X is "Registered Nurse, Diabetes
Educator": the licence (RN) is what payers key on, so it maps to RN. CDCES comes only from a qualification
code or text naming the credential (``CDCES``, ``CDE``), and only when no licensed role is found.
When several roles are named (an NP who is also an RN), the highest licence wins and a note says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from billing_rules.model import Provider, ProviderRole
from fhir_mappings.codes import NPI, NUCC, V2_0360
from fhir_mappings.read_util import Resource, as_list, as_map, codings, human_name, identifier_value, text

# Longest prefix first; (prefix, role).
_TAXONOMY_PREFIXES: tuple[tuple[str, ProviderRole], ...] = (
    ("225200000X", "PTA"),
    ("2251", "PT"),
    ("225X", "OT"),
    ("224Z", "OTA"),
    ("163W", "RN"),
    ("133V", "RD"),
    ("363L", "NP"),
    ("363A", "PA"),
    ("172V", "CHW"),
    ("20", "MD"),  # physician; MD or DO decided by the degree
)

_DEGREES: dict[str, ProviderRole] = {
    "MD": "MD", "DO": "DO", "RN": "RN", "NP": "NP", "CNP": "NP", "FNP": "NP", "FPNP": "NP", "CPNP": "NP",
    "CANP": "NP", "APRN": "NP", "PA": "PA", "PA-C": "PA", "PT": "PT", "DPT": "PT", "PTA": "PTA", "OT": "OT",
    "OTR": "OT", "OTR/L": "OT", "OTA": "OTA", "COTA": "OTA", "RD": "RD", "RDN": "RD", "CDCES": "CDCES",
    "CDE": "CDCES", "CHW": "CHW",
}  # fmt: skip

# Highest licence first: the role a payer sees on the claim.
_PRECEDENCE: tuple[ProviderRole, ...] = (
    "MD",
    "DO",
    "NP",
    "PA",
    "PT",
    "OT",
    "RN",
    "RD",
    "PTA",
    "OTA",
    "CDCES",
    "CHW",
)


def role_from_taxonomy(code: str) -> ProviderRole:
    """The role a NUCC taxonomy code names; ``other`` for any code outside the roles the rules know."""
    upper = code.strip().upper()
    for prefix, role in _TAXONOMY_PREFIXES:
        if upper.startswith(prefix):
            return role
    return "other"


def _degree_roles(practitioner: Mapping[str, Any]) -> list[ProviderRole]:
    roles: list[ProviderRole] = []
    for qual in as_list(practitioner.get("qualification")):
        concept = as_map(qual).get("code")
        for c in codings(concept):
            if c.system in (V2_0360, None) and c.code.upper() in _DEGREES:
                roles.append(_DEGREES[c.code.upper()])
        label = (text(as_map(concept).get("text")) or "").upper()
        if label in _DEGREES:
            roles.append(_DEGREES[label])
    return roles


def _taxonomies(concepts: Iterable[Any]) -> list[str]:
    return [c.code.upper() for concept in concepts for c in codings(concept) if c.system == NUCC]


def _pick(roles: list[ProviderRole], notes: list[str], source: str) -> ProviderRole | None:
    known = [r for r in _PRECEDENCE if r in roles]
    if not known:
        return "other" if roles else None
    if len(known) > 1:
        notes.append(f"The clinician's {source} name several roles ({', '.join(known)}); used {known[0]}.")
    return known[0]


def provider_and_notes(
    practitioner: Mapping[str, Any] | None, roles: Iterable[Resource]
) -> tuple[Provider, list[str]]:
    """Provider plus plain-language notes on what could not be told."""
    prac = as_map(practitioner)
    role_list = [as_map(r) for r in roles]
    notes: list[str] = []
    role_concepts = [x for r in role_list for key in ("code", "specialty") for x in as_list(r.get(key))]
    role_tax = _taxonomies(role_concepts)
    qual_tax = _taxonomies(as_map(q).get("code") for q in as_list(prac.get("qualification")))
    degrees = _degree_roles(prac)
    role = (
        _pick([role_from_taxonomy(t) for t in role_tax], notes, "PractitionerRole codes")
        or _pick([role_from_taxonomy(t) for t in qual_tax], notes, "qualifications")
        or _pick(degrees, notes, "degrees")
    )
    if role == "MD" and "DO" in degrees and "MD" not in degrees:
        role = "DO"
    if role is None:
        role = "unknown"
        notes.append("The clinician's role could not be told: no NUCC taxonomy or degree code was found.")
    elif role == "other":
        notes.append("The clinician's taxonomy is outside the roles the billing rules know.")
    pid = text(prac.get("id"))
    return (
        Provider(
            role=role,
            name=human_name(prac.get("name")),
            reference=f"Practitioner/{pid}" if pid else None,
            npi=identifier_value(prac, NPI)
            or next((v for r in role_list if (v := identifier_value(r, NPI))), None),
            taxonomy=tuple(dict.fromkeys(role_tax + qual_tax)),
        ),
        notes,
    )


def provider_from_resources(practitioner: Mapping[str, Any] | None, roles: Iterable[Resource]) -> Provider:
    """The clinician's Provider from their Practitioner and PractitionerRole resources."""
    return provider_and_notes(practitioner, roles)[0]
