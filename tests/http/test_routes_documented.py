"""Every route the app serves is in the README or the docs, with its methods; none is undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from tests.http.smart_kit import make_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = "\n".join(
    p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


def documented(method: str, rule: str) -> bool:
    """`GET /s/<handle>/icd10` (or `GET /cds-services/<id>` for `<service_id>`) appears in the text."""
    pattern = (
        re.escape(f"{method} {rule}").replace(r"<service_id>", r"<\w+>").replace(r"<draft_id>", r"<\w+>")
    )
    return re.search(pattern + r"(?![\w/])", DOCS) is not None


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    missing = [
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith("/static/")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if not documented(method, rule.rule)
    ]
    assert missing == []
