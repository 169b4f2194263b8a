"""The EHR's look (``smart_style_url``, SMART App Launch "styling"), reduced to safe CSS custom properties.

The style document is fetched server-side with a short timeout and cached per URL, only from the launch
profile's own origins. Only values that match a
strict pattern (colours, font family names, lengths) become custom properties; anything else is dropped, so
the EHR's document can never inject CSS or script. Text/background colours that would fall below WCAG AA
contrast are dropped too and the defaults stay.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import requests

from smart_app.origins import is_allowed
from smart_app.ttl_cache import TtlCache

TIMEOUT = (1.5, 2.0)
TTL_SECONDS = 600.0
MAX_BYTES = 64_000
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
FONT = re.compile(r"""^[A-Za-z0-9 ,'"\-]{1,200}$""")
LENGTH = re.compile(r"^\d{1,3}(?:\.\d{1,2})?(?:px|em|rem)$")
# SMART style key -> (custom property, pattern)
KEYS: dict[str, tuple[str, re.Pattern[str]]] = {
    "color_background": ("--poc-bg", COLOR),
    "color_text": ("--poc-fg", COLOR),
    "color_highlight": ("--poc-accent", COLOR),
    "color_error": ("--poc-error", COLOR),
    "color_success": ("--poc-success", COLOR),
    "font_family_body": ("--poc-font", FONT),
    "font_family_heading": ("--poc-heading-font", FONT),
    "dim_font_size": ("--poc-font-size", LENGTH),
    "dim_border_radius": ("--poc-radius", LENGTH),
    "dim_spacing_size": ("--poc-space", LENGTH),
}
DEFAULT_BG, DEFAULT_FG = "#ffffff", "#1f2933"

_cache: TtlCache[str, dict[str, str]] = TtlCache(TTL_SECONDS)


def safe_properties(style: Any) -> dict[str, str]:
    """The custom properties a style document may set; unsafe or low-contrast values are left out."""
    if not isinstance(style, dict):
        return {}
    out: dict[str, str] = {}
    for key, (prop, pattern) in KEYS.items():
        value = style.get(key)
        if isinstance(value, str):
            value = value.strip().rstrip(";").strip()
            if pattern.match(value):
                out[prop] = value
    bg, fg = out.get("--poc-bg", DEFAULT_BG), out.get("--poc-fg", DEFAULT_FG)
    if contrast(bg, fg) < 4.5:
        out.pop("--poc-bg", None)
        out.pop("--poc-fg", None)
    accent = out.get("--poc-accent")
    if accent and contrast(accent, "#ffffff") < 4.5:
        out.pop("--poc-accent")  # white button text on it and link text on white must stay readable
    for prop in ("--poc-error", "--poc-success"):
        if prop in out and contrast(out[prop], out.get("--poc-bg", DEFAULT_BG)) < 4.5:
            out.pop(prop)
    if "--poc-font-size" in out and out["--poc-font-size"].endswith("px"):
        size = float(out["--poc-font-size"][:-2])
        if not 11 <= size <= 24:
            out.pop("--poc-font-size")
    return out


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two #rgb/#rrggbb colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def fetch_properties(url: str | None, allowed: Collection[str]) -> dict[str, str]:
    """The safe properties of the EHR's style document; {} when absent, slow, unreachable or not JSON.

    Only fetched from the launch's ``allowed`` origins (its profile's): the URL comes from a token response,
    and a server-side GET to wherever it points would let it probe the app's own network."""
    if not url or not is_allowed(url, allowed):
        return {}
    hit = _cache.get(url)
    if hit is not None:
        return hit
    props: dict[str, str] = {}
    try:
        resp = requests.get(
            url, timeout=TIMEOUT, headers={"Accept": "application/json"}, allow_redirects=False
        )
        if resp.ok and len(resp.content) <= MAX_BYTES:
            props = safe_properties(resp.json())
    except (requests.RequestException, ValueError):
        props = {}
    return _cache.put(url, props)


def forget() -> None:
    _cache.clear()


def stylesheet(props: dict[str, str]) -> str:
    """CSS text setting the properties on :root (values already validated)."""
    body = "".join(f"  {name}: {value};\n" for name, value in sorted(props.items()))
    return ":root {\n" + body + "}\n"
