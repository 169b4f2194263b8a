"""Versioned rule data (TOML), read by billing_rules.loader."""
