"""Remote therapeutic monitoring: rtm.days, rtm.interaction-missing, rtm.rpm-same-month, rtm.under-coded."""

from __future__ import annotations

from billing_rules.lines import minutes_of
from billing_rules.model import ClinicalContext, Finding, RtmData, ServiceRecord
from billing_rules.policy import Policy
from billing_rules.units import rtm_management_units


def _device_code_for(policy: Policy, days: int) -> str | None:
    device = policy.code.get("device")
    for code in policy.rules.codes:
        entry = policy.rules.code(code, policy.on)
        if entry and entry.get("device") == device and entry["days"][0] <= days <= entry["days"][1]:
            return code
    return None


def _days(policy: Policy, rtm: RtmData) -> list[Finding]:
    low, high = policy.code["days"]
    days = rtm.days_of_data
    if days is not None and low <= days <= high:
        return []
    if days is None:
        suggestion = "Record the number of days with monitoring data in the 30-day period."
        return [policy.finding("rtm.days", days="an unknown number of", suggestion=suggestion)]
    fit = _device_code_for(policy, days)
    if fit:
        suggestion = f"Bill {fit} for {days} days of data."
    elif days < 2:
        suggestion = "Fewer than 2 days of data: no device-supply code may be billed for this period."
    else:
        suggestion = (
            f"No device-supply code for {days} days of data is in force on {policy.on}: do not bill one."
        )
    return [policy.finding("rtm.days", days=days, suggestion=suggestion)]


def _under_coded(record: ServiceRecord, policy: Policy) -> list[Finding]:
    """Management minutes that reach a longer code of the same kind (98979 documented with 20+ minutes)."""
    minutes = minutes_of(record, policy.code)
    mine = policy.code.get("first_minutes", 0)
    if minutes is None:
        return []
    for code in policy.rules.codes:
        entry = policy.rules.code(code, policy.on)
        if (
            entry is None
            or entry["unit"] != "rtm-management"
            or entry.get("device") != policy.code.get("device")
        ):
            continue
        if mine < entry.get("first_minutes", 0) <= minutes:
            units = rtm_management_units(minutes, entry["first_minutes"])
            addon = f" plus {entry['addon']} x{units[1]}" if units[1] and entry.get("addon") else ""
            return [policy.finding("rtm.under-coded", minutes=minutes, better=f"{code}{addon}")]
    return []


def _setup(rtm: RtmData, context: ClinicalContext, policy: Policy) -> list[Finding]:
    """98975: at least the period's floor of days with data (2 from 2026, 16 before), once per episode."""
    out = []
    low = policy.code["days"][0]
    days = rtm.days_of_data
    if days is None or days < low:
        shown = "an unknown number of" if days is None else days
        suggestion = (
            f"Bill {policy.code['code']} once at least {low} days of data are recorded in the period."
        )
        out.append(policy.finding("rtm.days", days=shown, suggestion=suggestion))
    own = set(context.own_identifiers)
    earlier = [
        c
        for c in context.existing_charges
        if c.code == policy.code["code"] and not own & set(c.identifiers) and c.status != "entered-in-error"
    ]
    if rtm.setup_billed is True or earlier:
        where = f" (ChargeItem/{earlier[0].id})" if earlier and earlier[0].id else ""
        out.append(policy.finding("rtm.setup-repeat", where=where))
    return out


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    code = policy.code
    if code["group"] != "remote monitoring":
        return []
    rtm = record.rtm or RtmData()
    out = []
    if code["unit"] == "rtm-device":
        out += _days(policy, rtm)
    elif "days" in code:
        out += _setup(rtm, context, policy)
    if "interaction" in code.get("requires", ()) and rtm.interactive_communication is not True:
        out.append(policy.finding("rtm.interaction-missing"))
    if rtm.rpm_same_month is True:
        out.append(policy.finding("rtm.rpm-same-month"))
    elif rtm.rpm_same_month is None:
        out.append(policy.finding("rtm.rpm-same-month", "unknown"))
    if code["unit"] == "rtm-management":
        out += _under_coded(record, policy)
    return out
