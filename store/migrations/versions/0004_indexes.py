"""Indexes for the queries that grew with the community: /stats (offers and members by
creation time), the frequency cap (a member's recent deliveries) and a member's identities.

Plain `op.create_index`: adding an index rebuilds no table, on SQLite either.

Revision ID: 0004
Revises: 0003
Created: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

INDEXES = (
    ("ix_deliveries_member_created", "deliveries", ["member_id", "created_at"]),
    ("ix_member_identities_member_id", "member_identities", ["member_id"]),
    ("ix_members_created_at", "members", ["created_at"]),
    ("ix_offers_created_status_kind", "offers", ["created_at", "status", "kind"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
