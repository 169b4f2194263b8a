"""The page's code select groups codes in the one group order the catalogue defines (no second list)."""

from __future__ import annotations

from billing_rules.catalogue import GROUPS, catalogue
from smart_app.point_of_care.evaluation import grouped_choices


def test_the_select_follows_the_catalogue_groups_and_lists_every_code() -> None:
    groups = [group for group, _ in grouped_choices()]
    assert groups == [g for g in GROUPS if g in groups]
    assert groups[0] == "self-management education"
    listed = [c.code for _, choices in grouped_choices() for c in choices]
    assert sorted(listed) == sorted(info.code for info in catalogue())
