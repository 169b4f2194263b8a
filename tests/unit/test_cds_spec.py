"""A checker for CDS Hooks 2.0 response JSON (required fields, limits, enums), tried on the spec examples.

Other CDS tests import ``check_response`` / ``check_discovery`` so every card this app returns is held to the
spec, independently of the card model that built it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from smart_app.cds_hooks.services import discovery_document
from tests.conftest import load_json

ABSOLUTE = re.compile(r"^https?://[^/\s]+")
TOKEN = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")
USER_TOKENS = {"userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}


def _no_empty(value: Any, where: str) -> None:
    """The spec: JSON values SHALL NOT be null or empty ("", [], {}) unless stated."""
    assert value not in (None, "", [], {}), f"{where} is null or empty"
    if isinstance(value, dict):
        for k, v in value.items():
            _no_empty(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_empty(v, f"{where}[{i}]")


def check_coding(c: dict[str, Any], where: str, *, display: bool) -> None:
    assert isinstance(c.get("code"), str) and c["code"], f"{where}.code"
    assert isinstance(c.get("system"), str) and c["system"], f"{where}.system"
    if display:
        assert isinstance(c.get("display"), str) and c["display"], f"{where}.display is required"


def check_card(card: dict[str, Any], where: str = "card") -> None:
    _no_empty(card, where)
    assert set(card) <= {
        "uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
        "overrideReasons", "links", "extension",
    }, f"{where} has unknown fields {set(card)}"  # fmt: skip
    assert isinstance(card["summary"], str) and len(card["summary"]) < 140, f"{where}.summary"
    assert card["indicator"] in ("info", "warning", "critical"), f"{where}.indicator"
    assert isinstance(card["source"].get("label"), str), f"{where}.source.label"
    for key in ("url", "icon"):
        if key in card["source"]:
            assert ABSOLUTE.match(card["source"][key]), f"{where}.source.{key} must be absolute"
    if "topic" in card["source"]:
        check_coding(card["source"]["topic"], f"{where}.source.topic", display=False)
    if "suggestions" in card:
        assert card.get("selectionBehavior") in ("at-most-one", "any"), f"{where}.selectionBehavior"
        for s in card["suggestions"]:
            assert isinstance(s.get("label"), str)
            for a in s.get("actions", []):
                assert a["type"] in ("create", "update", "delete") and a["description"]
    for i, reason in enumerate(card.get("overrideReasons", [])):
        check_coding(reason, f"{where}.overrideReasons[{i}]", display=True)
    for i, link in enumerate(card.get("links", [])):
        lw = f"{where}.links[{i}]"
        assert isinstance(link.get("label"), str) and ABSOLUTE.match(link.get("url", "")), lw
        assert link["type"] in ("absolute", "smart"), f"{lw}.type"
        if "appContext" in link:
            assert link["type"] == "smart" and isinstance(link["appContext"], str), f"{lw}.appContext"


def check_response(body: dict[str, Any]) -> None:
    assert isinstance(body.get("cards"), list), "cards is required (an empty array means no guidance)"
    assert set(body) <= {"cards", "systemActions", "extension"}
    for i, card in enumerate(body["cards"]):
        check_card(card, f"cards[{i}]")


def check_discovery(body: dict[str, Any]) -> None:
    assert isinstance(body.get("services"), list)
    for s in body["services"]:
        assert s["hook"] and s["description"] and s["id"], s
        assert re.fullmatch(r"[A-Za-z0-9_\-.]+", s["id"])
        for key, template in s.get("prefetch", {}).items():
            assert isinstance(template, str) and template, key
            for token in TOKEN.findall(template):
                if token.startswith("context."):
                    assert "." not in token.removeprefix("context."), f"{key}: {token} is not root-level"
                else:
                    assert token in USER_TOKENS, f"{key}: unknown token {token}"


@pytest.mark.parametrize(
    "name", ["cds-hooks.cards-response.json", "cds-hooks.encounter-discharge-education-card.derived.json"]
)
def test_checker_accepts_the_spec_examples(name: str) -> None:
    check_response(load_json(f"fixtures/{name}"))


def test_checker_accepts_spec_discovery_and_ours() -> None:
    check_discovery(load_json("fixtures/cds-hooks.discovery-response.json"))
    check_discovery(discovery_document())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.update(summary="x" * 140),
        lambda c: c.update(indicator="urgent"),
        lambda c: c.pop("source"),
        lambda c: c.update(detail=""),
        lambda c: c.update(suggestions=[{"label": "do it"}]),
        lambda c: c.update(overrideReasons=[{"system": "s", "code": "c"}]),
        lambda c: c.update(links=[{"label": "x", "url": "/relative", "type": "smart"}]),
        lambda c: c.update(links=[{"label": "x", "url": "http://a/", "type": "absolute", "appContext": "1"}]),
    ],
)
def test_checker_rejects_broken_cards(mutate: Any) -> None:
    card = json.loads(json.dumps(load_json("fixtures/cds-hooks.cards-response.json")["cards"][0]))
    mutate(card)
    with pytest.raises((AssertionError, KeyError)):
        check_card(card)
