"""Every timestamp column is timezone-aware: launch records, drafts and the cached context join the others.

On PostgreSQL the seven columns become ``timestamp with time zone``; their values were written as UTC without
a zone, so they are read as UTC (``AT TIME ZONE 'UTC'``) and keep their meaning. On SQLite nothing changes on
disk: it has no timestamp type, and ``UtcDateTime`` stores UTC without a zone there for every column alike.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = {
    "launch_records": ("created_at", "state_used_at", "expires_at", "token_expires_at"),
    "poc_drafts": ("created_at", "updated_at"),
    "poc_launch_context": ("read_at",),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(timezone=True),
                existing_type=sa.DateTime(),
                postgresql_using=f"{column} AT TIME ZONE 'UTC'",
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(),
                existing_type=sa.DateTime(timezone=True),
                postgresql_using=f"{column} AT TIME ZONE 'UTC'",
            )
