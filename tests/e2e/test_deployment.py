"""docs/deployment.md, tried (issue 10): one PostgreSQL started by the test, the schema upgraded once
at deploy time, two ``smart-edu serve`` instances with two workers each on it (the same settings, as behind
a load balancer; no sticky sessions), a launch begun on one and finished on the other (its callback lands
on the other instance), then simultaneous Sign clicks spread across both: one ChargeItem and one
DocumentReference every trial, every click shown the same result, no traceback in either instance's log."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests

from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.scopes import Access
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import APP_CLIENT_ID, app_client, ehr_base_url, write_launch_profile
from tests.e2e import postgres_kit
from tests.e2e.clinician_kit import Clinician, Shown, storm
from tests.e2e.serve_kit import Serve, serve_env, upgrade

pytestmark = pytest.mark.e2e
PATIENT, ENCOUNTER = "edu-dm-commercial", "enc-dm-commercial-0302"
TRIALS, K = 4, 10


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres_kit.missing()
    if reason:
        pytest.skip(reason)
    with postgres_kit.cluster() as url:
        yield url


def count(state: SandboxState, resource_type: str) -> int:
    found = state.rest.execute(Access(open=True), "GET", f"{resource_type}?patient={PATIENT}&_count=500")
    return sum(1 for e in found.body.get("entry", []) if e.get("search", {}).get("mode") == "match")


def test_two_instances_with_two_workers_on_one_postgresql(pg_url: str, tmp_path: Path) -> None:
    ports = [postgres_kit.free_port() for _ in range(2)]
    instances = [f"http://127.0.0.1:{p}" for p in ports]
    public = instances[0]  # the load balancer's address: the one registered redirect URI
    ehr = ServerThread("127.0.0.1", 0)
    client_secret = secrets.token_urlsafe(16)
    config = SandboxConfig(base_url=ehr_base_url(ehr.port), clients=[app_client(public, client_secret)])
    ehr.serve(create_sandbox_app(config))
    state: SandboxState = ehr.app.extensions["sandbox"]
    profiles = write_launch_profile(tmp_path / "profiles", config.fhir_base).parent
    env = serve_env(database_url=pg_url, profiles=profiles, base_url=public, secret_key=secrets.token_hex(32),
                    client_secret=client_secret)  # fmt: skip
    upgrade(env)
    servers = [Serve(p, env, workers=2, log=tmp_path / f"serve-{n}.log") for n, p in enumerate(ports)]
    try:
        for server in servers:
            server.start()
        for probe in ("healthz", "readyz"):
            assert [requests.get(f"{i}/{probe}", timeout=10).status_code for i in instances] == [200, 200]
        rerouted: list[str] = []
        clinician = Clinician(route=partial(callback_on, instances[0], instances[1], rerouted))
        clinician.launch(
            f"{config.base_url}/launcher?client_id={APP_CLIENT_ID}&practitioner=rn-okafor&patient={PATIENT}"
            f"&encounter={ENCOUNTER}&frame=0"
        )
        assert len(rerouted) == 1  # begun on the first instance, the callback finished on the second
        failures = []
        for trial in range(TRIALS):
            before = count(state, "ChargeItem"), count(state, "DocumentReference")
            clinician.document(instances[trial % 2])
            form = clinician.sign_form(instances[(trial + 1) % 2])
            shown = storm([partial(clinician.sign, instances[n % 2], form) for n in range(K)])
            after = count(state, "ChargeItem"), count(state, "DocumentReference")
            results = {s.result if isinstance(s, Shown) else repr(s) for s in shown}
            headings = {s.heading if isinstance(s, Shown) else "" for s in shown}
            new = (after[0] - before[0], after[1] - before[1])
            if new != (1, 1) or len(results) != 1 or headings != {"Signed and written"}:
                failures.append(f"trial {trial}: {new} written, {len(results)} results, {headings}")
    finally:
        for server in servers:
            server.stop()
        ehr.stop()
    assert failures == []
    for server in servers:
        assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


def callback_on(first: str, second: str, rerouted: list[str], url: str) -> str:
    """The load balancer sends the EHR's redirect back (``/callback``) to the other instance."""
    if not url.startswith(f"{first}/callback"):
        return url
    rerouted.append(url)
    return url.replace(first, second, 1)
