"""HTTP side of the authorization server: discovery documents, JWKS, authorize (EHR launch and the
development-only standalone login), token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from sandbox_ehr import directory
from sandbox_ehr.csrf import check_csrf, csrf_token
from sandbox_ehr.faults import FAULT_HEADER, apply_latency, error_fault, parse_fault_header
from sandbox_ehr.keys import public_jwks
from sandbox_ehr.tokens import LaunchContext

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

bp = Blueprint("auth", __name__)

CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "context-banner",
    "context-style",
    "permission-v1",
    "permission-v2",
    "permission-offline",
    "permission-patient",
    "permission-user",
    "sso-openid-connect",
]
SCOPES_SUPPORTED = [
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "user/*.cruds",
    "patient/*.read",
    "patient/*.write",
    "user/*.read",
    "user/*.write",
    "system/*.rs",
    "system/*.read",
]
SMART_STYLE = {
    "color_background": "#edeae3",
    "color_error": "#9e2d2d",
    "color_highlight": "#69b5ce",
    "color_modal_backdrop": "",
    "color_success": "#498e49",
    "color_text": "#303030",
    "dim_border_radius": "6px",
    "dim_font_size": "13px",
    "dim_spacing_size": "10px",
    "font_family_body": '"Helvetica Neue", Helvetica, Arial, sans-serif',
    "font_family_heading": '"Helvetica Neue", Helvetica, Arial, sans-serif',
}


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _json(data: dict[str, Any]) -> Response:
    resp = jsonify(data)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def _endpoints() -> dict[str, str]:
    """What SMART discovery and the OpenID configuration both publish: issuer, keys and endpoints."""
    cfg = state().config
    return {
        "issuer": cfg.fhir_base,
        "jwks_uri": f"{cfg.base_url}/.well-known/jwks.json",
        "authorization_endpoint": f"{cfg.auth_base}/authorize",
        "token_endpoint": f"{cfg.auth_base}/token",
    }


@bp.get("/fhir/.well-known/smart-configuration")
def smart_configuration() -> Response:
    return _json(
        {
            **_endpoints(),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": SCOPES_SUPPORTED,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": CAPABILITIES,
        }
    )


@bp.get("/fhir/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return _json(
        {
            **_endpoints(),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "fhirUser", "profile"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "fhirUser", "name"],
        }
    )


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    resp = _json(public_jwks(state().signing_key))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/smart-style.json")
def smart_style() -> Response:
    return _json(SMART_STYLE)


def _redirect_error(redirect_uri: str, oauth_state: str | None, description: str) -> Response:
    params = [("error", "invalid_request"), ("error_description", description)]
    if oauth_state:
        params.append(("state", oauth_state))
    return Response("", status=302, headers={"Location": add_params_to_uri(redirect_uri, params)})


@bp.route("/auth/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """EHR launch: context from the ``launch`` value, no screen. Standalone: the development login."""
    st = state()
    server = st.auth_server
    oreq = server.create_oauth2_request(request)
    try:
        grant = server.get_consent_grant(oreq, end_user=None)
    except OAuth2Error as err:
        return server.handle_error_response(oreq, err)
    values = request.values
    if values.get("aud", "").rstrip("/") != st.config.fhir_base:
        return _redirect_error(grant.redirect_uri, values.get("state"), f"aud must be {st.config.fhir_base}")
    scopes = set(values.get("scope", "").split())
    if values.get("launch"):
        context = st.tokens.take_launch(values["launch"])
        if context is None or context.client_id != grant.client.get_client_id() or "launch" not in scopes:
            return _redirect_error(
                grant.redirect_uri,
                values.get("state"),
                "launch value unknown, expired, used, for another client, or no 'launch' scope",
            )
    elif request.method == "POST" and request.form.get("sandbox_login"):
        check_csrf()
        context = _standalone_context(st, scopes)
        if context is None:
            return Response("unknown practitioner or patient", status=400)
    else:
        return _login_page(st, scopes)
    return server.create_authorization_response(oreq, grant_user=context, grant=grant)


def _standalone_context(st: SandboxState, scopes: set[str]) -> LaunchContext | None:
    practitioner = request.form.get("practitioner", "")
    patient = request.form.get("patient") or None
    if st.store.read("Practitioner", practitioner) is None:
        return None
    if "launch/patient" not in scopes:
        patient = None
    elif patient is None or st.store.read("Patient", patient) is None:
        return None
    encounter = None
    if patient and "launch/encounter" in scopes:
        found = directory.encounters(st.store, patient)
        encounter = found[0].id if found else None
    return LaunchContext(practitioner=practitioner, patient=patient, encounter=encounter, ehr_launch=False)


def _login_page(st: SandboxState, scopes: set[str]) -> Response:
    html = render_template(
        "login.html",
        action=request.full_path if request.method == "GET" else request.url,
        practitioners=directory.practitioners(st.store),
        patients=directory.patients(st.store) if "launch/patient" in scopes else [],
        client=st.config.client(request.values.get("client_id", "")),
        scopes=sorted(scopes),
        csrf=csrf_token(),
        hidden={k: v for k, v in request.form.items()} if request.method == "POST" else {},
    )
    return Response(html, content_type="text/html; charset=utf-8")


@bp.post("/auth/token")
def token() -> Response:
    st = state()
    client_id = request.form.get("client_id") or (
        request.authorization.username if request.authorization else None
    )
    faults = st.faults.for_request("POST", request.path, client_id)
    header = request.headers.get(FAULT_HEADER)
    if header and st.config.faults_enabled:
        faults.append(parse_fault_header(header))
    apply_latency(faults)
    failing = error_fault(faults)
    if failing and failing.status:
        headers = {"Retry-After": str(failing.retry_after)} if failing.retry_after is not None else {}
        return Response(
            '{"error": "temporarily_unavailable"}',
            status=failing.status,
            headers=headers,
            content_type="application/json",
        )
    return st.auth_server.create_token_response()
