"""A clinician's browser as plain HTTP (requests, no Chromium), for tests that must send many identical
requests at the same moment: an EHR launch through the real sandbox, the documented service, the review page
and its sign form, and ``storm``, which releases k copies of one request together with a barrier.

The app's binding cookie is ``Secure``; Python's cookie jar would keep it from plain-http loopback, so every
cookie is kept as a plain one (loopback is a secure context for browsers too). Each request builds its own
``Cookie`` header from a snapshot: threads never share a ``requests.Session``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

ADCES = "ADCES7 Self-Care Behaviors (diabetes self-management education)"
SESSION_98960 = {
    "code": "98960",
    "minutes": "25",
    "dx": "E11.9",
    "curriculum": ADCES,
    "topic": ["Healthy eating", "Monitoring"],
    "provider_role": "RN",
    "response": "Teach-back of glucose log correct",
}
REF = re.compile(r'data-ref="((?:ChargeItem|DocumentReference|Provenance)/[^"]+)"')
OUTBOX = re.compile(r"Outbox entry ([0-9a-f]+)")


@dataclass(frozen=True)
class Shown:
    """What one sign request ended on: the result page's URL, its heading and what it names."""

    url: str
    status: int
    heading: str
    refs: tuple[str, ...]
    outbox: str | None

    @property
    def result(self) -> tuple[str, tuple[str, ...], str | None]:
        """The part every simultaneous signer must see identically (the page's path, ids, outbox entry)."""
        return urlsplit(self.url).path, self.refs, self.outbox


@dataclass
class Clinician:
    """One browser: its cookies (per host, as plain cookies) and the launch handle it reached."""

    timeout: float = 60.0
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> name -> value
    handle: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    route: Callable[[str], str] = str  # the URL actually asked (a load balancer's choice of instance)

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        url = self.route(url)
        host = urlsplit(url).hostname or ""  # cookies are per host, not per port (RFC 6265)
        with self.lock:
            jar = dict(self.cookies.get(host, {}))
        headers = dict(kwargs.pop("headers", {}) or {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        resp = requests.request(
            method, url, headers=headers, allow_redirects=False, timeout=self.timeout, **kwargs
        )
        with self.lock:
            for cookie in resp.cookies:
                self.cookies.setdefault(host, {})[cookie.name] = str(cookie.value)
        return resp

    def follow(self, method: str, url: str, *, hops: int = 10, **kwargs: Any) -> requests.Response:
        """Send, then follow redirects across hosts (303/302 become GET), as a browser does."""
        resp = self.send(method, url, **kwargs)
        for _ in range(hops):
            if resp.status_code not in (301, 302, 303, 307) or "Location" not in resp.headers:
                return resp
            url = urljoin(url, resp.headers["Location"])
            resp = self.send("GET", url)
        raise AssertionError(f"too many redirects ending at {url}")

    def launch(self, launcher_url: str) -> str:
        """An EHR launch from the sandbox's launcher (``frame=0``); returns the app's launch page URL."""
        resp = self.follow("GET", launcher_url)
        assert resp.status_code == 200, (resp.status_code, resp.text[:500])
        m = re.search(r"/s/([^/]+)/", resp.url)
        assert m, resp.url
        self.handle = m.group(1)
        return resp.url

    def document(self, app_base: str, form: dict[str, Any] | None = None) -> None:
        """Type the service into the page (the live check saves it as the key's open draft)."""
        page = self.send("GET", f"{app_base}/s/{self.handle}/")
        if "Discard it and start afresh" in page.text:  # an unsigned draft of an earlier run: start afresh
            form = {"csrf_token": csrf_of(page.text), "action": "discard"}
            self.follow("POST", f"{app_base}/s/{self.handle}/", data=form)
            page = self.send("GET", f"{app_base}/s/{self.handle}/")
        assert page.status_code == 200, page.text[:500]
        resp = self.send(
            "POST",
            f"{app_base}/s/{self.handle}/evaluate",
            data=form or SESSION_98960,
            headers={"X-CSRF-Token": csrf_of(page.text)},
        )
        assert resp.status_code == 200, resp.text[:500]

    def sign_form(self, app_base: str) -> dict[str, str]:
        """The review page's sign form as a clinician submits it: the note as shown, warnings acknowledged."""
        resp = self.send("GET", f"{app_base}/s/{self.handle}/review")
        assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
        html = resp.text
        note = re.search(r'<textarea id="f-note" name="note"[^>]*>(.*?)</textarea>', html, re.S)
        draft = re.search(r'name="draft_id" value="([0-9a-f]+)"', html)
        assert note and draft, "the review page has no sign form"
        form = {"csrf_token": csrf_of(html), "draft_id": draft.group(1), "note": unescape(note.group(1))}
        for n, rule in re.findall(r'name="rule_(\d+)" value="([^"]+)"', html):
            form |= {f"rule_{n}": rule, f"ack_{n}": "yes", f"reason_{n}": f"Reviewed {rule}"}
        return form

    def sign(self, app_base: str, form: dict[str, str]) -> Shown:
        resp = self.follow("POST", f"{app_base}/s/{self.handle}/sign", data=form)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", resp.text, re.S)
        outbox = OUTBOX.search(resp.text)
        return Shown(
            url=resp.url,
            status=resp.status_code,
            heading=heading.group(1).strip() if heading else "",
            refs=tuple(sorted(set(REF.findall(resp.text)))),
            outbox=outbox.group(1) if outbox else None,
        )


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def storm(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run every task in its own thread, all released together by one barrier; results (or exceptions) in
    the tasks' order."""
    barrier = threading.Barrier(len(tasks))
    out: list[Any] = [None] * len(tasks)

    def run(n: int) -> None:
        barrier.wait()
        try:
            out[n] = tasks[n]()
        except Exception as exc:  # the caller asserts on it
            out[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(tasks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out
