"""``appContext`` from the token response: what a CDS card's smart link asked the app to open with.

CDS Hooks 2.0 lets a card's ``smart`` link carry an opaque ``appContext`` string; the EHR returns it to the
app in the token response of the launch it starts from that link. It is untrusted input (any service may have
written it, any EHR may relay it), so it is parsed defensively: a string of at most ``MAX_LENGTH`` characters
holding one JSON object, of which only the keys this app's own cards use are kept, each a short plain token;
the whole value is dropped when it names another patient or encounter than the launch itself. What it is used
for (the suggested code) is checked again where it is used.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)
MAX_LENGTH = 2048
KEYS = frozenset(
    {"hook", "hookInstance", "patientId", "encounterId", "code", "routes", "orderId", "chargeItemId"}
)
# FHIR ids, codes, hook names and space-separated code lists ("97550-97552", "G0108/G0109" among them):
# nothing that could carry markup or a URL (no ":", "<", quotes).
_VALUE = re.compile(r"^[A-Za-z0-9./\-]{1,64}( [A-Za-z0-9./\-]{1,64}){0,19}$")


def parse_app_context(raw: Any, *, patient: str | None, encounter: str | None) -> dict[str, str] | None:
    """The known, well-formed keys of an ``appContext`` for this launch, or None (reason logged)."""
    if raw is None:
        return None
    reason, value = _parse(raw)
    if value is not None:
        reason = _mismatch(value, patient, encounter)
    if reason:
        log.info("appContext ignored: %s", reason)  # never the value: it may name a patient
        return None
    return value


def _parse(raw: Any) -> tuple[str, dict[str, str] | None]:
    if not isinstance(raw, str):
        return "not a string", None
    if len(raw) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters", None
    try:
        data = json.loads(raw)
    except ValueError:
        return "not JSON", None
    if not isinstance(data, dict):
        return "not a JSON object", None
    kept = {
        k: v.strip() for k, v in data.items() if k in KEYS and isinstance(v, str) and _VALUE.match(v.strip())
    }
    if not kept:
        return "no usable key", None
    return "", kept


def _mismatch(value: Mapping[str, str], patient: str | None, encounter: str | None) -> str:
    if value.get("patientId") and value["patientId"] != patient:
        return "it names another patient than the launch"
    if value.get("encounterId") and value["encounterId"] != encounter:
        return "it names another encounter than the launch"
    return ""


def stored_app_context(value: Any) -> dict[str, str] | None:
    """The app context as kept on a launch record (already parsed; re-checked for shape only)."""
    if not isinstance(value, dict):
        return None
    kept = {k: v for k, v in value.items() if k in KEYS and isinstance(v, str) and _VALUE.match(v)}
    return kept or None
