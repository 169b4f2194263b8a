"""Time to answer a CDS hook with full prefetch, through the app (create_app) in-process.

Prints median and p95 per hook over the sandbox's seeded education patients (target: median < 50 ms).
Each call goes through the whole path: JSON parsing, prefetch tolerance, FHIR -> ClinicalContext, the rules
engine, card building and validation, and the insert of the issued cards into the store (SQLite file).

    .venv/bin/python benchmarks/cds.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from smart_app import create_app

SEED = Path(__file__).resolve().parents[1] / "sandbox_ehr" / "seed" / "edu_cases.json"
HOOKS = ("patient-view", "encounter-start", "encounter-discharge")


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(patient, encounter, user, prefetch) for every seeded education encounter."""
    res = [e["resource"] for e in json.loads(SEED.read_text(encoding="utf-8"))["entry"]]

    def of(kind: str, field: str, patient: str) -> list[dict[str, Any]]:
        ref = f"Patient/{patient}"
        return [r for r in res if r["resourceType"] == kind and (r.get(field) or {}).get("reference") == ref]

    out = []
    by_id = {(r["resourceType"], r["id"]): r for r in res}
    for enc in (r for r in res if r["resourceType"] == "Encounter"):
        patient = enc["subject"]["reference"].split("/", 1)[1]
        user = (enc.get("participant") or [{}])[0].get("individual", {}).get("reference", "Practitioner/x")
        prefetch = {
            "patient": by_id[("Patient", patient)],
            "encounter": enc,
            "conditions": searchset(of("Condition", "subject", patient)),
            "coverage": searchset(of("Coverage", "beneficiary", patient)),
            "orders": searchset(of("ServiceRequest", "subject", patient)),
            "practitioner": by_id.get(("Practitioner", user.split("/", 1)[1])),
            "practitionerRoles": searchset(
                [
                    r
                    for r in res
                    if r["resourceType"] == "PractitionerRole" and r["practitioner"]["reference"] == user
                ]
            ),
            "charges": None,
            "notes": None,
        }
        out.append((patient, enc["id"], user, prefetch))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="calls per hook (after 20 warm-up calls)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SMART_EDU_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
                "SMART_EDU_SECRET_KEY": "benchmark-only",
                "SMART_EDU_BASE_URL": "http://127.0.0.1:8000",
            }
        )
        client = app.test_client()
        all_cases = cases()
        print(f"CDS hooks, full prefetch, {len(all_cases)} seeded encounters, {args.rounds} calls per hook")
        for hook in HOOKS:
            times: list[float] = []
            cards = 0
            for i in range(args.rounds + 20):
                patient, encounter, user, prefetch = all_cases[i % len(all_cases)]
                body = {
                    "hook": hook,
                    "hookInstance": str(uuid.uuid4()),
                    "context": {"userId": user, "patientId": patient, "encounterId": encounter},
                    "prefetch": prefetch,
                }
                start = time.perf_counter()
                resp = client.post(f"/cds-services/{hook}", json=body)
                elapsed = (time.perf_counter() - start) * 1000
                assert resp.status_code == 200, resp.get_data(as_text=True)
                if i >= 20:
                    times.append(elapsed)
                    cards += len(resp.get_json()["cards"])
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(
                f"  {hook:<20} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   "
                f"max {times[-1]:6.1f} ms   cards {cards}"
            )
        app.extensions["smart_edu_db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
