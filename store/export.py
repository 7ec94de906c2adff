"""What may leave the bot for a showcase or a funder's report: published projects, their
needs and the offers made to them, with counts computed in the database.

Nothing here names a member, except a contributor who agreed to be named publicly
(`Member.share_name`): their display name, and only that. No identities (platform ids,
usernames), no private messages, no contact, no member numbers. Draft projects (proposals
not yet published) stay out, with their needs and offers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    Follow,
    Member,
    Need,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
)

PROJECT_COLUMNS = (
    "slug",
    "title",
    "summary",
    "territory",
    "tags",
    "status",
    "created_at",
    "needs",
    "open_needs",
    "offers",
    "contributions",  # offers accepted or done
    "followers",
)
NEED_COLUMNS = (
    "id",
    "project",
    "kind",
    "title",
    "details",
    "target_amount",
    "currency",
    "deadline",
    "status",
    "created_at",
    "closed_at",
    "offers",
    "contributions",
)
OFFER_COLUMNS = (
    "id",
    "need",
    "project",
    "kind",
    "status",
    "availability",
    "pledged_amount",
    "currency",
    "created_at",
    "decided_at",
    "contributor",  # the display name, only if its owner agreed to be named; else empty
)
CONTRIBUTED = (OfferStatus.ACCEPTED.value, OfferStatus.DONE.value)

Row = dict[str, Any]


def _published() -> Any:
    return Project.status != ProjectStatus.DRAFT.value


async def projects(session: AsyncSession) -> list[Row]:
    """Published projects with their counts of needs, offers and followers."""
    need_counts = (
        select(
            Need.project_id.label("project_id"),
            func.count().label("needs"),
            func.count().filter(Need.status == NeedStatus.OPEN.value).label("open_needs"),
        )
        .group_by(Need.project_id)
        .subquery()
    )
    offer_counts = (
        select(
            Need.project_id.label("project_id"),
            func.count().label("offers"),
            func.count().filter(Offer.status.in_(CONTRIBUTED)).label("contributions"),
        )
        .join(Need, Need.id == Offer.need_id)
        .group_by(Need.project_id)
        .subquery()
    )
    follower_counts = (
        select(Follow.project_id.label("project_id"), func.count().label("followers"))
        .group_by(Follow.project_id)
        .subquery()
    )
    query = (
        select(
            Project.slug,
            Project.title,
            Project.summary,
            Project.territory,
            Project.tags,
            Project.status,
            Project.created_at,
            func.coalesce(need_counts.c.needs, 0),
            func.coalesce(need_counts.c.open_needs, 0),
            func.coalesce(offer_counts.c.offers, 0),
            func.coalesce(offer_counts.c.contributions, 0),
            func.coalesce(follower_counts.c.followers, 0),
        )
        .outerjoin(need_counts, need_counts.c.project_id == Project.id)
        .outerjoin(offer_counts, offer_counts.c.project_id == Project.id)
        .outerjoin(follower_counts, follower_counts.c.project_id == Project.id)
        .where(_published())
        .order_by(Project.slug)
    )
    return _rows(PROJECT_COLUMNS, await session.execute(query))


async def needs(session: AsyncSession) -> list[Row]:
    """The needs of published projects, with their counts of offers."""
    offer_counts = (
        select(
            Offer.need_id.label("need_id"),
            func.count().label("offers"),
            func.count().filter(Offer.status.in_(CONTRIBUTED)).label("contributions"),
        )
        .group_by(Offer.need_id)
        .subquery()
    )
    query = (
        select(
            Need.id,
            Project.slug,
            Need.kind,
            Need.title,
            Need.details,
            Need.target_amount,
            Need.currency,
            Need.deadline,
            Need.status,
            Need.created_at,
            Need.closed_at,
            func.coalesce(offer_counts.c.offers, 0),
            func.coalesce(offer_counts.c.contributions, 0),
        )
        .join(Project, Project.id == Need.project_id)
        .outerjoin(offer_counts, offer_counts.c.need_id == Need.id)
        .where(_published())
        .order_by(Need.id)
    )
    return _rows(NEED_COLUMNS, await session.execute(query))


async def offers(session: AsyncSession) -> list[Row]:
    """Offers to the needs of published projects; the contributor is named only with their
    consent (and never for an erased member)."""
    named = case(
        (Member.share_name.is_(True), Member.display_name),
        else_=literal(""),
    )
    query = (
        select(
            Offer.id,
            Offer.need_id,
            Project.slug,
            Offer.kind,
            Offer.status,
            Offer.availability,
            Offer.pledged_amount,
            Offer.currency,
            Offer.created_at,
            Offer.decided_at,
            func.coalesce(named, ""),
        )
        .join(Need, Need.id == Offer.need_id)
        .join(Project, Project.id == Need.project_id)
        .outerjoin(Member, Member.id == Offer.member_id)
        .where(_published())
        .order_by(Offer.id)
    )
    return _rows(OFFER_COLUMNS, await session.execute(query))


def _rows(columns: Sequence[str], result: Any) -> list[Row]:
    return [dict(zip(columns, row, strict=True)) for row in result]
