"""FHIR R4 JSON <-> domain objects of billing_rules.

- ``codes``: code-system URIs, small value sets, normalisers for systems and codes.
- ``read`` (with ``read_util``, ``read_clinical``, ``read_payer``, ``read_provider``): tolerant reads into
  ``ClinicalContext``; imports no fhir.resources so that ``smart-edu check`` starts fast.
- ``write``: strict writes built with fhir.resources.R4B.

Nothing is imported here: importing the package must stay cheap.
"""
