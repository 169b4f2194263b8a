"""Fault injection for reliability tests: latency, error statuses, dropped responses, short-lived tokens,
refused refreshes. Faults come from the admin endpoint (``POST /_sandbox/faults``) or, for one request,
from an ``X-Sandbox-Fault`` header such as ``status=503; retry-after=2`` or ``drop-after-commit``."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

FAULT_HEADER = "X-Sandbox-Fault"
ERROR_STATUSES = (429, 500, 502, 503, 504)


@dataclass
class Fault:
    """One fault rule; unset matchers match everything. ``times`` = how many requests it hits (None: all)."""

    id: str = ""
    client_id: str | None = None
    method: str | None = None
    path: str | None = None  # prefix of the request path, e.g. "/fhir/ChargeItem" or "/auth/token"
    latency_ms: int = 0
    status: int | None = None
    retry_after: int | None = None
    drop_after_commit: bool = False
    access_token_lifetime: int | None = None
    refuse_refresh: bool = False
    times: int | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in ERROR_STATUSES:
            raise ValueError(f"status must be one of {ERROR_STATUSES}")

    def matches(self, method: str, path: str, client_id: str | None) -> bool:
        return (
            (self.client_id is None or self.client_id == client_id)
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or path.startswith(self.path))
        )

    @property
    def affects_requests(self) -> bool:
        return bool(self.latency_ms or self.status or self.drop_after_commit)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False, 0) or k == "id"}


class FaultRegistry:
    """Thread-safe list of active faults."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, **spec: Any) -> Fault:
        known = {f.name for f in fields(Fault)} - {"id"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        fault = Fault(id=f"f{next(self._ids)}", **spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def for_request(self, method: str, path: str, client_id: str | None) -> list[Fault]:
        """Request-level faults that fire now (each use counts against ``times``)."""
        hits: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.affects_requests and fault.matches(method, path, client_id):
                    hits.append(fault)
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
        return hits

    def token_lifetime(self, client_id: str) -> int | None:
        with self._lock:
            values = [
                f.access_token_lifetime
                for f in self._faults
                if f.access_token_lifetime is not None and f.client_id in (None, client_id)
            ]
        return min(values) if values else None

    def refresh_refused(self, client_id: str) -> bool:
        with self._lock:
            return any(f.refuse_refresh and f.client_id in (None, client_id) for f in self._faults)


def parse_fault_header(value: str) -> Fault:
    """``status=503; retry-after=2; latency=200; drop-after-commit`` → a one-off Fault."""
    spec: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in value.replace(",", ";").split(";"))):
        key, _, raw = part.partition("=")
        key = key.strip().lower()
        if key == "status":
            spec["status"] = int(raw)
        elif key == "retry-after":
            spec["retry_after"] = int(raw)
        elif key == "latency":
            spec["latency_ms"] = int(raw)
        elif key == "drop-after-commit":
            spec["drop_after_commit"] = True
        else:
            raise ValueError(f"unknown fault {key!r}")
    return Fault(id="header", **spec)


def apply_latency(faults: list[Fault]) -> None:
    delay = sum(f.latency_ms for f in faults)
    if delay:
        time.sleep(delay / 1000)


def error_fault(faults: list[Fault]) -> Fault | None:
    return next((f for f in faults if f.status), None)


def drop_connection(environ: dict[str, Any]) -> None:
    """Cut the client's connection so it never sees the (already committed) response."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return
