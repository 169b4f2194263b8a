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
    data_notes,
    education_orders,
    family_label,
    findings_markdown,
    ordered_code,
    probe,
    service_day,
    source_markdown,
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
    evaluation = probe(code, ctx, supports, service_day(ctx, today))
    findings = chart_findings(evaluation)
    payer = PAYER_LABELS.get(ctx.payer.payer_class, "Unknown payer")
    family = family_label(supports)
    subject = f"Education for {family}" if family else "Ordered education"
    context = {"code": code, "patientId": ctx.patient.id or "", "encounterId": ctx.encounter.id or ""}
    not_covered = next((f for f in findings if f.rule == "payer.not-covered"), None)
    if not_covered is not None:
        routes = alternative_codes(not_covered, code)
        listed = ", ".join(routes) or "see details"
        return [
            Advice(
                kind="payable-routes",
                indicator="info",
                summary=shorten(f"{payer} does not pay {code} separately; payable routes: {listed}"),
                detail=_detail(family, code, payer, findings, None, data_notes(evaluation)),
                code=code,
                codes=routes,
                findings=tuple(findings),
                app_context={**context, "routes": " ".join(routes)},
            )
        ]
    blocks = [f for f in findings if f.severity == "block"]
    if blocks:
        summary = f"{subject} could be billed as {code} ({payer}) once {len(blocks)} issue(s) are fixed"
    elif findings:
        summary = f"{subject} may be billable as {code} ({payer}): {len(findings)} point(s) to check"
    else:
        summary = f"{subject} is billable as {code} ({payer}){_per_unit(evaluation)}"
    return [
        Advice(
            kind="billable-education",
            indicator="warning" if findings else "info",
            summary=shorten(summary),
            detail=_detail(family, code, payer, findings, evaluation.estimate, data_notes(evaluation)),
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


def _detail(
    family: str | None,
    code: str,
    payer: str,
    findings: list[Finding],
    estimate: Estimate | None,
    notes: str,
) -> str:
    reason = (
        f"This patient has {md_escape(family)}, which typically supports self-management education."
        if family
        else "Education is ordered for this patient."
    )
    parts = [
        f"{reason} Payer: {md_escape(payer)}. The rules engine checked one unit of {code} against the chart."
    ]
    if findings:
        parts.append(findings_markdown(findings))
    if estimate is not None and estimate.high:
        said = f"Estimate per unit (not a price): {md_escape(estimate.basis)}"
        parts.append(said + source_markdown(estimate.basis, estimate.basis_urls))
    if notes:
        parts.append(notes)
    parts.append(
        "Open the app to document the session: it checks minutes, curriculum and diagnoses as you go."
    )
    return "\n\n".join(parts)
