"""A patient's same-day charges as one visit, each rebuilt into a ServiceRecord and evaluated with the engine.

The charge is checked as billed: its code, units, modifiers, place of service, performer and diagnoses come
from the ChargeItem; minutes, curriculum and topics from the app's note where there is one. Where the note
gives no minutes, a timed code is checked with the minutes its billed units claim and says so in a finding of
its own (``scrub.minutes-undocumented``); where it gives them, the billed units are compared with what they
support (``scrub.units-mismatch``). The modifiers the rules require are compared with those billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from billing_rules import evaluate
from billing_rules.lines import TIMED
from billing_rules.loader import Entry, RuleSet
from billing_rules.model import ClinicalContext, Evaluation, Finding, Provider, ServiceRecord
from billing_rules.policy import THERAPISTS
from smart_app.scrub.findings import scrub_finding
from smart_app.scrub.notes import NoteFacts
from smart_app.scrub.patient import Charge, PatientData, payer_on, provider_of

UNIT_MINUTES = {"timed-15": 15, "timed-30": 30}
TELEHEALTH_AUDIO = frozenset({"93", "FQ"})


@dataclass
class Scored:
    """One charge's result (becomes a row of scrub.json)."""

    charge: Charge
    day: date | None
    findings: list[Finding]
    billable: bool
    estimate: tuple[float, float] | None
    provider: Provider
    addon: bool = False  # evaluated with its primary (whose estimate covers both lines)

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


def _setting(charge: Charge, rules: RuleSet, context_class: str | None) -> dict[str, str]:
    for entry in rules.entries("pos"):
        if charge.pos and entry["pos"] == charge.pos:
            if entry["mode"] == "telehealth":
                audio = TELEHEALTH_AUDIO & set(charge.modifiers or ())
                return {"mode": "audio-only" if audio else "video", "location": entry["location"]}
            return {"mode": "in-person", "location": entry["location"]}
    if context_class == "VR":
        return {"mode": "video", "location": "other"}
    if context_class == "HH":
        return {"mode": "in-person", "location": "home"}
    return {}


def _claimed_minutes(entry: Entry, units: int, addon_units: int) -> int | None:
    """The minutes the billed units stand for (a full unit each): the claim's own assertion, not a guess."""
    kind = entry["unit"]
    if kind in UNIT_MINUTES:
        return UNIT_MINUTES[kind] * units
    if kind == "caregiver-30":
        return 30 + 15 * addon_units
    if kind == "rtm-management":
        first = int(entry.get("first_minutes", 20))
        return max(first, 20) + 20 * addon_units if addon_units else first
    return None


class VisitScrub:
    """Evaluates one day of one patient's charges."""

    def __init__(self, data: PatientData, shared: dict[str, Any], rules: RuleSet, day: date) -> None:
        self.data, self.shared, self.rules, self.day = data, shared, rules, day

    def run(self, charges: Sequence[Charge], ytd: float | None) -> list[Scored]:
        coded = [c for c in charges if c.code and self.rules.code(c.code, self.day) is not None]
        entries = {c.id: self.rules.code(c.code, self.day) for c in coded if c.code}
        minutes = {c.id: self._minutes(c, entries[c.id], charges) for c in coded}
        out: list[Scored] = []
        primaries: dict[str, tuple[Evaluation, Provider, list[Finding]]] = {}
        for charge in charges:
            entry = entries.get(charge.id)
            if entry is not None and entry["unit"] == "add-on" and self._primary_of(entry, charges):
                continue
            out.append(self._one(charge, entry, minutes, charges, ytd, primaries))
        for charge in charges:
            entry = entries.get(charge.id)
            if entry is not None and entry["unit"] == "add-on" and (p := self._primary_of(entry, charges)):
                out.append(self._addon(charge, p, primaries))
        order = {c.id: i for i, c in enumerate(charges)}
        return sorted(out, key=lambda s: order[s.charge.id])

    def _primary_of(self, entry: Entry, charges: Sequence[Charge]) -> Charge | None:
        return next((c for c in charges if c.code == entry.get("primary")), None)

    def _note(self, charge: Charge) -> NoteFacts | None:
        return self.data.note_for(charge)

    def _minutes(
        self, charge: Charge, entry: Entry | None, charges: Sequence[Charge]
    ) -> tuple[int | None, bool]:
        """(minutes, documented): the note's minutes where it gives them, else those the units claim."""
        note = self._note(charge)
        documented = note.minutes_of(charge.code or "") if note else None
        if documented is not None:
            return documented, True
        if entry is None or entry["unit"] not in TIMED:
            return None, False
        addon = entry.get("addon")
        addon_units = sum(c.units or 1 for c in charges if addon and c.code == addon)
        return _claimed_minutes(entry, charge.units or 1, addon_units), False

    def _context(self, charge: Charge, provider: Provider, charges: Sequence[Charge]) -> ClinicalContext:
        encounter = self.data.encounters.get(charge.encounter_id or "")
        others = tuple(c.existing for c in charges if c.id != charge.id)
        kwargs: dict[str, Any] = {"encounter": encounter} if encounter else {}
        return ClinicalContext(
            patient=self.data.patient,
            conditions=self.data.conditions,
            payer=payer_on(self.data, self.day, self.shared),
            provider=provider,
            orders=self.data.orders,
            existing_charges=others,
            **kwargs,
        )

    def _one(
        self,
        charge: Charge,
        entry: Entry | None,
        minutes: dict[str, tuple[int | None, bool]],
        charges: Sequence[Charge],
        ytd: float | None,
        primaries: dict[str, tuple[Evaluation, Provider, list[Finding]]],
    ) -> Scored:
        provider = provider_of(charge.performer, self.shared)
        if charge.code is None:
            found = scrub_finding(self.rules, "scrub.code-unreadable", found=charge.found_codes)
            return Scored(charge, self.day, [found], False, None, provider)
        own, documented = minutes.get(charge.id, (None, False))
        note = self._note(charge)
        pool = {
            c.code: m
            for c in charges
            if c.id != charge.id and c.code and c.code != charge.code
            for m in [minutes.get(c.id, (None, False))[0]]
            if m is not None
        }
        encounter = self.data.encounters.get(charge.encounter_id or "")
        record = ServiceRecord(
            code=charge.code,
            service_date=self.day,
            minutes=own,
            diagnoses=charge.diagnoses,
            other_timed_minutes=pool,
            therapy_ytd_allowed=ytd,
            curriculum=note.curriculum if note else None,
            topics=note.topics if note else (),
            patients_in_group=(note.patients_in_group or 1) if note else 1,
            caregiver_present=note.caregiver_present if note else None,
            patient_present=note.patient_present if note else True,
            **_setting(charge, self.rules, encounter.encounter_class if encounter else None),  # type: ignore[arg-type]
        )
        evaluation = evaluate(record, self._context(charge, provider, charges), rules=self.rules)
        findings = self._reviewed(charge, entry, evaluation, own, documented, note)
        primaries[charge.code] = (evaluation, provider, findings)
        billable = bool(evaluation.charge_lines) and not any(f.severity == "block" for f in findings)
        estimate = (evaluation.estimate.low, evaluation.estimate.high) if evaluation.estimate else None
        return Scored(charge, self.day, findings, billable, estimate, provider)

    def _reviewed(
        self,
        charge: Charge,
        entry: Entry | None,
        evaluation: Evaluation,
        own: int | None,
        documented: bool,
        note: NoteFacts | None,
    ) -> list[Finding]:
        findings = list(evaluation.findings)
        code = charge.code or ""
        units = charge.units or 1
        if entry is not None and entry["unit"] in TIMED and not documented:
            findings.append(scrub_finding(self.rules, "scrub.minutes-undocumented", code=code, units=units))
        if entry is not None and "curriculum" in entry.get("requires", ()) and note is None:
            findings = [f for f in findings if f.rule != "curriculum.missing"]
            findings.append(scrub_finding(self.rules, "scrub.curriculum-undocumented", code=code))
        findings += self._line_checks(charge, evaluation, own if documented else None)
        return _ordered(findings)

    def _line_checks(self, charge: Charge, evaluation: Evaluation, minutes: int | None) -> list[Finding]:
        line = next((ln for ln in evaluation.charge_lines if ln.code == charge.code), None)
        if line is None:
            return []
        out = []
        if minutes is not None and charge.units is not None and line.units != charge.units:
            out.append(
                scrub_finding(
                    self.rules,
                    "scrub.units-mismatch",
                    code=charge.code,
                    billed=charge.units,
                    minutes=minutes,
                    computed=line.units,
                )
            )
        missing = [m for m in line.modifiers if m not in (charge.modifiers or ())]
        if missing:
            variant = "not-shown" if charge.modifiers is None else ""
            out.append(
                scrub_finding(
                    self.rules,
                    "scrub.modifier-missing",
                    variant,
                    code=charge.code,
                    missing=", ".join(missing),
                )
            )
        return out

    def _addon(
        self,
        charge: Charge,
        primary: Charge,
        primaries: dict[str, tuple[Evaluation, Provider, list[Finding]]],
    ) -> Scored:
        """An add-on line is evaluated with its primary (its units come from the primary's minutes)."""
        evaluation, provider, primary_findings = primaries[primary.code or ""]
        minutes, documented = None, False
        note = self._note(primary)
        if note and note.minutes_of(primary.code or "") is not None:
            minutes, documented = note.minutes_of(primary.code or ""), True
        findings = self._line_checks(charge, evaluation, minutes if documented else None)
        findings += [f for f in primary_findings if f.severity == "block"]
        billable = bool(evaluation.charge_lines) and not any(f.severity == "block" for f in findings)
        return Scored(charge, self.day, _ordered(findings), billable, None, provider, addon=True)


_FINDING_DICTS: dict[Finding, dict[str, Any]] = {}


def finding_dict(finding: Finding) -> dict[str, Any]:
    """The finding's JSON, made once per distinct finding (equal findings are shared; rows only read)."""
    found = _FINDING_DICTS.get(finding)
    if found is None:
        if len(_FINDING_DICTS) > 50_000:
            _FINDING_DICTS.clear()
        found = _FINDING_DICTS[finding] = finding.to_dict()
    return found


def _ordered(findings: list[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    rank = {"block": 0, "warn": 1, "info": 2}
    return sorted(unique, key=lambda f: rank[f.severity])


def is_therapy(entry: Entry | None, provider: Provider) -> bool:
    if entry is None:
        return False
    return entry["therapy"] == "always" or (entry["therapy"] == "sometimes" and provider.role in THERAPISTS)
