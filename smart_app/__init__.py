"""smart-edu-billing: the SMART-on-FHIR app (Flask)."""
