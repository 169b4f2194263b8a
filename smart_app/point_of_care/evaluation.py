"""The live check behind the page: form + launch context → ServiceRecord → Evaluation, and what the page says.

Pure apart from the cached catalogue: the JSON endpoint, the no-JavaScript form post, the review page and the
sign handler all run the same function on the draft's fields, so what is signed is what was shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import billing_rules
from billing_rules import icd10
from billing_rules.catalogue import GROUPS
from billing_rules.model import ClinicalContext, Evaluation, ServiceRecord
from smart_app.point_of_care.form import FormError, focus_id, record_input


@dataclass(frozen=True)
class CodeChoice:
    code: str
    paraphrase: str
    group: str
    fields: frozenset[str]


@lru_cache(maxsize=1)
def code_choices() -> dict[str, CodeChoice]:
    """The catalogue by code (our paraphrases only), read once per process."""
    out: dict[str, CodeChoice] = {}
    for info in billing_rules.catalogue():
        out[info.code] = CodeChoice(info.code, info.paraphrase, info.group, frozenset(info.fields))
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
class Check:
    """One evaluation of the form as the page shows it."""

    code: str
    needed: frozenset[str]
    record: ServiceRecord | None
    evaluation: Evaluation | None
    errors: tuple[FormError, ...] = field(default=())

    @property
    def blocked(self) -> bool:
        return self.evaluation is not None and self.evaluation.blocked

    @property
    def can_sign_charge(self) -> bool:
        return self.evaluation is not None and not self.errors and not self.evaluation.blocked

    @property
    def can_sign_note_only(self) -> bool:
        """A blocked service may still be documented: the note alone, never a charge."""
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
            return f"{n} field(s) need correcting before the service can be checked."
        if self.evaluation is None:
            return "Not checked yet."
        by = self.findings_by_severity()
        counts = f"{len(by['block'])} blocking, {len(by['warn'])} warning(s)"
        if self.evaluation.blocked:
            return f"Signing a charge is blocked ({counts}). Fix the blocking items, or sign the note alone."
        lines = len(self.evaluation.charge_lines)
        return f"Ready to review and sign: {lines} charge line(s), {counts}."


def check(fields: Mapping[str, Any], context: ClinicalContext, *, as_of: date | None = None) -> Check:
    """Evaluate the form's fields against the launch's context; bad input becomes field errors, not a 500."""
    code = str(fields.get("code") or "").strip().upper()
    choice = code_choices().get(code)
    needed = choice.fields if choice else frozenset()
    if not code:
        return Check(code="", needed=needed, record=None, evaluation=None)
    data, errors = record_input(fields, needed, default_date=context.encounter.service_date)
    if errors:
        return Check(code=code, needed=needed, record=None, evaluation=None, errors=tuple(errors))
    try:
        record = billing_rules.parse_service_record(data)
    except billing_rules.BadInput as exc:
        err = FormError(_control_for(exc.field), exc.message)
        return Check(code=code, needed=needed, record=None, evaluation=None, errors=(err,))
    evaluation = billing_rules.evaluate(record, context, as_of=as_of)
    return Check(code=code, needed=needed, record=record, evaluation=evaluation)


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
