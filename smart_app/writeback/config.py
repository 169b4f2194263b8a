"""Write-back configuration: what the launch profile's ``[writeback]`` says, and the strategy it leads to.

One ``WritebackConfig``, owned by the launch profile: ``smart_app.profiles`` validates the ``[writeback]``
table and builds it with ``from_mapping`` (so a key the profile leaves out has the default declared here,
and only here); ``sandbox-test`` without a profile builds it from the server's CapabilityStatement.
The defaults are the careful ones: no transaction and no reliance on conditional create unless the profile
says the EHR honours them, a Provenance where the server lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from fhir_mappings.write import PLAIN_TEXT_UTF8, BillCode
from smart_app import capabilities
from smart_app.capabilities import ResourceFacts
from smart_app.fhir_client import FhirClient

# A new charge's FHIR ChargeItem.status: billable (ready for billing), planned (held for a coder's review
# before it is billed), unknown (Oracle Health's ChargeItem/$create accepts nothing else). The value set's
# other codes (not-billable, aborted, billed, entered-in-error) describe a charge's later life, not its start.
CHARGEITEM_STATUSES = ("billable", "planned", "unknown")
ORACLE_CHARGE_STATUS = "unknown"

ChargeMode = Literal["create", "operation", "none"]
NoteMode = Literal["create", "none"]
Strategy = Literal["transaction", "sequential", "operation", "note-only"]


class WritebackConfigError(ValueError):
    """The profile cannot write this service (e.g. no bill-code mapping for a CPT code)."""


@dataclass(frozen=True)
class WritebackConfig:
    """What the EHR accepts on write-back, and its quirks (smart-fhir.md §2.4, §3.2, §3.6)."""

    chargeitem: ChargeMode = "create"
    documentreference: NoteMode = "create"
    transaction: bool = False  # a transaction Bundle, where the server also lists it
    conditional_create: bool = False  # the server honours If-None-Exist (needed for the transaction)
    provenance: bool = True  # also needs the server to list Provenance create
    note_content_type: str = PLAIN_TEXT_UTF8
    chargeitem_status: str = "billable"  # every ChargeItem's status; Oracle's $create requires "unknown"
    # chargeitem = "none" only: the result page hands the charge lines to the biller (a table and a CSV).
    # False: the note alone, where charges reach billing another way (a summary there would be billed twice).
    charge_summary: bool = False
    # Oracle Health $create: the tenant's CPT-tier bill-code system, and explicit CPT -> bill code overrides.
    bill_code_system: str | None = None
    bill_codes: Mapping[str, BillCode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a combination that would be ignored or refused by the EHR, whoever builds the config (a
        profile, a test's mapping, a CapabilityStatement): a key must never silently do nothing."""
        if self.chargeitem_status not in CHARGEITEM_STATUSES:
            raise WritebackConfigError(
                f"chargeitem_status {self.chargeitem_status!r} is not one of {', '.join(CHARGEITEM_STATUSES)}"
            )
        if self.chargeitem == "operation" and self.chargeitem_status != ORACLE_CHARGE_STATUS:
            raise WritebackConfigError(
                "chargeitem = 'operation' (Oracle Health's ChargeItem/$create) needs "
                f"chargeitem_status = '{ORACLE_CHARGE_STATUS}', the only status it accepts"
            )
        if self.charge_summary and self.chargeitem != "none":
            raise WritebackConfigError(
                "charge_summary applies only where the EHR takes no charges (chargeitem = 'none'); "
                f"with chargeitem = '{self.chargeitem}' the charges are written and no summary is handed on"
            )

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
        known = {f.name for f in fields(cls)} - {"bill_codes"}
        return cls(**{k: v for k, v in data.items() if k in known}, bill_codes=bill_codes)

    @classmethod
    def from_profile(cls, writeback: WritebackConfig | Mapping[str, Any]) -> WritebackConfig:
        """``Profile.writeback`` (already one of ours), or a ``[writeback]`` mapping."""
        if isinstance(writeback, WritebackConfig):
            return writeback
        return cls.from_mapping(writeback)

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
            # No profile, so no deployment's choice: the status $create requires, and the summary shown
            # where the server takes no charges (what the biller would get).
            chargeitem_status=ORACLE_CHARGE_STATUS if chargeitem == "operation" else "billable",
            charge_summary=chargeitem == "none",
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
