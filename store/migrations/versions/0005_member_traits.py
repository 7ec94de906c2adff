"""Member traits: one row per skill tag, liked kind, language and (folded) commune of
origin of the members who may be matched, so that matching a need reads a few index entries
instead of every profile. WITHOUT ROWID on SQLite: the primary key is the index.

The rows of the members already there are derived here, with the rule of this revision
(frozen like the rest of a migration: `store.traits` holds the rule the bot keeps applying).

Revision ID: 0005
Revises: 0004
Created: 2026-11-26
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

VALUE_MAX = 100
BATCH = 5_000
_WORDS = re.compile(r"[^\W_]+")

members = sa.table(
    "members",
    sa.column("id", sa.Integer()),
    sa.column("skills", sa.JSON()),
    sa.column("liked_kinds", sa.JSON()),
    sa.column("languages", sa.JSON()),
    sa.column("origin", sa.String()),
    sa.column("accepts_dm", sa.Boolean()),
    sa.column("matching_off", sa.Boolean()),
)
member_traits = sa.table(
    "member_traits",
    sa.column("trait", sa.String()),
    sa.column("value", sa.String()),
    sa.column("member_id", sa.Integer()),
)


def _origin(text: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", (text or "").replace("’", "'"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_WORDS.findall(bare.casefold()))


def _rows(member: Any) -> list[dict[str, Any]]:
    if not member.accepts_dm or member.matching_off:
        return []
    pairs: set[tuple[str, str]] = set()
    for trait, values in (
        ("skill", member.skills),
        ("kind", member.liked_kinds),
        ("lang", member.languages),
    ):
        if isinstance(values, list):
            pairs |= {
                (trait, value)
                for value in values
                if isinstance(value, str) and 0 < len(value) <= VALUE_MAX
            }
    place = _origin(member.origin)
    if place and len(place) <= VALUE_MAX:
        pairs.add(("origin", place))
    return [{"trait": t, "value": v, "member_id": member.id} for t, v in sorted(pairs)]


def upgrade() -> None:
    op.create_table(
        "member_traits",
        sa.Column("trait", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_traits_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trait", "value", "member_id", name=op.f("pk_member_traits")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_member_traits_member_id", "member_traits", ["member_id"], unique=False)
    connection = op.get_bind()
    batch: list[dict[str, Any]] = []
    for member in connection.execute(sa.select(members).order_by(members.c.id)).all():
        batch += _rows(member)
        if len(batch) >= BATCH:
            connection.execute(member_traits.insert(), batch)
            batch = []
    if batch:
        connection.execute(member_traits.insert(), batch)


def downgrade() -> None:
    op.drop_index("ix_member_traits_member_id", table_name="member_traits")
    op.drop_table("member_traits")
