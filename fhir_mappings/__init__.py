"""FHIR R4 JSON <-> domain objects of billing_rules."""
