"""Sandbox EHR latency: one batch of the app's launch reads for a seeded patient, over real HTTP on loopback,
with a bearer token checked on every entry (the sandbox must never be what an app benchmark measures).

    .venv/bin/python benchmarks/sandbox.py [--rounds 200]

Prints the median and p95 (target: median < 50 ms) plus seeding and single-read figures.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import statistics
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import ClientConfig, SandboxConfig
from sandbox_ehr.server import ServerThread
from smart_app.reads import launch_queries

REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "launch openid fhirUser patient/*.rs user/Practitioner.r user/PractitionerRole.rs user/Organization.r"


def token_for(http: requests.Session, cfg: SandboxConfig, patient: str, encounter: str) -> str:
    """A real EHR launch with the public client: launcher → authorize (PKCE) → token."""
    args = {
        "client_id": "bench",
        "practitioner": "rn-okafor",
        "patient": patient,
        "encounter": encounter,
        "frame": "0",
    }
    launch = parse_qs(urlsplit(http.get(f"{cfg.base_url}/launcher?{urlencode(args)}", allow_redirects=False)
                               .headers["Location"]).query)["launch"][0]  # fmt: skip
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    auth = http.get(
        f"{cfg.auth_base}/authorize",
        allow_redirects=False,
        params={
            "response_type": "code",
            "client_id": "bench",
            "redirect_uri": REDIRECT,
            "scope": SCOPE,
            "state": "b",
            "aud": cfg.fhir_base,
            "launch": launch,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(auth.headers["Location"]).query)["code"][0]
    token = http.post(
        f"{cfg.auth_base}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "bench",
        },
    ).json()
    return str(token["access_token"])  # fmt: skip


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--port", type=int, default=0, help="the sandbox EHR's port (0 = a free one)")
    args = parser.parse_args()

    server = ServerThread("127.0.0.1", args.port)
    cfg = SandboxConfig(
        base_url=f"http://127.0.0.1:{server.port}",
        clients=[ClientConfig("bench", "public", [REDIRECT], "http://127.0.0.1:9/launch")],
    )
    started = time.perf_counter()
    server.serve(create_sandbox_app(cfg))
    seed_ms = (time.perf_counter() - started) * 1000
    store = server.app.extensions["sandbox"].store
    try:
        http = requests.Session()
        patient, encounter = "edu-dm-commercial", "enc-dm-commercial-0302"
        headers = {"Authorization": f"Bearer {token_for(http, cfg, patient, encounter)}",
                   "Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}  # fmt: skip
        queries = launch_queries(patient, encounter, "Practitioner/rn-okafor")
        bundle = {"resourceType": "Bundle", "type": "batch",
                  "entry": [{"request": {"method": "GET", "url": q}} for q in queries]}  # fmt: skip
        for _ in range(10):  # warm-up
            http.post(cfg.fhir_base, json=bundle, headers=headers).raise_for_status()
        batch_ms: list[float] = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            resp = http.post(cfg.fhir_base, json=bundle, headers=headers)
            batch_ms.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
        statuses = [e["response"]["status"][:3] for e in resp.json()["entry"]]
        single_ms: list[float] = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            http.get(f"{cfg.fhir_base}/Patient/{patient}", headers=headers).raise_for_status()
            single_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        server.stop()

    print(f"seeded store: {store.count()} resources in {seed_ms:.0f} ms (start-up incl. R4B validation)")
    print(
        f"launch batch: {len(queries)} entries, statuses {sorted(set(statuses))}, {len(resp.content)} bytes"
    )
    print(f"launch batch latency over {args.rounds} rounds: median {statistics.median(batch_ms):.1f} ms, "
          f"p95 {percentile(batch_ms, 95):.1f} ms (target: median < 50 ms)")  # fmt: skip
    print(f"single read Patient/{patient}: median {statistics.median(single_ms):.2f} ms, "
          f"p95 {percentile(single_ms, 95):.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
