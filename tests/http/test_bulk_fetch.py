"""Bulk Data $export client (issue 13), every path stubbed with ``responses``: kick-off, polling with
Retry-After (seconds and HTTP-date) and X-Progress, the manifest, streamed files with the token only where and
to whom it belongs, error files, DELETE (also after failures and Ctrl-C), 429/500, an expired token, the time
limit, and the paged-search fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from smart_app.bulk import BulkConfigError, BulkServerError, BulkTimeout, Progress, fetch_to_directory
from smart_app.profiles import Profile
from tests.http.bulk_kit import (
    BASE,
    TOKEN_URL,
    FakeTime,
    backend_profile,
    capability,
    install_auth,
    ndjson,
    token_body,
)

STATUS = f"{BASE}/$export-poll/job-1"
FILES = f"{BASE}/$export-files/job-1"
PATIENT = {"resourceType": "Patient", "id": "p1"}
CHARGES = [
    {"resourceType": "ChargeItem", "id": f"c{i}", "subject": {"reference": "Patient/p1"}} for i in range(3)
]


def outcome(text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                           "diagnostics": text}]}  # fmt: skip


def manifest(*, requires_token: bool = True, errors: bool = False, **urls: str) -> dict[str, Any]:
    output = [
        {"type": "Patient", "url": urls.get("patient", f"{FILES}/1"), "count": 1},
        {"type": "ChargeItem", "url": urls.get("charge1", f"{FILES}/2"), "count": 2},
        {"type": "ChargeItem", "url": urls.get("charge2", f"{FILES}/3"), "count": 1},
    ]
    error = [{"type": "OperationOutcome", "url": f"{FILES}/err"}] if errors else []
    return {"transactionTime": "2026-04-01T00:00:00Z", "request": f"{BASE}/Patient/$export",
            "requiresAccessToken": requires_token, "output": output, "error": error}  # fmt: skip


def install_files(rsps: responses.RequestsMock, **urls: str) -> None:
    rsps.get(urls.get("patient", f"{FILES}/1"), body=ndjson(PATIENT))
    rsps.get(urls.get("charge1", f"{FILES}/2"), body=ndjson(*CHARGES[:2]))
    rsps.get(urls.get("charge2", f"{FILES}/3"), body=ndjson(CHARGES[2]).rstrip("\n"))  # no final newline


def install_export(
    rsps: responses.RequestsMock,
    *,
    polls: list[dict[str, str]] | None = None,
    body: dict[str, Any] | None = None,
    caps: dict[str, Any] | None = None,
) -> None:
    install_auth(rsps)
    rsps.get(f"{BASE}/metadata", json=caps or capability())
    rsps.get(f"{BASE}/Patient/$export", status=202, headers={"Content-Location": STATUS})
    for headers in polls if polls is not None else [{"Retry-After": "2", "X-Progress": "40% done"}]:
        rsps.get(STATUS, status=202, headers=headers)
    rsps.get(STATUS, json=body or manifest())
    rsps.delete(STATUS, status=202)


def run(profile: Profile | None, dest: Path, fake: FakeTime, **kw: Any) -> Any:
    return fetch_to_directory(BASE, profile, None, None, kw.pop("types", ["Patient", "ChargeItem"]), dest,
                              sleep=fake.sleep, clock=fake.clock, **kw)  # fmt: skip


def calls(rsps: responses.RequestsMock, method: str, url: str) -> list[Any]:
    return [c for c in rsps.calls if c.request.method == method and c.request.url.split("?")[0] == url]


def test_export_end_to_end_polls_downloads_and_deletes(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    date = format_datetime(datetime.fromtimestamp(0, UTC), usegmt=True)  # in the past: poll again at once
    install_export(rsps, polls=[{"Retry-After": "2", "X-Progress": "40% done"}, {"Retry-After": date}],
                   body=manifest(errors=True))  # fmt: skip
    install_files(rsps)
    rsps.get(f"{FILES}/err", body=ndjson(outcome("ChargeItem c9 could not be exported")))
    seen: list[Progress] = []
    fake = FakeTime()
    result = run(backend_profile(monkeypatch), tmp_path / "out", fake, progress=seen.append)
    assert result.method == "bulk" and result.counts == {"Patient": 1, "ChargeItem": 3}
    assert sorted(p.name for p in (tmp_path / "out").glob("*.ndjson")) == [
        "ChargeItem.2.ndjson", "ChargeItem.ndjson", "Patient.ndjson"]  # fmt: skip
    assert (tmp_path / "out" / "ChargeItem.2.ndjson").read_text().endswith("\n")
    assert result.errors == ["ChargeItem c9 could not be exported"]
    assert json.loads((tmp_path / "out" / "_export" / "manifest.json").read_text())["requiresAccessToken"]
    assert fake.slept == [2.0, 0.0]
    [kick] = calls(rsps, "GET", f"{BASE}/Patient/$export")
    assert kick.request.headers["Prefer"] == "respond-async"
    assert kick.request.headers["Accept"] == "application/fhir+json"
    assert "_type=Patient%2CChargeItem" in kick.request.url and "_since" not in kick.request.url
    for call in [c for c in rsps.calls if c.request.url.startswith(FILES)]:
        assert call.request.headers["Authorization"] == "Bearer tok-1"
    assert len(calls(rsps, "DELETE", STATUS)) == 1
    assert any(p.stage == "waiting" and p.done == 40 and p.total == 100 for p in seen)
    assert seen[-1].stage == "done"


def test_group_level_and_since(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_auth(rsps)
    caps = capability(export=False)
    caps["rest"][0]["resource"][2]["operation"] = [{"name": "export"}]  # Group-level $export only
    rsps.get(f"{BASE}/metadata", json=caps)
    rsps.get(f"{BASE}/Group/clinic-1/$export", status=202, headers={"Content-Location": STATUS})
    rsps.get(STATUS, json={**manifest(), "output": []})
    rsps.delete(STATUS, status=202)
    since = datetime(2026, 3, 1, tzinfo=UTC)
    result = run(backend_profile(monkeypatch, group_id="clinic-1"), tmp_path, FakeTime(), changed_since=since)
    assert result.files == [] and result.method == "bulk"
    [kick] = calls(rsps, "GET", f"{BASE}/Group/clinic-1/$export")
    assert "_since=2026-03-01T00%3A00%3A00%2B00%3A00" in kick.request.url


def test_files_without_required_token_get_no_token(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = "https://files.example.net/b/1.ndjson"
    install_export(rsps, polls=[], body=manifest(requires_token=False, patient=elsewhere))
    install_files(rsps, patient=elsewhere)
    run(backend_profile(monkeypatch), tmp_path, FakeTime())
    downloads = [c for c in rsps.calls if c.request.url == elsewhere or c.request.url.startswith(FILES)]
    assert len(downloads) == 3 and all("Authorization" not in c.request.headers for c in downloads)


def test_token_is_never_sent_to_another_origin(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_export(rsps, polls=[], body=manifest(patient="https://attacker.example.com/steal"))
    with pytest.raises(BulkServerError, match=r"attacker\.example\.com"):
        run(backend_profile(monkeypatch), tmp_path, FakeTime())
    assert not [c for c in rsps.calls if "attacker" in c.request.url]
    assert len(calls(rsps, "DELETE", STATUS)) == 1


def test_429_on_status_is_retried_and_500_fails_with_delete(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_auth(rsps)
    rsps.get(f"{BASE}/metadata", json=capability())
    rsps.get(f"{BASE}/Patient/$export", status=202, headers={"Content-Location": STATUS})
    rsps.get(STATUS, status=429, headers={"Retry-After": "3"})
    rsps.get(STATUS, status=500, json=outcome("export job crashed"))
    rsps.delete(STATUS, status=202)
    fake = FakeTime()
    with pytest.raises(BulkServerError, match="export job crashed"):
        run(backend_profile(monkeypatch), tmp_path, fake)
    assert fake.slept == [3.0] and len(calls(rsps, "DELETE", STATUS)) == 1


def test_expired_token_during_download_is_renewed_once(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_export(rsps, polls=[])
    rsps.post(TOKEN_URL, json=token_body("tok-2"))
    rsps.get(f"{FILES}/1", status=401)
    install_files(rsps)
    result = run(backend_profile(monkeypatch), tmp_path, FakeTime())
    assert result.counts["Patient"] == 1
    auths = [c.request.headers["Authorization"] for c in rsps.calls if c.request.url == f"{FILES}/1"]
    assert auths == ["Bearer tok-1", "Bearer tok-2"]
    assert len(calls(rsps, "POST", TOKEN_URL)) == 2


def test_time_limit_gives_up_and_deletes(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_export(rsps, polls=[{"Retry-After": "10"}] * 3)
    with pytest.raises(BulkTimeout, match="25 s"):
        run(backend_profile(monkeypatch), tmp_path, FakeTime(), time_limit=25)
    assert len(calls(rsps, "DELETE", STATUS)) == 1 and not list(tmp_path.glob("*.ndjson"))


def test_ctrl_c_while_waiting_still_deletes_the_job(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_export(rsps)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_to_directory(
            BASE, backend_profile(monkeypatch), None, None, ["Patient"], tmp_path, sleep=interrupted
        )
    assert len(calls(rsps, "DELETE", STATUS)) == 1


def test_kick_off_refused(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_auth(rsps)
    rsps.get(f"{BASE}/metadata", json=capability())
    rsps.get(f"{BASE}/Patient/$export", status=403, json=outcome("insufficient scope for ChargeItem"))
    with pytest.raises(BulkServerError, match="insufficient scope for ChargeItem") as err:
        run(backend_profile(monkeypatch), tmp_path, FakeTime())
    assert err.value.exit_code == 3


def test_configuration_errors(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    profile = backend_profile(monkeypatch)
    with pytest.raises(BulkConfigError, match="not the issuer"):
        fetch_to_directory("https://other.example.org/fhir", profile, None, None, None, tmp_path)
    (tmp_path / "Old.ndjson").write_text("{}\n")
    with pytest.raises(BulkConfigError, match="already holds NDJSON"):
        fetch_to_directory(BASE, profile, None, None, None, tmp_path)
    no_backend = type(profile)(**{**profile.__dict__, "backend": None})
    with pytest.raises(BulkConfigError, match=r"\[backend\]") as err:
        fetch_to_directory(BASE, no_backend, None, None, None, tmp_path / "new")
    assert err.value.exit_code == 2


def searchset(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {"resourceType": "Bundle", "type": "searchset", "link": links,
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources]}  # fmt: skip


def test_fallback_to_paged_search_without_export(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_auth(rsps)
    rsps.get(
        f"{BASE}/metadata",
        json=capability(export=False, types=("Patient", "ChargeItem", "Group", "Practitioner")),
    )
    group = {"resourceType": "Group", "id": "clinic-1", "member": [{"entity": {"reference": "Patient/p1"}},
             {"entity": {"reference": "Patient/p2"}, "inactive": True}]}  # fmt: skip
    rsps.get(f"{BASE}/Group/clinic-1", json=group)
    rsps.get(f"{BASE}/Patient", json=searchset([PATIENT]))
    charge = {**CHARGES[0], "performer": [{"actor": {"reference": "Practitioner/pr1"}}]}
    rsps.get(f"{BASE}/ChargeItem", json=searchset([charge], f"{BASE}/ChargeItem?page=2"),
             match=[responses.matchers.query_param_matcher({"patient": "p1", "_count": "200"})])  # fmt: skip
    rsps.get(f"{BASE}/ChargeItem", json=searchset(CHARGES[1:]),
             match=[responses.matchers.query_param_matcher({"page": "2"})])  # fmt: skip
    rsps.get(f"{BASE}/Practitioner", json=searchset([{"resourceType": "Practitioner", "id": "pr1"}]))
    types = ["Patient", "ChargeItem", "Practitioner", "Coverage"]
    result = run(backend_profile(monkeypatch, group_id="clinic-1"), tmp_path, FakeTime(), types=types)
    assert result.method == "search" and result.counts == {"Patient": 1, "ChargeItem": 3, "Practitioner": 1}
    assert (tmp_path / "ChargeItem.ndjson").read_text().count("\n") == 3
    [pat] = calls(rsps, "GET", f"{BASE}/Patient")
    assert "_id=p1&" in pat.request.url  # only the active member
    [prac] = calls(rsps, "GET", f"{BASE}/Practitioner")
    assert "_id=pr1" in prac.request.url
    fhir = [c for c in rsps.calls if "/fhir/" in c.request.url and "metadata" not in c.request.url]
    fhir = [c for c in fhir if "well-known" not in c.request.url]
    assert fhir and all(c.request.headers.get("Authorization") == "Bearer tok-1" for c in fhir)


def test_fallback_refuses_a_next_link_to_another_server(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rsps.get(f"{BASE}/metadata", json=capability(export=False))
    rsps.get(
        f"{BASE}/Patient", json=searchset([PATIENT], "https://elsewhere.example.com/fhir/Patient?page=2")
    )
    with pytest.raises(BulkServerError, match="another server"):
        fetch_to_directory(BASE, None, None, None, ["Patient"], tmp_path)  # an open server: no profile
    assert not [c for c in rsps.calls if "elsewhere" in c.request.url]
