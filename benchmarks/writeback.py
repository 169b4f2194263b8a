"""Round trips and wall time per signed service, per write strategy, against the sandbox EHR on loopback with
50 ms added to every FHIR request (targets: 1 round trip with a transaction, at most 4 sequential).

Run: ``.venv/bin/python benchmarks/writeback.py [--services N] [--latency-ms MS]``. Prints one line per case.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from billing_rules.model import ChargeLine, Evaluation, ServiceRecord
from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import ehr_base_url
from smart_app.db import Base, Database
from smart_app.fhir_client import FhirClient
from smart_app.writeback import SignedService, WritebackConfig, write_signed_service
from smart_app.writeback import tables as _tables  # noqa: F401  (declares the tables)

CASES = {
    "transaction": WritebackConfig(transaction=True),
    "sequential": WritebackConfig(transaction=False),
    "note-only": WritebackConfig(chargeitem="none", transaction=False),
}


def signed(base: str, draft_id: str) -> SignedService:
    record = ServiceRecord(
        code="98960", service_date=date(2026, 3, 2), minutes=30, curriculum="ADCES7", diagnoses=("E11.9",)
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


def measure(
    base: str, db: Database, config: WritebackConfig, drafts: list[str], *, warm: bool = True
) -> tuple[list[int], list[float]]:
    """Per signed service: round trips and ms. ``warm``: the client already holds the CapabilityStatement."""
    trips, times = [], []
    for draft in drafts:
        client = FhirClient(base)
        if warm:
            client.capabilities()
        before = client.requests_sent
        start = time.perf_counter()
        write_signed_service(db, client, config, signed(base, draft))
        times.append((time.perf_counter() - start) * 1000)
        trips.append(client.requests_sent - before)
    return trips, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    server = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(base_url=ehr_base_url(server.port), open_fhir=True)
    server.serve(create_sandbox_app(config))
    server.app.extensions["sandbox"].faults.add(path="/fhir", latency_ms=args.latency_ms)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"sandbox EHR on loopback, +{args.latency_ms} ms per FHIR request, {args.services} services")
        for name, wb in CASES.items():
            db = Database(f"sqlite:///{Path(tmp) / (name + '.db')}")
            Base.metadata.create_all(db.engine)
            drafts = [f"{name}-{i}" for i in range(args.services)]
            trips, times = measure(config.fhir_base, db, wb, drafts)
            empty = Database(f"sqlite:///{Path(tmp) / (name + '-rerun.db')}")
            Base.metadata.create_all(empty.engine)
            re_trips, re_times = measure(config.fhir_base, empty, wb, drafts)  # rerun, empty local store
            cold = [f"cold-{d}" for d in drafts]
            cold_trips, cold_times = measure(config.fhir_base, db, wb, cold, warm=False)
            print(
                f"{name:12s} first write: {statistics.mean(trips):.1f} round trips, "
                f"{statistics.median(times):.0f} ms median | rerun with empty store: "
                f"{statistics.mean(re_trips):.1f}, {statistics.median(re_times):.0f} ms | fresh client "
                f"(+ /metadata): {statistics.mean(cold_trips):.1f}, {statistics.median(cold_times):.0f} ms"
            )
            db.dispose()
            empty.dispose()
    server.stop()


if __name__ == "__main__":
    main()
