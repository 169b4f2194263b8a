"""A local stand-in EHR: SMART authorization server, FHIR R4 store, launcher. Never imported by smart_app."""
