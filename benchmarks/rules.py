"""Rules engine figures: evaluations per second on one core once loaded, and the cold wall time of
``smart-edu check`` (a fresh process: interpreter start, imports, rule data, ICD-10-CM index, evaluation).

Targets: >= 20,000 evaluations/s; cold check < 1 s. Usage: python benchmarks/rules.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from billing_rules import default_rules, evaluate, parse_service_record
from billing_rules.model import (
    ClinicalContext,
    Diagnosis,
    EncounterInfo,
    ExistingCharge,
    Order,
    PatientInfo,
    Payer,
    Provider,
)

EDUCATION = {
    "code": "98960",
    "service_date": "2026-03-02",
    "minutes": 40,
    "mode": "in-person",
    "location": "office",
    "curriculum": "ADA DSMES curriculum",
    "topics": ["glucose monitoring", "foot care"],
    "response": "teach-back correct",
    "diagnoses": ["E11.9", "I10"],
}
THERAPY = {
    "code": "97110",
    "service_date": "2026-03-02",
    "minutes": 24,
    "other_timed_minutes": {"97112": 23},
    "mode": "video",
    "location": "home",
    "diagnoses": ["M17.11"],
    "plan_of_care_certified": True,
    "therapy_ytd_allowed": 2600,
}
BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-04-01"}},
        {
            "resource": {
                "resourceType": "Encounter",
                "id": "e1",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": "Patient/p1"},
                "period": {"start": "2026-03-02T09:00:00Z"},
            }
        },
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c1",
                "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]},
            }
        },
        {
            "resource": {
                "resourceType": "Coverage",
                "id": "cov1",
                "status": "active",
                "beneficiary": {"reference": "Patient/p1"},
                "type": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.221.5", "code": "5"}]},
            }
        },
    ],
}


def context() -> ClinicalContext:
    return ClinicalContext(
        patient=PatientInfo(id="p1", birth_date=date(1960, 4, 1)),
        encounter=EncounterInfo(
            id="e1", status="finished", start="2026-03-02T09:00:00Z", encounter_class="AMB"
        ),
        conditions=(Diagnosis("c1", icd10=("E11.9",), display="Type 2 diabetes"),),
        payer=Payer("commercial", name="Acme Health"),
        provider=Provider("RN"),
        orders=(Order("o1", status="active", authored_on=date(2026, 2, 20), requester_role="MD"),),
        existing_charges=(ExistingCharge("ch1", "97110", date(2026, 2, 23), "billed", ()),),
    )


def throughput(record_data: dict[str, object], ctx: ClinicalContext, seconds: float) -> tuple[float, float]:
    """Evaluations per CPU-second of this process (one core) and per wall-second (shared machine: noisier)."""
    record = parse_service_record(record_data)
    evaluate(record, ctx)  # warm: rule data and ICD-10-CM index loaded
    count, wall, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        for _ in range(500):
            evaluate(record, ctx)
        count += 500
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def cold_check(runs: int) -> tuple[list[float], str]:
    exe = shutil.which("smart-edu") or str(Path(sys.executable).with_name("smart-edu"))
    with tempfile.TemporaryDirectory() as tmp:
        bundle, service = Path(tmp, "bundle.json"), Path(tmp, "service.json")
        bundle.write_text(json.dumps(BUNDLE))
        service.write_text(json.dumps(EDUCATION))
        cmd = [exe, "check", "--bundle", str(bundle), "--service", str(service)]
        label = "smart-edu check"
        if not Path(exe).exists():
            cmd = [
                sys.executable,
                "-c",
                "import billing_rules, json, sys; from billing_rules.model import "
                "ClinicalContext; r = billing_rules.parse_service_record(json.load(open(sys.argv[1]))); "
                "print(billing_rules.evaluate(r, ClinicalContext()).billable)",
                str(service),
            ]
            label = "python -c 'import billing_rules; evaluate(...)' (no smart-edu script found)"
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - start)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr.strip()}")
    return times, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    default_rules()
    ctx = context()
    for name, data in (("98960 commercial, in person", EDUCATION), ("97110 Medicare, video, KX", THERAPY)):
        extra = {"payer_class": "medicare", "provider_role": "PT"} if data is THERAPY else {}
        cpu, wall = throughput({**data, **extra}, ctx, args.seconds)
        print(
            f"evaluations/s ({name}): {cpu:,.0f} per CPU-second, {wall:,.0f} per wall-second (target 20,000)"
        )
    times, label = cold_check(args.cold_runs)
    median, worst = statistics.median(times), max(times)
    print(f"cold {label}: median {median:.3f} s, max {worst:.3f} s over {len(times)} runs (target < 1 s)")


if __name__ == "__main__":
    main()
