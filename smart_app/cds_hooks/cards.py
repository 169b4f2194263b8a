"""CDS Hooks 2.0 card model: typed, and refusing what the spec forbids.

Why typed models instead of dicts: the spec has limits a client may enforce by dropping the card (summary
under 140 characters, a closed set of indicators, ``display`` on every override reason,
``selectionBehavior`` whenever suggestions exist, ``appContext`` only on smart links, no null or empty
values). Building through these classes makes an illegal card a bug at the point it is built, not a
silent no-show in the EHR.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

Indicator = Literal["info", "warning", "critical"]
LinkType = Literal["absolute", "smart"]
SelectionBehavior = Literal["at-most-one", "any"]

SUMMARY_LIMIT = 140  # the spec says "<140-character"
INDICATORS = ("info", "warning", "critical")


class CardError(ValueError):
    """A card that would break CDS Hooks 2.0."""


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class Source:
    label: str
    url: str | None = None
    topic: Coding | None = None

    def to_dict(self) -> dict[str, Any]:
        _require(self.label, "source.label")
        out: dict[str, Any] = {"label": self.label}
        if self.url:
            _absolute(self.url, "source.url")
            out["url"] = self.url
        if self.topic:
            out["topic"] = self.topic.to_dict()
        return out


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    type: LinkType
    app_context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        _require(self.label, "link.label")
        _absolute(self.url, "link.url")
        if self.type not in ("absolute", "smart"):
            raise CardError(f"link.type must be absolute or smart, not {self.type!r}")
        if self.app_context is not None and self.type != "smart":
            raise CardError("appContext is only valid on smart links")
        out: dict[str, Any] = {"label": self.label, "url": self.url, "type": self.type}
        if self.app_context:
            out["appContext"] = self.app_context
        return out


@dataclass(frozen=True)
class Suggestion:
    label: str
    actions: tuple[dict[str, Any], ...] = ()
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    is_recommended: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        _require(self.label, "suggestion.label")
        out: dict[str, Any] = {"label": self.label, "uuid": self.uuid}
        if self.is_recommended is not None:
            out["isRecommended"] = self.is_recommended
        if self.actions:
            for action in self.actions:
                if action.get("type") not in ("create", "update", "delete") or not action.get("description"):
                    raise CardError("an action needs type create|update|delete and a description")
            out["actions"] = list(self.actions)
        return out


@dataclass(frozen=True)
class Card:
    summary: str
    indicator: Indicator
    source: Source
    detail: str | None = None
    links: tuple[Link, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: SelectionBehavior | None = None
    override_reasons: tuple[Coding, ...] = ()
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_dict(self) -> dict[str, Any]:
        _require(self.summary, "summary")
        if len(self.summary) >= SUMMARY_LIMIT:
            raise CardError(f"summary has {len(self.summary)} characters; the limit is under {SUMMARY_LIMIT}")
        if self.indicator not in INDICATORS:
            raise CardError(f"indicator must be one of {INDICATORS}, not {self.indicator!r}")
        if self.suggestions and self.selection_behavior not in ("at-most-one", "any"):
            raise CardError("selectionBehavior is required when suggestions are present")
        out: dict[str, Any] = {
            "uuid": self.uuid,
            "summary": self.summary,
            "indicator": self.indicator,
            "source": self.source.to_dict(),
        }
        if self.detail:
            out["detail"] = self.detail
        if self.suggestions:
            out["suggestions"] = [s.to_dict() for s in self.suggestions]
            out["selectionBehavior"] = self.selection_behavior
        if self.override_reasons:
            for reason in self.override_reasons:
                if not reason.display:
                    raise CardError("every override reason needs a display")
            out["overrideReasons"] = [r.to_dict() for r in self.override_reasons]
        if self.links:
            out["links"] = [link.to_dict() for link in self.links]
        return out


def shorten(text: str, limit: int = SUMMARY_LIMIT - 1) -> str:
    """Cut a sentence to fit the summary limit at a word boundary, marking the cut with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#!|<>&~])")


def md_escape(text: str) -> str:
    """Escape text for inline Markdown in ``detail``: no HTML, links, images or emphasis can be injected."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_source_links(urls: Sequence[str]) -> str:
    """Markdown links to public sources, labelled by host; anything but an http(s) URL is dropped."""
    links = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            label = md_escape(parts.hostname.removeprefix("www."))
            links.append(f"[{label}]({quote(url, safe=_URL_SAFE)})")
    return ", ".join(links)


_URL_SAFE = ":/?#=&%+,;@-.~!$'*"  # spaces, brackets, parentheses and the like are percent-encoded


def _require(value: str | None, name: str) -> None:
    if not value or not value.strip():
        raise CardError(f"{name} is required and may not be empty")


def _absolute(url: str, name: str) -> None:
    if not re.match(r"^https?://[^/\s]+", url):
        raise CardError(f"{name} must be an absolute URL, got {url!r}")
