"""What the point-of-care page takes from a CDS card's ``appContext`` (a launch from a card's smart link).

The card suggested a code (and may name the order it is about, the payer's payable routes, or a charge this
app already wrote). The page preselects the suggested code only for a NEW draft, only when the code is in the
catalogue, and not when the card said the payer does not pay it (then it lists the payable routes instead);
an existing draft's choice is never changed. Everything else is only shown, never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from billing_rules.model import ClinicalContext, Order
from smart_app.point_of_care.evaluation import code_choices

HOOK_LABELS = {
    "patient-view": "when the chart was opened",
    "encounter-start": "at the start of the visit",
    "encounter-discharge": "at discharge",
}


@dataclass(frozen=True)
class CardView:
    """The "opened from a CDS card" line and what the page preselects."""

    hook_label: str
    code: str | None  # the suggested code, when catalogued
    routes: tuple[str, ...]  # payable routes the card named (catalogued codes only)
    order: Order | None  # the order the card is about, when it is in this launch's chart
    charge_item_id: str | None
    preselect: bool  # True: the page opened a new draft with ``code`` chosen

    @property
    def order_label(self) -> str:
        if self.order is None:
            return ""
        return (
            self.order.text or next((c.display for c in self.order.codes if c.display), None) or "the order"
        )


def card_view(
    app_context: Mapping[str, str] | None, ctx: ClinicalContext, *, new_draft: bool
) -> CardView | None:
    """The card's suggestions checked against the catalogue and this chart; None without an appContext."""
    if not app_context:
        return None
    catalogue = code_choices()
    code = app_context.get("code", "").upper()
    named = [c for token in app_context.get("routes", "").upper().split() for c in route_codes(token)]
    routes = tuple(r for r in dict.fromkeys(named) if r in catalogue)
    order_id = app_context.get("orderId")
    order = next((o for o in ctx.orders if order_id and o.id == order_id), None)
    known = code if code in catalogue else None
    return CardView(
        hook_label=HOOK_LABELS.get(app_context.get("hook", ""), "in your EHR"),
        code=known,
        routes=routes,
        order=order,
        charge_item_id=app_context.get("chargeItemId"),
        preselect=new_draft and known is not None and not app_context.get("routes"),
    )


def preselected_fields(card: CardView | None) -> dict[str, str]:
    """The fields a new draft starts with when opened from a card."""
    return {"code": card.code} if card is not None and card.preselect and card.code else {}


def route_codes(token: str) -> list[str]:
    """The codes a card's route names: ``97535``, ``G0108/G0109`` (either), ``97550-97552`` (the range)."""
    out: list[str] = []
    for part in token.split("/"):
        first, _, last = part.partition("-")
        if last and first[:-2] == last[:-2] and first[-2:].isdigit() and last[-2:].isdigit():
            out += [f"{first[:-2]}{n:02d}" for n in range(int(first[-2:]), int(last[-2:]) + 1)][:10]
        elif part:
            out.append(part)
    return out
