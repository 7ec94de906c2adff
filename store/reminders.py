"""Offers waiting for an answer: which ones are late, moving them one reminder stage on with a
conditional update (so each stage happens once, whoever gets there first), and the counts
that bound how many offers a member may make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Offer, OfferStatus

PENDING = OfferStatus.PENDING.value
LAST_STAGE = 3


@dataclass(frozen=True, slots=True)
class Waiting:
    """A pending offer as the reminder job sees it."""

    offer_id: int
    created_at: datetime
    stage: int


async def waiting_since(
    session: AsyncSession, created_before: datetime, limit: int = 500
) -> list[Waiting]:
    """Pending offers made before `created_before` whose reminders are not all done, oldest
    first."""
    rows = await session.execute(
        select(Offer.id, Offer.created_at, Offer.reminder_stage)
        .where(
            Offer.status == PENDING,
            Offer.reminder_stage < LAST_STAGE,
            Offer.created_at <= created_before,
        )
        .order_by(Offer.created_at, Offer.id)
        .limit(limit)
    )
    return [Waiting(offer_id, created_at, stage) for offer_id, created_at, stage in rows]


async def advance(session: AsyncSession, offer_id: int, stage: int, **values: Any) -> bool:
    """Move a still-pending offer to reminder `stage` (with `values`, e.g. the release's
    status), only if it has not reached it yet: True for the one caller that did it."""
    result = await session.execute(
        update(Offer)
        .where(
            Offer.id == offer_id,
            Offer.status == PENDING,
            Offer.reminder_stage < stage,
        )
        .values(reminder_stage=stage, **values)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def pending_count(session: AsyncSession, member_id: int) -> int:
    """How many of the member's offers wait for an answer."""
    count = await session.scalar(
        select(func.count())
        .select_from(Offer)
        .where(Offer.member_id == member_id, Offer.status == PENDING)
    )
    return int(count or 0)


async def made_since(session: AsyncSession, member_id: int, since: datetime) -> int:
    """How many offers the member made since `since`, whatever became of them."""
    count = await session.scalar(
        select(func.count())
        .select_from(Offer)
        .where(Offer.member_id == member_id, Offer.created_at >= since)
    )
    return int(count or 0)
