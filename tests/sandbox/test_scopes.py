"""Scope grammar: v1 and v2 spellings map to the same letters; malformed or filtered scopes grant nothing."""

from __future__ import annotations

import pytest

from sandbox_ehr.scopes import Access, Forbidden, is_known_scope, parse_scope


@pytest.mark.parametrize(
    ("scope", "letters"),
    [
        ("patient/Condition.read", "rs"),
        ("user/*.write", "cud"),
        ("patient/*.*", "cruds"),
        ("patient/ChargeItem.crs", "crs"),
        ("system/Patient.r", "r"),
    ],
)
def test_v1_and_v2_scopes_parse_to_letters(scope: str, letters: str) -> None:
    grant = parse_scope(scope)
    assert grant is not None and grant.letters == frozenset(letters)


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Condition.rs?category=problem-list-item",
        "patient/Condition.sr",
        "Condition.read",
        "patient/.r",
        "patient/Condition.",
    ],
)
def test_malformed_or_filtered_scopes_grant_nothing(scope: str) -> None:
    assert parse_scope(scope) is None
    assert not is_known_scope(scope)


def test_user_scope_is_unrestricted_and_patient_scope_is_limited_to_the_patient() -> None:
    access = Access(scope="patient/Condition.rs user/Practitioner.r", patient="p1")
    assert access.check("Condition", "s") == "p1"
    assert access.check("Practitioner", "r") is None
    with pytest.raises(Forbidden) as denied:
        access.check("Condition", "c")
    assert denied.value.needed == "patient/Condition.c"
    with pytest.raises(Forbidden):
        Access(scope="patient/*.rs").check("Patient", "r")  # a patient scope but no patient in context
    assert Access(open=True).check("ChargeItem", "c") is None
