"""Write-back configuration: what the launch profile's ``[writeback]`` says, and the strategy it leads to.

``smart_app.profiles`` (another module) owns the launch profile; ``WritebackConfig.from_profile`` adapts its
``writeback`` section (an object or a plain mapping) so this package does not depend on its exact shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fhir_mappings.write import PLAIN_TEXT_UTF8, BillCode
from smart_app import capabilities
from smart_app.capabilities import ResourceFacts
from smart_app.fhir_client import FhirClient

ChargeMode = Literal["create", "operation", "none"]
NoteMode = Literal["create", "none"]
Strategy = Literal["transaction", "sequential", "operation", "note-only"]


class WritebackConfigError(ValueError):
    """The profile cannot write this service (e.g. no bill-code mapping for a CPT code)."""


PROFILE_FIELDS = (
    "chargeitem",
    "documentreference",
    "transaction",
    "conditional_create",
    "note_content_type",
    "bill_code_system",
    "bill_codes",
    "provenance",
)


@dataclass(frozen=True)
class WritebackConfig:
    chargeitem: ChargeMode = "create"
    documentreference: NoteMode = "create"
    transaction: bool = True
    conditional_create: bool = True
    provenance: bool = True  # also needs the server to list Provenance create
    note_content_type: str = PLAIN_TEXT_UTF8
    # Oracle Health $create: the tenant's CPT-tier bill-code system, and explicit CPT -> bill code overrides.
    bill_code_system: str | None = None
    bill_codes: Mapping[str, BillCode] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WritebackConfig:
        """From a profile's ``[writeback]`` table; unknown keys are ignored."""
        bill_codes = {
            cpt: v if isinstance(v, BillCode) else BillCode(
                system=str(v["system"]), code=str(v["code"]),
                schedule_system=v.get("schedule_system"), schedule_code=v.get("schedule_code"),
            )
            for cpt, v in (data.get("bill_codes") or {}).items()
        }  # fmt: skip
        return cls(
            chargeitem=data.get("chargeitem", "create"),
            documentreference=data.get("documentreference", "create"),
            transaction=bool(data.get("transaction", True)),
            conditional_create=bool(data.get("conditional_create", True)),
            provenance=bool(data.get("provenance", True)),
            note_content_type=str(data.get("note_content_type") or PLAIN_TEXT_UTF8),
            bill_code_system=data.get("bill_code_system"),
            bill_codes=bill_codes,
        )

    @classmethod
    def from_profile(cls, writeback: Any) -> WritebackConfig:
        """From ``smart_app.profiles.Profile.writeback`` (or a mapping, or one of ours)."""
        if isinstance(writeback, WritebackConfig):
            return writeback
        if isinstance(writeback, Mapping):
            return cls.from_mapping(writeback)
        return cls.from_mapping({k: getattr(writeback, k) for k in PROFILE_FIELDS if hasattr(writeback, k)})

    @classmethod
    def from_capabilities(cls, client: FhirClient) -> WritebackConfig:
        """What a server with no profile offers, read from its CapabilityStatement (``sandbox-test``)."""
        facts = capabilities.of(client)
        charge = facts.resource("ChargeItem") or ResourceFacts()
        note = facts.resource("DocumentReference") or ResourceFacts()
        chargeitem: ChargeMode = "none"
        if charge.has("create"):
            chargeitem = "create"
        elif "create" in charge.operations:
            chargeitem = "operation"
        return cls(
            chargeitem=chargeitem,
            documentreference="create" if note.has("create") else "none",
            transaction=facts.transaction,
            conditional_create=charge.conditional_create and note.conditional_create,
        )

    def bill_code(self, cpt: str) -> BillCode:
        """The tenant bill code for a CPT code: an explicit mapping, else the code itself in the CPT tier."""
        if cpt in self.bill_codes:
            return self.bill_codes[cpt]
        if self.bill_code_system and self.bill_code_system.endswith("/BillCodes-CPT"):
            return BillCode(system=self.bill_code_system, code=cpt)
        raise WritebackConfigError(f"the profile has no bill-code mapping for {cpt}")

    def sibling_system(self, tier: str) -> str | None:
        """``BillCodes-ICD`` / ``BillCodes-MODIFIER`` of the same tenant as the CPT-tier system."""
        if not self.bill_code_system or "/BillCodes-" not in self.bill_code_system:
            return None
        return self.bill_code_system.rsplit("/BillCodes-", 1)[0] + f"/BillCodes-{tier}"


def choose_strategy(config: WritebackConfig, client: FhirClient, *, note_only: bool) -> Strategy:
    """Transaction only where the profile allows it (with conditional create) AND the server lists it."""
    if note_only or config.chargeitem == "none":
        return "note-only"
    if config.chargeitem == "operation":
        return "operation"
    if config.transaction and config.conditional_create and capabilities.of(client).transaction:
        return "transaction"
    return "sequential"


def server_takes_provenance(config: WritebackConfig, client: FhirClient) -> bool:
    """Provenance only where the profile allows it and the CapabilityStatement lists Provenance create."""
    return config.provenance and server_lists_create(client, "Provenance")


def server_lists_create(client: FhirClient, resource_type: str) -> bool:
    return capabilities.of(client).creates(resource_type)
