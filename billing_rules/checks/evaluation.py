"""PT evaluation level (97161-97163): eval.components-missing, eval.level-unsupported, eval.level-higher.

The lowest-scoring component caps the level (billing-rules.md §4): personal factors 0 / 1-2 / 3+, body systems
1-2 / 3 / 4+, presentation stable / evolving / unstable, decision complexity low / moderate / high.
"""

from __future__ import annotations

from billing_rules.model import ClinicalContext, EvaluationComponents, Finding, ServiceRecord
from billing_rules.policy import Policy

LEVELS = ("low", "moderate", "high")
CODE_FOR = {"low": "97161", "moderate": "97162", "high": "97163"}
PRESENTATION = {"stable": 0, "evolving": 1, "unstable": 2}
# The components in the clinician's words (the finding names them, never the field names).
COMPONENT_WORDS = {
    "personal_factors": "personal factors and comorbidities",
    "body_systems": "body systems examined",
    "presentation": "clinical presentation",
    "decision_complexity": "clinical decision making",
}


def supported_level(ev: EvaluationComponents) -> str:
    """The level the four documented components support (all must be present)."""
    assert ev.personal_factors is not None and ev.body_systems is not None
    assert ev.presentation is not None and ev.decision_complexity is not None
    factors = 0 if ev.personal_factors == 0 else 1 if ev.personal_factors <= 2 else 2
    systems = 0 if ev.body_systems <= 2 else 1 if ev.body_systems == 3 else 2
    ranks = (factors, systems, PRESENTATION[ev.presentation], LEVELS.index(ev.decision_complexity))
    return LEVELS[min(ranks)]


def check(record: ServiceRecord, context: ClinicalContext, policy: Policy) -> list[Finding]:
    level = policy.code.get("eval_level")
    if level is None or policy.code.get("eval_components", "pt") != "pt":
        return []  # the OT evaluation components (97165-97167) are not inputs: the level is the clinician's
    ev = record.evaluation or EvaluationComponents()
    missing = [words for name, words in COMPONENT_WORDS.items() if getattr(ev, name) is None]
    if missing:
        return [policy.finding("eval.components-missing", missing=", ".join(missing))]
    supported = supported_level(ev)
    rank, billed = LEVELS.index(supported), LEVELS.index(level)
    if rank == billed:
        return []
    rule = "eval.level-unsupported" if rank < billed else "eval.level-higher"
    return [policy.finding(rule, supported=supported, suggested=CODE_FOR[supported])]
