"""CDS cards as the launcher panel shows them: a defensive reading of the service's JSON, Markdown made safe.

A card comes from another service, so it is untrusted: every string is capped, the indicator must be one
of the spec's three, only http(s) links are kept, and the Markdown ``detail`` is rendered by markdown-it-py
with raw HTML off (tags are shown as text), images off and only http(s) link targets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

INDICATORS = ("info", "warning", "critical")
MAX_CARDS = 20
MAX_DETAIL = 20_000
MAX_APP_CONTEXT = 4096

_MD = MarkdownIt("commonmark", {"html": False}).disable("image")
_MD.validateLink = lambda url: url.lower().startswith(("http://", "https://"))  # type: ignore[method-assign]


def markdown_html(text: str) -> Markup:
    """Safe HTML for a card's Markdown ``detail``: raw HTML escaped, no images, http(s) links only."""
    return Markup(_MD.render(text[:MAX_DETAIL]))  # noqa: S704 (markdown-it escapes; html option is off)


@dataclass(frozen=True)
class CardLink:
    label: str
    url: str
    type: str
    app_context: str | None


@dataclass(frozen=True)
class Reason:
    code: str
    system: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"code": self.code, "system": self.system, "display": self.display}


@dataclass(frozen=True)
class PanelCard:
    uuid: str
    summary: str
    indicator: str
    detail: Markup
    source_label: str
    links: tuple[CardLink, ...]
    reasons: tuple[Reason, ...]


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _link(raw: Any) -> CardLink | None:
    if not isinstance(raw, dict):
        return None
    url, kind = _text(raw.get("url"), 2000), raw.get("type")
    if kind not in ("smart", "absolute") or not url.lower().startswith(("http://", "https://")):
        return None
    app_context = raw.get("appContext") if kind == "smart" else None
    if not isinstance(app_context, str) or len(app_context) > MAX_APP_CONTEXT:
        app_context = None
    return CardLink(_text(raw.get("label"), 200) or url, url, kind, app_context)


def _reason(raw: Any) -> Reason | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("code"), str) or not raw["code"]:
        return None
    return Reason(raw["code"][:100], _text(raw.get("system"), 500), _text(raw.get("display"), 200))


def panel_card(raw: dict[str, Any]) -> PanelCard | None:
    """One card for display, or None when it lacks what the spec requires (uuid, summary, source.label)."""
    source = raw.get("source") if isinstance(raw.get("source"), dict) else {}
    assert isinstance(source, dict)
    uuid, summary, label = (
        _text(raw.get("uuid"), 100),
        _text(raw.get("summary"), 140),
        _text(source.get("label"), 200),
    )
    if not (uuid and summary and label):
        return None
    links = raw.get("links") if isinstance(raw.get("links"), list) else []
    reasons = raw.get("overrideReasons") if isinstance(raw.get("overrideReasons"), list) else []
    assert isinstance(links, list) and isinstance(reasons, list)
    return PanelCard(
        uuid=uuid,
        summary=summary,
        indicator=str(raw["indicator"]) if raw.get("indicator") in INDICATORS else "info",
        detail=markdown_html(_text(raw.get("detail"), MAX_DETAIL)),
        source_label=label,
        links=tuple(link for link in map(_link, links[:10]) if link),
        reasons=tuple(r for r in map(_reason, reasons[:20]) if r),
    )


def panel_cards(raw_cards: list[dict[str, Any]]) -> list[PanelCard]:
    return [c for c in map(panel_card, raw_cards[:MAX_CARDS]) if c]


def describe_app_context(app_context: str | None) -> str:
    """A short readable form of a link's appContext for the panel (never executed, only shown)."""
    if not app_context:
        return ""
    try:
        value = json.loads(app_context)
    except ValueError:
        return app_context[:200]
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={v}" for k, v in value.items() if isinstance(v, str | int) and k != "hookInstance"
        )[:300]
    return app_context[:200]
