"""Load on the live check: N simulated clinicians typing on the point-of-care page at once.

Starts the sandbox EHR (in this process, on loopback) and ``smart-edu serve --workers 2`` (a subprocess),
completes N real SMART launches (distinct visit x clinician, so N distinct drafts), then each clinician sends
one ``POST /s/<handle>/evaluate`` per pause in typing while "typing" a 98960 session. Prints p50/p95/max of
the live check, the error count and the throughput. Targets on a 2-core machine: p95 < 100 ms and no errors
at 100 clinicians; at least 300 checks/s closed-loop (``--think 0``: each clinician sends its next check as
soon as the answer comes, the server's capacity).

Usage: ``python benchmarks/poc_load.py [--clinicians 20] [--keystrokes 15] [--think 0.2-0.6]
[--port 0] [--ehr-port 0]`` (ports 0 = free ones).
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from sandbox_ehr import directory
from sandbox_ehr.app import create_sandbox_app
from sandbox_ehr.config import SandboxConfig
from sandbox_ehr.server import ServerThread
from sandbox_ehr.wiring import SECRET_ENV, app_base_url, app_client, ehr_base_url, write_launch_profile

ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"
CLINICIANS = [
    "rn-okafor",
    "rd-patel",
    "chw-baker",
    "pt-rivera",
    "ot-nguyen",
    "np-lopez",
    "pta-cho",
    "md-hughes",
]


def visits(sandbox: Any) -> list[tuple[str, str]]:
    """Every (patient, encounter) in the sandbox's store: the education cases first, then Synthea's."""
    store = sandbox.extensions["sandbox"].store
    out = [(p.id, e.id) for p in directory.patients(store) for e in directory.encounters(store, p.id)]
    return sorted(out, key=lambda v: not v[0].startswith("edu-"))


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
    b: Browser,
    page: str,
    token: str,
    keystrokes: int,
    think: tuple[float, float],
    out: list[float],
    errors: list[str],
) -> None:
    rng = random.Random(page)
    draft_id = ""
    for step in range(keystrokes):
        if think[1] > 0:
            time.sleep(rng.uniform(*think))  # the pause after a burst of keys that fires the debounced check
        form = typing(str(10 + step), step) | {"draft_id": draft_id}
        t0 = time.perf_counter()
        try:
            resp = b.request("POST", page + "evaluate", data=form, headers={"X-CSRF-Token": token})
        except requests.RequestException as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[-80:]}")
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
    # The server's log (a JSON line per request) goes to a file: an unread pipe would fill and stall it.
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{app_port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("smart-edu serve did not start: " + (tmp / "serve.log").read_text(errors="replace"))


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server: gunicorn's master and its workers, from /proc (Linux). On a
    shared machine latency depends on the neighbours; CPU per check does not, and gives the capacity."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def think_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinicians", type=int, default=20)
    parser.add_argument("--keystrokes", type=int, default=15, help="checks per clinician")
    parser.add_argument(
        "--think",
        type=think_range,
        default=(0.2, 0.6),
        help="seconds between checks, LOW-HIGH; 0 = closed loop",
    )
    parser.add_argument("--port", type=int, default=0, help="the app's port (0 = a free one)")
    parser.add_argument("--ehr-port", type=int, default=0, help="the sandbox EHR's port (0 = a free one)")
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32)
    app_port = args.port or free_port()
    ehr = ServerThread("127.0.0.1", args.ehr_port)
    config = SandboxConfig(
        base_url=ehr_base_url(ehr.port), clients=[app_client(app_base_url(app_port), secret)]
    )
    sandbox = create_sandbox_app(config)
    pairs = [(v, c) for v in visits(sandbox) for c in CLINICIANS][: args.clinicians]
    if len(pairs) < args.clinicians:
        parser.error(f"the sandbox seeds {len(pairs)} distinct visit x clinician pairs at most")
    ehr.serve(sandbox)
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_app(Path(tmp), app_port, config.fhir_base, config.base_url, secret)
        try:
            with ThreadPoolExecutor(8) as pool:
                sessions = list(pool.map(lambda p: launch(config.base_url, p[0][0], p[0][1], p[1]), pairs))
            latencies: list[float] = []
            errors: list[str] = []
            threads = [
                threading.Thread(
                    target=clinician, args=(b, page, tok, args.keystrokes, args.think, latencies, errors)
                )
                for b, page, tok in sessions
            ]
            cpu0, t0 = server_cpu_seconds(proc.pid), time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            cpu = server_cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            ehr.stop()
    mode = "closed loop" if args.think[1] == 0 else f"think {args.think[0]}-{args.think[1]} s"
    print(f"poc_load: {len(sessions)} clinicians x {args.keystrokes} checks ({mode}), serve --workers 2")
    print(f"  live check requests: {len(latencies)} in {wall:.1f} s ({len(latencies) / wall:.1f}/s)")
    if not latencies:
        print(f"  no check answered; errors: {sorted(set(errors))}")
        return 1
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    print(f"  latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(latencies):.1f} ms (target p95 < 100)")
    print(f"  errors: {len(errors)} {sorted(set(errors)) if errors else ''}(target 0)")
    per_check = cpu / len(latencies) * 1000
    cores = os.cpu_count() or 1
    capacity = cores * 1000 / per_check
    print(f"  server CPU {per_check:.1f} ms per check: at most {capacity:.0f} checks/s on {cores} cores")
    print(f"  load average after the run: {os.getloadavg()[0]:.1f} (a shared machine: latency depends on it)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
