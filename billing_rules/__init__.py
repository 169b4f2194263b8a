"""Billing rules engine: pure, data-driven checks of education and therapy services."""
