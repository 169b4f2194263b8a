"""scrub.html: one self-contained page (no network) with the summary, inline SVG charts, findings by rule and
a table a biller can sort and filter, each charge opening to its findings and prompts; printable.

Jinja2 with autoescaping renders the page around the charges; the charges travel as compact JSON in a data
block (smart_app/scrub/page_data.py) that the page's script draws the table from, a page of rows at a time,
so the page stays small and quick at 100,000 charges. The summary, charts and findings by rule need no script.
The page's own style and script are inlined and allowed by their SHA-256 hashes in a Content-Security-Policy
meta tag; nothing else may load or run (``default-src 'none'``), and the script writes the data as text
(never as markup), so a hostile value in the export can neither run script nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from functools import cache
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup

from smart_app.resources import templates_dir
from smart_app.scrub.charts import ChartTally
from smart_app.scrub.page_data import PageData

PAGE_ROWS = 200  # rows the script draws at a time ("Show more" draws the next ones)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@cache
def _assets() -> tuple[Template, str, str, str]:
    """The template, style, script and policy: read and hashed once a process."""
    folder = templates_dir() / "scrub"
    env = Environment(
        loader=FileSystemLoader(str(folder)), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    css = (folder / "report.css").read_text(encoding="utf-8")
    script = (folder / "report.js").read_text(encoding="utf-8")
    csp = (
        f"default-src 'none'; style-src {_hash(css)}; script-src {_hash(script)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    return env.get_template("report.html"), css, script, csp


class HtmlWriter:
    """scrub.html fed one charge at a time; written when closed (the charts need every charge first)."""

    def __init__(self, path: Path | None, summary: dict[str, Any]) -> None:
        self._path = path
        self._summary = summary
        self._tally = ChartTally()
        self._data = PageData()

    def add(self, charge: dict[str, Any]) -> None:
        self._tally.add(charge)
        self._data.add(charge)

    def _page(self, marker: str) -> str:
        template, css, script, csp = _assets()
        return template.render(
            summary=self._summary,
            count=self._data.count,
            charts=self._tally.charts(),
            rule_table=self._tally.rule_table(),
            clinicians=sorted(self._tally.clinicians),
            rules=sorted(self._tally.by_rule),
            page_rows=PAGE_ROWS,
            data=marker,
            css=Markup(css),  # noqa: S704 - our own packaged file, hashed into the CSP
            script=Markup(script),  # noqa: S704 - our own packaged file, hashed into the CSP
            csp=csp,
        )

    def write_to(self, out: IO[bytes]) -> None:
        # The data block is spliced in where a marker no charge can contain (random, made here) was rendered.
        marker = f"scrub-data-{secrets.token_hex(16)}"
        head, tail = self._page(marker).split(marker)
        out.write(head.encode("utf-8"))
        self._data.write_to(out)
        out.write(tail.encode("utf-8"))

    def close(self, failed: bool = False) -> None:
        try:
            if not failed and self._path is not None:
                with self._path.open("wb") as out:
                    self.write_to(out)
        finally:
            self._data.close()


def render_html(document: dict[str, Any]) -> str:
    writer = HtmlWriter(None, document["summary"])
    try:
        for charge in document["charges"]:
            writer.add(charge)
        buffer = io.BytesIO()
        writer.write_to(buffer)
    finally:
        writer.close()
    return buffer.getvalue().decode("utf-8")
