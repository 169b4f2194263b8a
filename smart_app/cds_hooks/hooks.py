"""Answer one hook call: gather the data, build the ClinicalContext, decide, dress the advice as cards."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir_mappings.extensions import CANONICAL_BASE
from fhir_mappings.read import context_from_resources
from smart_app.cds_hooks import discharge, eligibility
from smart_app.cds_hooks.advice import Advice
from smart_app.cds_hooks.cards import Card, Coding, Link, Source
from smart_app.cds_hooks.reads import ClientFactory, default_client, gather
from smart_app.cds_hooks.services import CdsService
from smart_app.cds_hooks.store import IssuedCard
from smart_app.clock import utcnow

SOURCE_LABEL = "Patient Education Billing Checker"
TOPIC_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/cds-topic"
OVERRIDE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/cds-override-reason"
TOPICS = {
    "billable-education": "What education can be billed",
    "payable-routes": "Payable routes for this payer",
    "ordered-not-documented": "Education ordered, not documented",
    "documented-needs-fix": "Documented service needs a fix",
}
_EDUCATION_REASONS = (
    Coding(OVERRIDE_SYSTEM, "not-indicated", "Education not indicated for this patient today"),
    Coding(OVERRIDE_SYSTEM, "patient-declined", "Patient declined education"),
    Coding(OVERRIDE_SYSTEM, "documented-elsewhere", "Already documented or billed elsewhere"),
    Coding(OVERRIDE_SYSTEM, "payer-differs", "Payer contract differs from this advice"),
)
# Dismiss reasons fit the card: declining education answers an education suggestion, not a discharge check.
OVERRIDE_REASONS: dict[str, tuple[Coding, ...]] = {
    "billable-education": _EDUCATION_REASONS,
    "payable-routes": _EDUCATION_REASONS,
    "ordered-not-documented": (
        Coding(OVERRIDE_SYSTEM, "not-given", "The ordered education was not given at this encounter"),
        Coding(OVERRIDE_SYSTEM, "documented-elsewhere", "Documented in another system or encounter"),
        Coding(OVERRIDE_SYSTEM, "order-not-applicable", "The order no longer applies"),
    ),
    "documented-needs-fix": (
        Coding(OVERRIDE_SYSTEM, "reviewed-stands", "Reviewed: the documentation stands as signed"),
        Coding(OVERRIDE_SYSTEM, "billing-will-fix", "The billing office will correct it"),
        Coding(OVERRIDE_SYSTEM, "payer-differs", "Payer contract differs from this advice"),
    ),
}


@dataclass
class HookResult:
    cards: list[dict[str, Any]] = field(default_factory=list)
    issued: list[IssuedCard] = field(default_factory=list)


def answer(
    service: CdsService,
    request: Mapping[str, Any],
    *,
    base_url: str,
    client_factory: ClientFactory = default_client,
    today: datetime | None = None,
    acknowledged: Mapping[str, frozenset[str]] | None = None,
) -> HookResult:
    """Cards for this hook call; raises reads.DataUnavailable (→ 412) when the data cannot be had."""
    data = gather(service, request, client_factory=client_factory)
    context = request["context"]
    user = context.get("userId")
    ctx = context_from_resources(
        data.resources(),
        patient_id=context["patientId"],
        encounter_id=context.get("encounterId"),
        practitioner_ref=user if isinstance(user, str) and user.startswith("Practitioner/") else None,
    )
    day = (today or utcnow()).date()
    if service.hook == "encounter-discharge":
        advice = discharge.advise(
            ctx,
            data.of("charges"),
            data.of("notes"),
            encounter_id=context["encounterId"],
            today=day,
            acknowledged=acknowledged or {},
        )
    else:
        advice = eligibility.advise(ctx, today=day)
    result = HookResult()
    for item in advice:
        card = to_card(item, service, request, base_url)
        result.cards.append(card.to_dict())
        result.issued.append(
            IssuedCard(card.uuid, item.kind, item.indicator, item.codes, tuple(f.rule for f in item.findings))
        )
    return result


def to_card(item: Advice, service: CdsService, request: Mapping[str, Any], base_url: str) -> Card:
    app_context = {"hook": service.hook, "hookInstance": str(request.get("hookInstance", ""))}
    app_context.update({k: v for k, v in item.app_context.items() if v})
    return Card(
        summary=item.summary,
        indicator=item.indicator,  # type: ignore[arg-type]
        detail=item.detail,
        source=Source(
            label=SOURCE_LABEL,
            url=base_url + "/",
            topic=Coding(TOPIC_SYSTEM, item.kind, TOPICS.get(item.kind)),
        ),
        links=(
            Link(
                label=item.link_label,
                url=base_url + "/launch",
                type="smart",
                app_context=json.dumps(app_context, separators=(",", ":"), sort_keys=True),
            ),
        ),
        override_reasons=OVERRIDE_REASONS.get(item.kind, _EDUCATION_REASONS),
    )
