"""Round trips and wall time per signed service, per write strategy, against the sandbox EHR on loopback with
50 ms added to every FHIR request (targets: 1 round trip with a transaction, at most 4 sequential).

Each signature uses a new FhirClient, as the app does per request. "warm cache": the shared per-server
capability cache (``smart_app.capabilities``) already knows the server, as it does after the launch's reads or
any signature in the last hour; "cold cache": the first request to a server per hour, which pays /metadata.

"operation" is Oracle Health's ``ChargeItem/$create``, against a second sandbox EHR in its Oracle mode
(``oracle_chargeitem``: ``$create`` answered 200 with a Location and no body, plain ChargeItem create refused,
charges found with ``-status=billable``), with the same added latency. Oracle keeps neither our identifier
nor our code system, so its rerun with an empty store stops with a question for the clinician
(docs/writeback.md) and sends nothing: its "rerun" figures count the lookups only.

Run: ``.venv/bin/python benchmarks/writeback.py [--services N] [--latency-ms MS]``. Prints one line per case.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from billing_rules.model import ChargeLine, Evaluation, ServiceRecord
from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app import capabilities
from smart_app.fhir_client import FhirClient
from smart_app.store import Base, Database
from smart_app.writeback import SignedService, WritebackConfig, write_signed_service

BILL_CODES = "https://fhir.example.org/tenant/CodeSystem/BillCodes-CPT"
CASES = {  # "operation" runs on its own Oracle-mode sandbox, the others share the default one
    "operation": WritebackConfig.from_mapping(  # as launch_config/oracle-health-sandbox.toml
        {
            "chargeitem": "operation",
            "chargeitem_status": "unknown",
            "bill_code_system": BILL_CODES,
            "transaction": False,
            "conditional_create": False,
            "provenance": False,
        }
    ),
    "transaction": WritebackConfig(transaction=True, conditional_create=True),
    "sequential": WritebackConfig(transaction=False),
    "note-only": WritebackConfig(chargeitem="none", transaction=False),
}


DAYS: dict[str, date] = {}


def service_day(draft_id: str) -> date:
    """One day per draft, the same on a rerun: on Oracle two same-code same-day charges on one encounter are
    a question for the clinician, so every benchmarked service gets its own day."""
    return DAYS.setdefault(draft_id, date(2026, 1, 1) + timedelta(days=len(DAYS)))


def signed(base: str, draft_id: str) -> SignedService:
    record = ServiceRecord(
        code="98960",
        service_date=service_day(draft_id),
        minutes=30,
        curriculum="ADCES7",
        diagnoses=("E11.9",),
    )
    line = ChargeLine("98960", 1, place_of_service="11", diagnoses=("E11.9",))
    return SignedService(
        issuer=base,
        patient_id="edu-dm-commercial",
        encounter_id="enc-dm-commercial-0302",
        fhir_user="Practitioner/rn-okafor",
        organization="Organization/org-riverside-clinic",
        record=record,
        evaluation=Evaluation(True, (line,), (), None, "bench"),
        note_text="Patient education note\nTopics: healthy eating\n",
        draft_id=draft_id,
        signed_at=datetime.now(UTC),
    )


class MetadataLatency(requests.Session):
    """The sandbox answers /metadata without its injected latency; a real server does not, so the client
    adds the same delay to that one request (every other request is delayed by the sandbox itself)."""

    def __init__(self, latency_ms: int) -> None:
        super().__init__()
        self.latency = latency_ms / 1000

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if str(url).rstrip("/").endswith("/metadata"):
            time.sleep(self.latency)
        return super().request(method, url, *args, **kwargs)


def measure(
    base: str,
    db: Database,
    config: WritebackConfig,
    drafts: list[str],
    *,
    latency_ms: int,
    cold: bool = False,
    rerun: bool = False,
) -> tuple[list[int], list[float]]:
    """Per signed service: round trips and ms, with a new client per signature as the app makes one per
    request. The shared capability cache is warm unless ``cold`` (then it is emptied before each one)."""
    trips, times = [], []
    for draft in drafts:
        if cold:
            capabilities.forget()
        client = FhirClient(base, session=MetadataLatency(latency_ms))
        start = time.perf_counter()
        result = write_signed_service(db, client, config, signed(base, draft))
        if result.status == "queued-in-outbox" and not (rerun and result.question):  # Oracle's rerun asks
            raise SystemExit(f"{draft}: not written: {result.server_message}")
        times.append((time.perf_counter() - start) * 1000)
        trips.append(client.requests_sent)
    return trips, times


def start_sandbox(latency_ms: int, *, oracle: bool, port: int = 0) -> tuple[ServerThread, str]:
    """A sandbox EHR on loopback in open mode (Oracle's ChargeItem API if ``oracle``), ``latency_ms`` added to
    every FHIR request; returns the server and its FHIR base."""
    server = ServerThread("127.0.0.1", port)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True, oracle_chargeitem=oracle)
    server.serve(create_sandbox_app(config))
    server.app.extensions["sandbox"].faults.add(path="/fhir", latency_ms=latency_ms)
    return server, config.fhir_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the plain sandbox's port; the Oracle-mode one takes the next (0 = free)",
    )
    args = parser.parse_args()
    lat = args.latency_ms
    ports = {False: args.port, True: args.port + 1 if args.port else 0}
    servers = {oracle: start_sandbox(lat, oracle=oracle, port=ports[oracle]) for oracle in (True, False)}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"sandbox EHR on loopback, +{lat} ms per FHIR request, {args.services} services")
        for name, wb in CASES.items():
            base = servers[wb.chargeitem == "operation"][1]
            db = Database(f"sqlite:///{Path(tmp) / (name + '.db')}")
            Base.metadata.create_all(db.engine)
            drafts = [f"{name}-{i}" for i in range(args.services)]
            capabilities.of(FhirClient(base))  # warm: an earlier launch of this server read it
            trips, times = measure(base, db, wb, drafts, latency_ms=lat)
            empty = Database(f"sqlite:///{Path(tmp) / (name + '-rerun.db')}")
            Base.metadata.create_all(empty.engine)
            re_trips, re_times = measure(base, empty, wb, drafts, latency_ms=lat, rerun=True)  # empty store
            cold = [f"cold-{d}" for d in drafts]
            cold_trips, cold_times = measure(base, db, wb, cold, latency_ms=lat, cold=True)
            print(
                f"{name:12s} new client, warm cache: {statistics.mean(trips):.1f} round trips, "
                f"{statistics.median(times):.0f} ms median | rerun with empty store: "
                f"{statistics.mean(re_trips):.1f}, {statistics.median(re_times):.0f} ms | cold cache "
                f"(+ /metadata): {statistics.mean(cold_trips):.1f}, {statistics.median(cold_times):.0f} ms"
            )
            db.dispose()
            empty.dispose()
    for server, _base in servers.values():
        server.stop()


if __name__ == "__main__":
    main()
