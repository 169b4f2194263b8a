"""The EHR's look in a real Chromium: the sandbox's ``smart_style_url`` document reaches the framed page as
the safe custom properties (its background, text colour and body font are what the page is drawn with), and
the values that would break WCAG AA contrast are left at the app's defaults."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from smart_app.point_of_care.style import safe_properties
from tests.e2e.conftest import AppHandle, SandboxHandle
from tests.e2e.test_poc_document import DM_ENCOUNTER, DM_PATIENT, open_app

pytestmark = pytest.mark.e2e


def rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def test_the_page_is_drawn_in_the_ehrs_style(
    clean_sandbox: SandboxHandle, app_server: AppHandle, page: Any
) -> None:
    style = requests.get(f"{clean_sandbox.base_url}/smart-style.json", timeout=5).json()
    props = safe_properties(style)
    assert props["--poc-bg"] == style["color_background"] and props["--poc-fg"] == style["color_text"]
    assert "--poc-accent" not in props  # the sandbox's highlight is too light for white text: dropped
    open_app(page, clean_sandbox, DM_PATIENT, DM_ENCOUNTER)
    app_frame = page.frame(name="app-frame")
    app_frame.wait_for_load_state("load")
    drawn = app_frame.evaluate(
        "() => { const s = getComputedStyle(document.body);"
        " return {bg: s.backgroundColor, fg: s.color, font: s.fontFamily}; }"
    )
    assert drawn["bg"] == rgb(style["color_background"])
    assert drawn["fg"] == rgb(style["color_text"])
    assert drawn["font"].startswith('"Helvetica Neue"')  # the EHR's, not the app's own system-ui
