"""billing-rules.md §7.3: the AMA per-code method's boundaries (8-22 min = 1 unit, 23-37 = 2, …), code
by code, with no pooling: each code's minutes alone decide its units."""

from __future__ import annotations

import pytest

from billing_rules import units


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4)],
)
def test_ama_per_code_boundaries(minutes: int, expected: int) -> None:
    assert units.ama_per_code({"97110": minutes}) == {"97110": expected}
    # another code's minutes never move this code's units
    assert units.ama_per_code({"97110": minutes, "97112": 22})["97110"] == expected
