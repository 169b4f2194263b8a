"""Lists the launcher and the standalone login show: practitioners, patients, encounters (from the store)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox_ehr.store import Criterion, FhirStore

PICKER_LIMIT = 500


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    detail: str = ""


def human_name(resource: dict[str, Any] | None) -> str:
    names = (resource or {}).get("name") or []
    if not names:
        return "(no name)"
    name = names[0]
    if name.get("text"):
        return str(name["text"])
    return " ".join([*name.get("prefix", []), *name.get("given", []), name.get("family", "")]).strip()


def practitioners(store: FhirStore) -> list[Choice]:
    _, found = store.search("Practitioner", [], count=PICKER_LIMIT)
    roles = _role_by_practitioner(store)
    return [Choice(p["id"], human_name(p), roles.get(p["id"], "")) for p in found]


def _role_by_practitioner(store: FhirStore) -> dict[str, str]:
    roles: dict[str, str] = {}
    for p in store.search("Practitioner", [], count=PICKER_LIMIT)[1]:
        for qual in p.get("qualification", []):
            for coding in qual.get("code", {}).get("coding", []):
                if coding.get("system") == "http://nucc.org/provider-taxonomy":
                    roles[p["id"]] = coding.get("display") or coding.get("code", "")
    return roles


def performer(store: FhirStore, encounter_id: str | None) -> str | None:
    """The first Practitioner taking part in an encounter (Synthea and the edu cases name one)."""
    enc = store.read("Encounter", encounter_id) if encounter_id else None
    for part in (enc or {}).get("participant", []):
        ref = part.get("individual", {}).get("reference", "")
        if ref.startswith("Practitioner/"):
            return str(ref.split("/", 1)[1])
    return None


def patients(store: FhirStore) -> list[Choice]:
    _, found = store.search("Patient", [], count=PICKER_LIMIT)
    return [Choice(p["id"], human_name(p), p.get("birthDate", "")) for p in found]


def encounters(store: FhirStore, patient_id: str) -> list[Choice]:
    """The patient's encounters, most recent first."""
    _, found = store.search(
        "Encounter", [Criterion("patient", None, (f"Patient/{patient_id}",))], count=PICKER_LIMIT
    )
    found.sort(key=lambda e: e.get("period", {}).get("start", ""), reverse=True)
    return [Choice(e["id"], _encounter_label(e), e.get("class", {}).get("code", "")) for e in found]


def _encounter_label(enc: dict[str, Any]) -> str:
    start = enc.get("period", {}).get("start", "")[:10]
    kind = (
        (enc.get("type") or [{}])[0].get("text")
        or enc.get("class", {}).get("display")
        or enc.get("class", {}).get("code", "")
    )
    return f"{start} {kind}".strip()
