"""The demo EHR's Chart, Orders and Notes (links in the EHR page): what the store holds for the session's
patient, the app's own notes and charges marked, everything escaped; an unknown session is a 404."""

from __future__ import annotations

import base64
import re

from tests.sandbox.conftest import Ehr

WRITTEN_BY = "https://smart-edu-billing.example.org/fhir/CodeSystem/written-by"


def ehr_session(ehr: Ehr, patient: str = "edu-knee-medicare") -> str:
    args = {"client_id": "public-app", "practitioner": "pt-rivera", "patient": patient}
    resp = ehr.http.get(f"{ehr.base}/launcher", params=args, allow_redirects=False)
    assert resp.status_code == 302, resp.text
    sid = re.search(r"/ehr/([^/?]+)", resp.headers["Location"])
    assert sid is not None
    return sid[1]


def test_the_ehr_page_links_chart_orders_and_notes(ehr: Ehr) -> None:
    sid = ehr_session(ehr)
    page = ehr.http.get(f"{ehr.base}/ehr/{sid}").text
    for view in ("chart", "orders", "notes"):
        assert f'href="/ehr/{sid}/{view}"' in page
    chart = ehr.http.get(f"{ehr.base}/ehr/{sid}/chart").text
    assert "M17.11" in chart and "Medicare" in chart and "Physical therapy plan of care" in chart
    orders = ehr.http.get(f"{ehr.base}/ehr/{sid}/orders").text
    assert "Physical therapy evaluate and treat" in orders
    assert ehr.http.get(f"{ehr.base}/ehr/no-such-session/notes").status_code == 404


def test_notes_and_charges_the_app_wrote_are_shown_marked_and_escaped(ehr: Ehr) -> None:
    sid = ehr_session(ehr)
    tag = {"tag": [{"system": WRITTEN_BY, "code": "smart-edu-billing"}]}
    text = "Therapy daily note\n<script>alert(1)</script> & more"
    ehr.state.store.create(
        {"resourceType": "DocumentReference", "status": "current", "meta": tag,
         "subject": {"reference": "Patient/edu-knee-medicare"}, "date": "2026-02-23T10:40:00-08:00",
         "content": [{"attachment": {"contentType": "text/plain",
                                     "data": base64.b64encode(text.encode()).decode()}}]}
    )  # fmt: skip
    ehr.state.store.create(
        {"resourceType": "ChargeItem", "status": "billable", "meta": tag,
         "subject": {"reference": "Patient/edu-knee-medicare"}, "occurrenceDateTime": "2026-02-23",
         "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "97112"}]},
         "quantity": {"value": 2},
         "extension": [{"url": "https://smart-edu-billing.example.org/fhir/StructureDefinition/billing-detail",
                        "extension": [{"url": "modifier", "valueCoding": {"code": "GP"}},
                                      {"url": "modifier", "valueCoding": {"code": "CQ"}}]}]}
    )  # fmt: skip
    notes = ehr.http.get(f"{ehr.base}/ehr/{sid}/notes").text
    assert "Therapy daily note" in notes and "written by the app" in notes
    assert "<script>alert(1)</script>" not in notes and "&lt;script&gt;" in notes
    chart = ehr.http.get(f"{ehr.base}/ehr/{sid}/chart").text
    assert re.search(r"<td>97112</td><td>2</td><td>GP, CQ</td>", chart)
