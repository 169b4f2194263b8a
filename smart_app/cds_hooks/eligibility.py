"""patient-view and encounter-start: one card saying what can be billed for this patient and payer."""

from __future__ import annotations

from datetime import date

from billing_rules.model import ClinicalContext, Estimate, Evaluation, Finding
from smart_app.cds_hooks.advice import (
    DEFAULT_CODE,
    PAYER_LABELS,
    Advice,
    alternative_codes,
    chart_findings,
    education_orders,
    family_label,
    findings_markdown,
    ordered_code,
    probe,
    service_day,
    supporting_conditions,
)
from smart_app.cds_hooks.cards import md_escape, shorten


def advise(ctx: ClinicalContext, *, today: date) -> list[Advice]:
    """No card unless a supporting condition or an education order exists (no noise on every chart)."""
    supports = supporting_conditions(ctx)
    orders = education_orders(ctx)
    if not supports and not orders:
        return []
    code = ordered_code(orders) or DEFAULT_CODE
    day = service_day(ctx, today)
    evaluation = probe(code, ctx, supports, day)
    findings = chart_findings(evaluation)
    payer = PAYER_LABELS.get(ctx.payer.payer_class, "Unknown payer")
    why = family_label(supports) or "the education order"
    context = {"code": code, "patientId": ctx.patient.id or "", "encounterId": ctx.encounter.id or ""}
    not_covered = next((f for f in findings if f.rule == "payer.not-covered"), None)
    if not_covered is not None:
        routes = alternative_codes(not_covered, code)
        summary = (
            f"{payer} does not pay {code} separately; payable routes: {', '.join(routes) or 'see details'}"
        )
        return [
            Advice(
                kind="payable-routes",
                indicator="info",
                summary=shorten(summary),
                detail=_detail(why, code, payer, findings, None),
                code=code,
                codes=routes,
                findings=tuple(findings),
                app_context={**context, "routes": " ".join(routes)},
            )
        ]
    blocks = [f for f in findings if f.severity == "block"]
    if blocks:
        summary = (
            f"Education for {why} could be billed as {code} ({payer}) once {len(blocks)} issue(s) are fixed"
        )
        indicator = "warning"
    else:
        summary = f"Education for {why} is billable as {code} ({payer}){_per_unit(evaluation)}"
        indicator = "info"
    return [
        Advice(
            kind="billable-education",
            indicator=indicator,
            summary=shorten(summary),
            detail=_detail(why, code, payer, findings, evaluation.estimate),
            code=code,
            codes=(code,),
            findings=tuple(findings),
            app_context=context,
        )
    ]


def _per_unit(evaluation: Evaluation) -> str:
    estimate = evaluation.estimate
    if estimate is None or not estimate.high:
        return ""
    return f", est. ${estimate.low:.0f}-{estimate.high:.0f} per unit"


def _detail(why: str, code: str, payer: str, findings: list[Finding], estimate: Estimate | None) -> str:
    parts = [
        f"This patient has {md_escape(why)}, which typically supports self-management education. "
        f"Payer: {md_escape(payer)}. The rules engine checked {code} for one unit against the chart."
    ]
    if findings:
        parts.append(findings_markdown(findings))
    if estimate is not None and estimate.high:
        parts.append(f"Estimate (not a price): {md_escape(estimate.basis)}")
    parts.append(
        "Open the app to document the session; it checks minutes, curriculum and diagnoses as you type."
    )
    return "\n\n".join(parts)
