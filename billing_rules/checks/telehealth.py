"""Place of service and telehealth: telehealth.not-covered, telehealth.place-of-service (POS, modifiers)."""

from __future__ import annotations

from billing_rules.loader import Entry, pick
from billing_rules.model import ClinicalContext, Finding, ServiceRecord
from billing_rules.policy import THERAPISTS, Policy


def place_of_service(policy: Policy, mode: str, location: str) -> str | None:
    """POS from the data table: in person by location; telehealth 10 at home, 02 elsewhere."""
    if mode != "in-person":
        location = "home" if location == "home" else "other"
    for entry in reversed(policy.rules.entries("pos")):
        if entry["mode"] == mode and entry["location"] == location and entry["effective_from"] <= policy.on:
            return str(entry["pos"])
    return None


def _medicare_reason(record: ServiceRecord, policy: Policy) -> tuple[str | None, Entry | None]:
    """Why Medicare will not pay this as telehealth on this date (or None), and the data entry behind it."""
    lists = policy.rules.entries("medicare_telehealth_list")
    covering = [e for e in lists if e["effective_from"] <= policy.on <= e["effective_to"]]
    if not covering:
        last = max((e["effective_to"] for e in lists), default=None)
        used = f"no list (known through {last})" if last else "no list"
        policy.extra.append(
            policy.finding("rules.out-of-period", table="Medicare telehealth list", used=used)
        )
        return "no Medicare telehealth list is loaded for this date.", None
    if not any(policy.code["code"] in e["codes"] for e in covering):
        unsure = next((e for e in covering if e.get("verified") is False), None)
        return "the code is not on the Medicare Telehealth Services List.", unsure
    gap = policy.gap("medicare_telehealth_list")
    if gap is not None:
        year = str(gap["effective_from"].year)
        why = "CMS made the listed codes permanent in CY 2026"
        values = {"table": gap["label"], "year": year, "why": why}
        policy.extra.append(policy.finding("rules.out-of-period", "carried", **values))
    if policy.role in THERAPISTS and pick(policy.rules.entries("pt_telehealth_window"), policy.on) is None:
        why = "therapists may not furnish Medicare telehealth on this date (outside the statutory windows)."
        return why, None
    if record.mode == "audio-only" and record.location != "home":
        return "audio-only telehealth is allowed only to a patient at home.", None
    return None, None


def _modifiers(record: ServiceRecord, policy: Policy) -> list[str]:
    payer = policy.payer
    if record.mode == "audio-only" and payer.get("audio_only_modifier"):
        mods = [payer["audio_only_modifier"]]
        if policy.payer["telehealth"] == "medicare" and policy.therapy_applies and policy.role in THERAPISTS:
            mods.insert(0, payer.get("therapy_telehealth_modifier", ""))
        return [m for m in mods if m]
    if policy.therapy_applies and policy.role in THERAPISTS:
        return [m for m in [payer.get("therapy_telehealth_modifier", "")] if m]
    return [m for m in [payer.get("telehealth_modifier", "")] if m]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    remote_by_nature = policy.code.get("remote", False)
    if record.mode == "in-person" or remote_by_nature:
        location = record.location if record.mode == "in-person" else "office"
        policy.pos = place_of_service(policy, "in-person", location)
        return []
    policy.pos = place_of_service(policy, "telehealth", record.location)
    out = []
    reason, cites = None, None
    if policy.payer.get("telehealth") == "not-covered":
        reason = "this payer does not cover telehealth."
    elif policy.payer.get("telehealth") == "medicare":
        reason, cites = _medicare_reason(record, policy)
    if reason:
        payer = policy.payer_name or policy.payer_class
        values = {"mode": record.mode, "payer": payer, "reason": reason}
        out.append(policy.finding("telehealth.not-covered", cites=cites, **values))
    mods = _modifiers(record, policy)
    policy.modifiers.extend(mods)
    shown = f", modifier {' '.join(mods)}" if mods else ", no telehealth modifier"
    out.append(
        policy.finding(
            "telehealth.place-of-service",
            mode=record.mode,
            location=record.location,
            pos=policy.pos,
            modifiers=shown,
        )
    )
    return out
