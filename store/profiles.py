"""Member profiles: reading and writing one field, and the suggestions shown while editing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import traits
from store.models import Member, Project

# The profile fields a member edits, and the Member column behind each.
FIELDS: tuple[str, ...] = (
    "skills",
    "liked_kinds",
    "languages",
    "country",
    "city",
    "origin",
    "availability",
    "timezone",
    "accepts_dm",
    "quiet_hours",
    "share_name",
    "matching_off",
)
LIST_FIELDS = frozenset({"skills", "liked_kinds", "languages"})
FLAG_FIELDS = frozenset({"accepts_dm", "share_name", "matching_off"})
# Flags whose column says "no": shown and asked the other way round ("matching_off" is
# answered as "notes about needs that fit you: yes / no").
INVERTED_FLAGS = frozenset({"matching_off"})


def empty_value(field: str) -> Any:
    """What a cleared field holds."""
    if field in LIST_FIELDS:
        return []
    if field in FLAG_FIELDS:
        return False
    return None


async def set_field(session: AsyncSession, member_id: int, field: str, value: Any) -> None:
    """Write one profile field (already validated by the caller)."""
    if field not in FIELDS:
        raise ValueError(f"not a profile field: {field!r}")
    await session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values({field: value})
        .execution_options(synchronize_session="fetch")
    )
    if field in traits.SOURCES:
        await traits.rewrite(session, [member_id])


async def mark_asked(
    session: AsyncSession, member_id: int, now: datetime, skipped: list[str] | None = None
) -> None:
    """Remember when a profile question was last asked (and, optionally, the skipped keys)."""
    values: dict[str, Any] = {"profile_asked_at": now}
    if skipped is not None:
        values["profile_skipped"] = skipped
    await session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(values)
        .execution_options(synchronize_session="fetch")
    )


async def set_skipped(session: AsyncSession, member_id: int, skipped: list[str]) -> None:
    await session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(profile_skipped=skipped)
        .execution_options(synchronize_session="fetch")
    )


async def common_skills(session: AsyncSession, limit: int = 10) -> list[str]:
    """The `limit` skill tags most members have, most common first (ties alphabetical)."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "sqlite":
        rows = await session.execute(
            text(
                "SELECT tag.value AS skill, count(*) AS n FROM members, json_each(members.skills)"
                " AS tag WHERE json_valid(members.skills) GROUP BY tag.value"
                " ORDER BY n DESC, skill LIMIT :limit"
            ),
            {"limit": limit},
        )
        return [str(skill) for skill, _n in rows if isinstance(skill, str)]
    if dialect == "postgresql":
        rows = await session.execute(
            text(
                "SELECT tag AS skill, count(*) AS n FROM members,"
                " json_array_elements_text(members.skills::json) AS tag"
                " WHERE json_typeof(members.skills::json) = 'array'"
                " GROUP BY tag ORDER BY n DESC, skill LIMIT :limit"
            ),
            {"limit": limit},
        )
        return [str(skill) for skill, _n in rows]
    counts: Counter[str] = Counter()
    for skills in await session.scalars(select(Member.skills)):
        counts.update(tag for tag in skills or [] if isinstance(tag, str))
    return [tag for tag, _n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))][:limit]


async def territories(session: AsyncSession, limit: int = 12) -> list[str]:
    """The territories (communes) of the projects, most frequent first."""
    count = func.count(Project.id)
    rows = await session.execute(
        select(Project.territory, count)
        .where(Project.territory != "")
        .group_by(Project.territory)
        .order_by(count.desc(), Project.territory)
        .limit(limit)
    )
    return [territory for territory, _n in rows]
