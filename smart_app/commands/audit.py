"""``smart-edu audit``: the audit log (signatures, write attempts and results, acknowledged warnings with
their reasons, CDS card feedback) for billers (text, CSV) and integrators (JSON lines), or the CDS feedback
summary.

It reads the app's store exactly as ``smart-edu outbox`` does and names it on stderr, so an empty answer is
never mistaken for another store's. The rows hold identifiers, codes, units and outcomes only; neither tokens
nor note text are ever stored there, so none can be printed. Exit 0, or 2 for bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select

from smart_app.store import Database
from smart_app.store.writeback import AuditRow
from smart_app.writeback.local_store import (
    NO_STORE_HINT,
    command_store,
    missing_store,
    open_for_command,
    shown_url,
)

PROG = "smart-edu audit"
# Actions the app writes today; an --action that is neither one of these nor in the store is a typo.
KNOWN_ACTIONS = ("signed", "charge-decision", "write-attempt", "write-result", "outbox-retry", "cds-feedback")
CSV_FIELDS = (
    "at",
    "who",
    "action",
    "outcome",
    "patient_id",
    "encounter_id",
    "codes",
    "resources",
    "acknowledged",
    "message",
    "write_key",
    "issuer",
)
FILTERS = ("since", "until", "patient", "encounter", "action")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")  # a typed reason's line breaks must not split a row
FORMULA_START = ("=", "+", "-", "@")  # a spreadsheet would run such a cell as a formula (CSV injection)


class BadInput(ValueError):
    """A flag the command cannot use; its message is the one line shown."""


def run(args: argparse.Namespace) -> int:
    url, origin = command_store()
    print(f"{PROG}: store {shown_url(url)} ({origin})", file=sys.stderr)
    missing = missing_store(url)
    if missing:
        print(f"{PROG}: no store there ({missing}); {NO_STORE_HINT}", file=sys.stderr)
        return 2
    db = open_for_command(PROG, url)
    if db is None:
        return 2
    try:
        if args.feedback:
            _no_filters(args)
            _print_feedback(db, args.format)
        else:
            _print_rows(_rows(db, _query(db, args)), args.format)
        return 0
    except BadInput as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()


def _query(db: Database, args: argparse.Namespace) -> Select[Any]:
    """Oldest first (a log reads top to bottom); dates are UTC days, both ends included."""
    since, until = _day(args.since, "--since"), _day(args.until, "--until")
    if since and until and since > until:
        raise BadInput(f"--since {since} is after --until {until}")
    query = select(AuditRow).order_by(AuditRow.at, AuditRow.id)
    if since:
        query = query.where(AuditRow.at >= datetime.combine(since, time(), UTC))
    if until:
        query = query.where(AuditRow.at < datetime.combine(until + timedelta(days=1), time(), UTC))
    if args.patient:
        query = query.where(AuditRow.patient_id == args.patient)
    if args.encounter:
        query = query.where(AuditRow.encounter_id == args.encounter)
    if args.action:
        _check_action(db, args.action)
        query = query.where(AuditRow.action == args.action)
    return query


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{flag} {value!r}: not a date (write YYYY-MM-DD, e.g. 2026-11-27)") from None


def _check_action(db: Database, action: str) -> None:
    with db.session() as s:
        stored = set(s.scalars(select(AuditRow.action).distinct()).all())
    known = sorted(set(KNOWN_ACTIONS) | stored)
    if action not in known:
        raise BadInput(f"--action {action!r}: unknown action (one of {', '.join(known)})")


def _no_filters(args: argparse.Namespace) -> None:
    used = [f"--{name}" for name in FILTERS if getattr(args, name)]
    if used:
        raise BadInput(f"--feedback counts every card in the store; it takes no {', '.join(used)}")


def _rows(db: Database, query: Select[Any]) -> Iterator[dict[str, Any]]:
    """Each row as a plain dict; the "signed" row's acknowledgements parsed out of its message."""
    with db.session() as s:
        for r in s.scalars(query.execution_options(yield_per=500)):
            acknowledged, message = _acknowledged(r.action, r.message)
            yield {
                "at": _utc(r.at),
                "who": r.who,
                "action": r.action,
                "outcome": r.outcome,
                "issuer": r.issuer,
                "write_key": r.write_key,
                "patient_id": r.patient_id,
                "encounter_id": r.encounter_id,
                "what": json.loads(r.what_json),
                "acknowledged": acknowledged,
                "message": message,
            }


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _acknowledged(action: str, message: str | None) -> tuple[list[dict[str, str]], str | None]:
    if action != "signed" or not message:
        return [], message
    try:
        parsed = json.loads(message)
    except ValueError:
        return [], message
    if not isinstance(parsed, dict) or not isinstance(parsed.get("acknowledged"), list):
        return [], message
    acks = [a for a in parsed["acknowledged"] if isinstance(a, dict)]
    return [{"rule": str(a.get("rule")), "reason": str(a.get("reason"))} for a in acks], None


def _codes(what: dict[str, Any]) -> str:
    """The claim lines as a biller reads them, e.g. ``97110 x2 GP,KX dx M17.11; 97140 x1 GP dx M17.11
    USD 60-80`` (older rows hold code and units only); a CDS card's codes otherwise."""
    lines = [_charge_text(c) for c in what.get("charges") or [] if isinstance(c, dict)]
    if not lines:
        return " ".join(_words(what.get("codes")))
    return "; ".join(lines) + _amount(what.get("estimate"))


def _charge_text(charge: dict[str, Any]) -> str:
    text = f"{charge.get('code')} x{charge.get('units')}"
    modifiers = _words(charge.get("modifiers"))
    diagnoses = _words(charge.get("diagnoses"))
    return (
        text
        + (f" {','.join(modifiers)}" if modifiers else "")
        + (f" dx {','.join(diagnoses)}" if diagnoses else "")
    )


def _amount(estimate: Any) -> str:
    if not isinstance(estimate, dict) or not isinstance(estimate.get("low"), int | float):
        return ""
    low = float(estimate["low"])
    high = float(estimate["high"]) if isinstance(estimate.get("high"), int | float) else low
    return f" {estimate.get('currency') or 'USD'} {_money(low)}-{_money(high)}"


def _money(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _words(value: Any) -> list[str]:
    """A card's codes or rules: stored space-separated, or a list."""
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value or []]


def _resources(what: dict[str, Any]) -> str:
    """Ids the server gave (write results), else the planned types and business identifiers."""
    written = [str(w.get("ref") or w.get("key")) for w in what.get("written") or []]
    if written:
        return " ".join(written)
    if what.get("card"):
        return f"{what.get('service')}/card/{what['card']}"
    return " ".join(f"{r.get('type')}[{r.get('identifier')}]" for r in what.get("resources") or [])


def _acks_text(acks: list[dict[str, str]]) -> str:
    return "; ".join(f"{a['rule']}: {a['reason']}" for a in acks)


def _flat(row: dict[str, Any]) -> dict[str, str]:
    """The row as single-line text cells (text and CSV formats)."""
    what = row["what"]
    rules = " ".join(_words(what.get("rules"))) if row["action"] == "cds-feedback" else ""
    cells = {
        "at": row["at"],
        "who": row["who"] or "",
        "action": row["action"],
        "outcome": row["outcome"],
        "patient_id": row["patient_id"],
        "encounter_id": row["encounter_id"] or "",
        "codes": " ".join(x for x in (_codes(what), rules) if x),
        "resources": _resources(what),
        "acknowledged": _acks_text(row["acknowledged"]),
        "message": row["message"] or "",
        "write_key": row["write_key"],
        "issuer": row["issuer"],
    }
    return {k: CONTROL.sub(" ", v).strip() for k, v in cells.items()}


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula character is quoted (OWASP advice)."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def _print_rows(rows: Iterator[dict[str, Any]], fmt: str) -> None:
    out = sys.stdout
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    count = 0
    for row in rows:
        count += 1
        if fmt == "json":
            print(json.dumps(row, sort_keys=True), file=out)
        elif writer:
            writer.writerow({k: _cell(v) for k, v in _flat(row).items()})
        else:
            print(_text(_flat(row)), file=out)
    if not count:  # stdout stays parseable; a person still sees an answer
        print(f"{PROG}: no audit rows match", file=sys.stderr)


def _text(f: dict[str, str]) -> str:
    where = f"patient {f['patient_id']}" + (f" encounter {f['encounter_id']}" if f["encounter_id"] else "")
    parts = [f["at"], f["who"] or "-", f["action"], where, f["codes"], f["resources"], f"-> {f['outcome']}"]
    if f["acknowledged"]:
        parts.append(f"acknowledged {f['acknowledged']}")
    if f["message"]:
        parts.append(f"({f['message']})")
    return "  ".join(p for p in parts if p)


def _print_feedback(db: Database, fmt: str) -> None:
    from smart_app.cds_hooks.store import feedback_summary

    summary = feedback_summary(db)
    rows = [_feedback_row(service, counts) for service, counts in sorted(summary.items())]
    if fmt == "json":
        for row in rows:
            print(json.dumps(row, sort_keys=True))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("service", "issued", "accepted", "overridden", "ignored", "overridden_by_reason"))
        for r in rows:
            reasons = "; ".join(f"{k}={v}" for k, v in r["overridden_by_reason"].items())
            counts = (r["issued"], r["accepted"], r["overridden"], r["ignored"])
            writer.writerow((_cell(r["service"]), *counts, _cell(reasons)))
    else:
        for r in rows:
            reasons = ", ".join(f"{k} {v}" for k, v in r["overridden_by_reason"].items())
            print(
                f"{r['service']}: issued {r['issued']}, accepted {r['accepted']}, "
                f"overridden {r['overridden']}{f' ({reasons})' if reasons else ''}, ignored {r['ignored']}"
            )
    if not rows:
        print(f"{PROG}: no CDS cards issued and no feedback received", file=sys.stderr)


def _feedback_row(service: str, counts: dict[str, int]) -> dict[str, Any]:
    # reason codes come from the CDS client: one line each, whatever it sent
    prefix = "overridden:"
    by_code = sorted((k[len(prefix) :], v) for k, v in counts.items() if k.startswith(prefix))
    reasons = {CONTROL.sub(" ", code): n for code, n in by_code}
    return {
        "service": service,
        "issued": counts.get("issued", 0),
        "accepted": counts.get("accepted", 0),
        "overridden": counts.get("overridden", 0),
        "ignored": counts.get("ignored", 0),
        "overridden_by_reason": reasons,
    }
