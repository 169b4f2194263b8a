"""Payer class from Coverage (rules-contract §1): Source of Payment Typology first, then plan and payor names.

SOPT (https://nahdo.org/sopt, PHDSC Payer Typology 9.2, VSAC 2.16.840.1.114222.4.11.3591) is hierarchical: the
first digit is the family. 1 Medicare (11x managed care = Medicare Advantage, 12x/13/19x traditional, 14 dual
eligibility organisations, which today are Medicare Advantage special-needs plans), 2 Medicaid, 3 other
government (TRICARE, VA, IHS, state and local programs), 4 corrections, 5 private insurance, 6 Blue Cross/Blue
Shield, 7 managed care that cannot be told public or private, 8 no payment (81 self-pay), 9 other (workers'
compensation, auto, liability...). Families 3, 4 and 91-97 are real payers with no class in the rules: they
stay "unknown" (the clinician gives `payer_class`) rather than being forced into "commercial".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from billing_rules.model import Payer, PayerClass
from fhir_mappings.codes import COVERAGE_SELFPAY, SOPT, V3_ACT_CODE
from fhir_mappings.read_util import Resource, as_list, as_map, codings, text

_SOPT_FAMILIES: dict[str, tuple[PayerClass | None, str]] = {
    "1": ("medicare", "Medicare"),
    "11": ("medicare-advantage", "Medicare managed care (Medicare Advantage)"),
    "14": ("medicare-advantage", "a Medicare/Medicaid dual-eligibility plan"),
    "2": ("medicaid", "Medicaid"),
    "3": ("unknown", "another government program (TRICARE, VA, IHS, state or local)"),
    "4": ("unknown", "a department of corrections"),
    "5": ("commercial", "private health insurance"),
    "6": ("commercial", "Blue Cross/Blue Shield"),
    "7": (None, "managed care that is not said to be public or private"),
    "8": ("self-pay", "no payment from an organisation"),
    "81": ("self-pay", "self-pay"),
    "9": ("unknown", "a miscellaneous payer (workers' compensation, auto, liability, foreign...)"),
    "98": (None, "an unclassified payer"),
    "99": (None, "no payment typology code"),
}

# v3-ActCode policy types that say "managed care" but not which program (Medicare, Medicaid or private).
_V3_MANAGED_CARE = frozenset({"HMO", "PPO", "POS", "MCPOL", "MANDPOL"})
_V3_UNKNOWN_CLASS = {"WRKCOMP": "workers' compensation", "AUTOPOL": "automobile insurance"}

_MEDICAID_NAMES = re.compile(
    r"\b(medicaid|medi-?cal|masshealth|tenncare|soonercare|badgercare|kancare|ahcccs|mo healthnet|"
    r"apple health|husky health|nj familycare|medical assistance|chip|schip)\b"
)
_MA_MARKERS = re.compile(r"\b(advantage|hmo|ppo|pos|part c|mapd|snp|pffs|dsnp|d-snp)\b")
_FFS_MARKERS = re.compile(r"\b(part a|part b|original|traditional|fee[- ]for[- ]service|ffs)\b")
_SELF_PAY_NAMES = re.compile(r"\b(self[- ]?pay|uninsured|private pay)\b")
_MEDICARE_ONLY_WORDS = frozenset({"medicare", "cms", "program", "the", "us", "u.s.", "federal", "insurance"})


def _sopt_class(code: str) -> tuple[PayerClass | None, str] | None:
    """The class a SOPT code decides (None = not decisive), from its most specific known ancestor."""
    if not code.isdigit():
        return None
    if code == "9999":
        return None, "no payer specified"
    for length in range(len(code), 0, -1):
        if code[:length] in _SOPT_FAMILIES:
            return _SOPT_FAMILIES[code[:length]]
    return None


def _name_class(name: str) -> PayerClass | None:
    """What one plan or payor name says, or None; a name naming both Medicare and Medicaid decides nothing."""
    lowered = name.lower()
    medicare = "medicare" in lowered
    medicaid = bool(_MEDICAID_NAMES.search(lowered))
    if medicare and medicaid:
        return None
    if medicaid:
        return "medicaid"
    if _SELF_PAY_NAMES.search(lowered):
        return "self-pay"
    if not medicare:
        return None
    if _MA_MARKERS.search(lowered):
        return "medicare-advantage"
    words = set(re.findall(r"[a-z.]+", lowered))
    if _FFS_MARKERS.search(lowered) or words <= _MEDICARE_ONLY_WORDS:
        return "medicare"
    return None  # "Acme Medicare" may be a Medicare Advantage plan or a supplement: not decisive


def coverage_names(coverage: Resource, payor_org: Mapping[str, Any] | None) -> list[str]:
    """Every element that may name the program: type text, plan/group names and values ("Medicare Part A" in
    ``class.value`` as some EHRs send it), payor display and the payor organisation's name."""
    names = [text(as_map(coverage.get("type")).get("text"))]
    for c in as_list(coverage.get("class")):
        names += [text(as_map(c).get("name")), text(as_map(c).get("value"))]
    names += [text(as_map(p).get("display")) for p in as_list(coverage.get("payor"))]
    names.append(text(as_map(payor_org).get("name")))
    return [n for n in names if n]


def _from_names(names: list[str], managed_care: bool) -> tuple[PayerClass | None, str]:
    found = {n: c for n in names if (c := _name_class(n))}
    classes = set(found.values())
    if classes == {"medicare", "medicare-advantage"}:
        classes = {"medicare-advantage"}
    if len(classes) == 1:
        cls = classes.pop()
        if cls == "medicare" and managed_care:
            return "medicare-advantage", "a Medicare name with a managed-care (HMO/PPO/POS) coverage type"
        named = next((n for n, c in found.items() if c == cls), next(iter(found)))
        return cls, f"the plan/payor name '{named}'"
    if len(classes) > 1:
        return None, "the plan and payor names disagree (" + ", ".join(sorted(found)) + ")"
    return None, ""


def payer_class_from_coverage(coverage: Resource, payor_org: Mapping[str, Any] | None = None) -> Payer:
    """Classify one Coverage; ``basis`` says what decided, or why nothing could."""
    coverage = as_map(coverage)
    names = coverage_names(coverage, payor_org)
    displays = [text(as_map(p).get("display")) for p in as_list(coverage.get("payor"))]
    name = text(as_map(payor_org).get("name")) or next((d for d in displays if d), None)
    cid = text(coverage.get("id"))

    def payer(cls: PayerClass, basis: str) -> Payer:
        return Payer(payer_class=cls, name=name, coverage_id=cid, basis=basis)

    type_codings = codings(coverage.get("type"))
    sopt_seen = []
    decided: dict[PayerClass, str] = {}
    for c in type_codings:
        if c.system == SOPT:
            verdict = _sopt_class(c.code)
            sopt_seen.append(c.code)
            if verdict and verdict[0]:
                decided.setdefault(verdict[0], f"Coverage.type SOPT {c.code}: {verdict[1]}")
        elif c.code.lower() == "pay" and c.system in (COVERAGE_SELFPAY, V3_ACT_CODE, None):
            decided.setdefault("self-pay", "Coverage.type self-pay ('pay')")
        elif c.system == V3_ACT_CODE and c.code.upper() in _V3_UNKNOWN_CLASS:
            decided.setdefault("unknown", f"Coverage.type {c.code}: {_V3_UNKNOWN_CLASS[c.code.upper()]}")
    if len(decided) == 1:
        cls, basis = decided.popitem()
        return payer(cls, basis + ("; the rules have no class for it" if cls == "unknown" else ""))
    if len(decided) > 1:
        return payer("unknown", "Coverage.type codes disagree: " + "; ".join(decided.values()))

    managed = any(c.system == V3_ACT_CODE and c.code.upper() in _V3_MANAGED_CARE for c in type_codings)
    named_class, basis = _from_names(names, managed)
    if named_class:
        return payer(named_class, basis)
    reasons = [basis] if basis else []
    reasons.append(f"Coverage.type SOPT {', '.join(sopt_seen)} is not decisive" if sopt_seen else "")
    if not type_codings:
        reasons.append("Coverage.type is absent")
    if managed:
        reasons.append("a managed-care plan type does not say whether Medicare, Medicaid or private")
    reasons.append("no plan or payor name names Medicare, Medicaid or self-pay")
    return payer("unknown", "; ".join(r for r in reasons if r))
