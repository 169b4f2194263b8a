"""SMART scopes (v1 ``.read/.write`` and v2 ``.cruds``) and the access check the FHIR API applies.

Scopes with query filters (``patient/Condition.rs?category=...``) grant nothing here: failing closed is
safer than half-enforcing a filter, and the app under test never asks for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SCOPE_RE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$")
V1_LETTERS = {"read": "rs", "write": "cud", "*": "cruds"}
IDENTITY_SCOPES = frozenset(
    {
        "launch",
        "launch/patient",
        "launch/encounter",
        "openid",
        "fhirUser",
        "profile",
        "offline_access",
        "online_access",
    }
)


@dataclass(frozen=True)
class Grant:
    """One parsed resource scope."""

    context: str
    rtype: str
    letters: frozenset[str]


def parse_scope(scope: str) -> Grant | None:
    match = SCOPE_RE.match(scope)
    if not match or not match.group(3):
        return None
    context, rtype, perm = match.groups()
    return Grant(context, rtype, frozenset(V1_LETTERS.get(perm, perm)))


def is_known_scope(scope: str) -> bool:
    """Scopes the authorization server will grant: identity/launch scopes and well-formed resource scopes."""
    return scope in IDENTITY_SCOPES or parse_scope(scope) is not None


def covered(scope: str, registered: list[str]) -> bool:
    """A requested scope is within a client's registration: listed as is, or inside a registered resource
    scope of the same context whose type is ``*`` or the same and whose permissions include it
    (``system/ChargeItem.rs`` within ``system/*.rs``)."""
    if scope in registered:
        return True
    want = parse_scope(scope)
    return want is not None and any(
        (have := parse_scope(r)) is not None
        and have.context == want.context
        and have.rtype in ("*", want.rtype)
        and want.letters <= have.letters
        for r in registered
    )


class Forbidden(Exception):
    """The token lacks a scope; ``needed`` names it (v2 spelling) for the OperationOutcome."""

    def __init__(self, needed: str, detail: str = "") -> None:
        super().__init__(detail or f"missing scope {needed}")
        self.needed = needed


@dataclass
class Access:
    """Who is calling the FHIR API: an open-mode caller, or a token's scopes and launch patient."""

    open: bool = False
    scope: str = ""
    patient: str | None = None
    client_id: str | None = None
    grants: list[Grant] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.grants = [g for g in (parse_scope(s) for s in self.scope.split()) if g]

    def check(self, rtype: str, letter: str) -> str | None:
        """Allow or raise Forbidden; returns the patient id the access is limited to (None: unrestricted)."""
        if self.open:
            return None
        matching = [g for g in self.grants if letter in g.letters and g.rtype in ("*", rtype)]
        if any(g.context in ("user", "system") for g in matching):
            return None
        if any(g.context == "patient" for g in matching):
            if self.patient is None:
                raise Forbidden(
                    f"patient/{rtype}.{letter}", "patient scope granted but no patient in context"
                )
            return self.patient
        raise Forbidden(f"patient/{rtype}.{letter}")
