"""The card model refuses what CDS Hooks 2.0 forbids, and what it builds passes the spec checker."""

from __future__ import annotations

import pytest

from smart_app.cds_hooks.cards import Card, CardError, Coding, Link, Source, Suggestion, md_escape, shorten
from tests.unit.test_cds_spec import check_card

SRC = Source("Patient Education Billing Checker", topic=Coding("https://x.test/topic", "t"))


def test_full_card_round_trips_to_spec_json() -> None:
    card = Card(
        summary="Education for diabetes is billable as 98960",
        indicator="info",
        source=SRC,
        detail="**Check** this",
        links=(Link("Open", "https://app.test/launch", "smart", '{"code":"98960"}'),),
        override_reasons=(Coding("https://x.test/r", "declined", "Patient declined"),),
    )
    out = card.to_dict()
    check_card(out)
    assert out["uuid"] == card.uuid and out["links"][0]["appContext"] == '{"code":"98960"}'
    assert "suggestions" not in out and "selectionBehavior" not in out


def test_suggestions_carry_selection_behavior() -> None:
    action = {"type": "create", "description": "Add an order", "resource": {"resourceType": "ServiceRequest"}}
    suggestion = Suggestion("Order DSME", (action,))
    card = Card("s", "warning", SRC, suggestions=(suggestion,), selection_behavior="any")
    out = card.to_dict()
    check_card(out)
    assert out["selectionBehavior"] == "any" and out["suggestions"][0]["uuid"]


@pytest.mark.parametrize(
    "card",
    [
        Card("x" * 140, "info", SRC),
        Card("", "info", SRC),
        Card("ok", "urgent", SRC),  # type: ignore[arg-type]
        Card("ok", "info", Source("")),
        Card("ok", "info", SRC, suggestions=(Suggestion("do"),)),
        Card("ok", "info", SRC, override_reasons=(Coding("s", "c"),)),
        Card("ok", "info", SRC, links=(Link("x", "/launch", "smart"),)),
        Card("ok", "info", SRC, links=(Link("x", "https://a.test/", "absolute", "{}"),)),
        Card("ok", "info", SRC, suggestions=(Suggestion("d", ({"type": "merge", "description": "m"},)),)),
    ],
)
def test_illegal_cards_are_refused(card: Card) -> None:
    with pytest.raises(CardError):
        card.to_dict()


def test_shorten_fits_the_summary_limit_at_a_word() -> None:
    text = "word " * 60
    short = shorten(text)
    assert len(short) < 140 and short.endswith("…") and " wor…" not in short
    assert shorten("short one") == "short one"


def test_markdown_escape_neutralises_html_and_links() -> None:
    out = md_escape('<b>Robert</b> "Bobby" [x](javascript:alert(1)) & *em*')
    assert "<b>" not in out and "\\<b\\>" in out
    assert "\\[x\\]" in out and "\\&" in out and "\\*em\\*" in out
