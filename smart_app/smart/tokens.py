"""Checks on a token response and the launch context it carries (smart-fhir.md §1.7, §1.9).

The server may grant fewer scopes than asked, in v1 or v2 spelling; the app compares what it needs against
what it got by meaning (``patient/Condition.read`` covers ``patient/Condition.rs``) and lists what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from smart_app.smart.app_context import parse_app_context
from smart_app.smart.errors import TokenResponseError

_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
CONTEXT_KEYS = (
    "patient",
    "encounter",
    "fhir_user",
    "need_patient_banner",
    "smart_style_url",
    "intent",
    "tenant",
    "app_context",
)


@dataclass(frozen=True)
class LaunchContext:
    """What the EHR told the app about this launch (plus the verified ``fhirUser``)."""

    patient: str | None = None
    encounter: str | None = None
    fhir_user: str | None = None
    need_patient_banner: bool = True
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    app_context: dict[str, str] | None = None  # a CDS card's appContext, parsed (smart/app_context.py)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; ``app_context`` only for a launch from a card (other records stay as they were)."""
        out = asdict(self)
        if self.app_context is None:
            out.pop("app_context")
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LaunchContext:
        return cls(**{k: data[k] for k in CONTEXT_KEYS if k in data})


def scope_permissions(scope: str) -> tuple[str, str, frozenset[str]] | None:
    """(context, resource type, permission letters) of a resource scope, or None for other scopes."""
    m = _RESOURCE_SCOPE.match(scope)
    if not m:
        return None
    letters = _V1.get(m.group(3), m.group(3))
    if not set(letters) <= set("cruds"):
        return None
    return m.group(1), m.group(2), frozenset(letters)


def missing_scopes(needed: Iterable[str], granted: Iterable[str]) -> tuple[str, ...]:
    """The needed scopes that no granted scope covers."""
    granted = list(granted)
    parsed = [p for p in (scope_permissions(g) for g in granted) if p]
    missing: list[str] = []
    for scope in needed:
        want = scope_permissions(scope)
        if want is None:
            ok = scope in granted
        else:
            ctx, rtype, perms = want
            ok = any(c == ctx and t in (rtype, "*") and perms <= p for c, t, p in parsed)
        if not ok:
            missing.append(scope)
    return tuple(missing)


def check_token_response(
    token: Mapping[str, Any], *, requested: Iterable[str], needed: Iterable[str], need_patient: bool = True
) -> tuple[str, ...]:
    """Refuse a token response this app cannot work with; return the granted scopes."""
    if str(token.get("token_type", "")).lower() != "bearer":
        raise TokenResponseError("the authorization server issued a token that is not a Bearer token")
    raw = token.get("scope")
    # RFC 6749 §5.1: an omitted scope means the requested scope was granted.
    granted = tuple(str(raw).split()) if raw is not None else tuple(requested)
    missing = missing_scopes(needed, granted)
    if missing:
        raise TokenResponseError(
            "the EHR did not grant every permission this app needs", missing_scopes=missing
        )
    if need_patient and not token.get("patient"):
        raise TokenResponseError("the EHR did not say which patient this launch is for")
    return granted


def context_from_token(token: Mapping[str, Any], *, fhir_user: str | None) -> LaunchContext:
    """The launch context fields of a token response; ``fhir_user`` only from a verified id_token."""
    banner = token.get("need_patient_banner")
    patient, encounter = _str_or_none(token.get("patient")), _str_or_none(token.get("encounter"))
    return LaunchContext(
        patient=patient,
        encounter=encounter,
        fhir_user=fhir_user,
        need_patient_banner=banner if isinstance(banner, bool) else True,
        smart_style_url=_str_or_none(token.get("smart_style_url")),
        intent=_str_or_none(token.get("intent")),
        tenant=_str_or_none(token.get("tenant")),
        app_context=parse_app_context(token.get("appContext"), patient=patient, encounter=encounter),
    )


def relative_reference(url: str | None, fhir_base: str) -> str | None:
    """``fhirUser`` as ``Type/id`` when it lies on this FHIR server; absolute otherwise."""
    if not url:
        return None
    base = fhir_base.rstrip("/") + "/"
    if url.startswith(base):
        return url[len(base) :]
    return url


def _str_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None
