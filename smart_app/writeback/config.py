"""Write-back configuration: what the launch profile's ``[writeback]`` says, and the strategy it leads to.

``smart_app.profiles`` (another module) owns the launch profile; ``WritebackConfig.from_profile`` adapts its
``writeback`` section (an object or a plain mapping) so this package does not depend on its exact shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fhir_mappings.write import PLAIN_TEXT_UTF8, BillCode
from smart_app.fhir_client import FhirClient

ChargeMode = Literal["create", "operation", "none"]
NoteMode = Literal["create", "none"]
Strategy = Literal["transaction", "sequential", "operation", "note-only"]


class WritebackConfigError(ValueError):
    """The profile cannot write this service (e.g. no bill-code mapping for a CPT code)."""


@dataclass(frozen=True)
class WritebackConfig:
    chargeitem: ChargeMode = "create"
    documentreference: NoteMode = "create"
    transaction: bool = True
    provenance: bool = True
    note_content_type: str = PLAIN_TEXT_UTF8
    # Oracle Health $create: CPT code -> tenant bill code; ICD and modifier bill-code systems.
    bill_codes: Mapping[str, BillCode] = field(default_factory=dict)
    icd_bill_code_system: str | None = None
    modifier_bill_code_system: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WritebackConfig:
        """From a profile's ``[writeback]`` table (quirks included); unknown keys are ignored."""
        bill_codes = {
            cpt: BillCode(
                system=str(v["system"]),
                code=str(v["code"]),
                schedule_system=v.get("schedule_system"),
                schedule_code=v.get("schedule_code"),
            )
            for cpt, v in (data.get("bill_codes") or {}).items()
        }
        return cls(
            chargeitem=data.get("chargeitem", "create"),
            documentreference=data.get("documentreference", "create"),
            transaction=bool(data.get("transaction", True)),
            provenance=bool(data.get("provenance", True)),
            note_content_type=str(data.get("note_content_type") or data.get("mime_type") or PLAIN_TEXT_UTF8),
            bill_codes=bill_codes,
            icd_bill_code_system=data.get("icd_bill_code_system"),
            modifier_bill_code_system=data.get("modifier_bill_code_system"),
        )

    @classmethod
    def from_profile(cls, writeback: Any) -> WritebackConfig:
        """From ``Profile.writeback``: a WritebackConfig, a mapping, or an object with the same attributes."""
        if isinstance(writeback, WritebackConfig):
            return writeback
        if isinstance(writeback, Mapping):
            return cls.from_mapping(writeback)
        data = {k: getattr(writeback, k) for k in dir(writeback) if not k.startswith("_")}
        quirks = data.pop("quirks", None)
        if isinstance(quirks, Mapping):
            data = {**quirks, **data}
        return cls.from_mapping(data)

    @classmethod
    def from_capabilities(cls, client: FhirClient) -> WritebackConfig:
        """What a server with no profile offers, read from its CapabilityStatement (``sandbox-test``)."""
        charge = client.resource_capability("ChargeItem") or {}
        note = client.resource_capability("DocumentReference") or {}
        prov = client.resource_capability("Provenance") or {}
        chargeitem: ChargeMode = "none"
        if _has(charge, "create"):
            chargeitem = "create"
        elif any(op.get("name") == "create" for op in charge.get("operation") or []):
            chargeitem = "operation"
        return cls(
            chargeitem=chargeitem,
            documentreference="create" if _has(note, "create") else "none",
            transaction=client.supports_system("transaction"),
            provenance=_has(prov, "create"),
        )


def choose_strategy(config: WritebackConfig, client: FhirClient, *, note_only: bool) -> Strategy:
    """Transaction only where the profile allows it AND the server's CapabilityStatement lists it."""
    if note_only or config.chargeitem == "none":
        return "note-only"
    if config.chargeitem == "operation":
        return "operation"
    if config.transaction and client.supports_system("transaction"):
        return "transaction"
    return "sequential"


def _has(resource_caps: Mapping[str, Any], interaction: str) -> bool:
    return any(i.get("code") == interaction for i in resource_caps.get("interaction") or [])
