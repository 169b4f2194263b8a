"""Launch reads: round trips and wall time, batch vs one-request-per-resource; app processing per launch.

A stub FHIR server on loopback adds 50 ms to every request (a typical EHR round trip). It holds one patient
with 50 conditions (encounter diagnoses and problems), coverage with its payer, an order, the clinician and
their role. Printed:
  * the reads as this app does them (one batch Bundle), as the fallback does them where a server lacks batch
    (bounded parallel GETs), and as most SMART apps do them (one GET per resource type, one after another);
  * the app's own processing per launch: parse the batch answer, map it to a ClinicalContext, and the whole
    first page in-process (launch lookup, reads with the transport stubbed, mapping, evaluation, render).

Run: .venv/bin/python benchmarks/launch_reads.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import responses

from fhir_mappings.read import context_from_resources
from smart_app import create_app
from smart_app.clock import utcnow
from smart_app.fhir_client import FhirClient
from smart_app.launches import db_of, sealer_of
from smart_app.reads import forget_capabilities, launch_queries, read_launch_context
from smart_app.store import LaunchRecord, binding_hash

DELAY = 0.050
N_CONDITIONS = 50
RUNS = 7
ICD = ["E11.9", "I10", "E78.5", "J45.909", "M54.50", "F41.1", "E66.9", "K21.9", "N18.3", "G47.33"]


def record(n: int = N_CONDITIONS) -> list[dict[str, Any]]:
    subj = {"reference": "Patient/p1"}
    out: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Bench", "given": ["Pat"]}],
         "birthDate": "1950-04-02", "gender": "female"},
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": subj,
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "period": {"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T09:45:00Z"}},
        {"resourceType": "Coverage", "id": "c1", "status": "active", "beneficiary": subj,
         "payor": [{"reference": "Organization/o1"}],
         "type": {"coding": [{"system": "https://nahdo.org/sopt", "code": "1"}]}},
        {"resourceType": "Organization", "id": "o1", "name": "Medicare"},
        {"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Nurse", "given": ["Ed"]}]},
        {"resourceType": "PractitionerRole", "id": "role1", "practitioner": {"reference": "Practitioner/pr1"},
         "code": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "163W00000X"}]}]},
        {"resourceType": "ServiceRequest", "id": "sr1", "status": "active", "intent": "order",
         "subject": subj, "code": {"text": "Diabetes self-management education"}},
    ]  # fmt: skip
    for i in range(n):
        category = "encounter-diagnosis" if i < 5 else "problem-list-item"
        cond: dict[str, Any] = {
            "resourceType": "Condition", "id": f"cond{i}", "subject": subj,
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": ICD[i % len(ICD)]}]},
        }  # fmt: skip
        if i < 5:
            cond["encounter"] = {"reference": "Encounter/e1"}
        out.append(cond)
    return out


class Store:
    def __init__(self, resources: list[dict[str, Any]], base: str, batch: bool) -> None:
        self.resources, self.base, self.batch = resources, base, batch

    def answer(self, relative: str) -> dict[str, Any]:
        path, _, query = relative.partition("?")
        params = parse_qs(query)
        if path == "metadata":
            interactions = [{"code": "batch"}] if self.batch else []
            return {
                "resourceType": "CapabilityStatement",
                "rest": [{"mode": "server", "interaction": interactions}],
            }
        if "/" in path:
            rtype, rid = path.split("/", 1)
            return next(r for r in self.resources if r["resourceType"] == rtype and r["id"] == rid)
        found = [r for r in self.resources if r["resourceType"] == path]
        if path == "Condition":
            cat = params.get("category", [""])[0]
            found = [r for r in found if r["category"][0]["coding"][0]["code"] == cat]
        if "_include" in params:
            found += [r for r in self.resources if r["resourceType"] == "Organization"]
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}

    def batch_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        entries = [{"resource": self.answer(e["request"]["url"]), "response": {"status": "200 OK"}}
                   for e in body["entry"]]  # fmt: skip
        return {"resourceType": "Bundle", "type": "batch-response", "entry": entries}


def serve(store: Store, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, body: dict[str, Any]) -> None:
            time.sleep(DELAY)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(store.answer(unquote(self.path[len("/fhir/") :])))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self._send(store.batch_answer(json.loads(self.rfile.read(length))))

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/fhir"


def timed_reads(base: str) -> tuple[int, float, bool]:
    runs: list[tuple[int, float, bool]] = []
    forget_capabilities()
    read_launch_context(FhirClient(base), patient_id="p1", encounter_id="e1", fhir_user="Practitioner/pr1")
    for _ in range(RUNS):
        start = time.perf_counter()
        reads = read_launch_context(FhirClient(base), patient_id="p1", encounter_id="e1",
                                    fhir_user="Practitioner/pr1")  # fmt: skip
        runs.append((reads.round_trips, time.perf_counter() - start, reads.used_batch))
    return runs[0][0], statistics.median(r[1] for r in runs), runs[0][2]


def one_per_resource(base: str) -> tuple[int, float]:
    """The common pattern: one GET per resource type, one after another."""
    times, trips = [], 0
    for _ in range(RUNS):
        client = FhirClient(base)
        start = time.perf_counter()
        for query in launch_queries("p1", "e1", "Practitioner/pr1"):
            body = client.request("GET", query).body
            if body and body.get("resourceType") == "Bundle":
                list(client.pages(body))
        times.append(time.perf_counter() - start)
        trips = client.requests_sent
    return trips, statistics.median(times)


def processing(resources: list[dict[str, Any]]) -> dict[str, float]:
    store = Store(resources, "https://bench.test/fhir", batch=True)
    queries = launch_queries("p1", "e1", "Practitioner/pr1")
    raw = json.dumps(store.batch_answer({"entry": [{"request": {"url": q}} for q in queries]}))
    parse, mapping = [], []
    for _ in range(200):
        t0 = time.perf_counter()
        bundle = json.loads(raw)
        t1 = time.perf_counter()
        found = [r for e in bundle["entry"] for r in _flatten(e["resource"])]
        context_from_resources(found, patient_id="p1", encounter_id="e1", practitioner_ref="Practitioner/pr1")
        mapping.append(time.perf_counter() - t1)
        parse.append(t1 - t0)
    return {
        "parse": statistics.median(parse),
        "map": statistics.median(mapping),
        "page": first_page(store, raw),
    }


def _flatten(resource: dict[str, Any]) -> list[dict[str, Any]]:
    if resource.get("resourceType") == "Bundle":
        return [e["resource"] for e in resource.get("entry") or []]
    return [resource]


def first_page(store: Store, batch_body: str) -> float:
    """GET /s/<handle>/ in-process, FHIR transport stubbed: the app's whole work for the first page."""
    with tempfile.TemporaryDirectory() as tmp:
        profiles = Path(tmp)
        (profiles / "bench.toml").write_text(
            f'name = "bench"\niss = "{store.base}"\nclient_id = "b"\nscopes = ["openid"]\n', encoding="utf-8"
        )
        app = create_app(
            {"SMART_EDU_DATABASE_URL": f"sqlite:///{tmp}/b.sqlite", "SMART_EDU_LAUNCH_CONFIG": tmp}
        )
        context = {
            "patient": "p1",
            "encounter": "e1",
            "fhir_user": "Practitioner/pr1",
            "need_patient_banner": True,
        }
        with db_of(app).session() as s:
            s.add(
                LaunchRecord(
                    state="s", handle="h", binding=binding_hash("c"), profile_name="bench", iss=store.base,
                    launch_type="ehr", redirect_uri="x", status="active",
                    access_token=sealer_of(app).seal("bench"),
                    expires_at=utcnow() + timedelta(hours=1), context_json=json.dumps(context),
                )
            )  # fmt: skip
        client = app.test_client()
        client.set_cookie("smart_edu_bind", "c")
        caps = store.answer("metadata")
        times = []
        with responses.RequestsMock() as rsps:
            rsps.get(f"{store.base}/metadata", json=caps)
            rsps.post(f"{store.base}/", body=batch_body, content_type="application/fhir+json")
            forget_capabilities()
            for i in range(40):
                t0 = time.perf_counter()
                resp = client.get("/s/h/")
                if i >= 5:  # warm-up: imports, template compilation, capability cache
                    times.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.status_code
        return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the batch FHIR stub's port; the no-batch one takes the next (0 = free)",
    )
    args = parser.parse_args()
    resources = record()
    batch_server, batch_base = serve(Store(resources, "", batch=True), args.port)
    plain_server, plain_base = serve(Store(resources, "", batch=False), args.port + 1 if args.port else 0)
    try:
        b_trips, b_wall, used = timed_reads(batch_base)
        p_trips, p_wall, _ = timed_reads(plain_base)
        s_trips, s_wall = one_per_resource(batch_base)
    finally:
        batch_server.shutdown()
        plain_server.shutdown()
    assert used
    proc = processing(resources)
    n_queries = len(launch_queries("p1", "e1", "Practitioner/pr1"))
    print(f"launch reads: {N_CONDITIONS} conditions, {n_queries} queries, "
          f"{DELAY * 1000:.0f} ms added per request, median of {RUNS} runs")  # fmt: skip
    print(f"  {'strategy':<44}{'round trips':>12}{'wall (ms)':>12}")
    print(f"  {'batch Bundle (this app)':<44}{b_trips:>12}{b_wall * 1000:>12.1f}")
    print(f"  {'parallel single GETs (server without batch)':<44}{p_trips:>12}{p_wall * 1000:>12.1f}")
    print(f"  {'one GET per resource, sequential (common)':<44}{s_trips:>12}{s_wall * 1000:>12.1f}")
    print("app processing per launch (median):")
    print(f"  parse batch answer      {proc['parse'] * 1000:8.2f} ms")
    print(f"  map to ClinicalContext  {proc['map'] * 1000:8.2f} ms")
    print(f"  whole first page        {proc['page'] * 1000:8.2f} ms  (in-process, FHIR transport stubbed)")


if __name__ == "__main__":
    main()
