"""Streaming the manifest's files to disk as ``<Type>.ndjson``, ``<Type>.2.ndjson``, … (the layout of an
export on disk that ``smart-edu scrub --ndjson`` reads).

The bearer token goes only with a file the manifest says needs it (``requiresAccessToken``) and only to the
FHIR server's own origin; a file elsewhere that wants a token is refused rather than handed one. Each file is
written to ``*.part`` and renamed when complete, so an interrupted download never looks like data.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from smart_app.bulk.errors import BulkServerError
from smart_app.bulk.retry import retry_after_seconds
from smart_app.origins import origin_of

TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]{0,63}$")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK = 1 << 16


def file_name(resource_type: str, n: int) -> str:
    """The n-th file (from 1) of a type: ``ChargeItem.ndjson``, ``ChargeItem.2.ndjson``, …"""
    if not TYPE_NAME.match(resource_type):
        raise BulkServerError(f"the manifest names an impossible resource type {resource_type[:40]!r}")
    return f"{resource_type}.ndjson" if n == 1 else f"{resource_type}.{n}.ndjson"


class Downloader:
    """GETs files with retries (429/5xx honouring Retry-After) and one token renewal on 401."""

    def __init__(
        self,
        http: requests.Session,
        fhir_base: str,
        *,
        token: Callable[[], str | None] | None = None,
        renew: Callable[[], bool] | None = None,
        timeout: tuple[float, float] = (3.05, 60.0),
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self.origin = origin_of(fhir_base)
        self.tls_only = urlsplit(fhir_base).scheme == "https"
        self.token = token
        self.renew = renew
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep

    def download(self, url: str, dest: Path, *, with_token: bool) -> int:
        """Stream ``url`` into ``dest``; returns the number of resources (non-empty lines)."""
        self._check(url, with_token)
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            headers = {"Accept": "application/fhir+ndjson"}
            bearer = self.token() if with_token and self.token else None
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            try:
                resp = self.http.get(url, headers=headers, stream=True, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt <= self.max_retries:
                    self.sleep(min(30.0, 2.0 ** (attempt - 1)))
                    continue
                raise BulkServerError(f"no answer for {_short(url)} ({type(exc).__name__})") from exc
            with resp:
                if resp.status_code == 401 and with_token and not renewed and self.renew is not None:
                    renewed = True
                    if self.renew():
                        continue
                if resp.status_code in RETRY_STATUSES and attempt <= self.max_retries:
                    self.sleep(retry_after_seconds(resp.headers.get("Retry-After"), attempt))
                    continue
                if resp.status_code != 200:
                    raise BulkServerError(f"{_short(url)} answered HTTP {resp.status_code}")
                return _stream_to(resp, dest)

    def _check(self, url: str, with_token: bool) -> None:
        origin = origin_of(url)
        if origin is None:
            raise BulkServerError(f"the manifest lists a file at an unusable URL: {_short(url)}")
        if with_token and origin != self.origin:
            raise BulkServerError(
                f"the manifest wants the access token sent to {origin}, not the FHIR server: refused"
            )
        if self.tls_only and urlsplit(url).scheme != "https":
            raise BulkServerError(f"refusing a non-TLS file URL from a TLS server: {_short(url)}")


def _stream_to(resp: requests.Response, dest: Path) -> int:
    part = dest.with_name(dest.name + ".part")
    lines = 0
    last = b"\n"
    with part.open("wb") as out:
        for chunk in resp.iter_content(CHUNK):
            if not chunk:
                continue
            out.write(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
        if last != b"\n":
            out.write(b"\n")
            lines += 1
    part.replace(dest)
    return lines - _blank_lines(dest)


def _blank_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if not line.strip())


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]
