"""Time-unit calculators against every boundary row of billing-rules.md §7."""

from __future__ import annotations

import pytest

from billing_rules import units


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, 0), (15, 0), (16, 1), (45, 1), (46, 2), (75, 2), (76, 3), (105, 3), (106, 4)],
)
def test_midpoint_rule_for_30_minute_codes(minutes: int, expected: int) -> None:
    assert units.midpoint_units(minutes, 30) == expected


@pytest.mark.parametrize(("minutes", "expected"), [(30, 0), (31, 1), (90, 1), (91, 2)])
def test_midpoint_rule_for_an_hour(minutes: int, expected: int) -> None:
    assert units.midpoint_units(minutes, 60) == expected


@pytest.mark.parametrize(("minutes", "expected"), [(16, 0), (29, 0), (30, 1), (59, 1), (60, 2)])
def test_full_unit_payers_need_every_full_30_minutes(minutes: int, expected: int) -> None:
    assert units.full_units(minutes, 30) == expected


CMS_TABLE = [
    (1, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4),
    (68, 5), (82, 5), (83, 6), (97, 6), (98, 7), (112, 7), (113, 8), (127, 8), (128, 9),
]  # fmt: skip


@pytest.mark.parametrize(("total", "expected"), CMS_TABLE)
def test_cms_eight_minute_table_for_a_single_code(total: int, expected: int) -> None:
    assert units.cms_total_minutes({"97110": total}) == {"97110": expected}


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        ({"97112": 24, "97110": 23}, {"97112": 2, "97110": 1}),  # CMS example 1
        ({"97110": 33, "97140": 7}, {"97110": 2, "97140": 1}),  # CMS example 3: leftover 7 beats 3
        ({"97110": 18, "97140": 13, "97530": 10}, {"97110": 1, "97140": 1, "97530": 1}),  # example 4
        ({"97110": 10, "97140": 10, "97112": 10}, None),  # 30 total: Medicare 2 units (§7.3)
        ({"97110": 5, "97112": 4}, {"97110": 1, "97112": 0}),  # rule 3: total 9 -> the larger one
        ({"97110": 7}, {"97110": 0}),
    ],
)
def test_cms_allocation_reproduces_the_manual_examples(
    minutes: dict[str, int], expected: dict[str, int] | None
) -> None:
    got = units.cms_total_minutes(minutes)
    if expected is None:
        assert sum(got.values()) == 2
    else:
        assert got == expected


def test_cms_example_2_splits_two_and_one_never_three_of_one() -> None:
    got = units.cms_total_minutes({"97112": 20, "97110": 20})
    assert sorted(got.values()) == [1, 2]


def test_cms_a_service_of_15_minutes_always_gets_a_unit() -> None:
    got = units.cms_total_minutes({"97110": 15, "97112": 14, "97530": 14})
    assert got["97110"] >= 1 and sum(got.values()) == 3


def test_ama_per_code_does_not_pool_minutes() -> None:
    assert units.ama_per_code({"97110": 10, "97140": 10, "97112": 10}) == {"97110": 1, "97140": 1, "97112": 1}
    assert units.ama_per_code({"97110": 7, "97112": 7}) == {"97110": 0, "97112": 0}
    assert units.ama_per_code({"97110": 23}) == {"97110": 2}


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (15, (0, 0)),
        (16, (1, 0)),
        (37, (1, 0)),
        (38, (1, 1)),
        (52, (1, 1)),
        (53, (1, 2)),
        (67, (1, 2)),
        (68, (1, 3)),
    ],
)
def test_caregiver_pair_97550_97551(minutes: int, expected: tuple[int, int]) -> None:
    assert units.caregiver_units(minutes) == expected


def test_caregiver_pair_with_full_units() -> None:
    assert units.caregiver_units(29, full=True) == (0, 0)
    assert units.caregiver_units(44, full=True) == (1, 0)
    assert units.caregiver_units(45, full=True) == (1, 1)


@pytest.mark.parametrize(
    ("minutes", "first", "expected"),
    [
        (9, 10, (0, 0)),
        (10, 10, (1, 0)),
        (19, 20, (0, 0)),
        (20, 20, (1, 0)),
        (39, 20, (1, 0)),
        (40, 20, (1, 1)),
    ],
)
def test_rtm_management_minutes(minutes: int, first: int, expected: tuple[int, int]) -> None:
    assert units.rtm_management_units(minutes, first) == expected
