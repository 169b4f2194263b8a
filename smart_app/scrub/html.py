"""scrub.html: one self-contained page (no network) with the summary, inline SVG charts and a table a biller
can sort and filter, each charge opening to its findings and prompts; printable.

Jinja2 with autoescaping renders everything from the data. The page's own style and script are inlined and
allowed by their SHA-256 hashes in a Content-Security-Policy meta tag; nothing else may load or run
(``default-src 'none'``), so a hostile value in the export can neither run script nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from smart_app.resources import templates_dir
from smart_app.scrub.charts import charts, status_of

STATUS_WORDS = {"block": "Blocked", "warn": "Warned", "clean": "No warnings"}


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _environment() -> Environment:
    folder = templates_dir() / "scrub"
    env = Environment(
        loader=FileSystemLoader(str(folder)), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    env.globals["status_words"] = STATUS_WORDS
    return env


def _rows(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The table's rows, one at a time (the charges may be read back from disk)."""
    for number, charge in enumerate(document["charges"]):
        status = status_of(charge)
        rules = sorted({f["rule"] for f in charge["findings"]})
        yield (
            {
                **charge,
                "number": number,
                "status": status,
                "status_rank": {"block": 0, "warn": 1, "clean": 2}[status],
                "rules": rules,
                "search": " ".join(
                    str(v or "")
                    for v in (
                        charge["chargeitem"],
                        charge["patient"],
                        charge["code"],
                        charge.get("clinician"),
                        *rules,
                    )
                ).lower(),
            }
        )


def _template_values(document: dict[str, Any]) -> dict[str, Any]:
    folder = templates_dir() / "scrub"
    css = (folder / "report.css").read_text(encoding="utf-8")
    script = (folder / "report.js").read_text(encoding="utf-8")
    csp = (
        f"default-src 'none'; style-src {_hash(css)}; script-src {_hash(script)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    clinicians: set[str] = set()
    rules: set[str] = set()
    count = 0
    for charge in document["charges"]:
        count += 1
        clinicians.add(str(charge.get("clinician") or "not named"))
        rules.update(f["rule"] for f in charge["findings"])
    return dict(
        summary=document["summary"],
        rows=_rows(document),
        count=count,
        charts=charts(document),
        clinicians=sorted(clinicians),
        rules=sorted(rules),
        css=Markup(css),  # noqa: S704 - our own packaged file, hashed into the CSP
        script=Markup(script),  # noqa: S704 - our own packaged file, hashed into the CSP
        csp=csp,
    )


def render_html(document: dict[str, Any]) -> str:
    return _environment().get_template("report.html").render(**_template_values(document))


def write_html(document: dict[str, Any], path: Path) -> None:
    """Streamed into the file as the template renders, one charge at a time."""
    _environment().get_template("report.html").stream(**_template_values(document)).dump(str(path), "utf-8")
