"""The write request of one signed service: every resource to write, built and validated up front.

A plan is plain JSON (``to_json``/``from_json``) so the outbox can keep it and a retry sends exactly the same
resources with the same identifiers. It never holds a token.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from billing_rules.model import ChargeLine, Evaluation, ServiceRecord
from billing_rules.visit import VisitEvaluation, VisitRecord
from fhir_mappings import write
from fhir_mappings.note import note_title
from smart_app.clock import utcnow
from smart_app.writeback.config import Strategy, WritebackConfig, WritebackConfigError
from smart_app.writeback.identifiers import VISIT_CODE, business_id, placeholder_url
from smart_app.writeback.times import in_zone

APP_VERSION = "0.1.0"
_RELATIVE_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


class BlockedChargeError(ValueError):
    """A blocked evaluation never gets a ChargeItem; only an explicit ``note_only`` signature is written."""


class RefusedBeforeSending(ValueError):
    """A resource of the signed service does not validate: nothing is sent. ``str()`` is the plain message for
    the clinician; ``stub`` is the plan without resources (its write key and charge summary), so the refusal
    has its audit row and outbox entry like any failed write."""

    def __init__(self, invalid: write.InvalidResource, stub: WritePlan) -> None:
        super().__init__(invalid.message)
        self.message = invalid.message
        self.invalid = invalid
        self.stub = stub


@dataclass(frozen=True)
class Acknowledgement:
    """A ``warn`` finding the clinician signed over, with their reason (kept in the "signed" audit row)."""

    rule: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}


@dataclass(frozen=True)
class SignedService:
    """What the clinician signed, as the point-of-care page hands it to ``write_signed_service``: one service,
    or a visit (a VisitRecord with its VisitEvaluation: one note, one charge per line, one Provenance)."""

    issuer: str
    patient_id: str
    encounter_id: str | None
    fhir_user: str | None  # author reference, e.g. Practitioner/123
    organization: str | None  # e.g. Organization/7
    record: ServiceRecord | VisitRecord
    evaluation: Evaluation | VisitEvaluation
    note_text: str
    draft_id: str
    note_only: bool = False
    start: datetime | None = None
    end: datetime | None = None
    signed_at: datetime | None = None
    diagnosis_labels: dict[str, str] = field(default_factory=dict)
    code_text: dict[str, str] = field(default_factory=dict)  # CPT -> our own short paraphrase
    acknowledgements: tuple[Acknowledgement, ...] = ()
    # The organization's name where the launch gives no Organization reference (Provenance onBehalfOf): the
    # launch profile's title, or the encounter's service provider as displayed.
    organization_name: str | None = None
    # The EHR's zone for clock times typed without one (smart_app.writeback.times.ehr_zone): the encounter's
    # offset, else the profile's ``timezone``. A clock time with no zone is written as the service date only.
    zone: tzinfo | None = None


@dataclass
class PlannedResource:
    key: str  # note | charge-<n> | provenance
    resource_type: str
    identifier: str
    full_url: str
    if_none_exist: str
    resource: dict[str, Any]
    operation_body: dict[str, Any] | None = None  # Oracle $create Parameters for a charge
    method: str = "POST"  # PUT Provenance/<identifier> where the server creates on update (idempotent)
    not_ours: list[str] = field(default_factory=list)  # same-code charges the clinician said are another's


@dataclass
class WritePlan:
    write_key: str
    strategy: Strategy
    issuer: str
    patient_id: str
    encounter_id: str | None
    draft_id: str
    fhir_user: str | None
    entries: list[PlannedResource]
    charge_summary: list[dict[str, Any]]  # every charge line signed (the audit's "what"), whatever is written
    estimate: dict[str, Any] | None = None  # the payer's expected range for the lines (absent in older plans)
    # The lines go to the biller (the result page's summary and CSV): a note-only write on a profile with
    # ``charge_summary = true``. Plans queued before the profile key was read said nothing: they were shown.
    summary_for_biller: bool = True

    def biller_summary(self) -> list[dict[str, Any]]:
        """The charge lines handed to the biller because the EHR takes no charges, else []."""
        return list(self.charge_summary) if self.strategy == "note-only" and self.summary_for_biller else []

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WritePlan:
        data = json.loads(text)
        data["entries"] = [PlannedResource(**e) for e in data["entries"]]
        return cls(**data)

    def what(self) -> dict[str, Any]:
        """The audit 'what': identifiers, resource types, each charge line's code, units, modifiers and
        diagnosis pointers, and the expected amount (a biller reads the claim line; no note text)."""
        what: dict[str, Any] = {
            "resources": [
                {"key": e.key, "type": e.resource_type, "identifier": e.identifier} for e in self.entries
            ],
            "charges": [
                {
                    "code": c["code"],
                    "units": c["units"],
                    "modifiers": list(c.get("modifiers") or ()),
                    "diagnoses": list(c.get("diagnoses") or ()),
                }
                for c in self.charge_summary
            ],
        }
        if self.estimate and self.charge_summary:
            what["estimate"] = dict(self.estimate)
        return what


def check_acknowledgements(request: SignedService) -> None:
    """Each acknowledgement names one of the evaluation's ``warn`` findings and gives a reason; the audit log
    must never claim a warning was signed over that the evaluation did not raise."""
    warned = {f.rule for f in request.evaluation.findings if f.severity == "warn"}
    for ack in request.acknowledgements:
        if ack.rule not in warned:
            raise ValueError(f"acknowledgement of {ack.rule!r}, which is not a warning of this evaluation")
        if not ack.reason.strip():
            raise ValueError(f"acknowledgement of {ack.rule!r} without a reason")


def build_plan(
    request: SignedService, config: WritebackConfig, strategy: Strategy, *, provenance: bool = True
) -> WritePlan:
    """Build and validate every resource; raise before anything is sent if the request cannot be written."""
    if request.evaluation.blocked and not request.note_only:
        raise BlockedChargeError("the evaluation has a block finding: no charge may be written")
    start, end = in_zone(request.start, request.zone), in_zone(request.end, request.zone)
    if start is None or end is None:
        start = end = None
    service_date = request.record.service_date or (request.start.date() if request.start else None)
    visit = isinstance(request.record, VisitRecord)
    ids = _VisitIds(request, service_date) if visit else _Ids(request, service_date)
    ctx = write.WriteContext(
        patient_id=request.patient_id,
        encounter_id=request.encounter_id,
        author_ref=same_server_ref(request.fhir_user, request.issuer),
        organization_ref=_organization(same_server_ref(request.organization, request.issuer)),
        recorded=request.signed_at or utcnow(),
        start=start,
        end=end,
        service_date=service_date,
        organization_name=request.organization_name,
    )
    summary = config.charge_summary
    try:
        entries = _entries(request, config, strategy, ctx, ids, provenance=provenance)
    except write.InvalidResource as exc:
        stub = _plan(request, strategy, ids.job, [], service_date, summary)
        raise RefusedBeforeSending(exc, stub) from None
    if not entries:
        raise WritebackConfigError("this profile writes neither notes nor charges")
    return _plan(request, strategy, ids.job, entries, service_date, summary)


def _entries(
    request: SignedService,
    config: WritebackConfig,
    strategy: Strategy,
    ctx: write.WriteContext,
    ids: _Ids,
    *,
    provenance: bool,
) -> list[PlannedResource]:
    """The note, the charge line(s) and their Provenance, in the order they are written."""
    entries: list[PlannedResource] = []
    if config.documentreference == "create":
        title, family = note_title(request.record)
        doc = write.build_document_reference(
            ctx,
            identifier_value=ids.note,
            note_text=request.note_text,
            content_type=config.note_content_type,
            title=title,
            family=family,
        )
        entries.append(_entry("note", ids.note, doc))
    note_url = entries[0].full_url if entries else None
    if strategy != "note-only":
        for n, line in enumerate(request.evaluation.charge_lines):
            ident = ids.charge(n, line)
            entries.append(_charge_entry(request, config, strategy, ctx, line, ident, note_url, n))
    if provenance and config.provenance and entries:
        key = ids.provenance
        prov = write.build_provenance(
            ctx, targets=[e.full_url for e in entries], key_value=key, app_version=APP_VERSION
        )
        entries.append(_entry("provenance", key, prov, if_none_exist=write.provenance_query(key)))
    return entries


def _plan(
    request: SignedService,
    strategy: Strategy,
    job: str,
    entries: list[PlannedResource],
    day: date | None,
    summary_for_biller: bool,
) -> WritePlan:
    return WritePlan(
        write_key=job,
        strategy=strategy,
        issuer=request.issuer,
        patient_id=request.patient_id,
        encounter_id=request.encounter_id,
        draft_id=request.draft_id,
        fhir_user=request.fhir_user,
        entries=entries,
        charge_summary=_charge_summary(request, day),
        estimate=_estimate(request),
        summary_for_biller=summary_for_biller,
    )


def _estimate(request: SignedService) -> dict[str, Any] | None:
    """The evaluation's expected range for what is charged (none when nothing is: a blocked evaluation)."""
    est = request.evaluation.estimate
    if est is None or request.evaluation.blocked:
        return None
    return {"currency": est.currency, "low": est.low, "high": est.high, "payer_class": est.payer_class}


def same_server_ref(ref: str | None, issuer: str) -> str | None:
    """``Type/id`` for a reference on the issuer's server (fhirUser is often absolute); else None.

    References between resources on one server are relative (DESIGN.md §3); a display text or a reference to
    another server is never written as if it were one of the EHR's resources."""
    if not ref:
        return None
    base = issuer.rstrip("/") + "/"
    relative = ref[len(base) :] if ref.startswith(base) else ref
    return relative if _RELATIVE_REF.match(relative) else None


def _organization(ref: str | None) -> str | None:
    return ref if ref and ref.startswith("Organization/") else None


def _charge_entry(
    request: SignedService,
    config: WritebackConfig,
    strategy: Strategy,
    ctx: write.WriteContext,
    line: ChargeLine,
    ident: str,
    note_url: str | None,
    n: int,
) -> PlannedResource:
    charge = write.build_charge_item(
        ctx,
        line,
        identifier_value=ident,
        note_ref=note_url,
        code_text=request.code_text.get(line.code),
        diagnosis_labels=request.diagnosis_labels,
        note=_charge_note(request.evaluation),
        status=config.chargeitem_status,
    )
    entry = _entry(f"charge-{n}", ident, charge)
    if strategy == "operation":
        bill_code = config.bill_code(line.code)
        if "context" not in charge or "occurrenceDateTime" not in charge:
            raise WritebackConfigError("ChargeItem/$create needs an encounter and a service date")
        entry.operation_body = write.build_oracle_charge_parameters(
            charge,
            bill_code=bill_code,
            transaction_id=str(uuid.uuid4()),
            icd_system=config.sibling_system("ICD"),
            modifier_system=config.sibling_system("MODIFIER"),
        )
    return entry


def _entry(
    key: str, ident: str, resource: dict[str, Any], *, if_none_exist: str | None = None
) -> PlannedResource:
    return PlannedResource(
        key=key,
        resource_type=resource["resourceType"],
        identifier=ident,
        full_url=placeholder_url(ident),
        if_none_exist=if_none_exist or write.identifier_query(ident),
        resource=resource,
    )


def _charge_note(evaluation: Evaluation | VisitEvaluation) -> str:
    """For the biller: which rules checked the charge and which warnings the clinician signed over."""
    warnings = sorted({f.rule for f in evaluation.findings if f.severity == "warn"})
    text = f"Checked by smart-edu-billing rules {evaluation.rules_version} before signing."
    return text + (f" Warnings signed over: {', '.join(warnings)}." if warnings else "")


def _charge_summary(request: SignedService, service_date: date | None) -> list[dict[str, Any]]:
    """The lines a biller may hand on: none for a blocked evaluation (its note was signed alone)."""
    if request.evaluation.blocked:
        return []
    return [_summary_line(c, request, service_date) for c in request.evaluation.charge_lines]


def _summary_line(line: ChargeLine, request: SignedService, service_date: date | None) -> dict[str, Any]:
    return {
        **line.to_dict(),
        "service_date": service_date.isoformat() if service_date else None,
        "description": request.code_text.get(line.code),
    }


class _Ids:
    """The identifiers of one signed service: its job, note, provenance and each charge line (frozen)."""

    def __init__(self, request: SignedService, service_date: date | None) -> None:
        assert isinstance(request.record, ServiceRecord)
        self._request = request
        self._date = service_date
        self.job = self._id("job", request.record.code)
        self.note = self._id("note", request.record.code)
        self.provenance = self._id("prov", request.record.code)

    def charge(self, n: int, line: ChargeLine) -> str:
        return self._id("charge", line.code, n)

    def _id(self, kind: str, code: str, ordinal: int = 0) -> str:
        r = self._request
        return business_id(
            kind,
            issuer=r.issuer,
            patient_id=r.patient_id,
            encounter_id=r.encounter_id,
            code=code,
            service_date=self._date,
            draft_id=r.draft_id,
            ordinal=ordinal,
        )


class _VisitIds(_Ids):
    """The identifiers of a signed visit: one job, note and provenance for the visit, and one per charge
    line by its code (the n-th line of that code in the visit, almost always the first). Kinds of their own
    (``vjob``, ``vnote``, ``vprov``, ``vcharge``), so they never meet a single service's."""

    def __init__(self, request: SignedService, service_date: date | None) -> None:
        self._request = request
        self._date = service_date
        self.job = self._id("vjob", VISIT_CODE)
        self.note = self._id("vnote", VISIT_CODE)
        self.provenance = self._id("vprov", VISIT_CODE)

    def charge(self, n: int, line: ChargeLine) -> str:
        lines = self._request.evaluation.charge_lines
        ordinal = sum(1 for earlier in lines[:n] if earlier.code == line.code)
        return self._id("vcharge", line.code, ordinal)
