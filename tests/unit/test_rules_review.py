"""Review of the rules engine (issue 3): each test fails on the engine as first written.

Orders are data-driven, estimates say when none is loaded, KX warns on the crossing line, RTM time
under-coding, 2026 code dates, 99078 payer acceptance, device-day messages.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from billing_rules import BadInput, load_rules, parse_service_record
from billing_rules.model import Coding, EncounterInfo, Evaluation, ExistingCharge, Finding, Order
from billing_rules.orders import is_education_order
from tests.unit.test_rules_registry import FULL_EVAL, ORDER, education, rules_of, run, therapy

CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def with_orders(*orders: Order, **kw: Any) -> set[str]:
    return rules_of(run(education(context={"orders": orders}, **kw)))


# --- Orders ----------------------------------------------------------------------------------------------

BARE = Order("b", status="active", intent="order", authored_on=date(2026, 3, 1), requester_role="MD")


@pytest.mark.parametrize(
    "codes",
    [
        (Coding(LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),),
        (Coding(SNOMED, "77477000", "Computerized axial tomography"),),
        (Coding(CPT, "97110"),),
        (Coding(CPT, "97110", "Therapeutic exercise with home program education"),),
        (Coding("urn:oid:2.16.840.1.113883.6.12", "97110", "home exercise education"),),
        (),
    ],
)
def test_an_order_for_another_service_does_not_count(codes: tuple[Coding, ...]) -> None:
    assert "order.missing" in with_orders(replace(BARE, codes=codes))


@pytest.mark.parametrize(
    "order",
    [
        replace(BARE, codes=(Coding(CPT, "98960"),)),
        replace(BARE, codes=(Coding(CPT, "98962"),)),
        replace(BARE, codes=(Coding(SNOMED, "311401005", "Patient education (procedure)"),)),
        replace(BARE, text="DSMES referral"),
        replace(BARE, codes=(Coding("urn:local", "X1", "Asthma self management teaching"),)),
    ],
)
def test_education_orders_count_for_every_code_of_the_family(order: Order) -> None:
    for code, size in (("98960", 1), ("98961", 3), ("98962", 6)):
        assert "order.missing" not in with_orders(order, code=code, patients_in_group=size)


def test_a_proposal_is_not_an_order() -> None:
    assert "order.missing" in with_orders(replace(ORDER, intent="proposal"))


def test_unknown_requester_role_is_accepted_and_said() -> None:
    ev = run(education(context={"orders": (replace(ORDER, requester_role=None),)}))
    (finding,) = [f for f in ev.findings if f.rule == "order.requester-unconfirmed"]
    assert finding.severity == "info" and "ServiceRequest/o1" in finding.message
    assert "order.missing" not in rules_of(ev) and ev.billable


def test_a_confirmed_order_silences_the_unconfirmed_one() -> None:
    found = with_orders(replace(ORDER, id="x", requester_role="unknown"), ORDER)
    assert not {"order.missing", "order.requester-unconfirmed"} & found


def test_order_missing_says_why_a_found_order_does_not_count() -> None:
    ev = run(education(context={"orders": (replace(ORDER, authored_on=date(2026, 3, 5)),)}))
    (finding,) = [f for f in ev.findings if f.rule == "order.missing"]
    assert "ServiceRequest/o1" in finding.message and "after the service" in finding.message


def test_the_cds_hooks_and_the_engine_share_the_education_test() -> None:
    from smart_app.cds_hooks import ours

    lab = replace(BARE, codes=(Coding(LOINC, "4548-4"),), text="HbA1c")
    for order in (ORDER, lab, replace(BARE, codes=(Coding(CPT, "97110"),), text="education")):
        assert ours.is_education_order(order, ()) is is_education_order(order)


def test_every_order_kind_named_by_a_code_exists() -> None:
    from billing_rules import default_rules

    rules = default_rules()
    kinds = {k["name"] for k in rules.entries("order_kind")}
    named = {e["order_kind"] for entries in rules.codes.values() for e in entries if "order_kind" in e}
    assert named and named <= kinds
    required = {c for p in rules.entries("policy") for c in p.get("order_required", ())}
    assert all("order_kind" in e for c in required for e in rules.codes[c])


# --- Estimates -------------------------------------------------------------------------------------------


def finding(ev: Evaluation, rule: str) -> Finding:
    (found,) = [f for f in ev.findings if f.rule == rule]
    return found


@pytest.mark.parametrize(("payer", "code", "size"), [("commercial", "98961", 3), ("medicaid", "98962", 6)])
def test_group_codes_without_a_range_say_no_estimate_is_loaded(payer: str, code: str, size: int) -> None:
    ev = run(education(payer=payer, code=code, patients_in_group=size))
    note = finding(ev, "estimate.not-loaded")
    assert ev.estimate is None and note.severity == "info"
    assert "per patient" in note.message and "fee schedule" in note.prompt
    assert "SMART_EDU_RULES_DIR" in note.source  # the how-to for the billing office, not the clinician's text


def test_therapy_without_a_range_says_so() -> None:
    ev = run(therapy(payer="medicaid"))
    assert ev.estimate is None and "97110" in finding(ev, "estimate.not-loaded").message


def test_a_sourced_2026_medicare_figure_is_shown_with_basis_and_year() -> None:
    ev = run(therapy(code="97163", evaluation=FULL_EVAL))
    assert ev.estimate is not None and (ev.estimate.low, ev.estimate.high) == (97.86, 97.86)
    assert "2026" in ev.estimate.basis and "checked 2026-12-05" in ev.estimate.basis
    assert "PPRRVU26" in ev.estimate.basis and "$33.4009" in ev.estimate.basis


def test_a_2023_figure_is_not_shown_for_another_year_and_no_period_notice_is_added() -> None:
    ev = run(therapy(service_date="2025-06-10"))  # 97110 has 2023 and 2026 figures, none for 2025
    assert ev.estimate is None
    assert "rules.out-of-period" not in {f.rule for f in ev.findings}  # issue 12: less noise
    assert finding(ev, "estimate.not-loaded").severity == "info"


def test_cq_lines_are_estimated_at_85_percent() -> None:
    ev = run(therapy(role="PTA", service_date="2023-05-02", minutes=15))
    assert "CQ" in ev.charge_lines[0].modifiers
    assert ev.estimate is not None and ev.estimate.high == round(27.89 * 0.85, 2)
    assert "CQ x0.85" in ev.estimate.basis


# --- KX: the line that crosses the threshold ----------------------------------------------------------


@pytest.mark.parametrize(("ytd", "warns"), [(2200, False), (2210, True), (2409.99, True)])
def test_kx_warns_when_this_line_may_cross_the_threshold(ytd: float, warns: bool) -> None:
    # 2 units, no 2025 range: at most $100 a unit
    ev = run(therapy(service_date="2025-06-10", therapy_ytd_allowed=ytd))
    crossing = [f for f in ev.findings if f.rule == "kx.threshold"]
    assert bool(crossing) is warns and "KX" not in ev.charge_lines[0].modifiers
    if warns:
        assert crossing[0].severity == "warn" and "$2,410" in crossing[0].prompt
        assert "200.00" in crossing[0].message


@pytest.mark.parametrize(("ytd", "warns"), [(2421, False), (2422, True)])
def test_kx_crossing_uses_the_2026_national_amount_of_a_timed_code(ytd: float, warns: bool) -> None:
    ev = run(
        therapy(therapy_ytd_allowed=ytd)
    )  # 97110: 2 units x $29.06 = $58.12 (docs/reference/pfs-2026.md)
    crossing = [f for f in ev.findings if f.rule == "kx.threshold"]
    assert bool(crossing) is warns
    if warns:
        assert "58.12" in crossing[0].message and "loaded estimate" in crossing[0].message


@pytest.mark.parametrize(("ytd", "warns"), [(2380, False), (2390, True)])
def test_kx_crossing_uses_the_estimate_when_one_is_loaded(ytd: float, warns: bool) -> None:
    ev = run(therapy(code="97163", evaluation=FULL_EVAL, therapy_ytd_allowed=ytd))
    crossing = [f for f in ev.findings if f.rule == "kx.threshold"]
    assert bool(crossing) is warns
    if warns:
        assert "97.86" in crossing[0].message and "loaded estimate" in crossing[0].message


def test_kx_at_the_threshold_still_adds_kx() -> None:
    ev = run(therapy(therapy_ytd_allowed=2480))
    assert "KX" in ev.charge_lines[0].modifiers


# --- RTM ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "better"), [(20, "98980"), (39, "98980"), (45, "98980 plus 98981 x1")])
def test_98979_with_20_minutes_or_more_under_codes(minutes: int, better: str) -> None:
    ev = run(therapy(code="98979", minutes=minutes, rtm={"interactive_communication": True}))
    found = finding(ev, "rtm.under-coded")
    assert found.severity == "warn" and f"Bill {better} for" in found.prompt


def test_98980_below_20_minutes_before_2026_names_no_98979() -> None:
    ev = run(
        therapy(code="98980", service_date="2025-06-02", minutes=15, rtm={"interactive_communication": True})
    )
    assert "98979" not in finding(ev, "time.below-minimum").prompt


@pytest.mark.parametrize("code", ["98979", "98984", "98985", "98986"])
def test_2026_rtm_codes_do_not_exist_before_2026(code: str) -> None:
    late_2025 = run(therapy(code=code, service_date="2025-12-31", minutes=15, rtm={"days_of_data": 10}))
    assert "rules.not-evaluated" in rules_of(late_2025)
    early_2026 = run(therapy(code=code, service_date="2026-01-01", minutes=15, rtm={"days_of_data": 10}))
    assert "rules.not-evaluated" not in rules_of(early_2026)


@pytest.mark.parametrize(
    ("day", "days", "says"),
    [
        ("2025-06-02", 10, "No device-supply code for 10 days"),
        ("2026-03-02", 10, "Bill 98985"),
        ("2026-03-02", 1, "Fewer than 2 days"),
        ("2026-03-02", 20, None),
    ],
)
def test_device_supply_day_counts(day: str, days: int, says: str | None) -> None:
    ev = run(therapy(code="98977", service_date=day, rtm={"days_of_data": days}))
    if says is None:
        assert "rtm.days" not in rules_of(ev)
    else:
        assert says in finding(ev, "rtm.days").prompt


def test_more_than_30_days_in_a_30_day_period_is_bad_input() -> None:
    with pytest.raises(BadInput):
        parse_service_record({"code": "98977", "rtm": {"days_of_data": 31}})


# --- 99078 (§13 row 28) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("payer", ["commercial", "medicaid", "medicare-advantage", "unknown"])
def test_99078_warns_that_the_payer_may_not_accept_it(payer: str) -> None:
    ev = run(education(payer=payer, role="MD", code="99078", patients_in_group=4))
    found = [f for f in ev.findings if f.rule == "payer.not-covered"]
    assert [f.severity for f in found] == ["warn"] and "may not pay" in found[0].message


def test_99078_stays_blocked_for_medicare() -> None:
    ev = run(education(payer="medicare", role="MD", code="99078", patients_in_group=4))
    assert [f.severity for f in ev.findings if f.rule == "payer.not-covered"] == ["block"]


# --- Our own words --------------------------------------------------------------------------------------

# Short phrases that open or carry the AMA descriptors: a paraphrase built on them tracks the AMA text.
DESCRIPTOR_PHRASES = (
    "therapeutic exercise",
    "therapeutic procedure",
    "manual therapy techniques",
    "neuromuscular re",
    "gait training",
    "self-care and home management",
    "self-care/home management",
    "dynamic",
    "physical therapy evaluation",
    "re-evaluation of",
    "outpatient visit",
    "self-management education",
    "treatment management",
    "set-up and patient education",
    "device supply",
    "educational services",
)


def test_paraphrases_do_not_track_descriptor_wording() -> None:
    from billing_rules import catalogue

    for info in catalogue():
        text = info.paraphrase.casefold()
        assert not [p for p in DESCRIPTOR_PHRASES if p in text], (info.code, info.paraphrase)


def test_assistant_minutes_above_the_service_minutes_are_bad_input() -> None:
    with pytest.raises(BadInput) as err:
        parse_service_record({"code": "97110", "minutes": 20, "assistant_minutes": 25})
    assert err.value.field == "assistant_minutes"
    whole = parse_service_record({"code": "97110", "minutes": 20, "assistant_minutes": 20})
    assert whole.assistant_minutes == 20


# --- CQ/CO: more than 10% of a unit (rules-contract §2) -------------------------------------------------


@pytest.mark.parametrize(("helped", "cq"), [(1, False), (2, True), (5, True)])
def test_cq_when_the_assistant_furnished_more_than_10_percent_of_a_unit(helped: int, cq: bool) -> None:
    ev = run(therapy(minutes=60, assistant_minutes=helped))  # 4 units; 5 minutes is 8% of the service
    assert any("CQ" in line.modifiers for line in ev.charge_lines) is cq
    if cq:  # per unit: the PT's own 3 whole units are paid in full, the 4th carries CQ
        assert [(c.units, c.modifiers) for c in ev.charge_lines] == [(3, ("GP",)), (1, ("GP", "CQ"))]
        assert "separate line" in finding(ev, "assistant.cq").prompt


def test_a_pta_alone_gets_cq_without_a_split_hint() -> None:
    ev = run(therapy(role="PTA", minutes=30))
    assert "CQ" in ev.charge_lines[0].modifiers and "separate line" not in finding(ev, "assistant.cq").prompt


def test_rtm_without_the_rpm_answer_says_it_was_not_checked() -> None:
    ev = run(therapy(code="98977", rtm={"days_of_data": 20}))
    assert finding(ev, "rtm.rpm-same-month").severity == "info" and ev.billable


# --- Duplicates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encounter", "duplicate"), [("e1", True), ("e2", False), (None, False)])
def test_an_undated_charge_on_this_encounter_is_a_possible_duplicate(
    encounter: str | None, duplicate: bool
) -> None:
    charge = ExistingCharge("ch9", "98960", None, "billable", ("urn:other|9",), encounter_id=encounter)
    context = {"existing_charges": (charge,), "encounter": EncounterInfo(id="e1", start="2026-03-02")}
    ev = run(education(context=context))
    assert ("duplicate.charge" in rules_of(ev)) is duplicate


def test_a_contract_that_pays_98960_under_medicare_drops_the_zero_estimate(tmp_path: Path) -> None:
    (tmp_path / "contract.toml").write_text(
        '[[policy]]\npayer_class = "medicare"\nnot_paid = ["99078"]\n'
        "effective_from = 2026-01-01\neffective_to = 2026-12-31\n"
        'source = "our contract 2026 (local decision)"\ndecision = true\n'
    )
    ev = run(education(payer="medicare"), load_rules([tmp_path]))
    assert ev.billable and ev.estimate is None and "estimate.not-loaded" in rules_of(ev)
