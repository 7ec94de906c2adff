"""Offers: finding them, and deciding them with conditional updates so one decision wins."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Need, Offer, OfferStatus, Project, ProjectLeader

OfferRow = tuple[Offer, Need, Project]


async def pending_offer(session: AsyncSession, need_id: int, member_id: int) -> Offer | None:
    """The member's pending offer on this need, if any."""
    return await session.scalar(
        select(Offer)
        .where(
            Offer.need_id == need_id,
            Offer.member_id == member_id,
            Offer.status == OfferStatus.PENDING.value,
        )
        .order_by(Offer.id)
        .limit(1)
    )


async def of_member(session: AsyncSession, member_id: int, limit: int = 20) -> list[OfferRow]:
    """A member's offers, newest first, with their need and project."""
    rows = await session.execute(
        select(Offer, Need, Project)
        .join(Need, Offer.need_id == Need.id)
        .join(Project, Need.project_id == Project.id)
        .where(Offer.member_id == member_id)
        .order_by(Offer.created_at.desc(), Offer.id.desc())
        .limit(limit)
    )
    return [(offer, need, project) for offer, need, project in rows]


async def for_review(
    session: AsyncSession,
    *,
    project_ids: Collection[int] | None,
    statuses: Collection[str],
    limit: int = 30,
) -> tuple[list[OfferRow], int]:
    """Offers in `statuses` on the given projects (None: every project), oldest first,
    with the total count before the limit."""
    query = (
        select(Offer, Need, Project)
        .join(Need, Offer.need_id == Need.id)
        .join(Project, Need.project_id == Project.id)
        .where(Offer.status.in_(list(statuses)))
    )
    if project_ids is not None:
        query = query.where(Project.id.in_(list(project_ids)))
    rows = [
        (offer, need, project)
        for offer, need, project in await session.execute(
            query.order_by(Offer.created_at, Offer.id)
        )
    ]
    return rows[:limit], len(rows)


async def led_project_ids(session: AsyncSession, member_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(ProjectLeader.project_id).where(ProjectLeader.member_id == member_id)
        )
    )


async def on_need(session: AsyncSession, need_id: int, statuses: Collection[str]) -> list[Offer]:
    return list(
        await session.scalars(
            select(Offer)
            .where(Offer.need_id == need_id, Offer.status.in_(list(statuses)))
            .order_by(Offer.id)
        )
    )


async def contributors(
    session: AsyncSession, project_id: int, statuses: Collection[str]
) -> list[int]:
    """Members with an offer in `statuses` on any need of the project (erased ones left out)."""
    return list(
        await session.scalars(
            select(Offer.member_id)
            .join(Need, Offer.need_id == Need.id)
            .where(
                Need.project_id == project_id,
                Offer.status.in_(list(statuses)),
                Offer.member_id.is_not(None),
            )
            .distinct()
        )
    )


async def transition(
    session: AsyncSession,
    offer_id: int,
    *,
    from_statuses: Collection[str],
    to_status: str,
    member_id: int | None = None,
    **values: Any,
) -> bool:
    """Move the offer to `to_status` only if it is still in one of `from_statuses` (and owned
    by `member_id` when given). False when another decision got there first."""
    stmt = update(Offer).where(Offer.id == offer_id, Offer.status.in_(list(from_statuses)))
    if member_id is not None:
        stmt = stmt.where(Offer.member_id == member_id)
    result = await session.execute(
        stmt.values(status=to_status, **values).execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount == 1
