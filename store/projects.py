"""Projects: browsing, follows, status changes and the community managers to tell."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Follow, Member, Need, NeedStatus, Project, ProjectStatus


async def by_slug(session: AsyncSession, slug: str) -> Project | None:
    return await session.scalar(select(Project).where(Project.slug == slug))


def _open_projects(territory: str | None, kind: str | None) -> Select[Project]:
    stmt = select(Project).where(Project.status == ProjectStatus.OPEN.value)
    if territory:
        stmt = stmt.where(
            func.lower(Project.territory).contains(territory.lower(), autoescape=True)
        )
    if kind:
        stmt = stmt.where(
            exists().where(
                Need.project_id == Project.id,
                Need.status == NeedStatus.OPEN.value,
                Need.kind == kind,
            )
        )
    return stmt


async def browse(
    session: AsyncSession,
    *,
    territory: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 5,
) -> tuple[list[tuple[Project, int]], int]:
    """One page of open projects (with their number of open needs) and the total count."""
    base = _open_projects(territory, kind)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    open_needs = (
        select(func.count())
        .where(Need.project_id == Project.id, Need.status == NeedStatus.OPEN.value)
        .correlate(Project)
        .scalar_subquery()
    )
    rows = await session.execute(
        base.add_columns(open_needs).order_by(Project.title, Project.id).offset(offset).limit(limit)
    )
    return [(project, int(count)) for project, count in rows], int(total)


async def needs_of(session: AsyncSession, project_id: int) -> list[Need]:
    return list(
        await session.scalars(select(Need).where(Need.project_id == project_id).order_by(Need.id))
    )


async def follow(session: AsyncSession, member_id: int, project_id: int, now: datetime) -> bool:
    """Follow a project; False when the member already followed it."""
    if await session.get(Follow, (member_id, project_id)) is not None:
        return False
    session.add(Follow(member_id=member_id, project_id=project_id, created_at=now))
    await session.flush()
    return True


async def unfollow(session: AsyncSession, member_id: int, project_id: int) -> bool:
    """Stop following; False when the member did not follow it."""
    row = await session.get(Follow, (member_id, project_id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def is_following(session: AsyncSession, member_id: int, project_id: int) -> bool:
    return await session.get(Follow, (member_id, project_id)) is not None


async def slugs_starting_with(session: AsyncSession, prefix: str) -> set[str]:
    return set(
        await session.scalars(
            select(Project.slug).where(Project.slug.startswith(prefix, autoescape=True))
        )
    )


async def change_status(
    session: AsyncSession,
    project_id: int,
    *,
    allowed_from: Iterable[str],
    to: str,
    now: datetime,
) -> bool:
    """Move the project to `to` only if it is still in one of `allowed_from` (one writer wins)."""
    result = await session.execute(
        update(Project)
        .where(Project.id == project_id, Project.status.in_(list(allowed_from)))
        .values(status=to, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


async def drafts(session: AsyncSession, limit: int = 30) -> list[tuple[Project, str | None]]:
    """Draft projects, oldest first, with the display name of who proposed each."""
    rows = await session.execute(
        select(Project, Member.display_name)
        .outerjoin(Member, Member.id == Project.proposed_by)
        .where(Project.status == ProjectStatus.DRAFT.value)
        .order_by(Project.created_at, Project.id)
        .limit(limit)
    )
    return [(project, name) for project, name in rows]


async def count_with_status(session: AsyncSession, status: str) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Project).where(Project.status == status)
    )
    return int(found or 0)
