"""``GET /readyz``: may a load balancer send this instance traffic? (``/healthz`` only says it is alive.)

Ready means: the store answers and its schema is the one this version of the app expects (``smart-edu db
upgrade`` brings it there). Not ready is a 503 with a JSON body naming each check that failed and its fix.
The answer also reports rule data that ends within 30 days with nothing after it (``billing_rules.currency``):
worth an operator's attention before it happens, never a reason to take the instance out (the engine fails
closed on a day without data). No secret is ever in the body: not the store URL (it may hold a password), not
an exception's text (logged instead, through the redaction filter).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from smart_app.clock import utcnow
from smart_app.logs import event
from smart_app.ttl_cache import TtlCache

bp = Blueprint("readiness", __name__)
log = logging.getLogger(__name__)
EXPIRY_HORIZON_DAYS = 30
_rules_report: TtlCache[date, dict[str, Any]] = TtlCache(3600.0, max_entries=4)


def store_check() -> dict[str, Any]:
    """The store's answer and schema revision against the app's newest migration."""
    from smart_app import db_of
    from smart_app.store import schema

    db = db_of(current_app)
    out: dict[str, Any] = {"backend": db.engine.dialect.name}
    try:
        found = schema.current(db.engine)
    except Exception as exc:  # a probe reports, it does not raise
        event(log, "readyz.store", level=logging.ERROR, outcome="unreachable", error=type(exc).__name__)
        return out | {"ok": False, "problem": f"the store does not answer ({type(exc).__name__})"}
    expected = schema.head()
    out |= {"schema": found, "expected_schema": expected}
    if found != expected:
        return out | {
            "ok": False,
            "problem": "the store's schema is not current",
            "fix": "smart-edu db upgrade",
        }
    return out | {"ok": True}


def rules_report(today: date) -> dict[str, Any]:
    """Rule data in force today that ends within the horizon with nothing after it, and required data
    missing today; computed once an hour per day (a balancer polls every few seconds)."""
    hit = _rules_report.get(today)
    if hit is not None:
        return hit
    from billing_rules import currency

    report = {
        "as_of": today.isoformat(),
        f"expiring_within_{EXPIRY_HORIZON_DAYS}_days": [
            p.to_dict() for p in currency.expiring(today, EXPIRY_HORIZON_DAYS)
        ],
        "missing_today": [p.to_dict() for p in currency.missing(today)],
    }
    return _rules_report.put(today, report)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    store = store_check()
    body: dict[str, Any] = {"status": "ready" if store["ok"] else "not ready", "store": store}
    try:
        body["rules"] = rules_report(utcnow().date())
    except Exception as exc:  # the report is information; it never decides readiness
        event(log, "readyz.rules", level=logging.WARNING, outcome="unavailable", error=type(exc).__name__)
        body["rules"] = {"problem": f"rule data report unavailable ({type(exc).__name__})"}
    status = 200 if store["ok"] else 503
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp, status
