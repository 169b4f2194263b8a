"""One module per rule family; each exposes ``check(record, context, policy) -> list[Finding]``."""
