"""``smart-edu check``: evaluate one documented service, or a visit of several, against a FHIR Bundle.

Exit 0 billable, 1 blocked, 2 bad input. Bad input gets exactly one line on stderr naming the file and the
field, never a traceback. Imports only the engine and the FHIR reader (no Flask, no fhir.resources): it starts
fast.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from typing import Any

from billing_rules import BadInput, VisitEvaluation, VisitRecord, evaluate, evaluate_visit, parse_record
from billing_rules.model import ClinicalContext, Evaluation, Finding
from fhir_mappings.read import context_from_bundle, resources_from_bundle
from smart_app import bounded_json
from smart_app.bounded_json import JsonInputError

EXIT_BILLABLE, EXIT_BLOCKED, EXIT_BAD_INPUT = 0, 1, 2
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Refused(Exception):
    """Bad input, already phrased as the one line the user sees."""


def _refuse(option: str, value: str, message: str, field: str | None = None) -> _Refused:
    where = f"field '{field}': " if field else ""
    return _Refused(" ".join(f"smart-edu check: {option} {value}: {where}{message}".split()))


def _load_json(option: str, path: str) -> Any:
    """A regular file only, read with a byte cap and parsed with a depth limit (``bounded_json``)."""
    try:
        return bounded_json.load_file(path)
    except JsonInputError as exc:
        raise _refuse(option, path, exc.message) from None


def _bundle(path: str) -> dict[str, Any]:
    data = _load_json("--bundle", path)
    if not isinstance(data, dict):
        raise _refuse("--bundle", path, "not a FHIR Bundle (a JSON object is expected)")
    if data.get("resourceType") != "Bundle":
        found = data.get("resourceType")
        what = f"resourceType is {found!r}" if found is not None else "no resourceType"
        if found is None and ("code" in data or "services" in data):
            what += "; it looks like a service file: are --bundle and --service swapped?"
        raise _refuse("--bundle", path, f"not a FHIR Bundle ({what})", "resourceType")
    if not any(r.get("resourceType") == "Patient" for r in resources_from_bundle(data)):
        raise _refuse("--bundle", path, "no Patient resource in the bundle", "entry")
    return data


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if _ISO_DATE.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise _refuse("--as-of", value, "not a date (YYYY-MM-DD)")


def _clinician(bundle: dict[str, Any]) -> str | None:
    """The documenting clinician: the bundle's only PractitionerRole, else its only Practitioner."""
    resources = resources_from_bundle(bundle)
    for rtype in ("PractitionerRole", "Practitioner"):
        found = [r for r in resources if r.get("resourceType") == rtype and isinstance(r.get("id"), str)]
        if len(found) == 1:
            return f"{rtype}/{found[0]['id']}"
    return None


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _source_line(finding: Finding) -> str:
    """A biller checks a finding against its source: the JSON's ``source`` and ``source_urls``, one line."""
    urls = " ".join(finding.source_urls)
    return f"      source: {finding.source or 'not given'}" + (f" ({urls})" if urls else "")


def _services(evaluation: VisitEvaluation) -> list[str]:
    """A visit: each service's own verdict and units, so a biller sees which line is the problem."""
    out = ["", "Services:"]
    for code, ev in zip(evaluation.codes, evaluation.services, strict=True):
        units = ", ".join(f"{line.code} x{line.units}" for line in ev.charge_lines) or "no charge line"
        verdict = "blocked" if ev.blocked else "ok"
        out.append(f"  {code}: {verdict} ({units})")
    return out


def _tag(finding: Finding) -> str:
    code = getattr(finding, "code", "")
    return "" if code == "" else f" ({code or 'visit'})"


def header(context: ClinicalContext, service_date: date | None) -> list[str]:
    """Whose claim this is: patient, date of service and payer, as the bundle and the service file say."""
    patient = context.patient
    who = " ".join(x for x in (patient.name, f"(Patient/{patient.id})" if patient.id else None) if x)
    day = service_date or context.encounter.service_date
    payer = context.payer
    paid_by = f"{payer.name} ({payer.payer_class})" if payer.name else payer.payer_class
    return [
        f"Patient:          {who or 'not named in the bundle'}",
        f"Date of service:  {day.isoformat() if day else 'not given (no service_date, no encounter date)'}",
        f"Payer:            {paid_by}",
        "",
    ]


def format_text(
    evaluation: Evaluation | VisitEvaluation, context: ClinicalContext, service_date: date | None = None
) -> str:
    """What a biller reads: whose claim (patient, date of service, payer), the verdict, charge lines,
    estimate, then findings by severity with their prompts and sources; for a visit, each service's verdict
    and the service each finding concerns."""
    out = [
        *header(context, service_date),
        "BILLABLE" if evaluation.billable else "BLOCKED: do not submit as is",
    ]
    if isinstance(evaluation, VisitEvaluation):
        out += _services(evaluation)
    out += ["", "Charge lines:"]
    for line in evaluation.charge_lines:
        mods = " ".join(line.modifiers) or "none"
        dx = ", ".join(line.diagnoses) or "none"
        out.append(
            f"  {line.code} x{line.units}  POS {line.place_of_service or '?'}  modifiers {mods}  dx {dx}"
        )
    if not evaluation.charge_lines:
        out.append("  (none)")
    est = evaluation.estimate
    if est is not None:
        out += ["", f"Estimate ({est.payer_class}): {est.currency} {_money(est.low)} to {_money(est.high)}"]
        if est.basis:
            out.append(f"  basis: {est.basis}")
    for severity, findings in evaluation.findings_by_severity().items():
        if findings:
            out += ["", f"{severity.upper()} ({len(findings)}):"]
            for f in findings:
                out.append(f"  [{f.rule}]{_tag(f)} {f.message}" + (f" (field: {f.field})" if f.field else ""))
                if f.prompt:
                    out.append(f"      -> {f.prompt}")
                out.append(_source_line(f))
    if context.read_notes:
        out += ["", "From the EHR data:"] + [f"  - {note}" for note in context.read_notes]
    out += ["", f"Rules version {evaluation.rules_version}"]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    try:
        bundle = _bundle(args.bundle)
        service = _load_json("--service", args.service)
        if not isinstance(service, dict):
            raise _refuse("--service", args.service, "a JSON object (a service or visit record) is expected")
        as_of = _as_of(args.as_of)
        try:
            record = parse_record(service)
        except BadInput as exc:
            raise _refuse("--service", args.service, exc.message, exc.field) from None
    except _Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    context = context_from_bundle(bundle, practitioner_ref=_clinician(bundle))
    evaluation: Evaluation | VisitEvaluation
    if isinstance(record, VisitRecord):
        evaluation = evaluate_visit(record, context, as_of=as_of)
    else:
        evaluation = evaluate(record, context, as_of=as_of)
    if args.format == "text":
        print(format_text(evaluation, context, record.service_date))
    else:
        print(json.dumps(evaluation.to_dict(), indent=2))
    return EXIT_BILLABLE if evaluation.billable else EXIT_BLOCKED
