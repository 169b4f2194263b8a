"""Seed data of the sandbox EHR: FHIR transaction Bundles loaded at start."""
