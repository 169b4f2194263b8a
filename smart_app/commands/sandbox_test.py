"""``smart-edu sandbox-test``: the app's reads, evaluation and write path against a FHIR server, no launch.

``--service`` takes one service or a visit (DESIGN.md §4): a visit writes one note, one ChargeItem per charge
line and one Provenance, its draft id a hash of the visit (``visit_record_hash``).

Without ``--write`` it prints the evaluation and the exact requests it would send; with ``--write`` it sends
them through ``write_signed_service`` (the app's own path) and prints what was created or found. The draft id
is a hash of the service record, so a rerun finds what the first run wrote, even with an empty local store.
Exit 0 billable (and written), 1 blocked (nothing written), 2 bad input, 3 server error (with its message).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from billing_rules import (
    BadInput,
    VisitEvaluation,
    VisitRecord,
    catalogue,
    evaluate,
    evaluate_visit,
    parse_record,
)
from billing_rules.model import ClinicalContext, Evaluation, ServiceRecord
from fhir_mappings.note import generate_note
from smart_app import bounded_json
from smart_app.fhir_client import FhirClient, FhirError
from smart_app.settings import Settings, load_settings
from smart_app.writeback import SignedService, WritebackConfig, WritebackConfigError, plan_signed_service
from smart_app.writeback.identifiers import service_record_hash, visit_record_hash

if TYPE_CHECKING:
    from smart_app.reads import LaunchReads

EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT, EXIT_SERVER = 0, 1, 2, 3


class _Refused(Exception):
    """Bad input, phrased as the one line the user sees."""


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except _Refused as exc:
        print(f"smart-edu sandbox-test: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FhirError as exc:
        print(f"smart-edu sandbox-test: server error: {exc.message}", file=sys.stderr)
        return EXIT_SERVER


def _run(args: argparse.Namespace) -> int:
    from smart_app.reads import read_launch_context

    _check_base(args.fhir_base)
    settings = load_settings()
    token = settings.bearer_token
    client = FhirClient(args.fhir_base, token_provider=(lambda: token) if token else None)
    service = _load_service(args.service) if args.service else None
    config = _config(args.profile, client, settings)
    reads = read_launch_context(client, patient_id=args.patient, encounter_id=args.encounter, fhir_user=None)
    unread = unreadable_anchor(reads, args.patient, args.encounter)
    if unread:
        print(f"smart-edu sandbox-test: server error: {unread}", file=sys.stderr)
        return EXIT_SERVER
    context = reads.context
    try:
        record = parse_record(service if service is not None else sample_service(context))
    except BadInput as exc:
        raise _Refused(f"--service {args.service or '(sample)'}: {exc}") from None
    record = _dated(record, context)
    evaluation: Evaluation | VisitEvaluation
    if isinstance(record, VisitRecord):
        evaluation = evaluate_visit(record, context)
    else:
        evaluation = evaluate(record, context)
    out: dict[str, Any] = {"evaluation": evaluation.to_dict()}
    if evaluation.blocked:
        out["written"] = None
        print(json.dumps(out, indent=2))
        print("smart-edu sandbox-test: blocked: nothing is written", file=sys.stderr)
        return EXIT_BLOCKED
    request = signed_request(args.fhir_base, args.patient, args.encounter, record, evaluation, context)
    if not args.write:
        return _preview(client, config, request, out)
    return _write(client, config, request, out, settings)


def _dated(record: ServiceRecord | VisitRecord, context: ClinicalContext) -> ServiceRecord | VisitRecord:
    """The encounter's date where the service (or each service of the visit) gives none."""
    day = context.encounter.service_date
    if day is None:
        return record
    if isinstance(record, VisitRecord):
        services = tuple(s if s.service_date else replace(s, service_date=day) for s in record.services)
        return VisitRecord(services=services)
    return record if record.service_date else replace(record, service_date=day)


def _preview(client: FhirClient, config: WritebackConfig, request: SignedService, out: dict[str, Any]) -> int:
    from smart_app.writeback.preview import planned_requests

    try:
        plan = plan_signed_service(client, config, request)
    except WritebackConfigError as exc:
        raise _Refused(str(exc)) from None
    out.update(strategy=plan.strategy, requests=planned_requests(client, plan))
    print(json.dumps(out, indent=2))
    return EXIT_OK


def _write(
    client: FhirClient,
    config: WritebackConfig,
    request: SignedService,
    out: dict[str, Any],
    settings: Settings,
) -> int:
    from smart_app.writeback import write_signed_service
    from smart_app.writeback.local_store import default_database_url, open_for_command

    url = default_database_url(settings)
    db = open_for_command("smart-edu sandbox-test", url)  # a PostgreSQL store behind: never migrated here
    if db is None:
        return EXIT_BAD_INPUT
    try:
        lease = timedelta(seconds=settings.write_lease)
        result = write_signed_service(db, client, config, request, lease=lease)
    except WritebackConfigError as exc:
        raise _Refused(str(exc)) from None
    finally:
        db.dispose()
    out["result"] = result.to_dict()
    print(json.dumps(out, indent=2))
    if result.status == "queued-in-outbox":
        print(
            f"smart-edu sandbox-test: server error: {result.server_message}{_retry_hint(url, settings)}",
            file=sys.stderr,
        )
        return EXIT_SERVER
    return EXIT_OK


def _retry_hint(url: str, settings: Settings) -> str:
    """Where the failed write waits: ``outbox`` reads the app's store, so name this one when it differs."""
    from smart_app.writeback.local_store import shown_url

    if settings.database_url:
        return " (it waits in the outbox: smart-edu outbox retry)"
    return (
        f" (it waits in the outbox of {shown_url(url)}: SMART_EDU_DATABASE_URL={url} smart-edu outbox retry)"
    )


def _check_base(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Refused(f"--fhir-base {url}: not an http(s) URL (e.g. http://localhost:9000/fhir)")


def unreadable_anchor(reads: LaunchReads, patient_id: str, encounter_id: str | None) -> str | None:
    """Why the patient (or the named encounter) could not be read, if so.

    The launch reads are tolerant: a missing resource becomes a read note and the rules then block for want
    of data. Here that would turn a wrong id or a dead server into "blocked" (exit 1); it is a server answer.
    """
    wanted = [("Patient", patient_id)] + ([("Encounter", encounter_id)] if encounter_id else [])
    held = {(r.get("resourceType"), r.get("id")) for r in reads.resources}
    for rtype, rid in wanted:
        if (rtype, rid) not in held:
            ref = f"{rtype}/{rid}"
            why = next((p for p in reads.problems if p.startswith(f"{ref} ")), None)
            return why or f"{ref} could not be read: the server did not return it"
    return None


def signed_request(
    issuer: str,
    patient_id: str,
    encounter_id: str | None,
    record: ServiceRecord | VisitRecord,
    evaluation: Evaluation | VisitEvaluation,
    context: ClinicalContext,
) -> SignedService:
    """The signature sandbox-test stands in for: no fhirUser, the draft id a hash of the service or visit."""
    labels = {code: d.display for d in context.conditions for code in d.icd10 if d.display}
    own = set(record.codes) if isinstance(record, VisitRecord) else {record.code}
    codes = {line.code for line in evaluation.charge_lines} | own
    code_text = {c.code: c.paraphrase for c in catalogue() if c.code in codes}
    provider = context.encounter.service_provider or ""
    return SignedService(
        issuer=issuer,
        patient_id=patient_id,
        encounter_id=encounter_id,
        fhir_user=None,
        organization=provider if provider.startswith("Organization/") else None,
        record=record,
        evaluation=evaluation,
        note_text=generate_note(
            record,
            charge_lines=evaluation.charge_lines,
            diagnosis_labels=labels,
            code_text=code_text,
            author_name=context.provider.name,
        ),
        draft_id=visit_record_hash(record)
        if isinstance(record, VisitRecord)
        else service_record_hash(record),
        diagnosis_labels=labels,
        code_text=code_text,
    )


def sample_service(context: ClinicalContext) -> dict[str, Any]:
    """A 30-minute individual 98960 session; it links the encounter's first ICD-10-CM diagnosis, if any."""
    first = next((code for d in context.conditions for code in d.icd10), None)
    return {
        "code": "98960",
        "minutes": 30,
        "curriculum": "sandbox-test sample curriculum",
        "topics": ["self-monitoring", "action plan"],
        "response": "teach-back correct",
        "diagnoses": [first] if first else [],
        "provider_role": "RN",
    }


def _load_service(path: str) -> dict[str, Any]:
    try:
        data = bounded_json.load_file(path)
    except bounded_json.JsonInputError as exc:
        raise _Refused(f"--service {path}: {exc.message}") from None
    if not isinstance(data, dict):
        raise _Refused(f"--service {path}: a JSON object is expected")
    return data


def _config(profile_name: str | None, client: FhirClient, settings: Settings) -> WritebackConfig:
    if not profile_name:
        return WritebackConfig.from_capabilities(client)
    from smart_app.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles(settings.launch_config_dir)
    except ProfileError as exc:
        raise _Refused(f"--profile {profile_name}: {exc}") from None
    profile = profiles.by_name(profile_name)
    if profile is None:
        raise _Refused(f"--profile {profile_name}: no such launch profile")
    return WritebackConfig.from_profile(profile.writeback)
