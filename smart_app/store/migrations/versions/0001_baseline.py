"""Baseline: every table of version 0.1.0, and the adoption of a database made before Alembic.

A database created by ``create_all`` of an earlier version has no ``alembic_version`` and may lack tables,
columns (e.g. ``poc_drafts.note_basis``) or indexes: this revision creates what is missing and adds a missing
column as nullable, so every existing row (every draft) is kept. On an empty database it is a plain create.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _table(name: str, *elements: Any) -> None:
    """Create the table, or add the columns an older version's table lacks (nullable: rows exist)."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(name):
        op.create_table(name, *elements)
        return
    have = {c["name"] for c in inspector.get_columns(name)}
    for column in elements:
        if isinstance(column, sa.Column) and column.name not in have:
            column.nullable = True
            op.add_column(name, column)


def _index(table: str, name: str, columns: list[str], **kw: Any) -> None:
    if name not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, **kw)


def upgrade() -> None:
    _table(
        "cds_card_issued",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("hook_instance", sa.String(length=128), nullable=True),
        sa.Column("fhir_server", sa.String(length=512), nullable=True),
        sa.Column("patient_id", sa.String(length=128), nullable=True),
        sa.Column("encounter_id", sa.String(length=128), nullable=True),
        sa.Column("user_ref", sa.String(length=256), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("indicator", sa.String(length=16), nullable=False),
        sa.Column("codes", sa.String(length=256), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    _index("cds_card_issued", "ix_cds_card_issued_service_id", ["service_id"], unique=False)

    _table(
        "cds_jwt_seen",
        sa.Column("iss", sa.String(length=512), nullable=False),
        sa.Column("jti", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("iss", "jti"),
    )
    _index("cds_jwt_seen", "ix_cds_jwt_seen_expires_at", ["expires_at"], unique=False)

    _table(
        "launch_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("handle", sa.String(length=128), nullable=True),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("profile_name", sa.String(length=100), nullable=False),
        sa.Column("iss", sa.String(length=500), nullable=False),
        sa.Column("launch_type", sa.String(length=20), nullable=False),
        sa.Column("launch_param", sa.Text(), nullable=True),
        sa.Column("code_verifier", sa.String(length=200), nullable=True),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("authorize_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state_used_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("context_json", sa.Text(), nullable=False),
        sa.Column("id_token_verified", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("launch_records", "ix_launch_records_handle", ["handle"], unique=True)
    _index("launch_records", "ix_launch_records_state", ["state"], unique=True)

    _table(
        "poc_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("patient_id", sa.String(length=200), nullable=False),
        sa.Column("encounter_id", sa.String(length=200), nullable=False),
        sa.Column("clinician", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("note_text", sa.Text(), nullable=True),
        sa.Column("note_basis", sa.String(length=64), nullable=True),
        sa.Column("launch_handle", sa.String(length=128), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index(
        "poc_drafts", "ix_poc_drafts_key", ["issuer", "patient_id", "encounter_id", "clinician"], unique=False
    )
    _index(
        "poc_drafts",
        "ux_poc_drafts_one_open",
        ["issuer", "patient_id", "encounter_id", "clinician"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )

    _table(
        "poc_launch_context",
        sa.Column("handle", sa.String(length=128), nullable=False),
        sa.Column("resources_json", sa.Text(), nullable=False),
        sa.Column("read_notes_json", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handle"),
    )
    _table(
        "writeback_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(length=300), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("write_key", sa.String(length=80), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("patient_id", sa.String(length=200), nullable=False),
        sa.Column("encounter_id", sa.String(length=200), nullable=True),
        sa.Column("what_json", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("writeback_audit", "ix_writeback_audit_at", ["at"], unique=False)
    _index("writeback_audit", "ix_writeback_audit_write_key", ["write_key"], unique=False)

    _table(
        "writeback_job",
        sa.Column("write_key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("write_key"),
    )
    _table(
        "writeback_ledger",
        sa.Column("identifier", sa.String(length=80), nullable=False),
        sa.Column("write_key", sa.String(length=80), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("server_ref", sa.String(length=200), nullable=True),
        sa.Column("created", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identifier"),
    )
    _index("writeback_ledger", "ix_writeback_ledger_write_key", ["write_key"], unique=False)

    _table(
        "writeback_outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("write_key", sa.String(length=80), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("patient_id", sa.String(length=200), nullable=False),
        sa.Column("encounter_id", sa.String(length=200), nullable=True),
        sa.Column("draft_id", sa.String(length=200), nullable=False),
        sa.Column("fhir_user", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("server_message", sa.Text(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("write_key"),
    )
    _index("writeback_outbox", "ix_writeback_outbox_draft_id", ["draft_id"], unique=False)

    _table(
        "cds_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("card_uuid", sa.String(length=64), nullable=False),
        sa.Column("known_card", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason_system", sa.String(length=256), nullable=True),
        sa.Column("reason_code", sa.String(length=128), nullable=True),
        sa.Column("reason_display", sa.String(length=256), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_iss", sa.String(length=512), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["known_card"],
            ["cds_card_issued.uuid"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_cds_feedback_report"),
    )
    _index("cds_feedback", "ix_cds_feedback_card_uuid", ["card_uuid"], unique=False)
    _index("cds_feedback", "ix_cds_feedback_service_id", ["service_id"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("the baseline is never downgraded: it would drop every draft and the outbox")
