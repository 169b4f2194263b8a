"""Exactly once at the page level (issue 10): one review page, k identical ``POST /s/<h>/sign`` released
together by a barrier, against the real sandbox EHR and the app on loopback, on SQLite and on PostgreSQL,
sent to one app instance or split across two instances sharing the store. Every trial: exactly one new
ChargeItem and one new DocumentReference on the EHR, and all k responses end on the same result (same page,
same ids).

The servers live for the module; each trial documents a new service (a new draft) on the same launch.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from sandbox_ehr.app import SandboxState, create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.scopes import Access
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import APP_CLIENT_ID, SECRET_ENV, app_base_url, app_client, ehr_base_url
from sandbox_ehr.wiring import write_launch_profile as write_profile
from tests.e2e import postgres_kit
from tests.e2e.clinician_kit import Clinician, Shown, storm

pytestmark = pytest.mark.e2e

PATIENT, ENCOUNTER = "edu-dm-commercial", "enc-dm-commercial-0302"
KNEE, KNEE_VISIT = "edu-knee-medicare", "enc-knee-medicare-0216"
TRIALS = 10
TWO_SERVICE_VISIT = {
    "provider_role": "PT", "dx": "M17.11", "plan_of_care_certified": "yes", "rows": "2",
    "code": "97110", "minutes": "33", "s1_code": "97112", "s1_minutes": "24",
}  # fmt: skip


@dataclass
class Deployment:
    """The sandbox EHR and two app instances (own engines, one store), all on loopback."""

    ehr: ServerThread
    ehr_config: SandboxConfig
    apps: list[str]

    @property
    def state(self) -> SandboxState:
        state = self.ehr.app.extensions["sandbox"]
        assert isinstance(state, SandboxState)
        return state

    def count(self, resource_type: str, patient: str = PATIENT) -> int:
        found = self.state.rest.execute(
            Access(open=True), "GET", f"{resource_type}?patient={patient}&_count=500"
        )
        return sum(1 for e in found.body.get("entry", []) if e.get("search", {}).get("mode") == "match")

    def launcher_url(self, patient: str = PATIENT, encounter: str = ENCOUNTER) -> str:
        return (
            f"{self.ehr_config.base_url}/launcher?client_id={APP_CLIENT_ID}&practitioner=rn-okafor"
            f"&patient={patient}&encounter={encounter}&frame=0"
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('storm') / 'app.sqlite3'}"
        return
    reason = postgres_kit.missing()
    if reason:
        pytest.skip(reason)
    with postgres_kit.cluster() as url:
        from smart_app.store import Database

        deploy = Database(url)
        deploy.create_all()  # the deploy step (`smart-edu db upgrade`): the app never migrates PostgreSQL
        deploy.dispose()
        yield url


@pytest.fixture(scope="module")
def deployment(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from smart_app import create_app

    listeners = [ServerThread("127.0.0.1", 0) for _ in range(2)]
    bases = [app_base_url(s.port) for s in listeners]
    secret = secrets.token_urlsafe(32)
    ehr = ServerThread("127.0.0.1", 0)
    ehr_config = SandboxConfig(base_url=ehr_base_url(ehr.port), clients=[app_client(bases[0], secret)])
    ehr_config.clients[0].redirect_uris.append(f"{bases[1]}/callback")
    ehr.serve(create_sandbox_app(ehr_config))
    profiles = write_profile(tmp_path_factory.mktemp("profiles"), ehr_config.fhir_base).parent
    previous = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret
    key, flask_key = secrets.token_hex(32), secrets.token_hex(32)
    for listener, base in zip(listeners, bases, strict=True):
        app = create_app({
            "TESTING": True, "SMART_EDU_LAUNCH_CONFIG": str(profiles), "SMART_EDU_DATABASE_URL": store_url,
            "SMART_EDU_SECRET_KEY": key, "SECRET_KEY": flask_key, "SMART_EDU_BASE_URL": base,
        })  # fmt: skip
        listener.serve(app)
    yield Deployment(ehr, ehr_config, bases)
    for server in [*listeners, ehr]:
        server.stop()
    for listener in listeners:
        listener.app.extensions["smart_edu_db"].dispose()
    if previous is None:
        os.environ.pop(SECRET_ENV, None)
    else:
        os.environ[SECRET_ENV] = previous


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("spread", ["one-instance", "two-instances"])
def test_k_simultaneous_signs_of_one_review_page_write_one_charge_and_one_note(
    deployment: Deployment, k: int, spread: str
) -> None:
    clinician = Clinician()
    clinician.launch(deployment.launcher_url())
    first = deployment.apps[0]
    targets = [deployment.apps[n % 2] if spread == "two-instances" else first for n in range(k)]
    failures: list[str] = []
    duplicated = extra = 0
    for trial in range(TRIALS):
        before = deployment.count("ChargeItem"), deployment.count("DocumentReference")
        clinician.document(first)
        form = clinician.sign_form(first)
        shown = storm([partial(clinician.sign, base, form) for base in targets])
        after = deployment.count("ChargeItem"), deployment.count("DocumentReference")
        charges = after[0] - before[0]
        duplicated, extra = duplicated + (charges > 1), extra + max(charges - 1, 0)
        problem = _problem(shown, before, after)
        if problem:
            failures.append(f"trial {trial}: {problem}")
    summary = f"k={k}, {spread}: duplicates in {duplicated} of {TRIALS} trials ({extra} extra charges); "
    assert not failures, summary + f"{len(failures)} trials wrong:\n" + "\n".join(failures)


def test_ten_simultaneous_signs_of_a_visit_across_two_instances_write_each_line_once(
    deployment: Deployment,
) -> None:
    """A visit (two timed services: one note, one ChargeItem per line) is signed on the same draft machinery:
    ten clicks, split over two instances, write two charges and one note, every trial."""
    clinician = Clinician()
    clinician.launch(deployment.launcher_url(KNEE, KNEE_VISIT))
    failures: list[str] = []
    for trial in range(TRIALS):
        before = deployment.count("ChargeItem", KNEE), deployment.count("DocumentReference", KNEE)
        clinician.document(deployment.apps[0], TWO_SERVICE_VISIT)
        form = clinician.sign_form(deployment.apps[1])
        shown = storm([partial(clinician.sign, deployment.apps[n % 2], form) for n in range(10)])
        after = deployment.count("ChargeItem", KNEE), deployment.count("DocumentReference", KNEE)
        new = (after[0] - before[0], after[1] - before[1])
        results = {s.result if isinstance(s, Shown) else repr(s) for s in shown}
        headings = {s.heading if isinstance(s, Shown) else "" for s in shown}
        if new != (2, 1) or len(results) != 1 or headings != {"Signed and written"}:
            failures.append(f"trial {trial}: {new} written, {len(results)} results, {headings}")
    assert failures == []


def _problem(shown: list[Any], before: tuple[int, int], after: tuple[int, int]) -> str | None:
    """What is wrong with one trial, or None: every answer the result page, one result, one charge, a note."""
    errors = [s for s in shown if not isinstance(s, Shown)]
    if errors:
        return f"requests failed: {errors!r}"
    new = (after[0] - before[0], after[1] - before[1])
    if new != (1, 1):
        return f"{new[0]} ChargeItems and {new[1]} DocumentReferences written"
    bad = [s for s in shown if s.status != 200 or s.heading != "Signed and written"]
    if bad:
        return f"pages: {[(s.status, s.heading) for s in bad]}"
    results = {s.result for s in shown}
    if len(results) != 1:
        return f"{len(results)} different results shown: {sorted(results)}"
    if not any(ref.startswith("ChargeItem/") for ref in shown[0].refs):
        return f"the result names no charge: {shown[0].refs}"
    return None
