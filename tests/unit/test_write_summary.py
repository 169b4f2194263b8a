"""Charge summary CSV for the biller, and the outbox command's token scoping."""

from __future__ import annotations

import csv
import io

import pytest

from smart_app.commands.outbox import client_for
from smart_app.writeback import charge_summary_csv, summary_rows


def test_csv_has_one_row_per_line_in_pointer_order() -> None:
    line = {"code": "97110", "units": 2, "modifiers": ["GP", "KX"], "place_of_service": "11"}
    line |= {"diagnoses": ["M54.50", "E11.9"], "service_date": "2026-11-02", "description": "exercise"}
    rows = list(csv.reader(io.StringIO(charge_summary_csv([line], patient_id="p1", encounter_id="e1"))))
    assert rows[0][:4] == ["patient", "encounter", "service_date", "code"]
    assert rows[0][4:] == ["description", "units", "modifiers", "place_of_service", "diagnoses"]
    assert rows[1] == ["p1", "e1", "2026-11-02", "97110", "exercise", "2", "GP KX", "11", "M54.50 E11.9"]
    assert summary_rows([line])[0]["modifiers"] == "GP KX"


def test_csv_neutralises_cells_a_spreadsheet_would_run() -> None:
    lines = [{"code": "98960", "units": 1, "description": '=HYPERLINK("http://x")'}]
    rows = list(csv.reader(io.StringIO(charge_summary_csv(lines, patient_id="@p", encounter_id=None))))
    assert rows[1][0] == "'@p" and rows[1][4].startswith("'=")


def test_outbox_cli_sends_the_token_only_to_its_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMART_EDU_BEARER_TOKEN", "tok")
    monkeypatch.delenv("SMART_EDU_BEARER_TOKEN_ISSUER", raising=False)
    assert client_for("https://ehr.test/fhir").token_provider is None
    monkeypatch.setenv("SMART_EDU_BEARER_TOKEN_ISSUER", "https://ehr.test/fhir/")
    provider = client_for("https://ehr.test/fhir").token_provider
    assert provider is not None and provider() == "tok"
    assert client_for("https://other.test/fhir").token_provider is None
