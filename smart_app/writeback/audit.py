"""Audit log of write-back: a row for every signature, write attempt and result (who, what, when, outcome).

Never a token and never the note text: ``what`` carries identifiers, resource ids, codes and units only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from smart_app.logs import event
from smart_app.store import Database
from smart_app.store.writeback import AuditRow
from smart_app.writeback.plan import WritePlan

log = logging.getLogger(__name__)


def record(
    db: Database,
    plan: WritePlan,
    action: str,
    outcome: str,
    *,
    message: str | None = None,
    refs: Sequence[dict[str, Any]] = (),
) -> None:
    what = plan.what()
    if refs:
        what["written"] = list(refs)
    event(  # the log line mirrors the row without the patient: the write key finds the row
        log,
        f"writeback.{action}",
        outcome=outcome,
        strategy=plan.strategy,
        write_key=plan.write_key,
        issuer=plan.issuer,
        charges=len(plan.charge_summary),
        written=len(refs),
    )
    with db.session() as s:
        s.add(
            AuditRow(
                who=plan.fhir_user,
                action=action,
                write_key=plan.write_key,
                issuer=plan.issuer,
                patient_id=plan.patient_id,
                encounter_id=plan.encounter_id,
                what_json=json.dumps(what, sort_keys=True),
                outcome=outcome,
                message=message,
            )
        )


def entries(db: Database, *, write_key: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Newest first, as plain dicts (for the app's pages and the CLI)."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if write_key:
        query = query.where(AuditRow.write_key == write_key)
    with db.session() as s:
        return [
            {
                "at": r.at.isoformat(),
                "who": r.who,
                "action": r.action,
                "write_key": r.write_key,
                "patient_id": r.patient_id,
                "encounter_id": r.encounter_id,
                "what": json.loads(r.what_json),
                "outcome": r.outcome,
                "message": r.message,
            }
            for r in s.scalars(query).all()
        ]
