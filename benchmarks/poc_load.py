"""Load on the live check: 20 simulated clinicians typing on the point-of-care page at once.

Starts the sandbox EHR (in this process, on loopback) and ``smart-edu serve`` with 2 gunicorn workers (a
subprocess), completes 20 real SMART launches (distinct patient x clinician, so 20 distinct drafts), then each
clinician sends one ``POST /s/<handle>/evaluate`` per keystroke pause (the script's debounce) while "typing" a
98960 session. Prints median and p95 latency of the live check (target p95 < 100 ms) and the error count
(target 0). Usage: ``python benchmarks/poc_load.py [--clinicians 20] [--keystrokes 15]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import SECRET_ENV, app_base_url, app_client, ehr_base_url, write_launch_profile

VISITS = [
    ("edu-dm-commercial", "enc-dm-commercial-0302"),
    ("edu-knee-medicare", "enc-knee-medicare-0216"),
    ("edu-asthma-medicaid", "enc-asthma-medicaid-0305"),
    ("edu-hf-advantage", "enc-hf-advantage-0312"),
    ("edu-copd-selfpay", "enc-copd-selfpay-0318"),
]
CLINICIANS = ["rn-okafor", "rd-patel", "chw-baker", "pt-rivera"]
ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """Follows redirects by hand so the app's Secure binding cookie is kept on plain-http loopback."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self.jar: dict[str, dict[str, str]] = {}

    def _cookie_header(self, url: str) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.jar.get(urlsplit(url).netloc, {}).items())

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        headers["Cookie"] = self._cookie_header(url)
        resp = self.http.request(method, url, headers=headers, allow_redirects=False, timeout=30, **kwargs)  # type: ignore[arg-type]
        self.jar.setdefault(urlsplit(url).netloc, {}).update({c.name: c.value or "" for c in resp.cookies})
        return resp

    def follow(self, url: str) -> tuple[str, requests.Response]:
        for _ in range(20):
            resp = self.request("GET", url)
            if resp.status_code not in (301, 302, 303, 307, 308):
                return url, resp
            url = urljoin(url, resp.headers["Location"])
        raise RuntimeError("too many redirects")


def launch(ehr_base: str, patient: str, encounter: str, practitioner: str) -> tuple[Browser, str, str]:
    """A complete EHR launch; returns the browser, the page URL and its CSRF token."""
    b = Browser()
    start = f"{ehr_base}/launcher?client_id=smart-edu-billing&practitioner={practitioner}&patient={patient}"
    url, resp = b.follow(f"{start}&encounter={encounter}&frame=0")
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', resp.text)
    if resp.status_code != 200 or "/s/" not in url or not m:
        raise RuntimeError(f"launch failed for {patient}/{practitioner}: HTTP {resp.status_code} at {url}")
    return b, url, m.group(1)


def typing(minutes_typed: str, step: int) -> dict[str, object]:
    """The form after ``step`` keystrokes of a 98960 session."""
    form: dict[str, object] = {"code": "98960", "minutes": minutes_typed, "curriculum": ADCES}
    if step > 3:
        form["topic"] = ["Healthy eating", "Monitoring"]
    if step > 6:
        form["dx"] = "E11.9"
    if step > 8:
        form["response"] = "Teach-back correct"[: step * 2]
    return form


def clinician(
    b: Browser, page: str, token: str, keystrokes: int, out: list[float], errors: list[str]
) -> None:
    rng = random.Random(page)
    draft_id = ""
    for step in range(keystrokes):
        time.sleep(rng.uniform(0.2, 0.6))  # the pause after a burst of keys that fires the debounced check
        form = typing(str(10 + step), step) | {"draft_id": draft_id}
        t0 = time.perf_counter()
        try:
            resp = b.request("POST", page + "evaluate", data=form, headers={"X-CSRF-Token": token})
        except requests.RequestException as exc:
            errors.append(type(exc).__name__)
            continue
        out.append((time.perf_counter() - t0) * 1000)
        if os.environ.get("POC_TRACE"):
            print(f"{time.perf_counter():.2f} {out[-1]:.0f}", file=sys.stderr)
        if resp.status_code != 200:
            errors.append(f"HTTP {resp.status_code}")
            continue
        draft_id = resp.json()["draft_id"]


def start_app(
    tmp: Path, app_port: int, fhir_base: str, ehr_base: str, secret: str
) -> subprocess.Popen[bytes]:
    profiles = tmp / "launch_config"
    write_launch_profile(profiles, fhir_base, frame_ancestors=(ehr_base,))
    env = os.environ | {
        "SMART_EDU_LAUNCH_CONFIG": str(profiles),
        "SMART_EDU_DATABASE_URL": f"sqlite:///{tmp / 'app.sqlite3'}",
        "SMART_EDU_SECRET_KEY": secrets.token_hex(32),
        "SMART_EDU_BASE_URL": app_base_url(app_port),
        SECRET_ENV: secret,
    }
    cmd = [
        str(Path(sys.executable).with_name("smart-edu")),
        "serve",
        "--port",
        str(app_port),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            if requests.get(f"http://127.0.0.1:{app_port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(
        "smart-edu serve did not start: " + (proc.stderr.read() if proc.stderr else b"").decode()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinicians", type=int, default=20)
    parser.add_argument("--keystrokes", type=int, default=15)
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32)
    app_port = free_port()
    ehr = ServerThread("127.0.0.1", 0)
    config = SandboxConfig(
        base_url=ehr_base_url(ehr.port), clients=[app_client(app_base_url(app_port), secret)]
    )
    ehr.serve(create_sandbox_app(config))
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_app(Path(tmp), app_port, config.fhir_base, config.base_url, secret)
        try:
            pairs = [(v, c) for c in CLINICIANS for v in VISITS][: args.clinicians]
            sessions = [launch(config.base_url, v[0], v[1], c) for v, c in pairs]
            latencies: list[float] = []
            errors: list[str] = []
            threads = [
                threading.Thread(target=clinician, args=(b, page, tok, args.keystrokes, latencies, errors))
                for b, page, tok in sessions
            ]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            ehr.stop()
    lat = sorted(latencies)
    p95 = lat[max(0, round(0.95 * len(lat)) - 1)] if lat else float("nan")
    print(f"poc_load: {len(sessions)} clinicians x {args.keystrokes} checks, smart-edu serve --workers 2")
    print(f"  live check requests: {len(lat)} in {wall:.1f} s ({len(lat) / wall:.1f}/s)")
    median, top = statistics.median(lat), lat[-1]
    print(f"  latency median {median:.1f} ms, p95 {p95:.1f} ms, max {top:.1f} ms (target p95 < 100)")
    print(f"  errors: {len(errors)} {sorted(set(errors)) if errors else ''}(target 0)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
