"""CDS card text names each finding's source briefly: links by host, 'product decision' when there is no page,
and whether it rests on an unverified value; nothing but an http(s) link can get into the Markdown."""

from __future__ import annotations

from datetime import date

from billing_rules import evaluate
from billing_rules.model import ClinicalContext, Finding, Payer, Provider, ServiceRecord
from smart_app.cds_hooks.advice import findings_markdown, source_markdown
from smart_app.cds_hooks.cards import md_source_links


def test_links_are_labelled_by_host_and_cannot_break_out_of_the_markdown() -> None:
    out = md_source_links(
        ["https://www.aapc.com/a_b(c) d", "javascript:alert(1)", "ftp://x.test/f", "http:///nohost"]
    )
    assert out == "[aapc.com](https://www.aapc.com/a_b%28c%29%20d)"


def test_a_decision_without_a_page_says_so_and_an_unverified_value_is_flagged() -> None:
    assert source_markdown("Product decision (docs/reference/rules-contract.md §2): ...", ()) == (
        " _Source: product decision_"
    )
    note = source_markdown("X [S]; value used: Y [UNVERIFIED]", ["https://a.test/p"])
    assert note == " _Source: [a.test](https://a.test/p) (rests on an unverified value)_"
    assert source_markdown("written by the app", ()) == ""


def test_card_findings_carry_their_source_from_the_rule_data() -> None:
    record = ServiceRecord(
        code="97110", service_date=date(2026, 6, 1), minutes=30, therapy_ytd_allowed=2500.0
    )
    context = ClinicalContext(payer=Payer(payer_class="medicare"), provider=Provider(role="PT"))
    findings = [f for f in evaluate(record, context).findings if f.rule == "kx.threshold"]
    text = findings_markdown(findings)
    assert "Source: [med.noridianmedicare.com](https://med.noridianmedicare.com/" in text
    assert "(rests on an unverified value)" in text  # the 2026 threshold rests on secondary sources only
    plain = Finding("x.y", "info", "m", "p", "code", "app note")
    assert findings_markdown([plain]) == "- **Note** (x.y): m p"
