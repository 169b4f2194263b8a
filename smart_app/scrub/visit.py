"""A patient's charges of one day as one visit, evaluated with ``billing_rules.evaluate_visit``.

The day's charges are one visit per clinician (the engine takes one clinician per visit): their timed codes
pool their minutes, code pairs are checked between them and an initial evaluation covers its visit's plan of
care. A second charge of the same code that day is evaluated beside the visit, so it is seen as a duplicate.
An add-on line (97551, 98981) is judged with its primary, whose minutes give its units. Then the scrub
compares what was billed with what the rules compute: units against the documented minutes, modifiers against
those required, and says what the EHR's data cannot show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from billing_rules.lines import TIMED
from billing_rules.loader import Entry, RuleSet
from billing_rules.model import ClinicalContext, EncounterInfo, Evaluation, Finding, Provider
from billing_rules.policy import THERAPISTS
from billing_rules.visit import VisitRecord, evaluate_visit, same_day_pools
from smart_app.scrub.findings import scrub_finding
from smart_app.scrub.patient import Charge, PatientData, payer_on, provider_of
from smart_app.scrub.rebuild import minutes_of, service_record, setting


@dataclass
class Scored:
    """One charge's result (becomes a row of scrub.json)."""

    charge: Charge
    day: date | None
    findings: list[Finding]
    billable: bool
    estimate: tuple[float, float] | None
    provider: Provider
    addon: bool = False  # judged with its primary (whose estimate covers both lines)

    def to_dict(self, patient_id: str) -> dict[str, Any]:
        return {
            "chargeitem": f"ChargeItem/{self.charge.id}",
            "patient": f"Patient/{patient_id}",
            "encounter": f"Encounter/{self.charge.encounter_id}" if self.charge.encounter_id else None,
            "code": self.charge.code,
            "units": self.charge.units,
            "date": self.day.isoformat() if self.day else None,
            "billable": self.billable,
            "findings": [finding_dict(f) for f in self.findings],
            "clinician": self.provider.name or self.provider.reference,
            "modifiers": list(self.charge.modifiers or ()),
            "estimate": {"low": self.estimate[0], "high": self.estimate[1]} if self.estimate else None,
        }


@dataclass
class _Line:
    """A charge in its visit: the engine's evaluation of its service and the scrub's findings on it."""

    charge: Charge
    entry: Entry | None
    minutes: int | None
    documented: bool
    evaluation: Evaluation | None = None
    findings: tuple[Finding, ...] = ()


class VisitScrub:
    """Evaluates one day of one patient's charges."""

    def __init__(self, data: PatientData, shared: dict[str, Any], rules: RuleSet, day: date) -> None:
        self.data, self.shared, self.rules, self.day = data, shared, rules, day

    def run(self, charges: Sequence[Charge], ytd: float | None) -> list[Scored]:
        out: dict[str, Scored] = {}
        lines = {}
        for charge in charges:
            if charge.code is None:
                found = scrub_finding(self.rules, "scrub.code-unreadable", found=charge.found_codes)
                out[charge.id] = Scored(charge, self.day, [found], False, None, self._provider(charge))
                continue
            entry = self.rules.code(charge.code, self.day)
            minutes, documented = minutes_of(charge, entry, self.data.note_for(charge), charges)
            lines[charge.id] = _Line(charge, entry, minutes, documented)
        addons = {i: p for i, line in lines.items() if (p := self._primary(line, lines))}
        for group in self._visits([line for i, line in lines.items() if i not in addons]):
            self._evaluate(group, charges, ytd)
            for line in group:
                out[line.charge.id] = self._scored(line)
        for charge_id, primary in addons.items():
            out[charge_id] = self._addon(lines[charge_id], primary)
        return [out[c.id] for c in charges]

    def _provider(self, charge: Charge) -> Provider:
        return provider_of(charge.performer, self.shared)

    def _primary(self, line: _Line, lines: dict[str, _Line]) -> _Line | None:
        """The same clinician's primary line of that day for an add-on line."""
        if line.entry is None or line.entry["unit"] != "add-on":
            return None
        return next(
            (
                p
                for p in lines.values()
                if p.charge.code == line.entry.get("primary") and p.charge.performer == line.charge.performer
            ),
            None,
        )

    def _visits(self, lines: list[_Line]) -> list[list[_Line]]:
        """One visit per clinician with distinct codes; a repeated code goes to a visit of its own."""
        visits: list[list[_Line]] = []
        by_clinician: dict[str | None, list[_Line]] = {}
        for line in lines:
            group = by_clinician.setdefault(line.charge.performer, [])
            if any(other.charge.code == line.charge.code for other in group):
                visits.append([line])
            else:
                group.append(line)
        return list(by_clinician.values()) + visits

    def _evaluate(self, group: list[_Line], day_charges: Sequence[Charge], ytd: float | None) -> None:
        first = group[0].charge
        encounter = self.data.encounters.get(first.encounter_id or "")
        encounter_class = encounter.encounter_class if encounter else None
        pools = same_day_pools([(line.charge.code or "", line.minutes) for line in group])
        records = tuple(
            service_record(
                line.charge,
                self.day,
                line.minutes,
                self.data.note_for(line.charge),
                ytd,
                setting(line.charge, self.rules, encounter_class),
                pool,  # set here, so evaluate_visit need not copy the record to set it
            )
            for line, pool in zip(group, pools, strict=True)
        )
        members = {line.charge.id for line in group}
        context = ClinicalContext(
            patient=self.data.patient,
            encounter=encounter or EncounterInfo(),
            conditions=self.data.conditions,
            payer=payer_on(self.data, self.day, self.shared),
            provider=self._provider(first),
            orders=self.data.orders,
            existing_charges=tuple(c.existing for c in day_charges if c.id not in members),
        )
        result = evaluate_visit(VisitRecord(records), context, rules=self.rules)
        for line, evaluation in zip(group, result.services, strict=True):
            line.evaluation = evaluation
            mine = [f for f in result.findings if f.code in (line.charge.code, None)]
            line.findings = tuple(mine) + tuple(self._reviewed(line, evaluation))

    def _reviewed(self, line: _Line, evaluation: Evaluation) -> list[Finding]:
        """What the scrub adds to the engine's findings for one line."""
        out: list[Finding] = []
        code, units = line.charge.code or "", line.charge.units or 1
        if line.entry is not None and line.entry["unit"] in TIMED and not line.documented:
            out.append(scrub_finding(self.rules, "scrub.minutes-undocumented", code=code, units=units))
        requires = line.entry.get("requires", ()) if line.entry is not None else ()
        if "curriculum" in requires and self.data.note_for(line.charge) is None:
            out.append(scrub_finding(self.rules, "scrub.curriculum-undocumented", code=code))
        return out + self._line_checks(line.charge, evaluation, line.minutes if line.documented else None)

    def _line_checks(self, charge: Charge, evaluation: Evaluation, minutes: int | None) -> list[Finding]:
        """Units against the documented minutes, modifiers against those the rules put on the line."""
        line = next((ln for ln in evaluation.charge_lines if ln.code == charge.code), None)
        if line is None:
            return []
        out = []
        if minutes is not None and charge.units is not None and line.units != charge.units:
            values: dict[str, Any] = {
                "code": charge.code,
                "billed": charge.units,
                "minutes": minutes,
                "computed": line.units,
            }
            out.append(scrub_finding(self.rules, "scrub.units-mismatch", **values))
        missing = [m for m in line.modifiers if m not in (charge.modifiers or ())]
        if missing:
            variant = "not-shown" if charge.modifiers is None else ""
            values = {"code": charge.code, "missing": ", ".join(missing)}
            out.append(scrub_finding(self.rules, "scrub.modifier-missing", variant, **values))
        return out

    def _scored(self, line: _Line) -> Scored:
        evaluation = line.evaluation
        assert evaluation is not None
        findings = _ordered(line.findings)
        if any(f.rule == "scrub.curriculum-undocumented" for f in findings):
            findings = [f for f in findings if f.rule != "curriculum.missing"]  # said once, for the biller
        billable = bool(evaluation.charge_lines) and not any(f.severity == "block" for f in findings)
        estimate = (evaluation.estimate.low, evaluation.estimate.high) if evaluation.estimate else None
        return Scored(line.charge, self.day, findings, billable, estimate, self._provider(line.charge))

    def _addon(self, line: _Line, primary: _Line) -> Scored:
        """An add-on line: its units come from the primary's minutes; the primary's blocks stop it too."""
        evaluation = primary.evaluation
        assert evaluation is not None
        minutes = primary.minutes if primary.documented else None
        findings = self._line_checks(line.charge, evaluation, minutes)
        findings += [f for f in primary.findings if f.severity == "block"]
        billable = bool(evaluation.charge_lines) and not any(f.severity == "block" for f in findings)
        return Scored(
            line.charge, self.day, _ordered(findings), billable, None, self._provider(line.charge), True
        )


_FINDING_DICTS: dict[Finding, dict[str, Any]] = {}


def finding_dict(finding: Finding) -> dict[str, Any]:
    """The finding's JSON, made once per distinct finding (equal findings are shared; rows only read)."""
    found = _FINDING_DICTS.get(finding)
    if found is None:
        if len(_FINDING_DICTS) > 10_000:  # bounded: findings that name a charge or order are one-offs
            _FINDING_DICTS.clear()
        found = _FINDING_DICTS[finding] = finding.to_dict()
    return found


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    rank = {"block": 0, "warn": 1, "info": 2}
    return sorted(unique, key=lambda f: rank[f.severity])


def is_therapy(entry: Entry | None, provider: Provider) -> bool:
    if entry is None:
        return False
    return entry["therapy"] == "always" or (entry["therapy"] == "sometimes" and provider.role in THERAPISTS)
