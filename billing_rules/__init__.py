"""Billing rules engine: pure, data-driven checks of education and therapy services.

Importing this package is cheap: rule data is read on first use (``default_rules``) and the ICD-10-CM index on
the first diagnosis look-up; simple_icd_10_cm is never imported at run time.
"""

from billing_rules.catalogue import CodeInfo, catalogue
from billing_rules.engine import evaluate
from billing_rules.errors import BadInput, RuleDataError
from billing_rules.families import snomed_family, supporting_family
from billing_rules.loader import RULES_VERSION, RuleSet, default_rules, load_rules, use_deployment_rules
from billing_rules.service_record import parse_service_record
from billing_rules.visit import VisitEvaluation, VisitFinding, VisitRecord, evaluate_visit
from billing_rules.visit_record import parse_record, parse_visit_record

__all__ = [
    "RULES_VERSION",
    "BadInput",
    "CodeInfo",
    "RuleDataError",
    "RuleSet",
    "VisitEvaluation",
    "VisitFinding",
    "VisitRecord",
    "catalogue",
    "default_rules",
    "evaluate",
    "evaluate_visit",
    "load_rules",
    "parse_record",
    "parse_service_record",
    "parse_visit_record",
    "snomed_family",
    "supporting_family",
    "use_deployment_rules",
]
