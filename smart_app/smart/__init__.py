"""SMART App Launch client logic (framework-agnostic: no Flask imports here)."""
