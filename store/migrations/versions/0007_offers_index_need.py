"""/stats: the offers' index by creation time, status and kind also holds the need, so that
the funnel (offers on the needs announced in the period) reads the index alone instead of
every offer's row.

Revision ID: 0007
Revises: 0006
Created: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

OLD = ("ix_offers_created_status_kind", ["created_at", "status", "kind"])
NEW = ("ix_offers_created_status_kind_need", ["created_at", "status", "kind", "need_id"])


def upgrade() -> None:
    op.create_index(NEW[0], "offers", NEW[1], unique=False)
    op.drop_index(OLD[0], table_name="offers")


def downgrade() -> None:
    op.create_index(OLD[0], "offers", OLD[1], unique=False)
    op.drop_index(NEW[0], table_name="offers")
