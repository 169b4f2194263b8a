"""For EVERY rule id in the registry: one case where it fires and one where it must not.

The ids are enumerated from the rule data, so a new rule without a case here fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from billing_rules import default_rules, evaluate, load_rules, parse_service_record
from billing_rules.loader import RuleSet
from billing_rules.model import (
    ClinicalContext,
    Diagnosis,
    Evaluation,
    ExistingCharge,
    Order,
    PatientInfo,
    Payer,
    Provider,
)

ON = date(2026, 3, 2)
ORDER = Order(
    "o1",
    text="Diabetes self-management education",
    status="active",
    intent="order",
    authored_on=date(2026, 3, 1),
    requester_role="MD",
)
EDUCATION = {
    "code": "98960",
    "service_date": "2026-03-02",
    "minutes": 35,
    "curriculum": "ADA DSMES curriculum",
    "topics": ["glucose monitoring"],
    "diagnoses": ["E11.9"],
}
THERAPY = {
    "code": "97110",
    "service_date": "2026-03-02",
    "minutes": 30,
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 500,
}
FULL_EVAL = {
    "personal_factors": 3,
    "body_systems": 4,
    "presentation": "unstable",
    "decision_complexity": "high",
}
PTP_HEADER = (
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
    "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n"
)
MUE_HEADER = "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n"


@dataclass(frozen=True)
class Case:
    record: dict[str, Any]
    payer: str = "commercial"
    role: str = "RN"
    context: dict[str, Any] = field(default_factory=dict)
    edits: bool = False


def education(
    payer: str = "commercial", role: str = "RN", context: dict[str, Any] | None = None, **kw: Any
) -> Case:
    return Case({**EDUCATION, **kw}, payer, role, context or {})


def therapy(payer: str = "medicare", role: str = "PT", edits: bool = False, **kw: Any) -> Case:
    return Case({**THERAPY, **kw}, payer, role, {}, edits)


def caregiver(**kw: Any) -> Case:
    base = {**THERAPY, "code": "97550", "patient_present": False, "consent_documented": True}
    return Case({**base, **kw}, role="PT")


def dsmt(**kw: Any) -> Case:
    """Individual DSMT in an accredited program, first year, 2 of 10 hours used, Medicare."""
    base = {
        **EDUCATION,
        "code": "G0108",
        "accredited_program": True,
        "benefit_year": "first",
        "benefit_hours_used": 2,
    }
    return Case({**base, **kw}, "medicare", "RN", {})


def died(on: date) -> Case:
    return education(context={"patient": PatientInfo(deceased=True, deceased_date=on)})


def run(case: Case, rules: RuleSet | None = None) -> Evaluation:
    record = parse_service_record({k: v for k, v in case.record.items() if v is not None})
    context_kw: dict[str, Any] = {"orders": (ORDER,), **case.context}
    context = ClinicalContext(payer=Payer(case.payer), provider=Provider(case.role), **context_kw)  # type: ignore[arg-type]
    return evaluate(record, context, as_of=ON, rules=rules)


def rules_of(ev: Evaluation) -> set[str]:
    return {f.rule for f in ev.findings}


@pytest.fixture(scope="module")
def edit_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    """Small files in the CMS layouts: 97140/97110 bypassable pair; MUE of 97110 = 2 units per day. Plus a
    deployment policy: Medicaid wants a prior authorization for 97110 (the edit cases are all Medicare)."""
    folder: Path = tmp_path_factory.mktemp("edits")
    policies: Path = tmp_path_factory.mktemp("policies")
    (policies / "auth.toml").write_text(
        '[[policy]]\npayer_class = "medicaid"\nauthorization_required = ["97110"]\n'
        "effective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "State Medicaid authorization letter on file (test; local decision)"\ndecision = true\n',
        encoding="utf-8",
    )
    notice = "CPT only copyright 2025 American Medical Association. All rights reserved.\n\n"
    (folder / "ccipra-v321r0-f1.txt").write_text(
        notice + PTP_HEADER + "97140\t97110\t\t20200101\t*\t1\tStandards of medical / surgical practice\n",
        encoding="latin-1",
    )
    (folder / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv").write_text(
        '"CPT codes and descriptions only are copyright AMA.",,,\n' + MUE_HEADER
        + '97110,2,"3 Date of Service Edit: Clinical","Clinical: Data"\n',
        encoding="latin-1",
    )  # fmt: skip
    return load_rules([policies], edit_tables_dir=folder)


SNOMED_ONLY = (Diagnosis("c1", snomed=("44054006",), display="Diabetes"),)
WITH_ICD = (Diagnosis("c1", icd10=("E11.9",), snomed=("44054006",), display="Diabetes"),)
OTHER_CHARGE = ExistingCharge("ch1", "98960", ON, "billable", ("urn:other|1",))

# rule id -> (fires, does not fire)
CASES: dict[str, tuple[Case, Case]] = {
    "rules.not-evaluated": (education(code="98999"), education()),
    "rules.out-of-period": (therapy(service_date="2027-03-02"), education()),
    "estimate.not-loaded": (education(code="98961", patients_in_group=3), education()),
    "date.assumed": (education(service_date=None), education()),
    "code.add-on-only": (caregiver(code="97551"), caregiver()),
    "payer.not-covered": (education(payer="medicare"), education()),
    "payer.unknown": (education(payer="unknown"), education()),
    "payer.authorization": (
        therapy(payer="medicaid", edits=True),
        therapy(payer="medicaid", edits=True, code="97112"),
    ),
    "provider.wrong-family": (education(role="NP"), education()),
    "provider.not-qualified": (therapy(role="RN"), therapy()),
    "provider.unknown": (education(role="unknown"), education()),
    "order.missing": (education(context={"orders": ()}), education()),
    "order.requester-unconfirmed": (
        education(context={"orders": (replace(ORDER, requester_role=None),)}),
        education(),
    ),
    "curriculum.missing": (education(curriculum=None), education()),
    "time.missing": (education(minutes=None), education()),
    "time.below-minimum": (education(minutes=15), education(minutes=16)),
    "group.size-mismatch": (education(patients_in_group=3), education()),
    "patient.not-present": (education(patient_present=False), education()),
    "patient.present": (caregiver(patient_present=True), caregiver()),
    "patient.deceased": (died(date(2026, 1, 1)), died(date(2026, 12, 1))),
    "dx.missing": (education(diagnoses=[]), education()),
    "dx.invalid": (education(diagnoses=["E11.99"]), education()),
    "dx.not-billable": (education(diagnoses=["E11"]), education()),
    "dx.pointer-limit": (education(diagnoses=["E11.9", "I10", "E66.9", "J45.909", "N18.30"]), education()),
    "dx.not-supporting": (education(diagnoses=["S93.401A"]), education()),
    "dx.needs-icd10": (
        education(diagnoses=[], context={"conditions": SNOMED_ONLY}),
        education(diagnoses=[], context={"conditions": WITH_ICD}),
    ),
    "telehealth.not-covered": (therapy(code="97140", mode="video"), therapy(mode="video")),
    "telehealth.place-of-service": (therapy(mode="video"), therapy()),
    "modifier.therapy": (therapy(), education()),
    "assistant.cq": (therapy(assistant_minutes=10), therapy(assistant_minutes=1)),
    "kx.threshold": (therapy(therapy_ytd_allowed=2500), therapy()),
    "poc.uncertified": (therapy(plan_of_care_certified=False), therapy()),
    "eval.components-missing": (therapy(code="97163"), therapy(code="97163", evaluation=FULL_EVAL)),
    "eval.level-unsupported": (
        therapy(code="97163", evaluation={**FULL_EVAL, "presentation": "evolving"}),
        therapy(code="97163", evaluation=FULL_EVAL),
    ),
    "eval.level-higher": (
        therapy(code="97161", evaluation=FULL_EVAL),
        therapy(code="97161", evaluation={**FULL_EVAL, "personal_factors": 0}),
    ),
    "consent.missing": (caregiver(consent_documented=None), caregiver()),
    "rtm.days": (
        therapy(code="98977", rtm={"days_of_data": 10}),
        therapy(code="98977", rtm={"days_of_data": 20}),
    ),
    "rtm.interaction-missing": (
        therapy(code="98980", minutes=25, rtm={"interactive_communication": False}),
        therapy(code="98980", minutes=25, rtm={"interactive_communication": True}),
    ),
    "rtm.under-coded": (
        therapy(code="98979", minutes=25, rtm={"interactive_communication": True}),
        therapy(code="98979", minutes=19, rtm={"interactive_communication": True}),
    ),
    "rtm.rpm-same-month": (
        therapy(code="98977", rtm={"days_of_data": 20, "rpm_same_month": True}),
        therapy(code="98977", rtm={"days_of_data": 20, "rpm_same_month": False}),
    ),
    "duplicate.charge": (
        education(context={"existing_charges": (OTHER_CHARGE,)}),
        education(service_date="2026-03-03", context={"existing_charges": (OTHER_CHARGE,)}),
    ),
    "ncci.pair": (
        therapy(edits=True, other_timed_minutes={"97140": 15}),
        therapy(edits=True, other_timed_minutes={"97112": 15}),
    ),
    "mue.exceeded": (therapy(edits=True, minutes=45), therapy(edits=True, minutes=30)),
    "ncci.not-checked": (therapy(edits=True, service_date="2019-06-03"), therapy()),
    # Issue 12
    "time.unknown-code": (
        therapy(other_timed_minutes={"97999": 10}),
        therapy(other_timed_minutes={"97112": 10}),
    ),
    "time.untimed-excluded": (
        therapy(other_timed_minutes={"97161": 45}),
        therapy(other_timed_minutes={"97161": 0}),
    ),
    "time.tie": (
        therapy(minutes=20, other_timed_minutes={"97112": 20}),
        therapy(minutes=21, other_timed_minutes={"97112": 20}),
    ),
    "benefit.condition": (dsmt(diagnoses=["J45.909"]), dsmt()),
    "benefit.not-accredited": (dsmt(accredited_program=None), dsmt()),
    "benefit.same-day": (dsmt(other_timed_minutes={"97802": 30}), dsmt()),
    "benefit.hours": (dsmt(benefit_hours_used=9.5), dsmt()),
    "rtm.setup-repeat": (
        therapy(code="98975", rtm={"days_of_data": 5, "setup_billed": True}),
        therapy(code="98975", rtm={"days_of_data": 5, "setup_billed": False}),
    ),
    "poc.progress-report": (
        therapy(treatment_days_since_progress_report=10),
        therapy(treatment_days_since_progress_report=9),
    ),
    "poc.recert": (therapy(plan_of_care_start="2025-12-02"), therapy(plan_of_care_start="2025-12-03")),
}


def _evaluate(case: Case, edit_rules: RuleSet) -> Evaluation:
    return run(case, edit_rules if case.edits else None)


def test_every_rule_id_in_the_registry_has_cases() -> None:
    # scrub.* findings come from smart_app.scrub, not evaluate(): their cases are in test_scrub_findings.py
    engine_ids = {r for r in default_rules().rule_ids() if not r.startswith("scrub.")}
    missing = engine_ids - set(CASES)
    assert not missing, f"rule ids without fire/no-fire cases: {sorted(missing)}"
    assert set(CASES) <= set(default_rules().rule_ids())


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires(rule_id: str, edit_rules: RuleSet) -> None:
    ev = _evaluate(CASES[rule_id][0], edit_rules)
    assert rule_id in rules_of(ev), [f.rule for f in ev.findings]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_does_not_fire(rule_id: str, edit_rules: RuleSet) -> None:
    ev = _evaluate(CASES[rule_id][1], edit_rules)
    assert rule_id not in rules_of(ev), [(f.rule, f.message) for f in ev.findings]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_fired_finding_is_complete(rule_id: str, edit_rules: RuleSet) -> None:
    """Every finding has a plain message, a prompt, a field and a source, with its placeholders filled."""
    ev = _evaluate(CASES[rule_id][0], edit_rules)
    for f in ev.findings:
        assert f.message and f.prompt and f.field and f.source
        assert "{" not in f.message + f.prompt + f.field


def test_clean_records_are_billable() -> None:
    assert run(education()).billable
    assert run(therapy()).billable
