"""``smart-edu sandbox-test`` when the user got the server, the patient or the encounter wrong.

The launch reads are tolerant, so without a check these turned into "blocked" (exit 1) with a list of
missing data; they are a server's answer (exit 3, one line naming the read) or bad input (exit 2), and
nothing is written.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses

from smart_app.cli import main
from tests.http.test_sandbox_test import chart, rsps, service_file, store  # noqa: F401  (fixtures)
from tests.http.test_writeback_fake import BASE, FakeFhir, hapi_caps


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sandbox-test", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_unknown_patient_is_a_server_error_naming_the_read(rsps, store, tmp_path, capsys) -> None:  # noqa: F811
    fake = FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    code, out, err = run(
        capsys, "--fhir-base", BASE, "--patient", "nobody", "--service", service_file(tmp_path), "--write"
    )
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "Patient/nobody could not be read" in err and "HAPI-2001" in err
    assert fake.of_type("ChargeItem") == [] and fake.of_type("DocumentReference") == []


def test_an_unknown_encounter_is_a_server_error(rsps, store, tmp_path, capsys) -> None:  # noqa: F811
    FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    code, _, err = run(capsys, "--fhir-base", BASE, "--patient", "example", "--encounter", "nope")
    assert code == 3 and "Encounter/nope could not be read" in err


def test_a_server_that_does_not_answer_is_a_server_error(rsps, store, capsys) -> None:  # noqa: F811
    rsps.add(responses.GET, f"{BASE}/metadata", body=requests.ConnectionError("refused"))
    rsps.add(responses.GET, f"{BASE}/Patient/example", body=requests.ConnectionError("refused"))
    code, out, err = run(capsys, "--fhir-base", BASE, "--patient", "example")
    assert code == 3 and out == ""
    assert err.startswith("smart-edu sandbox-test: server error: Patient/example could not be read")


@pytest.mark.parametrize("base", ["localhost:9000/fhir", "ftp://example.org/fhir", "http://"])
def test_a_fhir_base_that_is_not_an_http_url_is_bad_input(base: str, rsps, store, capsys) -> None:  # noqa: F811
    code, out, err = run(capsys, "--fhir-base", base, "--patient", "example")
    assert code == 2 and out == ""
    assert (
        err
        == f"smart-edu sandbox-test: --fhir-base {base}: not an http(s) URL (e.g. http://localhost:9000/fhir)\n"
    )
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("visit", "field"),
    [
        ({"services": []}, "services"),
        (
            {"services": [{"code": "97110", "minutes": 20}], "other_timed_minutes": {"97140": 7}},
            "other_timed_minutes",
        ),
        ({"services": [{"code": "97110"}, {"code": "97112", "minutes": "24"}]}, "services[1].minutes"),
    ],
)
def test_bad_visit_input_is_one_line_naming_file_and_field_exit_2(
    visit: dict[str, object],
    field: str,
    rsps,  # noqa: F811
    store,  # noqa: F811
    tmp_path,
    capsys,
) -> None:
    fake = FakeFhir(hapi_caps()).seed(*chart()).install(rsps)
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(visit), encoding="utf-8")
    code, out, err = run(
        capsys, "--fhir-base", BASE, "--patient", "example", "--service", str(path), "--write"
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"--service {path}: {field}: " in err
    assert fake.of_type("ChargeItem") == [] and fake.of_type("DocumentReference") == []
