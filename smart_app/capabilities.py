"""What a FHIR server's CapabilityStatement lets the app use, remembered per server (DESIGN.md §3 "Minimal
round trips").

The app builds a new ``FhirClient`` per request, so a client's own copy of ``/metadata`` lives one request:
without this cache every launch read and every signature paid a ``GET /metadata`` first (2 round trips for a
one-transaction write). One cache, keyed by the FHIR base URL, serves the launch reads (batch), write-back
(transaction, batch lookups, Provenance create/update-as-create, conditional create, search parameters,
``$create``) and CDS Hooks (which never fetches ``/metadata`` itself, but skips a batch the cache knows the
server refuses). Entries expire after ``TTL`` seconds; a server that answered ``/metadata`` with a client
error (it has none) is remembered as unknown for ``MISSING_TTL``; a transient failure (no answer, 401, 403,
429, 5xx) is not remembered. ``forget()`` empties it (tests call it before each test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from smart_app.fhir_client import FhirClient, FhirError, FhirTransportError
from smart_app.ttl_cache import TtlCache

TTL = 3600.0
MISSING_TTL = 300.0
MAX_SERVERS = 256
_TRANSIENT = frozenset({401, 403, 408, 429})


@dataclass(frozen=True)
class ResourceFacts:
    """One resource type's entry in the CapabilityStatement, reduced to what the app decides on."""

    interactions: frozenset[str] = frozenset()
    operations: frozenset[str] = frozenset()
    search_params: frozenset[str] = frozenset()
    conditional_create: bool = False
    update_create: bool = False
    includes: frozenset[str] = frozenset()  # searchInclude, e.g. "ServiceRequest:requester"

    def has(self, interaction: str) -> bool:
        return interaction in self.interactions


@dataclass(frozen=True)
class ServerFacts:
    """System interactions and per-type facts; ``known`` is False when ``/metadata`` could not be read."""

    system: frozenset[str] = frozenset()
    resources: Mapping[str, ResourceFacts] = field(default_factory=dict, hash=False)
    known: bool = True
    batch_refused: bool = False  # listed, but the server refused a batch: behaviour beats the statement

    @property
    def batch(self) -> bool:
        return "batch" in self.system and not self.batch_refused

    @property
    def transaction(self) -> bool:
        return "transaction" in self.system

    def resource(self, resource_type: str) -> ResourceFacts | None:
        return self.resources.get(resource_type)

    def creates(self, resource_type: str) -> bool:
        found = self.resource(resource_type)
        return found is not None and found.has("create")


UNKNOWN = ServerFacts(known=False)
REFUSED_BATCH_ONLY = ServerFacts(known=False, batch_refused=True)  # a refusal seen before any statement
_facts: TtlCache[str, ServerFacts] = TtlCache(TTL, max_entries=MAX_SERVERS)


def from_statement(statement: Mapping[str, Any]) -> ServerFacts:
    """The facts of a CapabilityStatement: its server-mode ``rest`` entries only."""
    system: set[str] = set()
    resources: dict[str, ResourceFacts] = {}
    for rest in statement.get("rest") or []:
        if rest.get("mode", "server") != "server":
            continue
        system.update(str(i.get("code")) for i in rest.get("interaction") or [] if i.get("code"))
        for res in rest.get("resource") or []:
            if res.get("type") and res["type"] not in resources:
                resources[str(res["type"])] = _resource_facts(res)
    return ServerFacts(frozenset(system), resources)


def _resource_facts(res: Mapping[str, Any]) -> ResourceFacts:
    return ResourceFacts(
        interactions=frozenset(str(i.get("code")) for i in res.get("interaction") or []),
        operations=frozenset(str(o.get("name")) for o in res.get("operation") or []),
        search_params=frozenset(str(p.get("name")) for p in res.get("searchParam") or []),
        conditional_create=bool(res.get("conditionalCreate")),
        update_create=bool(res.get("updateCreate")),
        includes=frozenset(str(i) for i in res.get("searchInclude") or []),
    )


def of(client: FhirClient) -> ServerFacts:
    """The server's facts: the statement this client already holds, else the cache, else ``GET /metadata``
    (one round trip per server per ``TTL``)."""
    held = client.held_capabilities()
    if held is not None:
        return _store(client.base_url, from_statement(held), TTL)
    hit = known(client.base_url)
    if hit is not None and (hit.known or not hit.batch_refused):
        return hit  # (a refusal alone still reads the statement; the refusal is kept with it)
    try:
        statement = client.capabilities()
    except FhirTransportError:
        return UNKNOWN
    except FhirError as exc:
        if exc.status is None or exc.status in _TRANSIENT or exc.status >= 500:
            return UNKNOWN
        return _store(client.base_url, UNKNOWN, MISSING_TTL)
    return _store(client.base_url, from_statement(statement), TTL)


def known(base_url: str) -> ServerFacts | None:
    """The cached facts of a server, without any request (None when the cache does not know it)."""
    return _facts.get(base_url.rstrip("/"))


def batch_refused(base_url: str) -> None:
    """The server listed ``batch`` but refused one: send it no batch while the entry lives."""
    key = base_url.rstrip("/")
    if _facts.get(key) is not None:
        _facts.change(key, lambda facts: replace(facts, batch_refused=True))
    else:  # a CDS hook never reads /metadata: remember the refusal alone, for as long as a missing statement
        _facts.put(key, REFUSED_BATCH_ONLY, ttl=MISSING_TTL)


def forget() -> None:
    """Empty the cache (tests, or after reconfiguring a server)."""
    _facts.clear()


def _store(base_url: str, facts: ServerFacts, ttl: float) -> ServerFacts:
    return _facts.put(base_url.rstrip("/"), facts, ttl=ttl, merge=_keep_refusal)


def _keep_refusal(old: ServerFacts, new: ServerFacts) -> ServerFacts:
    """A refusal to batch outlives a re-read of the statement (behaviour beats what it lists)."""
    return replace(new, batch_refused=True) if old.batch_refused else new
