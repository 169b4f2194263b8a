"""CDS Hooks over HTTP: discovery, the three hooks with and without prefetch, 412, CORS, JWT, feedback.

Requests are built from the spec fixtures and from the sandbox's seeded patients (``sandbox_ehr/seed``); the
FHIR server is stubbed with ``responses`` and must see exactly ONE batch request when nothing is prefetched.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey

from fhir_mappings.write import identifier
from smart_app import capabilities
from smart_app.cds_hooks import bp, store
from smart_app.cds_hooks.services import BY_ID, render
from smart_app.config import EXTENSION
from smart_app.profiles import ProfileRegistry, profile_from_mapping
from smart_app.settings import load_settings
from smart_app.store import Database
from smart_app.writeback import audit
from tests.conftest import load_json
from tests.unit.test_cds_spec import check_discovery, check_response

BASE = "https://app.test"
FHIR = "https://ehr.test/fhir"
SEED = Path(__file__).resolve().parents[2] / "sandbox_ehr" / "seed" / "edu_cases.json"
CLIENT_KEY = ECKey.generate_key("P-384", parameters={"kid": "ehr-cds-1"}, private=True)
CLIENT_ISS = "https://ehr.test/cds-client"


def make_app(tmp_path: Path, **config: Any) -> Flask:
    """The blueprint on a bare Flask app with its own store (the same wiring create_app does)."""
    app = Flask(__name__)
    app.config.update(TESTING=True)
    app.extensions[EXTENSION] = load_settings({"SMART_EDU_BASE_URL": BASE, **config}, environ={})
    db = Database("sqlite://")
    db.create_all()
    app.extensions["smart_edu_db"] = db
    # fhirServer is read only when it is a launch profile's issuer (create_app loads the real profiles)
    ehr = {"name": "ehr", "iss": FHIR, "client_id": "app-1", "scopes": ["openid"]}
    app.extensions["smart_edu_profiles"] = ProfileRegistry([profile_from_mapping(ehr)])
    app.register_blueprint(bp)
    return app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- requests from the seeded patients -----------------------------------------------------------------------


def seed() -> list[dict[str, Any]]:
    bundle = json.loads(SEED.read_text(encoding="utf-8"))
    return [e["resource"] for e in bundle["entry"]]


def _of(resources: list[dict[str, Any]], kind: str, patient: str, *fields: str) -> list[dict[str, Any]]:
    out = []
    for r in resources:
        if r["resourceType"] != kind:
            continue
        refs = [str((r.get(f) or {}).get("reference", "")) for f in fields]
        if f"Patient/{patient}" in refs:
            out.append(r)
    return out


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def seeded_prefetch(patient: str, encounter: str, user: str, *, discharge: bool = False) -> dict[str, Any]:
    res = seed()
    by_id = {(r["resourceType"], r["id"]): r for r in res}
    practitioner = user.split("/", 1)[1]
    out: dict[str, Any] = {
        "patient": by_id[("Patient", patient)],
        "encounter": by_id[("Encounter", encounter)],
        "conditions": searchset(_of(res, "Condition", patient, "subject")),
        "coverage": searchset(_of(res, "Coverage", patient, "beneficiary")),
        "orders": searchset(_of(res, "ServiceRequest", patient, "subject")),
        "practitioner": by_id.get(("Practitioner", practitioner)),
        "practitionerRoles": searchset(
            [
                r
                for r in res
                if r["resourceType"] == "PractitionerRole" and r["practitioner"]["reference"] == user
            ]
        ),
    }
    if discharge:
        out["charges"] = None
        out["notes"] = None
    return out


def hook_request(
    hook: str, patient: str, encounter: str, user: str, prefetch: dict[str, Any] | None, *, auth: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": user, "patientId": patient, "encounterId": encounter},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if auth:
        body["fhirServer"] = FHIR
        body["fhirAuthorization"] = {
            "access_token": "hook-token-123",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Condition.read",
            "subject": "smart-edu-cds",
        }
    return body


DM = ("edu-dm-commercial", "enc-dm-commercial-0302", "Practitioner/rn-okafor")
KNEE = ("edu-knee-medicare", "enc-knee-medicare-0216", "Practitioner/pt-rivera")
HF = ("edu-hf-advantage", "enc-hf-advantage-0312", "Practitioner/rn-okafor")


def call(client: FlaskClient, service: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(f"/cds-services/{service}", json=body, headers=headers)


def only_card(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    check_response(resp.json)
    assert len(resp.json["cards"]) == 1, resp.json
    card: dict[str, Any] = resp.json["cards"][0]
    return card


# -- discovery and CORS --------------------------------------------------------------------------------------


def test_discovery_lists_the_three_services(client: FlaskClient) -> None:
    resp = client.get("/cds-services")
    body = resp.get_json()
    assert resp.status_code == 200
    check_discovery(body)
    assert {s["hook"] for s in body["services"]} == {
        "patient-view",
        "encounter-start",
        "encounter-discharge",
    }


@pytest.mark.parametrize("path", ["/cds-services", "/cds-services/patient-view", "/cds-services/x/feedback"])
def test_cors_preflight_is_answered(client: FlaskClient, path: str) -> None:
    headers = {"Origin": "https://sandbox.cds-hooks.test", "Access-Control-Request-Method": "POST"}
    resp = client.options(path, headers=headers)
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_cors_allowlist_echoes_only_listed_origins(tmp_path: Path) -> None:
    client = make_app(tmp_path, SMART_EDU_CDS_CORS_ORIGINS="https://ehr.test").test_client()
    ok = client.get("/cds-services", headers={"Origin": "https://ehr.test"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ehr.test" and "Origin" in ok.headers["Vary"]
    other = client.get("/cds-services", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers


# -- hooks with prefetch -------------------------------------------------------------------------------------


def test_patient_view_commercial_diabetes_says_98960_is_billable(client: FlaskClient) -> None:
    card = only_card(call(client, "patient-view", hook_request("patient-view", *DM, seeded_prefetch(*DM))))
    assert "98960" in card["summary"] and card["indicator"] in ("info", "warning")
    link = card["links"][0]
    assert link["type"] == "smart" and link["url"] == f"{BASE}/launch"
    context = json.loads(link["appContext"])
    assert context["code"] == "98960" and context["encounterId"] == DM[1] and context["patientId"] == DM[0]
    assert card["overrideReasons"] and card["source"]["topic"]["code"] == "billable-education"


def test_patient_view_medicare_names_the_payable_routes_from_the_rules(client: FlaskClient) -> None:
    body = hook_request("patient-view", *KNEE, seeded_prefetch(*KNEE))
    card = only_card(call(client, "patient-view", body))
    assert card["summary"].startswith("Medicare does not pay")
    assert "97110" in card["summary"] and "payer.not-covered" in card["detail"]
    assert "97110" in json.loads(card["links"][0]["appContext"])["routes"]


def test_encounter_start_gives_the_same_advice_for_the_visit(client: FlaskClient) -> None:
    card = only_card(
        call(client, "encounter-start", hook_request("encounter-start", *HF, seeded_prefetch(*HF)))
    )
    assert json.loads(card["links"][0]["appContext"])["hook"] == "encounter-start"


def test_no_card_without_a_supporting_condition_or_order(client: FlaskClient) -> None:
    prefetch = seeded_prefetch(*DM)
    prefetch["conditions"] = searchset([])
    prefetch["orders"] = None
    resp = call(client, "patient-view", hook_request("patient-view", *DM, prefetch))
    assert resp.status_code == 200 and resp.json == {"cards": []}


def test_html_in_the_chart_never_reaches_the_card_unescaped(client: FlaskClient) -> None:
    person = ("edu-html-name", "enc-html-name-0320", "Practitioner/rn-okafor")
    card = only_card(
        call(client, "patient-view", hook_request("patient-view", *person, seeded_prefetch(*person)))
    )
    assert "<script>" not in json.dumps(card) and "<b>" not in json.dumps(card)


def test_spec_example_request_gets_a_valid_answer(client: FlaskClient) -> None:
    body = copy.deepcopy(load_json("fixtures/cds-hooks.patient-view-request.json"))
    body["prefetch"] = {
        "patient": body["prefetch"]["patientToGreet"],
        "encounter": None,
        "conditions": searchset(
            [load_json("fixtures/condition.encounter-diagnosis.icd10cm.oracle-health.json")]
        ),
        "coverage": searchset([load_json("fixtures/coverage.us-core-example.json")]),
        "orders": None,
        "practitioner": None,
        "practitionerRoles": None,
    }
    resp = call(client, "patient-view", body)
    assert resp.status_code == 200
    check_response(resp.json)
    assert resp.json["cards"] == []  # anemia (D64.9) is no self-management family and nothing is ordered
    body["prefetch"]["orders"] = searchset([load_json("fixtures/servicerequest.us-core-rehab-referral.json")])
    body["prefetch"]["orders"]["entry"][0]["resource"].update(subject={"reference": "Patient/1288992"})
    body["prefetch"]["orders"]["entry"][0]["resource"]["code"]["text"] = (
        "Alcohol use self-management education"
    )
    card = only_card(call(client, "patient-view", body))
    assert card["summary"].startswith("Ordered education")


# -- without prefetch: one batch to fhirServer ---------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("hook", "expect"),
    [("patient-view", "98960"), ("encounter-start", "98960"), ("encounter-discharge", "ordered")],
)
def test_without_prefetch_the_data_is_read_in_one_batch(client: FlaskClient, hook: str, expect: str) -> None:
    served = seeded_prefetch(*DM, discharge=True)
    keys = list(BY_ID[hook].prefetch)
    responses.post(
        FHIR + "/",
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [
                {"response": {"status": "200 OK"}, **({"resource": served[k]} if served[k] else {})}
                for k in keys
            ],
        },
    )
    card = only_card(call(client, hook, hook_request(hook, *DM, None)))
    assert expect in card["summary"]
    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer hook-token-123"
    batch = json.loads(sent.body or b"{}")
    assert batch["type"] == "batch" and all(e["request"]["method"] == "GET" for e in batch["entry"])
    assert len(batch["entry"]) == len(keys)


def _serve_single_gets(hook: str, served: dict[str, Any]) -> None:
    """Each prefetch query of the hook answered by a plain GET, as a server without batch answers it."""
    body = hook_request(hook, *DM, None)
    for key, template in BY_ID[hook].prefetch.items():
        url = render(template, body["context"])
        if url is not None:
            responses.get(
                f"{FHIR}/{url}", json=served[key] or {"resourceType": "Bundle", "type": "searchset"}
            )


@responses.activate
@pytest.mark.parametrize("status", [400, 404, 405, 415, 422, 501])
def test_a_refused_batch_falls_back_to_single_gets_as_the_launch_does(
    client: FlaskClient, status: int
) -> None:
    """The one read engine's rule (smart_app/fhir_reads.py): a batch refused as a whole, 400 included, is
    read again as single GETs, and the server is remembered as taking no batch."""
    capabilities.forget()
    responses.post(FHIR + "/", status=status, json={"resourceType": "OperationOutcome", "issue": []})
    _serve_single_gets("patient-view", seeded_prefetch(*DM))
    card = only_card(call(client, "patient-view", hook_request("patient-view", *DM, None)))
    assert "98960" in card["summary"]
    methods = [c.request.method for c in responses.calls]
    assert methods[0] == "POST" and set(methods[1:]) == {"GET"} and len(methods) > 2
    remembered = capabilities.known(FHIR)
    assert remembered is not None and not remembered.batch
    before = len(responses.calls)
    assert (
        "98960" in only_card(call(client, "patient-view", hook_request("patient-view", *DM, None)))["summary"]
    )
    assert {c.request.method for c in responses.calls[before:]} == {"GET"}  # no second refused batch
    capabilities.forget()


@responses.activate
def test_a_batch_failing_with_a_server_error_is_not_read_again_and_required_data_is_412(
    client: FlaskClient,
) -> None:
    capabilities.forget()
    responses.post(FHIR + "/", status=500, json={"resourceType": "OperationOutcome", "issue": []})
    resp = call(client, "patient-view", hook_request("patient-view", *DM, None))
    assert resp.status_code == 412
    assert all(c.request.method == "POST" for c in responses.calls)


def test_412_without_prefetch_and_without_fhir_access(client: FlaskClient) -> None:
    resp = call(client, "patient-view", hook_request("patient-view", *DM, None, auth=False))
    assert resp.status_code == 412 and "patient" in resp.json["error"]


def test_bad_requests_are_400(client: FlaskClient) -> None:
    body = hook_request("patient-view", *DM, seeded_prefetch(*DM))
    assert call(client, "encounter-start", body).status_code == 400  # wrong hook for this service
    assert client.post("/cds-services/patient-view", data="x", content_type="text/plain").status_code == 400
    assert call(client, "no-such-service", body).status_code == 404


def test_the_hook_token_is_never_logged(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    call(client, "patient-view", hook_request("patient-view", *DM, None))
    assert "hook-token-123" not in caplog.text


# -- encounter-discharge -------------------------------------------------------------------------------------


def ours_charge(patient: str, encounter: str, **changes: Any) -> dict[str, Any]:
    charge = load_json("fixtures/chargeitem.patient-education-cpt98960.derived.json")
    defaults: dict[str, Any] = {
        "id": "ci-1",
        "identifier": [identifier("a" * 32)],
        "subject": {"reference": f"Patient/{patient}"},
        "context": {"reference": f"Encounter/{encounter}"},
        "occurrenceDateTime": "2026-03-02T09:00:00-08:00",
        "supportingInformation": [{"reference": "DocumentReference/dr-1"}],
    }
    charge.update({**defaults, **changes})
    return charge


def ours_note(patient: str, encounter: str) -> dict[str, Any]:
    note = load_json("fixtures/documentreference.patient-education-note.derived.json")
    note.update(
        id="dr-1",
        identifier=[identifier("b" * 32)],
        subject={"reference": f"Patient/{patient}"},
        context={"encounter": [{"reference": f"Encounter/{encounter}"}]},
    )
    return note


def discharge(client: FlaskClient, person: tuple[str, str, str], **prefetch: Any) -> Any:
    full = {**seeded_prefetch(*person, discharge=True), **prefetch}
    return call(client, "encounter-discharge", hook_request("encounter-discharge", *person, full))


def test_discharge_order_without_documentation_prompts_to_document(client: FlaskClient) -> None:
    card = only_card(discharge(client, DM))
    assert card["indicator"] == "warning" and "ordered" in card["summary"]
    assert json.loads(card["links"][0]["appContext"])["orderId"] == "sr-dm-commercial-dsme"


def test_discharge_with_a_clean_charge_and_note_is_quiet(client: FlaskClient) -> None:
    resp = discharge(
        client, DM, charges=searchset([ours_charge(*DM[:2])]), notes=searchset([ours_note(*DM[:2])])
    )
    assert resp.status_code == 200 and resp.json == {"cards": []}


def test_discharge_charge_without_note_and_bad_diagnosis_is_flagged(client: FlaskClient) -> None:
    bad = ours_charge(
        *DM[:2], reason=[{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11"}]}]
    )
    card = only_card(discharge(client, DM, charges=searchset([bad]), notes=None))
    assert card["indicator"] == "warning" and "98960" in card["summary"]
    assert "cds.note-missing" in card["detail"] and "dx.not-billable" in card["detail"]
    assert json.loads(card["links"][0]["appContext"])["chargeItemId"] == "ci-1"


def test_discharge_note_without_charge_is_flagged(client: FlaskClient) -> None:
    card = only_card(discharge(client, DM, charges=None, notes=searchset([ours_note(*DM[:2])])))
    assert "cds.charge-missing" in card["detail"]


def test_discharge_ignores_what_other_apps_wrote(client: FlaskClient) -> None:
    foreign = ours_charge(*DM[:2], identifier=[{"system": "urn:other", "value": "1"}])
    card = only_card(discharge(client, DM, charges=searchset([foreign]), notes=None))
    assert "ordered" in card["summary"]  # only the undocumented order counts


# -- feedback ------------------------------------------------------------------------------------------------


def test_feedback_is_recorded_and_visible_in_the_audit_log(app: Flask, client: FlaskClient) -> None:
    card = only_card(call(client, "patient-view", hook_request("patient-view", *DM, seeded_prefetch(*DM))))
    reason = card["overrideReasons"][1]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason, "userComment": "will do next visit"},
                "outcomeTimestamp": "2026-11-27T01:00:00Z",
            }
        ]
    }
    resp = client.post("/cds-services/patient-view/feedback", json=feedback)
    assert resp.status_code == 200 and resp.json == {"received": 1, "recorded": 1}
    db = app.extensions["smart_edu_db"]
    summary = store.feedback_summary(db)["patient-view"]
    assert summary == summary | {
        "issued": 1,
        "overridden": 1,
        "ignored": 0,
        f"overridden:{reason['code']}": 1,
    }
    rows = [r for r in audit.entries(db) if r["action"] == "cds-feedback"]
    assert rows and rows[0]["patient_id"] == DM[0] and rows[0]["what"]["card"] == card["uuid"]


def test_bad_feedback_is_400(client: FlaskClient) -> None:
    resp = client.post("/cds-services/patient-view/feedback", json={"feedback": [{"card": "x"}]})
    assert resp.status_code == 400


# -- JWT of the CDS client -----------------------------------------------------------------------------------


@pytest.fixture
def secured(tmp_path: Path) -> FlaskClient:
    key = CLIENT_KEY.as_dict(private=False)
    table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in key.items())
    path = tmp_path / "cds-clients.toml"
    path.write_text(
        f'[[client]]\niss = "{CLIENT_ISS}"\njwks = {{ keys = [{{ {table} }}] }}\n', encoding="utf-8"
    )
    return make_app(tmp_path, SMART_EDU_CDS_CLIENTS=str(path)).test_client()


def bearer(aud: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": CLIENT_ISS, "aud": aud, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()), **claims}
    header = {"alg": "ES384", "typ": "JWT", "kid": "ehr-cds-1"}
    return "Bearer " + jwt.encode(header, body, CLIENT_KEY, algorithms=["ES384"])


def test_jwt_is_required_and_checked_when_configured(secured: FlaskClient) -> None:
    assert secured.get("/cds-services").status_code == 401
    ok = secured.get("/cds-services", headers={"Authorization": bearer(f"{BASE}/cds-services")})
    assert ok.status_code == 200
    body = hook_request("patient-view", *DM, seeded_prefetch(*DM))
    wrong_aud = call(secured, "patient-view", body, Authorization=bearer(f"{BASE}/cds-services"))
    assert wrong_aud.status_code == 401 and wrong_aud.headers["WWW-Authenticate"].startswith("Bearer")
    token = bearer(f"{BASE}/cds-services/patient-view")
    assert call(secured, "patient-view", body, Authorization=token).status_code == 200
    assert call(secured, "patient-view", body, Authorization=token).status_code == 401  # jti reused


def test_preflight_needs_no_jwt(secured: FlaskClient) -> None:
    resp = secured.options("/cds-services/patient-view", headers={"Origin": "https://ehr.test"})
    assert resp.status_code == 204


def test_feedback_endpoint_is_protected_too(secured: FlaskClient) -> None:
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-27T01:00:00Z"}]}
    url = "/cds-services/patient-view/feedback"
    assert secured.post(url, json=body).status_code == 401
    ok = secured.post(url, json=body, headers={"Authorization": bearer(BASE + url)})
    assert ok.status_code == 200


def test_create_app_serves_the_cds_services(tmp_path: Path) -> None:
    from tests.http.smart_kit import make_app as make_full_app

    client = make_full_app(tmp_path).test_client()
    resp = client.get("/cds-services")
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-27T01:00:00Z"}]}
    assert (
        client.post("/cds-services/patient-view/feedback", json=body).status_code == 200
    )  # no CSRF on the API
