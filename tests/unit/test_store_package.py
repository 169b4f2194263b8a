"""Every table is declared in the one store package, on one MetaData: the whole schema is in one place."""

from __future__ import annotations

import re
from pathlib import Path

from smart_app import store

ROOT = Path(__file__).resolve().parents[2]
DECLARES_A_TABLE = re.compile(r"__tablename__|\bTable\(|\(Base\)|DeclarativeBase|\bMetaData\(")


def test_no_module_outside_the_store_package_declares_a_table() -> None:
    store_dir = ROOT / "smart_app" / "store"
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("smart_app", "billing_rules", "fhir_mappings")
        for path in sorted((ROOT / package).rglob("*.py"))
        if store_dir not in path.parents and DECLARES_A_TABLE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_one_metadata_holds_every_table_of_the_app() -> None:
    assert set(store.metadata.tables) == {
        "launch_records",
        "poc_launch_context",
        "poc_drafts",
        "writeback_job",
        "writeback_ledger",
        "writeback_outbox",
        "writeback_audit",
        "cds_card_issued",
        "cds_feedback",
        "cds_jwt_seen",
    }
