"""Outbox leases: one row per platform naming the dispatcher that may send there and until
when, so that two bot processes (replicas, or the old and new one of a rolling deploy) never
pace themselves to the full rate side by side.

No data to move: a missing row is a free lease.

Revision ID: 0006
Revises: 0005
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_leases",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_outbox_leases")),
    )


def downgrade() -> None:
    op.drop_table("outbox_leases")
