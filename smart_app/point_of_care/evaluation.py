"""The live check behind the page: form + launch context → VisitRecord → VisitEvaluation, and what the page
says.

Pure apart from the cached catalogue: the JSON endpoint, the no-JavaScript form post, the review page and the
sign handler all run the same function on the draft's fields, so what is signed is what was shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any

import billing_rules
from billing_rules import icd10
from billing_rules.catalogue import GROUPS
from billing_rules.model import ClinicalContext, Evaluation, ServiceRecord
from billing_rules.visit import VisitEvaluation, VisitRecord
from smart_app.point_of_care.form import FormError, focus_id, record_input, row_fields
from smart_app.point_of_care.rows import ROW_FIELDS, Row, rows


@dataclass(frozen=True)
class CodeChoice:
    code: str
    paraphrase: str
    group: str
    fields: frozenset[str]
    unit_type: str = ""
    group_size: tuple[int, int] = (1, 1)

    @property
    def family(self) -> str:
        """``therapy``, ``education`` or ``other``: what the page's titles and labels say."""
        return FAMILIES.get(self.group, "other")

    @property
    def is_group(self) -> bool:
        """Several patients at once: only then does the page ask how many were in the session."""
        return self.group_size[1] > 1


# The catalogue's groups as the clinician reads them (the data's group names are for the rule authors).
GROUP_LABELS = {"therapy with education": "therapy", "E/M": "office visits (E/M)"}
FAMILIES = {
    "self-management education": "education",
    "group education": "education",
    "therapy with education": "therapy",
    "evaluations": "therapy",
    "caregiver training": "therapy",
}


@lru_cache(maxsize=1)
def code_choices() -> dict[str, CodeChoice]:
    """The catalogue by code (our paraphrases only), read once per process."""
    rules = billing_rules.default_rules()
    out: dict[str, CodeChoice] = {}
    for info in billing_rules.catalogue(rules):
        entries = rules.codes.get(info.code) or [{}]
        size = max(entries, key=lambda e: e.get("effective_from") or date.min).get("group_size") or [1, 1]
        out[info.code] = CodeChoice(
            info.code,
            info.paraphrase,
            info.group,
            frozenset(info.fields),
            info.unit_type,
            (int(size[0]), int(size[1])),
        )
    return out


def warm() -> None:
    """Load the rule data and the ICD-10-CM index now (in the server's master before it forks workers), so the
    first live checks of every worker do not pay for it (about half a second)."""
    code_choices()
    icd10.describe("E11.9")


def grouped_choices() -> list[tuple[str, list[CodeChoice]]]:
    """Catalogue codes grouped for the select, in the group order of ``billing_rules.catalogue.GROUPS``."""
    groups: dict[str, list[CodeChoice]] = {}
    for choice in code_choices().values():
        groups.setdefault(choice.group, []).append(choice)
    rank = {g: n for n, g in enumerate(GROUPS)}
    ordered = sorted(groups, key=lambda g: (rank.get(g, len(rank)), g))
    return [(g, sorted(groups[g], key=lambda c: c.code)) for g in ordered]


@dataclass(frozen=True)
class RowCheck:
    """One service row of the visit as the page shows it: its code, and what the engine said of it."""

    row: Row
    choice: CodeChoice | None
    evaluation: Evaluation | None = None  # this service's own Evaluation, within the visit

    @property
    def blocked(self) -> bool:
        return self.evaluation is not None and self.evaluation.blocked


@dataclass(frozen=True)
class Check:
    """One evaluation of the form (the whole visit) as the page shows it."""

    code: str  # the first service's code ("" until one is chosen)
    needed: frozenset[str]  # what the visit's codes need, together
    visit: VisitRecord | None
    evaluation: VisitEvaluation | None
    errors: tuple[FormError, ...] = field(default=())
    rows: tuple[RowCheck, ...] = field(default=())

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.row.code for r in self.rows if r.row.code)

    @property
    def record(self) -> ServiceRecord | None:
        """The service, when the visit has exactly one (the single-service write path)."""
        if self.visit is None or len(self.visit.services) != 1:
            return None
        return self.visit.services[0]

    @property
    def service_evaluation(self) -> Evaluation | None:
        """The one service's Evaluation, when the visit has exactly one."""
        if self.evaluation is None or len(self.evaluation.services) != 1:
            return None
        return self.evaluation.services[0]

    @property
    def blocked(self) -> bool:
        return self.evaluation is not None and self.evaluation.blocked

    @property
    def can_sign_charge(self) -> bool:
        return self.evaluation is not None and not self.errors and not self.evaluation.blocked

    @property
    def can_sign_note_only(self) -> bool:
        """A blocked visit may still be documented: the note alone, never a charge."""
        return self.evaluation is not None and not self.errors and self.evaluation.blocked

    def findings_by_severity(self) -> dict[str, list[Any]]:
        return (
            self.evaluation.findings_by_severity()
            if self.evaluation
            else {"block": [], "warn": [], "info": []}
        )

    @property
    def summary(self) -> str:
        """One sentence for the status line and screen readers."""
        if not self.code:
            return "Choose the service you provided."
        if self.errors:
            n = len(self.errors)
            return f"{n} field(s) need correcting before the visit can be checked."
        if self.evaluation is None:
            return "Not checked yet."
        by = self.findings_by_severity()
        counts = f"{len(by['block'])} blocking, {len(by['warn'])} warning(s)"
        if self.evaluation.blocked:
            return f"Signing a charge is blocked ({counts}). Fix the blocking items, or sign the note alone."
        lines = len(self.evaluation.charge_lines)
        return f"Ready to review and sign: {lines} charge line(s), {counts}."


def check(fields: Mapping[str, Any], context: ClinicalContext, *, as_of: date | None = None) -> Check:
    """Evaluate the form's visit against the launch's context; bad input becomes field errors, not a 500.

    Each row is read with the visit's shared fields (date, mode, place, diagnoses, the code family's details),
    keeping only what its code needs; the rows then go to the engine as one VisitRecord, so the visit's timed
    services form the CMS total-minutes pool by themselves.
    """
    choices = code_choices()
    shown = [RowCheck(r, choices.get(r.code)) for r in rows(fields)]
    coded = [r for r in shown if r.row.code]
    needed = frozenset(n for r in coded if r.choice for n in r.choice.fields) - {"other_timed_minutes"}
    if not coded:
        return Check(code="", needed=needed, visit=None, evaluation=None, rows=tuple(shown))
    first = coded[0].row.code
    services: list[dict[str, Any]] = []
    errors: list[FormError] = []
    for r in coded:
        data, row_errors = record_input(
            row_fields(fields, r.row),
            _row_needs(r),
            default_date=context.encounter.service_date,
            family=r.choice.family if r.choice else "",
        )
        services.append(data)
        errors += [FormError(_row_control(r.row, e.field), e.message) for e in row_errors]
    if errors:
        return Check(first, needed, None, None, errors=tuple(_once(errors)), rows=tuple(shown))
    try:
        visit = billing_rules.parse_visit_record({"services": services})
    except billing_rules.BadInput as exc:
        err = FormError(_visit_control(coded, exc.field), exc.message)
        return Check(first, needed, None, None, errors=(err,), rows=tuple(shown))
    evaluation = billing_rules.evaluate_visit(visit, context, as_of=as_of)
    own = dict(zip((r.row.index for r in coded), evaluation.services, strict=True))
    shown = [replace(r, evaluation=own.get(r.row.index)) for r in shown]
    return Check(first, needed, visit, evaluation, rows=tuple(shown))


def _row_needs(r: RowCheck) -> frozenset[str]:
    needs = r.choice.fields if r.choice else frozenset()
    return needs - {"other_timed_minutes"}


def _row_control(row: Row, name: str) -> str:
    return row.name(name) if name in ROW_FIELDS or name == "minutes" else name


def _once(errors: list[FormError]) -> list[FormError]:
    """A shared field's error is said once, not once per row."""
    return list(dict.fromkeys(errors))


def _visit_control(coded: list[RowCheck], path: str) -> str:
    """The control of a BadInput's path: ``services[1].minutes`` is the second coded row's minutes box."""
    match = re.fullmatch(r"services\[(\d+)\]\.?(.*)", path)
    if not match:
        return _control_for(path)
    index, rest = int(match[1]), match[2] or "code"
    row = coded[index].row if index < len(coded) else coded[0].row
    control = _control_for(rest)
    return row.name(control) if control in ROW_FIELDS else control


def _control_for(record_field: str) -> str:
    """The form control's name for a ServiceRecord field named in a BadInput."""
    return focus_id(record_field).removeprefix("f-")


def check_json(result: Check) -> dict[str, Any]:
    """The JSON the page's script receives (besides the rendered fragment)."""
    return {
        "code": result.code,
        "needed": sorted(result.needed),
        "evaluation": result.evaluation.to_dict() if result.evaluation else None,
        "form_errors": [e.to_dict() for e in result.errors],
        "can_review": result.can_sign_charge,
        "can_sign_note_only": result.can_sign_note_only,
        "summary": result.summary,
    }
