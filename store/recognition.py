"""Recognition: a member's contributions, a project's contributors, and thanks given once."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Delivery, Member, Need, Offer, OfferStatus, Project

# An offer counts as a contribution once a leader accepted it.
CONTRIBUTED = (OfferStatus.ACCEPTED.value, OfferStatus.DONE.value)

OfferRow = tuple[Offer, Need, Project]


@dataclass(frozen=True, slots=True)
class Contribution:
    """One accepted or done offer on a project, with what may be said of its author."""

    member_id: int | None  # None: the member erased their data
    named: str | None  # the display name, only when the member agreed to be named
    kind: str
    pledged_amount: Decimal | None
    currency: str | None


async def history(session: AsyncSession, member_id: int, limit: int = 500) -> list[OfferRow]:
    """All the member's offers (every platform: offers belong to the member), oldest first."""
    rows = await session.execute(
        select(Offer, Need, Project)
        .join(Need, Offer.need_id == Need.id)
        .join(Project, Need.project_id == Project.id)
        .where(Offer.member_id == member_id)
        .order_by(Offer.created_at, Offer.id)
        .limit(limit)
    )
    return [(offer, need, project) for offer, need, project in rows]


async def project_contributions(session: AsyncSession, project_id: int) -> list[Contribution]:
    """The accepted and done offers on every need of the project."""
    rows = await session.execute(
        select(
            Offer.member_id,
            Member.share_name,
            Member.display_name,
            Offer.kind,
            Offer.pledged_amount,
            Offer.currency,
        )
        .join(Need, Offer.need_id == Need.id)
        .outerjoin(Member, Offer.member_id == Member.id)
        .where(Need.project_id == project_id, Offer.status.in_(CONTRIBUTED))
        .order_by(Offer.id)
    )
    return [
        Contribution(
            member_id,
            (name or None) if member_id is not None and share_name else None,
            kind,
            amount,
            currency,
        )
        for member_id, share_name, name, kind, amount, currency in rows
    ]


async def need_contributors(session: AsyncSession, need_id: int) -> dict[int, list[str]]:
    """The members whose offer on this need was accepted or done, with the kinds they gave."""
    rows = await session.execute(
        select(Offer.member_id, Offer.kind)
        .where(
            Offer.need_id == need_id,
            Offer.status.in_(CONTRIBUTED),
            Offer.member_id.is_not(None),
        )
        .order_by(Offer.member_id, Offer.id)
    )
    found: dict[int, list[str]] = {}
    for member_id, kind in rows:
        if member_id is None:
            continue
        kinds = found.setdefault(member_id, [])
        if kind not in kinds:
            kinds.append(kind)
    return found


async def unthanked_done(
    session: AsyncSession, project_ids: Collection[int] | None, limit: int = 10
) -> tuple[list[OfferRow], int]:
    """Done offers not yet thanked on the given projects (None: every project), newest first,
    with the total before the limit."""
    query = (
        select(Offer, Need, Project)
        .join(Need, Offer.need_id == Need.id)
        .join(Project, Need.project_id == Project.id)
        .where(
            Offer.status == OfferStatus.DONE.value,
            Offer.thanked_at.is_(None),
            Offer.member_id.is_not(None),
        )
    )
    if project_ids is not None:
        query = query.where(Project.id.in_(list(project_ids)))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(Offer.decided_at.desc(), Offer.id.desc()).limit(limit)
    )
    return [(offer, need, project) for offer, need, project in rows], int(total or 0)


async def mark_thanked(session: AsyncSession, offer_id: int, now: datetime) -> bool:
    """Record the thanks of a done offer, unless it was thanked first: True for the one caller
    that did it."""
    result = await session.execute(
        update(Offer)
        .where(
            Offer.id == offer_id,
            Offer.status == OfferStatus.DONE.value,
            Offer.thanked_at.is_(None),
        )
        .values(thanked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def queued_anywhere(session: AsyncSession, purpose: str) -> bool:
    """Whether a delivery with this purpose was queued to any target."""
    found = await session.scalar(select(exists().where(Delivery.purpose == purpose)))
    return bool(found)
