"""The CDS tables in use: cards issued, feedback (accepted, overridden, ignored), JWT ids already used."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from smart_app.clock import utcnow
from smart_app.store import Database
from smart_app.store.cds import CdsCardIssued, CdsFeedback, CdsJwtSeen
from smart_app.store.writeback import AuditRow

OUTCOMES = ("accepted", "overridden")


class BadFeedback(ValueError):
    """The feedback body does not follow CDS Hooks 2.0 (answer 400 with this message)."""


@dataclass(frozen=True)
class IssuedCard:
    uuid: str
    kind: str
    indicator: str
    codes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    reason: Mapping[str, Any] | None = None
    user_comment: str | None = None


def record_issued(
    db: Database, service_id: str, request: Mapping[str, Any], cards: Sequence[IssuedCard]
) -> None:
    context = request.get("context") if isinstance(request.get("context"), Mapping) else {}
    assert isinstance(context, Mapping)
    with db.session() as s:
        for card in cards:
            s.add(
                CdsCardIssued(
                    uuid=card.uuid,
                    service_id=service_id,
                    hook_instance=_str(request.get("hookInstance"), 128),
                    fhir_server=_str(request.get("fhirServer"), 512),
                    patient_id=_str(context.get("patientId"), 128),
                    encounter_id=_str(context.get("encounterId"), 128),
                    user_ref=_str(context.get("userId"), 256),
                    kind=card.kind,
                    indicator=card.indicator,
                    codes=" ".join(card.codes)[:256],
                    rules=" ".join(card.rules),
                )
            )


def parse_feedback(body: Any) -> list[FeedbackItem]:
    """The ``feedback`` array of a feedback POST, validated field by field."""
    if not isinstance(body, Mapping) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise BadFeedback("the body must be an object with a non-empty 'feedback' array")
    return [_item(raw, i) for i, raw in enumerate(body["feedback"])]


def _item(raw: Any, i: int) -> FeedbackItem:
    where = f"feedback[{i}]"
    if not isinstance(raw, Mapping):
        raise BadFeedback(f"{where} must be an object")
    card, outcome = raw.get("card"), raw.get("outcome")
    if not isinstance(card, str) or not card.strip() or len(card) > 64:
        raise BadFeedback(f"{where}.card must be the card's uuid")
    if outcome not in OUTCOMES:
        raise BadFeedback(f"{where}.outcome must be accepted or overridden")
    stamp = _timestamp(raw.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
    accepted: list[str] = []
    if outcome == "accepted":
        items = raw.get("acceptedSuggestions")
        if not isinstance(items, list) or not items:
            raise BadFeedback(f"{where}.acceptedSuggestions is required for an accepted outcome")
        for j, sug in enumerate(items):
            if not isinstance(sug, Mapping) or not isinstance(sug.get("id"), str) or not sug["id"]:
                raise BadFeedback(f"{where}.acceptedSuggestions[{j}].id is required")
            accepted.append(sug["id"])
    override = raw.get("overrideReason")
    reason: Mapping[str, Any] | None = None
    comment: str | None = None
    if override is not None:
        if not isinstance(override, Mapping):
            raise BadFeedback(f"{where}.overrideReason must be an object")
        reason = override.get("reason") if isinstance(override.get("reason"), Mapping) else None
        if reason is not None and not (isinstance(reason.get("code"), str) and reason.get("code")):
            raise BadFeedback(f"{where}.overrideReason.reason needs a code")
        comment = override.get("userComment") if isinstance(override.get("userComment"), str) else None
    return FeedbackItem(card.strip(), str(outcome), stamp, tuple(accepted), reason, comment)


def record_feedback(
    db: Database, service_id: str, items: Sequence[FeedbackItem], *, client_iss: str | None
) -> int:
    """Store each report once (a resent report is not counted twice); returns how many were new."""
    new = 0
    for item in items:
        reason = item.reason or {}
        try:
            with db.session() as s:
                known = s.get(CdsCardIssued, item.card)
                s.add(_audit_row(service_id, item, known, client_iss))
                s.add(
                    CdsFeedback(
                        service_id=service_id,
                        card_uuid=item.card,
                        known_card=item.card if known is not None else None,
                        outcome=item.outcome,
                        reason_system=_str(reason.get("system"), 256),
                        reason_code=_str(reason.get("code"), 128),
                        reason_display=_str(reason.get("display"), 256),
                        user_comment=(item.user_comment or None),
                        accepted_suggestions=" ".join(item.accepted_suggestions),
                        outcome_timestamp=item.outcome_timestamp,
                        client_iss=client_iss,
                    )
                )
            new += 1
        except IntegrityError:
            continue
    return new


def _audit_row(
    service_id: str, item: FeedbackItem, card: CdsCardIssued | None, client_iss: str | None
) -> AuditRow:
    """The write-back audit log's row for this report: who, which card (rules, codes), outcome, reason."""
    what = {"service": service_id, "card": item.card, "outcome_at": item.outcome_timestamp.isoformat()}
    if card is not None:
        what.update({"kind": card.kind, "codes": card.codes, "rules": card.rules})
    reason = item.reason or {}
    return AuditRow(
        who=card.user_ref if card else None,
        action="cds-feedback",
        write_key=f"cds:{item.card}"[:80],
        issuer=(card.fhir_server if card and card.fhir_server else client_iss or "")[:500],
        patient_id=(card.patient_id if card and card.patient_id else "")[:200],
        encounter_id=card.encounter_id if card else None,
        what_json=json.dumps(what, sort_keys=True),
        outcome=item.outcome,
        # The reason's code and display only: a free-text comment may hold PHI and stays in cds_feedback.
        message=" ".join(str(x) for x in (reason.get("code"), reason.get("display")) if x) or None,
    )


def feedback_summary(db: Database, service_id: str | None = None) -> dict[str, dict[str, int]]:
    """Per service: cards issued, accepted, overridden (by reason code) and ignored (issued, no feedback)."""
    with db.session() as s:
        issued_q = select(CdsCardIssued.service_id, func.count()).group_by(CdsCardIssued.service_id)
        fb_q = select(CdsFeedback.service_id, CdsFeedback.outcome, CdsFeedback.reason_code, func.count())
        fb_q = fb_q.group_by(CdsFeedback.service_id, CdsFeedback.outcome, CdsFeedback.reason_code)
        answered = select(CdsCardIssued.service_id, func.count()).where(
            CdsCardIssued.uuid.in_(select(CdsFeedback.known_card).where(CdsFeedback.known_card.is_not(None)))
        )
        answered = answered.group_by(CdsCardIssued.service_id)
        out: dict[str, dict[str, int]] = {}
        for sid, n in s.execute(issued_q):
            out.setdefault(sid, {})["issued"] = n
        for sid, outcome, code, n in s.execute(fb_q):
            row = out.setdefault(sid, {})
            row[outcome] = row.get(outcome, 0) + n
            if outcome == "overridden":
                key = f"overridden:{code or 'no-reason'}"
                row[key] = row.get(key, 0) + n
        for sid, n in s.execute(answered):
            out.setdefault(sid, {})["answered"] = n
    for row in out.values():
        row.setdefault("accepted", 0)
        row.setdefault("overridden", 0)
        row["ignored"] = row.get("issued", 0) - row.pop("answered", 0)
    return {k: v for k, v in out.items() if service_id is None or k == service_id}


def jti_seen(db: Database, iss: str, jti: str, expires_at: int) -> bool:
    """Remember a JWT id until it expires; True if it was already used (a replay)."""
    now = int(utcnow().timestamp())
    try:
        with db.session() as s:
            s.execute(delete(CdsJwtSeen).where(CdsJwtSeen.expires_at < now - 3600))
            s.add(CdsJwtSeen(iss=iss[:512], jti=jti[:256], expires_at=expires_at))
    except IntegrityError:
        return True
    return False


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise BadFeedback(f"{where} is required (ISO 8601, UTC)")
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadFeedback(f"{where} is not an ISO 8601 timestamp") from exc
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


def _str(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def acknowledged_at_signing(db: Database, patient_id: str, encounter_id: str) -> dict[str, frozenset[str]]:
    """For each ChargeItem identifier this app signed on the encounter, the warnings the clinician
    acknowledged (with a reason) at signing, from the audit log's "signed" rows: encounter-discharge does not
    raise them again."""
    query = select(AuditRow).where(
        AuditRow.action == "signed", AuditRow.patient_id == patient_id, AuditRow.encounter_id == encounter_id
    )
    out: dict[str, set[str]] = {}
    with db.session() as s:
        for row in s.scalars(query):
            try:
                acks = json.loads(row.message or "{}").get("acknowledged") or []
                resources = json.loads(row.what_json).get("resources") or []
            except (ValueError, AttributeError):
                continue
            rules = {str(a.get("rule")) for a in acks if isinstance(a, Mapping)}
            for res in resources:
                if isinstance(res, Mapping) and res.get("type") == "ChargeItem" and rules:
                    out.setdefault(str(res.get("identifier")), set()).update(rules)
    return {k: frozenset(v) for k, v in out.items()}
