"""``smart-edu rules status [--as-of DATE] [--format text|json]``: the rule data's periods and currency.

Lists every period (ICD-10-CM code sets, fee-schedule years, telehealth windows and lists, thresholds, payer
policies, CMS edit tables), what is in force on the date, what expires within 90 days with nothing after
it, and
what has no data. Exit 0; 1 when something that must have data has none on the date (an acknowledged gap
included: the engine then says "not checked"); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from billing_rules import currency
from billing_rules.loader import RULES_VERSION

HORIZON = 90


def _line(p: currency.DataPeriod) -> str:
    end = "open" if p.end == currency.FOREVER else p.end.isoformat()
    flags = [f for f in ("unverified" if not p.verified and not p.gap else "", p.partial) if f]
    shown = f" [{'; '.join(flags)}]" if flags else ""
    return f"  {p.label}: {p.name} ({p.start}..{end}){shown}"


def status(as_of: date) -> dict[str, object]:
    return {
        "as_of": as_of.isoformat(),
        "rules_version": RULES_VERSION,
        "periods": [p.to_dict() for p in currency.data_periods()],
        "in_force": [p.to_dict() for p in currency.in_force(as_of)],
        "expiring": [p.to_dict() for p in currency.expiring(as_of, HORIZON)],
        "missing": [p.to_dict() for p in currency.missing(as_of)],
        "not_loaded": currency.missing_optional(),
    }


def _text(as_of: date) -> str:
    out = [f"Rule data {RULES_VERSION}, as of {as_of}"]
    out.append("In force:")
    out += [_line(p) for p in currency.in_force(as_of) if not p.gap]
    out.append(f"Expires within {HORIZON} days with nothing after it:")
    out += [_line(p) for p in currency.expiring(as_of, HORIZON)] or ["  nothing"]
    upcoming = [p for p in currency.data_periods() if p.gap and p.start > as_of]
    if upcoming:
        out.append(
            "Known gaps ahead (searched, not published or not found; the engine will say 'not checked'):"
        )
        out += [f"  {p.label}: {p.name} - {p.source}" for p in upcoming]
    out.append("No data on this date:")
    out += [f"  {p.label}: {p.name} - {p.source}" for p in currency.missing(as_of)] or ["  nothing"]
    out.append("Optional tables:")
    out += [f"  {line}" for line in currency.missing_optional()] or ["  all loaded"]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else date.today()
    except ValueError:
        print(f"smart-edu rules status: --as-of must be YYYY-MM-DD, got {args.as_of!r}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(status(as_of), indent=2))
    else:
        print(_text(as_of))
    return 1 if currency.missing(as_of) else 0
