"""Shape of every rule-data table (packaged and deployment overrides go through the same check).

Every entry says where it comes from: a ``source`` a biller can read, and either ``source_urls`` (public
http(s) pages a reader can follow) or ``decision = true`` (a product or deployment decision, said so in the
text).
``verified = false`` marks an entry resting on a value the sources could not confirm; its ``source`` then
carries the ``[UNVERIFIED]`` tag so every place that shows it says so.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from billing_rules.errors import RuleDataError

# field -> (kind, required). Kinds: str, int, num, bool, date, strs (list of str), pair (two ints), sevs,
# urls (list of absolute http(s) URLs).
Spec = dict[str, tuple[str, bool]]

SOURCED: Spec = {
    "source": ("str", True),
    "source_urls": ("urls", False),
    "verified": ("bool", False),
    "decision": ("bool", False),
}
DATED: Spec = {"effective_from": ("date", True), "effective_to": ("date", True), **SOURCED}
UNVERIFIED_TAG = "[UNVERIFIED]"

UNIT_KINDS = (
    "timed-30",
    "timed-15",
    "timed-15-alone",  # 15-minute units converted per code, never pooled with therapy (MNT 97802/97803)
    "untimed",
    "caregiver-30",
    "add-on",
    "rtm-device",
    "rtm-management",
    "em",
)
UNIT_METHODS = ("cms-total-minutes", "ama-per-code", "full-unit")
SEVERITIES = ("block", "warn", "info")
PAYER_CLASSES = ("medicare", "medicare-advantage", "medicaid", "commercial", "self-pay", "unknown")

TABLES: dict[str, Spec] = {
    "rule": {
        "id": ("str", True),
        "variant": ("str", False),
        "severity": ("str", True),
        "field": ("str", True),
        "message": ("str", True),
        "prompt": ("str", True),
        **SOURCED,
    },
    "code": {
        "code": ("str", True),
        "group": ("str", True),
        "paraphrase": ("str", True),
        "unit": ("str", True),
        "roles": ("strs", True),
        "fields": ("strs", True),
        "patient": ("str", True),
        "therapy": ("str", True),
        "group_size": ("pair", False),
        "wrong_family_roles": ("strs", False),
        "wrong_family_suggestion": ("str", False),
        "requires": ("strs", False),
        "alternatives": ("str", False),
        "eval_level": ("str", False),
        "addon": ("str", False),
        "primary": ("str", False),
        "days": ("pair", False),
        "device": ("str", False),
        "first_minutes": ("int", False),
        "remote": ("bool", False),
        "order_kind": ("str", False),
        "eval_components": ("str", False),  # pt (97161-97163, checked) | ot (not inputs)
        "dx_families": ("strs", False),  # the condition families the payer requires (DSMT: diabetes)
        "benefit": ("str", False),  # dsmt | mnt: hours per benefit year
        "not_with": ("strs", False),  # codes not billed the same day for the same patient
        **DATED,
    },
    # Payable routes named when a payer does not cover a code, filtered by role and diagnosis families.
    "route": {
        "name": ("str", True),
        "label": ("str", True),
        "for_codes": ("strs", True),
        "roles": ("strs", True),
        "dx_families": ("strs", True),
        **DATED,
    },
    # Hours a benefit covers per benefit year (DSMT: 10 initial, 2 follow-up; MNT: 3 first, 2 later).
    "benefit_hours": {
        "benefit": ("str", True),
        "year": ("str", True),
        "hours": ("num", True),
        **DATED,
    },
    "policy": {
        "payer_class": ("str", True),
        "payer_name": ("str", False),
        "unit_method": ("str", False),
        "not_paid": ("strs", False),
        "may_not_pay": ("strs", False),
        "order_required": ("strs", False),
        "authorization_required": ("strs", False),
        "education_roles_allowed": ("strs", False),
        "therapy_modifiers": ("bool", False),
        "assistant_modifiers": ("bool", False),
        "kx": ("bool", False),
        "plan_of_care": ("bool", False),
        "telehealth": ("str", False),
        "telehealth_modifier": ("str", False),
        "therapy_telehealth_modifier": ("str", False),
        "audio_only_modifier": ("str", False),
        "severity": ("sevs", False),
        **DATED,
    },
    "estimate": {
        "payer_class": ("str", True),
        "payer_name": ("str", False),
        "codes": ("strs", True),
        "low": ("num", True),
        "high": ("num", True),
        "checked": ("date", True),
        **DATED,
    },
    "kx_threshold": {"amount": ("num", True), **DATED},
    "review_threshold": {"amount": ("num", True), **DATED},
    "kx_unit_ceiling": {"amount": ("num", True), **DATED},
    "pt_telehealth_window": dict(DATED),
    # A year-bound fact that could not be had: the engine says "not checked for <year>" instead of using
    # another year's value, and `smart-edu rules status` lists it.
    "data_gap": {"table": ("str", True), "label": ("str", True), "searched": ("date", True), **DATED},
    "medicare_telehealth_list": {"codes": ("strs", True), **DATED},
    "pos": {"mode": ("str", True), "location": ("str", True), "pos": ("str", True), **DATED},
    "modifier": {
        "modifier": ("str", True),
        "kind": ("str", True),
        "roles": ("strs", False),
        "meaning": ("str", True),
        "payment_factor": ("num", False),
        **DATED,
    },
    "family": {"name": ("str", True), "icd10_prefixes": ("strs", True), "snomed": ("strs", True), **DATED},
    "order_kind": {
        "name": ("str", True),
        "codes": ("strs", True),
        "snomed": ("strs", True),
        "words": ("strs", True),
        **DATED,
    },
}


ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("rule", "severity"): SEVERITIES,
    ("code", "unit"): UNIT_KINDS,
    ("code", "patient"): ("required", "absent", "any"),
    ("code", "therapy"): ("always", "sometimes", "never"),
    ("code", "eval_level"): ("low", "moderate", "high"),
    ("code", "eval_components"): ("pt", "ot"),
    ("code", "benefit"): ("dsmt", "mnt"),
    ("benefit_hours", "benefit"): ("dsmt", "mnt"),
    ("benefit_hours", "year"): ("first", "subsequent"),
    ("policy", "payer_class"): PAYER_CLASSES,
    ("policy", "unit_method"): UNIT_METHODS,
    ("policy", "telehealth"): ("medicare", "allowed", "not-covered"),
    ("estimate", "payer_class"): PAYER_CLASSES,
    ("pos", "mode"): ("in-person", "telehealth"),
    ("modifier", "kind"): ("discipline", "assistant", "threshold", "telehealth", "audio-only", "ncci-bypass"),
    ("pos", "location"): ("office", "home", "outpatient-hospital", "other"),
}


def is_web_url(text: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace (what a reader can open)."""
    if any(c.isspace() for c in text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_source(table: str, entry: dict[str, Any], where: str) -> None:
    """A source a reader can follow: at least one URL, or a decision said as such; unverified shown."""
    text = entry["source"]
    if entry.get("decision"):
        if "decision" not in text.casefold():
            raise RuleDataError(
                f"{where}: [[{table}]] field 'source' must say it is a decision (decision = true): {text!r}"
            )
    elif not entry.get("source_urls"):
        raise RuleDataError(
            f"{where}: [[{table}]] field 'source_urls' must list at least one http(s) URL for the source "
            f"{text!r} (or set decision = true and say 'product decision' / 'local decision' in 'source')"
        )
    tagged = UNVERIFIED_TAG.casefold() in text.casefold()
    if entry.get("verified", True) == tagged:
        raise RuleDataError(
            f"{where}: [[{table}]] field 'verified' is {entry.get('verified', True)} but 'source' "
            f"{'carries' if tagged else 'lacks'} the {UNVERIFIED_TAG} tag (set both or neither)"
        )


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "num":
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, date)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    if kind == "pair":
        return isinstance(value, list) and len(value) == 2 and all(_kind_ok("int", v) for v in value)
    if kind == "urls":
        return isinstance(value, list) and all(isinstance(v, str) and is_web_url(v) for v in value)
    if kind == "sevs":
        return isinstance(value, dict) and all(v in SEVERITIES for v in value.values())
    raise AssertionError(kind)


def validate_entry(table: str, entry: Any, where: str) -> dict[str, Any]:
    """Check one entry against its table's spec; raise RuleDataError naming the file, table and field."""
    spec = TABLES[table]
    if not isinstance(entry, dict):
        raise RuleDataError(f"{where}: [[{table}]] entry must be a table")
    for key in entry:
        if key not in spec:
            raise RuleDataError(f"{where}: [[{table}]] unknown field {key!r}")
    for key, (kind, required) in spec.items():
        if key not in entry:
            if required:
                raise RuleDataError(f"{where}: [[{table}]] missing field {key!r}")
            continue
        if not _kind_ok(kind, entry[key]):
            raise RuleDataError(f"{where}: [[{table}]] field {key!r} must be {kind}, got {entry[key]!r}")
        allowed = ENUMS.get((table, key))
        if allowed and entry[key] not in allowed:
            raise RuleDataError(f"{where}: [[{table}]] field {key!r} must be one of {allowed}")
    for key in ("source", "id", "code", "name"):
        if key in spec and key in entry and not entry[key].strip():
            raise RuleDataError(f"{where}: [[{table}]] field {key!r} must not be empty")
    if "effective_from" in entry and entry["effective_from"] > entry["effective_to"]:
        raise RuleDataError(f"{where}: [[{table}]] effective_from is after effective_to")
    if table == "policy" and entry.get("severity", {}).get("rules.not-evaluated", "block") != "block":
        raise RuleDataError(
            f"{where}: [[policy]] may not lower rules.not-evaluated (the engine fails closed)"
        )
    if table == "estimate" and entry["low"] > entry["high"]:
        raise RuleDataError(f"{where}: [[estimate]] low is above high")
    _check_source(table, entry, where)
    return entry


def validate_document(doc: dict[str, Any], where: str) -> dict[str, list[dict[str, Any]]]:
    """Validate a parsed TOML file: only known tables, each an array of valid entries."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, entries in doc.items():
        if table not in TABLES:
            raise RuleDataError(f"{where}: unknown table {table!r} (known: {', '.join(sorted(TABLES))})")
        if not isinstance(entries, list):
            raise RuleDataError(f"{where}: {table!r} must be an array of tables ([[{table}]])")
        out[table] = [validate_entry(table, e, f"{where} #{i + 1}") for i, e in enumerate(entries)]
    return out
