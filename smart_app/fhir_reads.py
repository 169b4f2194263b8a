"""The one FHIR read engine: a list of relative GETs answered in one ``batch`` where the server takes it, else
as bounded parallel single GETs; searchsets followed page by page. The launch (``smart_app.reads``) and the
CDS services (``smart_app.cds_hooks.reads``) both read through it, so they follow the same rules:

- a batch is sent unless the server is known not to take one (its CapabilityStatement lacks ``batch``, or it
  refused one before: the shared ``capabilities`` cache);
- a refused batch falls back to single GETs and is remembered. Refused means 400, 404, 405, 415, 422 or 501
  for the batch as a whole. Why 400 too: FHIR reports the failure of one entry of a ``batch`` inside the
  response Bundle (http.html#transaction-response), so a 400 for the whole Bundle says the server would not
  process this batch (servers that list ``batch`` but reject a batch of searches, or reject it for one
  parameter): single GETs still get every answer the server can give, each with its own error;
- 401/403 (the token) are raised, never retried as single GETs: they would fail the same way; other errors of
  the batch (5xx, no answer) are raised for the caller to report;
- each answer keeps its HTTP status, its resources (every page, bounded) or why it could not be read; a
  next page that fails makes the whole answer unreadable, never half a list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from smart_app import capabilities
from smart_app.fhir_client import FhirClient, FhirError, FhirUnauthorized, outcome_message

BATCH_REFUSED = frozenset({400, 404, 405, 415, 422, 501})


@dataclass(frozen=True)
class Answer:
    """One query's outcome: ``resources`` (every page) when it could be read, else ``problem``."""

    query: str
    status: int | None  # the HTTP status of the query (inside the batch, or of the single GET)
    resources: list[dict[str, Any]] | None
    problem: str | None = None

    @property
    def not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class Reads:
    answers: list[Answer]
    round_trips: int
    used_batch: bool


def batch_allowed(client: FhirClient, *, read_metadata: bool) -> bool:
    """Whether to try a batch: the server's facts (``read_metadata``: fetch ``/metadata`` when unknown, as a
    launch does once per server; a CDS hook never does) say it takes one, or nothing says it does not."""
    if read_metadata:
        return capabilities.of(client).batch
    facts = capabilities.known(client.base_url)
    return facts is None or facts.batch or (not facts.known and not facts.batch_refused)


def read_queries(
    client: FhirClient,
    queries: Sequence[str],
    *,
    batch: bool,
    max_workers: int = 4,
    max_pages: int = 10,
    client_for_thread: Callable[[], FhirClient] | None = None,
) -> Reads:
    """Answer every query, in ``queries`` order."""
    counter = _Counter()
    if batch and queries:
        answers = _batch(client, list(queries), max_pages, counter)
        if answers is not None:
            return Reads(answers, counter.n, used_batch=True)
    answers = _singles(client, list(queries), max_workers, max_pages, client_for_thread, counter)
    return Reads(answers, counter.n, used_batch=False)


class _Counter:
    """Round trips, counted from the worker threads too."""

    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def add(self, k: int = 1) -> None:
        with self._lock:
            self.n += k


def _batch(client: FhirClient, queries: list[str], max_pages: int, counter: _Counter) -> list[Answer] | None:
    entries = [{"request": {"method": "GET", "url": q}} for q in queries]
    counter.add()
    try:
        response = client.batch(entries, kind="batch")
    except FhirUnauthorized:
        raise
    except FhirError as exc:
        if exc.status in BATCH_REFUSED:
            capabilities.batch_refused(client.base_url)
            return None
        raise
    answers = response.get("entry") or []
    out = []
    for i, query in enumerate(queries):
        entry = answers[i] if i < len(answers) and isinstance(answers[i], dict) else {}
        raw_part = entry.get("response")
        response_part: dict[str, Any] = raw_part if isinstance(raw_part, dict) else {}
        status = _status(response_part.get("status"))
        resource = entry.get("resource")
        if status is not None and 200 <= status < 300:
            out.append(_read(client, query, status, resource, max_pages, counter))
        else:
            outcome = response_part.get("outcome") or resource
            why = outcome_message(outcome) or f"HTTP {status or 'no answer'}"
            out.append(Answer(query, status, None, why))
    return out


def _singles(
    client: FhirClient,
    queries: list[str],
    max_workers: int,
    max_pages: int,
    client_for_thread: Callable[[], FhirClient] | None,
    counter: _Counter,
) -> list[Answer]:
    def one(query: str) -> Answer:
        own = client_for_thread() if client_for_thread else client
        try:
            response = own.request("GET", query)
        except FhirUnauthorized:
            raise
        except FhirError as exc:
            return Answer(query, exc.status, None, exc.message)
        finally:
            counter.add()
        return _read(own, query, response.status, response.body, max_pages, counter)

    if not queries:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(queries)))) as pool:
        return list(pool.map(one, queries))


def _read(
    client: FhirClient, query: str, status: int, body: Any, max_pages: int, counter: _Counter
) -> Answer:
    """A 2xx answer: a resource as is, a searchset with its following pages (an OperationOutcome is none)."""
    if not isinstance(body, dict):
        return Answer(query, status, [])
    if body.get("resourceType") == "OperationOutcome":
        return Answer(query, status, [])
    if body.get("resourceType") != "Bundle":
        return Answer(query, status, [body])
    out: list[dict[str, Any]] = []
    try:
        for number, page in enumerate(client.pages(body, max_pages=max_pages)):
            counter.add(1 if number else 0)
            entries = page.get("entry") if isinstance(page, dict) else None
            for e in entries or []:
                resource = e.get("resource") if isinstance(e, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                    out.append(resource)
    except FhirUnauthorized:
        raise
    except FhirError as exc:
        return Answer(query, status, None, f"a following page could not be read: {exc.message}")
    return Answer(query, status, out)


def _status(raw: Any) -> int | None:
    head = str(raw or "").split(" ")[0]
    return int(head) if head.isdigit() else None
