"""CDS Hooks 2.0 services: point-of-care prompts before the app is opened (issue 7, docs/cds-hooks.md)."""

from smart_app.cds_hooks.routes import bp

__all__ = ["bp"]
