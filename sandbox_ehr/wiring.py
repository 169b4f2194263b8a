"""How the sandbox and the app are wired together for ``smart-edu demo`` and the end-to-end tests: the client
the sandbox registers for the app, and the launch profile (DESIGN.md §4) the app reads for the sandbox.

The EHR (launcher, FHIR, auth) is served as ``http://localhost:PORT`` and the app as ``http://127.0.0.1:PORT``:
two different sites on loopback, so a framed app meets the same third-party-cookie rules as in a real EHR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox_ehr.config import ClientConfig

APP_CLIENT_ID = "smart-edu-billing"
PROFILE_NAME = "sandbox"
SECRET_ENV = "SMART_EDU_SANDBOX_CLIENT_SECRET"  # noqa: S105 (the variable's name, not a secret)
# SMART Backend Services for ``smart-edu scrub``: a backend client of its own, its private key (a PEM) in
# BACKEND_KEY_ENV, exporting the seeded clinic's Group (seed/month_charges.json).
SCRUB_CLIENT_ID = "smart-edu-scrub"
BACKEND_KEY_ENV = "SMART_EDU_SANDBOX_BACKEND_KEY"
BACKEND_KEY_ID = "smart-edu-scrub-1"
CLINIC_GROUP_ID = "riverside-clinic-patients"
SEED_MONTH = ("2026-03-01", "2026-03-31")
APP_SCOPES = (
    "openid", "fhirUser", "offline_access",
    "patient/Patient.r", "patient/Encounter.rs", "patient/Condition.rs", "patient/Coverage.rs",
    "patient/ServiceRequest.rs", "patient/ChargeItem.crs", "patient/DocumentReference.crs",
    "patient/Provenance.cu", "user/Practitioner.r", "user/PractitionerRole.rs", "user/Organization.r",
)  # fmt: skip


def ehr_base_url(port: int) -> str:
    return f"http://localhost:{port}"


def app_base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def app_client(app_base: str, secret: str, *, access_token_lifetime: int | None = None) -> ClientConfig:
    """The app as a confidential-symmetric client: /launch, /callback and /cds-services on ``app_base``."""
    return ClientConfig(
        client_id=APP_CLIENT_ID,
        type="confidential-symmetric",
        name="smart-edu-billing (patient education billing)",
        client_secret=secret,
        redirect_uris=[f"{app_base}/callback"],
        launch_uri=f"{app_base}/launch",
        cds_services_url=f"{app_base}/cds-services",
        access_token_lifetime=access_token_lifetime,
    )


def scrub_client(public_jwk: dict[str, Any]) -> ClientConfig:
    """The scrub as a SMART Backend Services client: client_credentials, ES384 key, system read scopes."""
    return ClientConfig(
        client_id=SCRUB_CLIENT_ID,
        type="confidential-asymmetric",
        name="smart-edu scrub (Bulk Data export)",
        grant_types=["client_credentials"],
        jwks={"keys": [{**public_jwk, "kid": BACKEND_KEY_ID, "alg": "ES384", "use": "sig"}]},
        scope="system/*.rs",
    )


def write_launch_profile(
    directory: Path, iss: str, *, frame_ancestors: tuple[str, ...] = (), backend: bool = False
) -> Path:
    """Write ``sandbox.toml`` for the app; the secret itself goes in the environment variable SECRET_ENV.
    ``backend``: also the ``[backend]`` table for ``smart-edu scrub`` (key in BACKEND_KEY_ENV)."""
    directory.mkdir(parents=True, exist_ok=True)
    scopes = ", ".join(f'"{s}"' for s in APP_SCOPES)
    ancestors = ", ".join(f'"{a}"' for a in frame_ancestors)
    text = f"""# Written by smart-edu demo / the e2e fixtures for the local sandbox EHR. Development only.
name = "{PROFILE_NAME}"
title = "Sandbox EHR (local, development only)"
iss = "{iss}"
client_id = "{APP_CLIENT_ID}"
client_auth = "client_secret_basic"
client_secret_env = "{SECRET_ENV}"
pkce = "required"
scopes = [{scopes}]
frame_ancestors = [{ancestors}]

[writeback]
chargeitem = "create"
documentreference = "create"
transaction = true
conditional_create = true
note_content_type = "text/plain;charset=utf-8"
"""
    if backend:
        text += f"""
[backend]
client_id = "{SCRUB_CLIENT_ID}"
private_key_env = "{BACKEND_KEY_ENV}"
key_id = "{BACKEND_KEY_ID}"
alg = "ES384"
group_id = "{CLINIC_GROUP_ID}"
"""
    path = directory / f"{PROFILE_NAME}.toml"
    path.write_text(text, encoding="utf-8")
    return path
