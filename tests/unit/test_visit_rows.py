"""The visit grid's rows in the form's flat names: row 0 keeps the single-service names, rows are added and
removed without gaps, and a draft from before the grid is a one-row visit."""

from __future__ import annotations

from smart_app.point_of_care.rows import MAX_ROWS, add_row, coded_rows, remove_row, row_count, row_name, rows


def test_row_zero_keeps_the_single_service_names_and_later_rows_are_prefixed() -> None:
    assert row_name(0, "minutes") == "minutes" and row_name(2, "minutes") == "s2_minutes"


def test_a_draft_from_before_the_grid_is_a_one_row_visit() -> None:
    old = {"code": "98960", "minutes": "20", "curriculum": "ADCES7"}
    [only] = rows(old)
    assert (only.index, only.code, only.get("minutes")) == (0, "98960", "20")


def test_rows_holding_something_are_shown_even_without_the_count() -> None:
    fields = {"code": "97110", "s2_code": "97140", "s2_minutes": "7"}
    assert row_count(fields) == 3
    assert [r.code for r in coded_rows(fields)] == ["97110", "97140"]


def test_adding_then_removing_a_middle_row_moves_the_later_rows_up() -> None:
    fields = {
        "code": "97110",
        "minutes": "33",
        "s1_code": "97112",
        "s1_minutes": "24",
        "rows": "2",
        "dx": ["M17.11"],
    }
    fields = add_row(fields)
    assert fields["rows"] == "3" and [r.code for r in rows(fields)] == ["97110", "97112", ""]
    fields["s2_code"], fields["s2_minutes"] = "97140", "7"
    fields = remove_row(fields, 1)
    assert [(r.code, r.get("minutes")) for r in rows(fields)] == [("97110", "33"), ("97140", "7")]
    assert "s2_code" not in fields and fields["dx"] == ["M17.11"]  # shared fields untouched
    fields = remove_row(fields, 0)
    assert fields["code"] == "97140" and fields["rows"] == "1"


def test_removing_the_only_row_leaves_one_empty_row_and_the_count_has_a_ceiling() -> None:
    assert [r.code for r in rows(remove_row({"code": "97110"}, 0))] == [""]
    fields: dict[str, str] = {}
    for _ in range(MAX_ROWS + 3):
        fields = add_row(fields)
    assert row_count(fields) == MAX_ROWS


def test_a_role_reads_with_the_right_article() -> None:
    from billing_rules.checks.provider import a_role

    assert [a_role(r) for r in ("MD", "NP", "RN", "OT", "PT", "DO", "CHW", "other")] == [
        "An MD", "An NP", "An RN", "An OT", "A PT", "A DO", "A CHW", "Another clinician",
    ]  # fmt: skip
