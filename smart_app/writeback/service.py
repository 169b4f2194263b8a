"""``write_signed_service``: the one write path of a signed service, used by the app and ``sandbox-test``.

Flow: choose the strategy (profile AND CapabilityStatement), build and validate every resource, claim the job
(a double submit waits for the first and gets its result), write, then record the result. A FHIR failure sends
the whole request to the outbox with the server's own message; nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

from smart_app import capabilities
from smart_app.fhir_client import FhirClient, FhirError, FhirPreconditionFailed, FhirTransportError
from smart_app.store import Database
from smart_app.writeback import audit, ledger, oracle, outbox
from smart_app.writeback.config import (
    WritebackConfig,
    choose_strategy,
    server_lists_create,
    server_takes_provenance,
)
from smart_app.writeback.lookup import DUPLICATES
from smart_app.writeback.plan import (
    RefusedBeforeSending,
    SignedService,
    WritePlan,
    build_plan,
    check_acknowledgements,
)
from smart_app.writeback.strategies import Written, lookup_all, run_sequential, run_transaction

Status = Literal["written", "already-written", "note-only", "queued-in-outbox"]


class WriteInProgressError(RuntimeError):
    """Another request is still writing this signed service (and did not finish within the wait)."""


@dataclass(frozen=True)
class ChargeDecision:
    """The clinician's answer to a ``question``: ``ours`` names the existing charge that is this service's,
    else (``ours=None``) this service is a separate charge and is written beside the existing ones."""

    key: str
    ours: str | None = None


@dataclass
class WriteResult:
    status: Status
    strategy: str
    write_key: str
    resources: list[Written] = field(default_factory=list)
    outbox_id: str | None = None
    server_message: str | None = None
    http_status: int | None = None
    # The charge lines for the biller where the EHR takes no charges and the profile says charge_summary =
    # true (``WritePlan.biller_summary``); [] otherwise: charges were written, or reach billing another way.
    charge_summary: list[dict[str, Any]] = field(default_factory=list)
    question: dict[str, Any] | None = None  # {"key": "charge-0", "candidates": ["ChargeItem/1"]}

    def ref(self, key: str) -> str | None:
        """Server reference of one written resource: ``note``, ``charge-0``, ``provenance``."""
        return next((w.ref for w in self.resources if w.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "strategy": self.strategy,
            "write_key": self.write_key,
            "resources": [w.to_dict() for w in self.resources],
            "outbox_id": self.outbox_id,
            "server_message": self.server_message,
            "http_status": self.http_status,
            "charge_summary": self.charge_summary,
            "question": self.question,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WriteResult:
        resources = [
            Written(r["key"], r["type"], r["ref"], r["created"]) for r in data.get("resources") or []
        ]
        return cls(**{**data, "resources": resources})


def write_signed_service(
    db: Database,
    client: FhirClient,
    profile_writeback: Any,
    request: SignedService,
    *,
    lease: timedelta | None = None,
    alive: Callable[[], None] | None = None,
) -> WriteResult:
    """Write the signed service's note, charge(s) and Provenance. Raises BlockedChargeError for a blocked
    evaluation not signed as note-only, WritebackConfigError when the profile cannot write it, ValueError
    for an acknowledgement of no warning, RefusedBeforeSending (a plain message; audited and kept in the
    outbox) when a resource would not validate. The "signed" audit row (with the acknowledged warnings and
    their reasons) is written before anything is sent."""
    try:
        plan = plan_signed_service(client, profile_writeback, request)
    except RefusedBeforeSending as exc:
        _refused(db, exc)
        raise
    acks = [a.to_dict() for a in request.acknowledgements]
    message = json.dumps({"acknowledged": acks}) if acks else None
    audit.record(db, plan, "signed", "note-only" if request.note_only else "signed", message=message)
    return execute_plan(db, client, plan, lease=lease, alive=alive)


def plan_signed_service(client: FhirClient, profile_writeback: Any, request: SignedService) -> WritePlan:
    """What ``write_signed_service`` will send (``sandbox-test`` shows it without ``--write``): the strategy
    from the profile AND the server, every resource built and validated. Nothing is sent but /metadata."""
    check_acknowledgements(request)
    config = WritebackConfig.from_profile(profile_writeback)
    strategy = choose_strategy(config, client, note_only=request.note_only)
    return build_plan(request, config, strategy, provenance=server_takes_provenance(config, client))


def _refused(db: Database, exc: RefusedBeforeSending) -> None:
    """A write refused before sending gets what a failed one gets: an audit row and an outbox entry."""
    detail = json.dumps({"resource": exc.invalid.resource_type, "elements": list(exc.invalid.elements)})
    audit.record(db, exc.stub, "write-result", "refused", message=f"{exc.message} {detail}")
    outbox.put(db, exc.stub, FhirError(exc.message))


def retry_outbox_entry(
    db: Database,
    client: FhirClient,
    entry_id: str,
    *,
    decision: ChargeDecision | None = None,
    lease: timedelta | None = None,
) -> WriteResult:
    """Send a queued write again, exactly as first planned (same resources, same identifiers), with the
    clinician's ``decision`` when the write stopped on a question."""
    plan = outbox.load_plan(db, entry_id)
    if plan is None:
        raise KeyError(entry_id)
    if not plan.entries:  # refused before sending: only the clinician can correct it and sign again
        message = "Refused before sending: the clinician corrects the service and signs it again."
        return WriteResult("queued-in-outbox", plan.strategy, plan.write_key, outbox_id=entry_id,
                           server_message=message, charge_summary=plan.biller_summary())  # fmt: skip
    if decision is not None:
        plan = _apply_decision(db, client, plan, decision)
        outbox.update_plan(db, entry_id, plan)
    audit.record(db, plan, "outbox-retry", "retrying")
    return execute_plan(db, client, plan, lease=lease)


def _apply_decision(db: Database, client: FhirClient, plan: WritePlan, decision: ChargeDecision) -> WritePlan:
    """Record the answer, checked against what the server holds now: "ours" marks that charge as this
    service's (nothing is created); "separate" leaves every current same-code charge out of the lookup."""
    entry = next((e for e in plan.entries if e.key == decision.key and e.operation_body is not None), None)
    if entry is None:
        raise ValueError(f"no charge {decision.key!r} waits for a decision")
    refs = oracle.find_charges(client, plan, entry)
    if decision.ours is not None:
        if decision.ours not in refs:
            raise ValueError(f"{decision.ours} is not a same-code same-day charge on this encounter")
        ledger.mark(
            db, entry.identifier, write_key=plan.write_key, resource_type="ChargeItem", state="done",
            server_ref=decision.ours, created=False,
        )  # fmt: skip
    else:
        entry.not_ours = sorted(set(entry.not_ours) | set(refs))
    what = json.dumps({"key": decision.key, "ours": decision.ours, "candidates": refs})
    audit.record(db, plan, "charge-decision", "same" if decision.ours else "separate", message=what)
    return plan


def execute_plan(
    db: Database,
    client: FhirClient,
    plan: WritePlan,
    *,
    lease: timedelta | None = None,
    alive: Callable[[], None] | None = None,
) -> WriteResult:
    """Claim the job and write it under a renewed, fenced lease (``ledger``); a double submit gets the
    first one's result. ``lease``: the deployment's SMART_EDU_WRITE_LEASE (default ``ledger.LEASE``);
    ``alive``: called at each renewal while this process writes (the page keeps its draft "signing")."""
    plan = fit_to_server(plan, client)
    claim = ledger.claim_job(db, plan.write_key, lease=lease)
    if claim.kind == "busy":
        claim = ledger.wait_for_job(db, plan.write_key, lease=lease)
    if claim.kind == "finished" and claim.result_json:
        return _repeated(db, plan, claim.result_json)
    if claim.kind == "busy":
        raise WriteInProgressError(plan.write_key)
    fence = ledger.Fence(db, plan.write_key, claim.generation, lease or ledger.LEASE)
    try:
        with ledger.heartbeat(fence, alive=alive):
            return _execute(db, client, plan, fence)
    except ledger.LeaseLostError:
        # Stalled past the lease and taken over: this holder stopped; the new one's result is the answer.
        audit.record(db, plan, "write-result", "taken-over", message="lease lost: another process took over")
        done = ledger.wait_for_job(db, plan.write_key, take_over=False)
        if done.kind == "finished" and done.result_json:
            return _repeated(db, plan, done.result_json)
        raise WriteInProgressError(plan.write_key) from None


def _repeated(db: Database, plan: WritePlan, result_json: str) -> WriteResult:
    repeated = _repeat(WriteResult.from_dict(json.loads(result_json)))
    refs = [w.to_dict() for w in repeated.resources]
    audit.record(db, plan, "write-result", repeated.status, message="repeated submit", refs=refs)
    return repeated


def _execute(db: Database, client: FhirClient, plan: WritePlan, fence: ledger.Fence) -> WriteResult:
    audit.record(db, plan, "write-attempt", plan.strategy)
    try:
        written = _run(db, client, plan, fence)
    except FhirError as exc:
        if isinstance(exc, FhirPreconditionFailed) and DUPLICATES not in exc.message:
            # A conditional create matched several resources: say what that means for the clinician.
            exc.message = f"{exc.message}. {DUPLICATES}"
        fence.renew()  # a taken-over holder queues nothing
        entry_id = outbox.put(db, plan, exc)
        result = WriteResult(
            "queued-in-outbox",
            plan.strategy,
            plan.write_key,
            outbox_id=entry_id,
            server_message=exc.message,
            http_status=exc.status,
            charge_summary=plan.biller_summary(),
            question=_question(exc),
        )
        _finish(db, plan, result, "queued", fence)
        return result
    status: Status = "written" if any(w.created for w in written) else "already-written"
    if plan.strategy == "note-only":
        status = "note-only"
    result = WriteResult(status, plan.strategy, plan.write_key, written, charge_summary=plan.biller_summary())
    fence.renew()
    outbox.mark_done(db, plan.write_key)
    _finish(db, plan, result, status, fence)
    return result


def settled_result(db: Database, write_key: str) -> WriteResult | None:
    """The result of a write that has since finished elsewhere (e.g. ``smart-edu outbox retry``), else None:
    lets the page stop showing a write as waiting once it is in the EHR."""
    claim = ledger.finished_job(db, write_key)
    if claim is None or not claim.result_json:
        return None
    return _repeat(WriteResult.from_dict(json.loads(claim.result_json)))


def fit_to_server(plan: WritePlan, client: FhirClient) -> WritePlan:
    """Adapt Provenance to the server's CapabilityStatement. Where it does not list Provenance create, leave
    it out (sending it would fail the whole write; the audit log still says who wrote what). Where it creates
    on update, write it with ``PUT Provenance/<key>``: idempotent without a search (Provenance has no
    identifier, and not every server searches ``_tag``)."""
    prov = next((e for e in plan.entries if e.key == "provenance"), None)
    if prov is None:
        return plan
    if not server_lists_create(client, "Provenance"):
        return replace(plan, entries=[e for e in plan.entries if e.key != "provenance"])
    provenance = capabilities.of(client).resource("Provenance")
    if provenance is not None and provenance.update_create and prov.method != "PUT":
        put = replace(prov, method="PUT", resource={**prov.resource, "id": prov.identifier})
        return replace(plan, entries=[put if e.key == "provenance" else e for e in plan.entries])
    return plan


def _run(db: Database, client: FhirClient, plan: WritePlan, fence: ledger.Fence) -> list[Written]:
    if plan.strategy != "transaction":
        return run_sequential(db, client, plan, fence)
    fence.renew()  # the proof before sending: a taken-over holder sends nothing
    try:
        written = run_transaction(client, plan)
    except FhirTransportError:
        # The answer was lost: the server may have committed. Look before sending anything again.
        found = lookup_all(client, plan)
        if all(e.key in found for e in plan.entries):
            written = [Written(e.key, e.resource_type, found[e.key], created=True) for e in plan.entries]
        else:
            fence.renew()
            written = run_transaction(client, plan)  # every entry is conditional: safe to send again
    for w, e in zip(written, plan.entries, strict=True):
        state: ledger.StepState = "done" if w.ref else "unknown"
        ledger.mark(
            db, e.identifier, write_key=plan.write_key, resource_type=e.resource_type, state=state,
            server_ref=w.ref, created=w.created, fence=fence,
        )  # fmt: skip
    return written


def _finish(db: Database, plan: WritePlan, result: WriteResult, job_status: str, fence: ledger.Fence) -> None:
    ledger.finish_job(db, plan.write_key, job_status, json.dumps(result.to_dict()), fence=fence)
    refs = [w.to_dict() for w in result.resources]
    audit.record(db, plan, "write-result", result.status, message=result.server_message, refs=refs)


def _question(exc: FhirError) -> dict[str, Any] | None:
    if isinstance(exc, oracle.ChargeQuestion):
        return {"key": exc.key, "candidates": list(exc.candidates)}
    return None


def _repeat(first: WriteResult) -> WriteResult:
    """The answer to a repeated submit of a finished write: the same resources, nothing newly created."""
    resources = [Written(w.key, w.resource_type, w.ref, created=False) for w in first.resources]
    status: Status = "note-only" if first.status == "note-only" else "already-written"
    return WriteResult(
        status, first.strategy, first.write_key, resources, charge_summary=first.charge_summary
    )
