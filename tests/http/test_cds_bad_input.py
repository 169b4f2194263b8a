"""CDS Hooks bodies a client (or an attacker) may send: every malformed one gets a 4xx with a JSON message a
CDS client can log, never a 500 or a traceback; a deep body never reaches a recursive parser."""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from smart_app.fhir_client import FhirClient
from tests.http.test_cds_hooks import DM, hook_request, make_app, seeded_prefetch


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return make_app(tmp_path).test_client()


BAD_VALUES: list[Any] = [7, "text", [], {}, None, True, [1, "a"], {"resourceType": 5}]


def post(client: FlaskClient, body: bytes | str, service: str = "patient-view") -> Any:
    return client.post(f"/cds-services/{service}", data=body, content_type="application/json")


def assert_logged_refusal(resp: Any, status: int, *words: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json and isinstance(resp.json["error"], str)
    for word in words:
        assert word in resp.json["error"]
    assert "Traceback" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("service", ["patient-view", "patient-view/feedback"])
def test_a_deeply_nested_body_is_400_with_a_message(client: FlaskClient, depth: int, service: str) -> None:
    body = '{"hook": "patient-view", "prefetch": ' + "[" * depth + "]" * depth + "}"
    assert_logged_refusal(post(client, body, service), 400, "nested deeper than 64 levels")


def test_a_body_over_the_limit_is_413_as_json(tmp_path: Path) -> None:
    client = make_app(tmp_path, SMART_EDU_MAX_CONTENT_LENGTH=1024).test_client()
    assert_logged_refusal(post(client, '{"pad": "' + "x" * 2000 + '"}'), 413, "larger than 1 KiB")


def test_a_chunked_body_over_the_limit_is_413(tmp_path: Path) -> None:
    """A body sent without Content-Length (chunked) is read with a cap, not to its end."""
    app = make_app(tmp_path, SMART_EDU_MAX_CONTENT_LENGTH=1024)
    stream = io.BytesIO(b'{"pad": "' + b"x" * 1_000_000 + b'"}')
    environ = EnvironBuilder(
        path="/cds-services/patient-view", method="POST", headers={"Content-Type": "application/json"}
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    assert "larger than 1 KiB" in json.loads(b"".join(body))["error"]
    assert stream.tell() <= 1025 + 1024 * 1024  # read stopped at the cap, not at the body's end


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda b: b["prefetch"]["conditions"].update(entry=5), "prefetch.conditions.entry must be a list"),
        (
            lambda b: b["prefetch"]["conditions"].update(entry=[3]),
            "prefetch.conditions.entry[0] must be an object",
        ),
        (lambda b: b["prefetch"].update(patient=12), "prefetch.patient must be a FHIR resource"),
        (lambda b: b.update(prefetch=[1]), "prefetch must be an object"),
        (lambda b: b.update(fhirServer=42), "fhirServer must be a string"),
        (lambda b: b.update(fhirServer=["https://ehr.test/fhir"]), "fhirServer must be a string"),
        (lambda b: b.update(fhirAuthorization="token"), "fhirAuthorization must be an object"),
        (lambda b: b.update(context="edu-dm-commercial"), "context must be a JSON object"),
        (lambda b: b.update(context=[1]), "context must be a JSON object"),
        (lambda b: b["context"].update(patientId=5), "context.patientId must be a string"),
        (lambda b: b["context"].update(userId={"x": 1}), "context.userId must be a string"),
        (lambda b: b.update(hookInstance=3), "hookInstance is required"),
    ],
)
def test_a_wrongly_typed_envelope_is_400_naming_the_field(
    client: FlaskClient, change: Any, words: str
) -> None:
    body = hook_request("patient-view", *DM, seeded_prefetch(*DM))
    change(body)
    assert_logged_refusal(post(client, json.dumps(body)), 400, words)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not JSON (line 1, column 2"),
        ('{"hook": NaN}', "NaN is not a JSON number"),
        ('{"n": ' + "9" * 5000 + "}", "not usable JSON"),
        ("", "not JSON"),
    ],
)
def test_text_that_is_not_json_is_400(client: FlaskClient, text: str, words: str) -> None:
    assert_logged_refusal(post(client, text), 400, words)


def test_a_body_not_sent_as_json_is_400(client: FlaskClient) -> None:
    resp = client.post("/cds-services/patient-view", data="{}", content_type="text/plain")
    assert_logged_refusal(resp, 400, "Content-Type must be application/json")


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    """Every place in a request body down to ``depth`` 6 (resource elements included)."""
    if depth > 6:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key), depth + 1)


def replaced(body: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return out


@pytest.mark.parametrize("hook", ["patient-view", "encounter-discharge"])
def test_any_element_of_any_type_never_gets_a_500(client: FlaskClient, hook: str) -> None:
    """Each element of a real request, down to the resources' own elements, replaced by each JSON type."""
    body = hook_request(hook, *DM, seeded_prefetch(*DM, discharge=hook == "encounter-discharge"), auth=False)
    statuses: dict[int, int] = {}
    for path in list(paths(body)):
        for new in BAD_VALUES:
            resp = post(client, json.dumps(replaced(body, path, new)), hook)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            assert resp.status_code in (200, 400, 412), (path, new, resp.get_data(as_text=True)[:300])
            assert resp.is_json, (path, new)
    assert statuses.get(400) and statuses.get(200)  # both refusals and tolerant answers were exercised


def test_a_fhir_server_answering_with_deeply_nested_json_gives_no_body_not_a_recursion_error(
    client: FlaskClient, rsps: Any
) -> None:
    """JSON from the EHR is bounded too (FhirClient, used by the launch and by CDS Hooks): an answer nested
    20,000 deep is "no usable body" (the plain ``resp.json()`` raised RecursionError), and a hook that needed
    it answers 412."""
    deep = '{"resourceType": "Bundle", "entry": ' + "[" * 20_000 + "]" * 20_000 + "}"
    rsps.get(re.compile(r"https://ehr\.test/fhir/.*"), body=deep, content_type="application/fhir+json")
    rsps.post("https://ehr.test/fhir", body=deep, content_type="application/fhir+json")
    answer = FhirClient("https://ehr.test/fhir").request("GET", "Patient/1")
    assert answer.status == 200 and answer.body is None
    resp = post(client, json.dumps(hook_request("patient-view", *DM, None)))
    assert_logged_refusal(resp, 412, "the FHIR server did not return")
