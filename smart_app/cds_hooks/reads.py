"""The data a hook needs: prefetch first, then ONE batch of GETs to ``fhirServer`` for what is missing.

CDS Hooks 2.0 rules applied here:
- a prefetch key that is absent was not satisfied; ``null`` means "no data"; a value may be a single
  resource or a searchset Bundle; some clients put an OperationOutcome where a fetch failed: that key
  counts as not satisfied;
- the service fetches missing keys itself with ``fhirAuthorization`` and answers 412 when required data
  can be had neither way.

The access token lives only in the FhirClient's token provider for this one request: it is never stored
or logged, and it is only ever sent to ``fhirServer`` (FhirClient refuses to follow links to other hosts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smart_app.cds_hooks.services import CdsService, render
from smart_app.fhir_client import FhirClient, FhirError
from smart_app.fhir_reads import batch_allowed, read_queries

_MAX_PARALLEL = 4
_MAX_PAGES = 5


class DataUnavailable(Exception):
    """Required data could not be had from prefetch nor from the FHIR server: the hook answers 412."""

    def __init__(self, missing: list[str], reason: str) -> None:
        super().__init__(f"{reason}: {', '.join(missing)}")
        self.missing = missing
        self.reason = reason


@dataclass
class HookData:
    """Resources per prefetch key, and how they were obtained (for tests and the benchmark)."""

    by_key: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    round_trips: int = 0
    used_batch: bool = False

    def resources(self) -> list[dict[str, Any]]:
        return [r for rs in self.by_key.values() for r in rs]

    def of(self, key: str) -> list[dict[str, Any]]:
        return self.by_key.get(key, [])


ClientFactory = Callable[[str, str | None], FhirClient]


def default_client(base_url: str, token: str | None) -> FhirClient:
    return FhirClient(base_url, token_provider=(lambda: token), max_retries=1, timeout=(3.05, 10.0))


def gather(
    service: CdsService, request: Mapping[str, Any], *, client_factory: ClientFactory = default_client
) -> HookData:
    """Resources for every prefetch key of ``service``; raises DataUnavailable (→ 412) for required gaps."""
    context = _mapping(request.get("context"))
    prefetch = _mapping(request.get("prefetch"))
    data = HookData()
    todo: dict[str, str] = {}
    for key, template in service.prefetch.items():
        url = render(template, context)
        if url is None:
            continue  # e.g. no encounterId in a patient-view context, or the user is not a Practitioner
        if key in prefetch and not _is_outcome(prefetch[key]):
            data.by_key[key] = resources_of(prefetch[key])
        else:
            todo[key] = url
    if not todo:
        return data
    required = service.required_keys(context)
    server, token = _server_of(request)
    if server is None:
        gaps = sorted(k for k in todo if k in required)
        if gaps:
            raise DataUnavailable(gaps, "not prefetched and no fhirServer/fhirAuthorization to read it")
        return data
    client = client_factory(server, token)
    fetched = _fetch(client, todo, client_factory, server, token, data)
    gaps = sorted(k for k in todo if k in required and k not in fetched)
    if gaps:
        raise DataUnavailable(gaps, "the FHIR server did not return")
    return data


def resources_of(value: Any) -> list[dict[str, Any]]:
    """A prefetch value as a list of resources: null → [], a Bundle → its entries' resources, else [value]."""
    if not isinstance(value, Mapping) or _is_outcome(value):
        return []
    if value.get("resourceType") == "Bundle":
        out: list[dict[str, Any]] = []
        for entry in value.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, Mapping) else None
            out.extend(resources_of(res) if isinstance(res, Mapping) else [])
        return out
    return [dict(value)] if value.get("resourceType") else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_outcome(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


def _server_of(request: Mapping[str, Any]) -> tuple[str | None, str | None]:
    server = request.get("fhirServer")
    auth = request.get("fhirAuthorization")
    if not isinstance(server, str) or not server.startswith(("http://", "https://")):
        return None, None
    if isinstance(auth, Mapping):
        token = auth.get("access_token")
        return server, token if isinstance(token, str) and token else None
    return None, None  # the spec: a service reads only with the authorization the client hands it


def _fetch(
    client: FhirClient,
    todo: dict[str, str],
    factory: ClientFactory,
    server: str,
    token: str | None,
    data: HookData,
) -> set[str]:
    """The keys' GETs through the app's one read engine (``smart_app.fhir_reads``: one batch, single GETs
    where the server has no batch or refused it, pages followed); a hook never fetches /metadata itself. A
    key not found (404) is "no data"; a key that could not be read stays a gap (412 if required)."""
    keys = list(todo)
    try:
        reads = read_queries(
            client,
            [todo[k] for k in keys],
            batch=batch_allowed(client, read_metadata=False),
            max_workers=_MAX_PARALLEL,
            max_pages=_MAX_PAGES,
            client_for_thread=lambda: factory(server, token),  # one client (and HTTP session) per thread
        )
    except FhirError:  # the token, or the server failing the whole batch: every key is a gap
        data.round_trips += 1
        return set()
    data.round_trips += reads.round_trips
    data.used_batch = reads.used_batch
    got: set[str] = set()
    for key, answer in zip(keys, reads.answers, strict=True):
        if answer.not_found:
            data.by_key[key] = []
        elif answer.resources is not None:
            data.by_key[key] = answer.resources
        else:
            continue
        got.add(key)
    data.fetched.extend(sorted(got))
    return got
