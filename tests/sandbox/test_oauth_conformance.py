"""The sandbox's authorization server, checked with a plain OAuth client: discovery, EHR and standalone
launch, PKCE, single-use codes and launch values, client authentication, refresh, id_token."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.sandbox.conftest import FULL_SCOPE, REDIRECT, SECRET, Ehr, pkce_pair, query_of

ISSUE_CAPABILITIES = {
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
    "context-standalone-patient", "permission-v1", "permission-v2", "sso-openid-connect",
}  # fmt: skip


def test_smart_configuration_advertises_smart2_s256_only_and_absolute_endpoints(ehr: Ehr) -> None:
    conf = ehr.http.get(f"{ehr.fhir}/.well-known/smart-configuration", headers={"Accept": "text/html"}).json()
    assert set(conf["capabilities"]) >= ISSUE_CAPABILITIES
    assert conf["code_challenge_methods_supported"] == ["S256"]
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert conf[key].startswith(ehr.base + "/")
    assert "private_key_jwt" in conf["token_endpoint_auth_methods_supported"]
    oidc = ehr.http.get(f"{ehr.fhir}/.well-known/openid-configuration").json()
    assert oidc["issuer"] == ehr.fhir and oidc["jwks_uri"] == conf["jwks_uri"]


def test_ehr_launch_token_carries_context_and_a_verifiable_id_token(fresh_ehr: Ehr) -> None:
    token = fresh_ehr.access_token()
    assert token["patient"] == "edu-dm-commercial"
    assert token["encounter"] == "enc-dm-commercial-0302"
    assert token["need_patient_banner"] is False
    assert token["smart_style_url"] == f"{fresh_ehr.base}/smart-style.json"
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    keys = KeySet.import_key_set(fresh_ehr.http.get(f"{fresh_ehr.base}/.well-known/jwks.json").json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == fresh_ehr.fhir
    assert claims["aud"] == "public-app"
    assert claims["fhirUser"] == f"{fresh_ehr.fhir}/Practitioner/rn-okafor"
    style = fresh_ehr.http.get(token["smart_style_url"]).json()
    assert style["color_background"]


def test_token_response_is_not_cacheable(fresh_ehr: Ehr) -> None:
    code, verifier = fresh_ehr.ehr_code()
    resp = fresh_ehr.exchange(code, verifier)
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"


def _authorize_args(ehr: Ehr, **override: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    args = {
        "response_type": "code", "client_id": "public-app", "redirect_uri": REDIRECT, "scope": FULL_SCOPE,
        "state": "s1", "aud": ehr.fhir, "launch": ehr.launch_value(), "code_challenge": challenge,
        "code_challenge_method": "S256",
    }  # fmt: skip
    args.update(override)
    return {k: v for k, v in args.items() if v != ""}


def _error_of(resp: requests.Response) -> str:
    assert resp.status_code == 302, resp.text
    args = query_of(resp.headers["Location"])
    assert "code" not in args
    return args["error"]


def test_pkce_is_required_for_every_client_and_s256_only(fresh_ehr: Ehr) -> None:
    assert (
        _error_of(fresh_ehr.authorize(**_authorize_args(fresh_ehr, code_challenge=""))) == "invalid_request"
    )
    no_method = _authorize_args(fresh_ehr, code_challenge_method="")
    assert _error_of(fresh_ehr.authorize(**no_method)) == "invalid_request"
    plain = _authorize_args(fresh_ehr, code_challenge="x" * 43, code_challenge_method="plain")
    assert _error_of(fresh_ehr.authorize(**plain)) == "invalid_request"
    confidential = _authorize_args(fresh_ehr, client_id="symmetric-app", code_challenge="",
                                   launch=fresh_ehr.launch_value("symmetric-app"))  # fmt: skip
    assert _error_of(fresh_ehr.authorize(**confidential)) == "invalid_request"


def test_wrong_or_missing_code_verifier_gets_no_token(fresh_ehr: Ehr) -> None:
    code, _ = fresh_ehr.ehr_code()
    wrong, _ = pkce_pair()
    resp = fresh_ehr.exchange(code, wrong)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    code, _ = fresh_ehr.ehr_code()
    resp = fresh_ehr.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                            "client_id": "public-app"})  # fmt: skip
    assert resp.status_code == 400 and "access_token" not in resp.json()


def test_codes_are_single_use(fresh_ehr: Ehr) -> None:
    code, verifier = fresh_ehr.ehr_code()
    assert fresh_ehr.exchange(code, verifier).status_code == 200
    again = fresh_ehr.exchange(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_launch_values_are_single_use_and_bound_to_their_client(fresh_ehr: Ehr) -> None:
    launch = fresh_ehr.launch_value()
    assert "code" in query_of(
        fresh_ehr.authorize(**_authorize_args(fresh_ehr, launch=launch)).headers["Location"]
    )
    assert _error_of(fresh_ehr.authorize(**_authorize_args(fresh_ehr, launch=launch))) == "invalid_request"
    other = fresh_ehr.launch_value("symmetric-app")
    assert _error_of(fresh_ehr.authorize(**_authorize_args(fresh_ehr, launch=other))) == "invalid_request"


def test_aud_must_be_this_fhir_server(fresh_ehr: Ehr) -> None:
    resp = fresh_ehr.authorize(**_authorize_args(fresh_ehr, aud="https://evil.example/fhir"))
    assert _error_of(resp) == "invalid_request"


def test_unregistered_redirect_uri_is_never_redirected_to(fresh_ehr: Ehr) -> None:
    resp = fresh_ehr.authorize(**_authorize_args(fresh_ehr, redirect_uri="https://evil.example/cb"))
    assert resp.status_code == 400
    assert "evil.example" not in resp.headers.get("Location", "")


def test_confidential_symmetric_client_must_send_its_secret(fresh_ehr: Ehr) -> None:
    code, verifier = fresh_ehr.ehr_code("symmetric-app")
    bad = fresh_ehr.exchange(code, verifier, "symmetric-app", auth=("symmetric-app", "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    good = fresh_ehr.exchange(code, verifier, "symmetric-app", auth=("symmetric-app", SECRET))
    assert good.status_code == 200 and good.json()["patient"] == "edu-dm-commercial"


def _assertion(ehr: Ehr, *, audience: str | None = None, jti: str | None = None) -> str:
    assert ehr.jwks_key is not None
    now = int(time.time())
    aud = audience or f"{ehr.config.auth_base}/token"
    claims = {"iss": "asymmetric-app", "sub": "asymmetric-app", "aud": aud, "exp": now + 240,
              "jti": jti or uuid.uuid4().hex}  # fmt: skip
    return jwt.encode(
        {"alg": "RS384", "kid": "asym-1", "typ": "JWT"}, claims, ehr.jwks_key, algorithms=["RS384"]
    )


def _asym_exchange(ehr: Ehr, assertion: str) -> requests.Response:
    code, verifier = ehr.ehr_code("asymmetric-app")
    return ehr.token({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    })  # fmt: skip


def test_private_key_jwt_rs384_from_the_clients_jwks_url(fresh_ehr: Ehr) -> None:
    jti = uuid.uuid4().hex
    assert _asym_exchange(fresh_ehr, _assertion(fresh_ehr, jti=jti)).status_code == 200
    replay = _asym_exchange(fresh_ehr, _assertion(fresh_ehr, jti=jti))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_client"
    wrong_aud = _asym_exchange(fresh_ehr, _assertion(fresh_ehr, audience="https://other.example/token"))
    assert wrong_aud.status_code == 400 and wrong_aud.json()["error"] == "invalid_client"


def test_client_assertion_valid_for_more_than_five_minutes_is_refused(fresh_ehr: Ehr) -> None:
    """Authlib's PrivateKeyJWT signs for an hour by default; SMART allows five minutes at most."""
    assert fresh_ehr.jwks_key is not None
    token_url = f"{fresh_ehr.config.auth_base}/token"
    signer = PrivateKeyJWT(token_url, alg="RS384", headers={"kid": "asym-1"})
    session = OAuth2Session("asymmetric-app", fresh_ehr.jwks_key.as_pem(private=True).decode(),
                            token_endpoint_auth_method=signer)  # fmt: skip
    code, verifier = fresh_ehr.ehr_code("asymmetric-app")
    with pytest.raises(OAuthError, match="5 minutes"):
        session.fetch_token(token_url, code=code, redirect_uri=REDIRECT, code_verifier=verifier)


def test_refresh_rotates_and_the_old_refresh_token_dies(fresh_ehr: Ehr) -> None:
    first = fresh_ehr.access_token()
    resp = fresh_ehr.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                            "client_id": "public-app"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["access_token"] != first["access_token"] and second["patient"] == "edu-dm-commercial"
    assert second["refresh_token"] != first["refresh_token"] and second["expires_in"] > 0
    reuse = fresh_ehr.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                             "client_id": "public-app"})  # fmt: skip
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"


def test_no_refresh_token_without_offline_or_online_access(fresh_ehr: Ehr) -> None:
    token = fresh_ehr.access_token(scope="launch openid fhirUser patient/*.rs")
    assert "refresh_token" not in token


def test_refused_refresh_fault(fresh_ehr: Ehr) -> None:
    first = fresh_ehr.access_token()
    fresh_ehr.state.faults.add(refuse_refresh=True)
    resp = fresh_ehr.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                            "client_id": "public-app"})  # fmt: skip
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_standalone_launch_uses_the_development_login_and_patient_picker(fresh_ehr: Ehr) -> None:
    verifier, challenge = pkce_pair()
    args = {"response_type": "code", "client_id": "public-app", "redirect_uri": REDIRECT, "state": "st",
            "scope": "launch/patient openid fhirUser patient/*.rs", "aud": fresh_ehr.fhir,
            "code_challenge": challenge, "code_challenge_method": "S256"}  # fmt: skip
    page = fresh_ehr.authorize(**args)
    assert page.status_code == 200 and "development only" in page.text.lower()
    assert "password" not in page.text.lower().replace("no passwords", "")
    assert "&lt;b&gt;Robert&lt;/b&gt;" in page.text and "<b>Robert</b>" not in page.text
    form = fresh_ehr.login_form(page)
    url = f"{fresh_ehr.config.auth_base}/authorize"
    no_csrf = fresh_ehr.http.post(
        url,
        params=args,
        data={"sandbox_login": "1", "practitioner": "np-lopez", "patient": "edu-knee-medicare"},
        allow_redirects=False,
    )
    assert no_csrf.status_code == 400
    form.update(practitioner="np-lopez", patient="edu-knee-medicare")
    resp = fresh_ehr.http.post(url, params=args, data=form, allow_redirects=False)
    assert resp.status_code == 302, resp.text
    code = query_of(resp.headers["Location"])["code"]
    token = fresh_ehr.exchange(code, verifier).json()
    assert token["patient"] == "edu-knee-medicare" and token["need_patient_banner"] is True
    assert "encounter" not in token
