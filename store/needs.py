"""Needs, their announcements in chats, and who hears a project's news."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    Announcement,
    Chat,
    ContributionKind,
    Follow,
    Need,
    NeedStatus,
    Project,
    ProjectStatus,
)

KIND_ORDER = tuple(kind.value for kind in ContributionKind)


async def open_needs(
    session: AsyncSession, *, kind: str | None = None, limit: int = 20
) -> tuple[list[tuple[Need, Project]], int]:
    """Open needs of open projects (of one kind or all), grouped by kind in the CDS order,
    oldest first within a kind; with the total count before the limit."""
    where = [
        Need.status == NeedStatus.OPEN.value,
        Project.status == ProjectStatus.OPEN.value,
    ]
    if kind is not None:
        where.append(Need.kind == kind)
    total = await session.scalar(
        select(func.count())
        .select_from(Need)
        .join(Project, Need.project_id == Project.id)
        .where(*where)
    )
    kind_rank = case(
        {value: rank for rank, value in enumerate(KIND_ORDER)},
        value=Need.kind,
        else_=len(KIND_ORDER),
    )
    rows = await session.execute(
        select(Need, Project)
        .join(Project, Need.project_id == Project.id)
        .where(*where)
        .order_by(kind_rank, Need.created_at, Need.id)
        .limit(limit)
    )
    return [(need, project) for need, project in rows], int(total or 0)


async def announcements(session: AsyncSession, need_id: int) -> list[tuple[Announcement, Chat]]:
    rows = await session.execute(
        select(Announcement, Chat)
        .join(Chat, Announcement.chat_id == Chat.id)
        .where(Announcement.need_id == need_id)
        .order_by(Announcement.id)
    )
    return [(announcement, chat) for announcement, chat in rows]


async def announced_chat_ids(session: AsyncSession, need_id: int) -> set[int]:
    return set(
        await session.scalars(select(Announcement.chat_id).where(Announcement.need_id == need_id))
    )


async def announcement_chats(session: AsyncSession) -> list[Chat]:
    """Registered, active groups and channels: where needs may be announced."""
    return list(
        await session.scalars(
            select(Chat).where(Chat.registered.is_(True), Chat.active.is_(True)).order_by(Chat.id)
        )
    )


def chat_matches(chat_tags: Sequence[str], project_tags: set[str]) -> bool:
    """A chat without tags hears everything; otherwise one tag in common is enough."""
    tags = {tag.strip().lower() for tag in chat_tags if tag.strip()}
    return not tags or bool(tags & project_tags)


def project_tags(project: Project) -> set[str]:
    """What a group's tags are matched against: the project's territory (also with dashes
    for spaces) and its tags, lowercased."""
    territory = project.territory.strip().lower()
    wanted = {territory, territory.replace(" ", "-")}
    wanted |= {tag.strip().lstrip("#").lower() for tag in project.tags}
    wanted.discard("")
    return wanted


async def chats_for(session: AsyncSession, project: Project) -> list[Chat]:
    """The registered, active groups that hear about this project."""
    wanted = project_tags(project)
    return [chat for chat in await announcement_chats(session) if chat_matches(chat.tags, wanted)]


async def followers(session: AsyncSession, project_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(Follow.member_id)
            .where(Follow.project_id == project_id)
            .order_by(Follow.member_id)
        )
    )


async def close(session: AsyncSession, need_id: int, status: str, now: datetime) -> bool:
    """Close the need if it is still open; False when someone closed it first."""
    result = await session.execute(
        update(Need)
        .where(Need.id == need_id, Need.status == NeedStatus.OPEN.value)
        .values(status=status, closed_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount == 1
