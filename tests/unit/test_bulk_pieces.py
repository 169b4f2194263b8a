"""Small pure pieces of the Bulk Data client (issue 13): Retry-After in both forms, file names from the
manifest's types, and whether a CapabilityStatement offers $export."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from sandbox_ehr.scopes import covered
from smart_app.bulk.errors import BulkServerError
from smart_app.bulk.export import export_supported
from smart_app.bulk.files import file_name
from smart_app.bulk.retry import MAX_WAIT, retry_after_seconds

BULK = "http://hl7.org/fhir/uv/bulkdata"


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds("7", 1, now=now) == 7.0
    assert retry_after_seconds(" 2.5 ", 1, now=now) == 2.5
    in_30 = format_datetime(datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds(in_30, 1, now=now) == 30.0
    past = format_datetime(datetime(2026, 3, 1, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds(past, 1, now=now) == 0.0
    assert retry_after_seconds("-5", 1, now=now) == 0.0
    assert retry_after_seconds("86400", 1, now=now) == MAX_WAIT
    assert [retry_after_seconds(None, n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert retry_after_seconds("soon", 3) == 4.0  # unreadable: the backoff


def test_file_names_follow_the_export_layout_and_refuse_paths() -> None:
    assert file_name("ChargeItem", 1) == "ChargeItem.ndjson"
    assert file_name("ChargeItem", 3) == "ChargeItem.3.ndjson"
    for bad in ("../etc/passwd", "Charge/Item", "chargeitem", "", "A" * 80):
        with pytest.raises(BulkServerError):
            file_name(bad, 1)


@pytest.mark.parametrize(
    ("statement", "level", "expected"),
    [
        ({"instantiates": [f"{BULK}/CapabilityStatement/bulk-data|2.0.0"]}, "Patient", True),
        ({"rest": [{"operation": [{"name": "export", "definition": "x"}]}]}, "Patient", True),
        ({"rest": [{"resource": [{"type": "Group", "operation": [{"name": "group-export",
           "definition": f"{BULK}/OperationDefinition/group-export"}]}]}]}, "Group", True),
        ({"rest": [{"resource": [{"type": "Group", "operation": [{"name": "export"}]}]}]}, "Patient", False),
        ({"rest": [{"operation": [{"name": "everything"}]}]}, "Patient", False),
        ({"rest": [{"resource": [{"type": "Patient"}]}]}, "Patient", False),
    ],
)  # fmt: skip
def test_export_supported(statement: dict[str, object], level: str, expected: bool) -> None:
    assert export_supported(statement, level) is expected


def test_sandbox_grants_scopes_inside_a_registered_wildcard() -> None:
    assert covered("system/ChargeItem.rs", ["system/*.rs"])
    assert covered("system/ChargeItem.r", ["system/ChargeItem.rs"])
    assert not covered("system/ChargeItem.cruds", ["system/*.rs"])
    assert not covered("patient/ChargeItem.rs", ["system/*.rs"])
    assert covered("launch", ["launch", "openid"]) and not covered("openid", ["launch"])
