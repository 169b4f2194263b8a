"""Remote therapeutic monitoring: rtm.days, rtm.interaction-missing, rtm.rpm-same-month."""

from __future__ import annotations

from billing_rules.model import ClinicalContext, Finding, RtmData, ServiceRecord
from billing_rules.policy import Policy


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
    suggestion = (
        f"Bill {fit} for {days} days of data." if fit else "Fewer than 2 days of data: no device code."
    )
    return [policy.finding("rtm.days", days=days, suggestion=suggestion)]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    code = policy.code
    if code["group"] != "remote monitoring":
        return []
    rtm = record.rtm or RtmData()
    out = []
    if code["unit"] == "rtm-device":
        out += _days(policy, rtm)
    if "interaction" in code.get("requires", ()) and rtm.interactive_communication is not True:
        out.append(policy.finding("rtm.interaction-missing"))
    if rtm.rpm_same_month is True:
        out.append(policy.finding("rtm.rpm-same-month"))
    return out
