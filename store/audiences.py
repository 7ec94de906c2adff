"""Who a campaign run writes to, and what each kind of campaign talks about.

Set-based queries (no query per member): the audience with each member's preferred identity,
language, time zone and quiet hours in one query, the frequency-cap counts in one more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true, union
from sqlalchemy.ext.asyncio import AsyncSession

from store import respect
from store.models import (
    CampaignRun,
    Chat,
    Delivery,
    DeliveryStatus,
    Follow,
    Member,
    MemberIdentity,
    Need,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
)

CHUNK = 1000


# --- audiences -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    """A member as a run needs them: where to write, in which language, and when."""

    member_id: int
    locale: str | None
    timezone: str | None
    quiet_hours: str | None
    platform: str
    external_id: str
    language_code: str | None
    unreachable: bool


def _followers(project_id: int) -> ColumnElement[bool]:
    return Member.id.in_(select(Follow.member_id).where(Follow.project_id == project_id))


def _contributors(project_id: int | None) -> ColumnElement[bool]:
    offers = select(Offer.member_id).where(Offer.member_id.is_not(None))
    if project_id is not None:
        offers = offers.join(Need, Need.id == Offer.need_id).where(Need.project_id == project_id)
    return Member.id.in_(offers)


def audience_filter(members: str, project_id: int | None) -> ColumnElement[bool] | None:
    """The SQL condition for an audience's "members" value; None: nobody."""
    if members == "everyone":
        return true()
    if members == "followers":
        return _followers(project_id) if project_id is not None else None
    if members == "contributors":
        return _contributors(project_id)
    return None


async def recipients(
    session: AsyncSession, condition: ColumnElement[bool], *, consent: bool = True
) -> list[Recipient]:
    """One recipient per member matching `condition` (only those who accepted private
    engagement messages when `consent`), on their preferred identity: a reachable one
    first, then the most recently seen (as `members.preferred_identity`)."""
    if consent:
        condition = and_(Member.accepts_dm.is_(True), condition)
    best: dict[int, tuple[tuple[bool, float], Recipient]] = {}
    query = (
        select(
            Member.id,
            Member.locale,
            Member.timezone,
            Member.quiet_hours,
            MemberIdentity.platform,
            MemberIdentity.external_id,
            MemberIdentity.language_code,
            MemberIdentity.unreachable,
            MemberIdentity.last_seen_at,
        )
        .join(MemberIdentity, MemberIdentity.member_id == Member.id)
        .where(condition)
        .order_by(Member.id)
    )
    for row in await session.execute(query):
        (member_id, locale, tz, quiet, platform, external, language, unreachable, seen) = row
        rank = (not unreachable, seen.timestamp() if seen else 0.0)
        known = best.get(member_id)
        if known is None or rank > known[0]:
            best[member_id] = (
                rank,
                Recipient(
                    member_id, locale, tz, quiet, platform, external, language, bool(unreachable)
                ),
            )
    return [recipient for _rank, recipient in best.values()]


async def member_recipients(
    session: AsyncSession, member_ids: Iterable[int], *, consent: bool = True
) -> dict[int, Recipient]:
    """Recipients for these members (chunked, for the per-member kinds)."""
    ids = sorted(set(member_ids))
    found: dict[int, Recipient] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for recipient in await recipients(session, Member.id.in_(chunk), consent=consent):
            found[recipient.member_id] = recipient
    return found


async def group_chats(session: AsyncSession, groups: Any) -> list[Chat]:
    """Registered, active chats for an audience's "groups": "all", "none" or tags."""
    if groups in (None, "none") or groups == []:
        return []
    chats = list(
        await session.scalars(
            select(Chat).where(Chat.registered.is_(True), Chat.active.is_(True)).order_by(Chat.id)
        )
    )
    if groups == "all":
        return chats
    if isinstance(groups, str):
        groups = [groups]
    wanted = {str(tag).lower() for tag in groups}
    return [chat for chat in chats if wanted & {tag.lower() for tag in chat.tags or []}]


async def recent_campaign_counts(session: AsyncSession, since: datetime) -> dict[int, int]:
    """Engagement messages (campaigns and matching notes) per member since `since`, every
    platform together: what the frequency cap counts."""
    rows = await session.execute(
        select(Delivery.member_id, func.count())
        .where(
            respect.engagement_filter(),
            Delivery.member_id.is_not(None),
            Delivery.created_at >= since,
            Delivery.status.in_(respect.CAPPED_STATUSES),
        )
        .group_by(Delivery.member_id)
    )
    return {member_id: count for member_id, count in rows if member_id is not None}


async def campaign_recipients_since(
    session: AsyncSession, campaign_id: int, since: datetime
) -> set[int]:
    """Members this campaign wrote to (not skipped) since `since`."""
    rows = await session.scalars(
        select(Delivery.member_id)
        .join(CampaignRun, CampaignRun.id == Delivery.run_id)
        .where(
            CampaignRun.campaign_id == campaign_id,
            Delivery.member_id.is_not(None),
            Delivery.created_at >= since,
            Delivery.status != DeliveryStatus.SKIPPED.value,
        )
        .distinct()
    )
    return {member_id for member_id in rows if member_id is not None}


async def followed_up_offers(session: AsyncSession, campaign_id: int) -> set[int]:
    """Offers this follow-up campaign already asked about (not skipped)."""
    purposes = await session.scalars(
        select(Delivery.purpose)
        .join(CampaignRun, CampaignRun.id == Delivery.run_id)
        .where(
            CampaignRun.campaign_id == campaign_id,
            Delivery.purpose.contains(":offer:"),
            Delivery.status != DeliveryStatus.SKIPPED.value,
        )
    )
    found: set[int] = set()
    for purpose in purposes:
        tail = purpose.rpartition(":offer:")[2]
        if tail.isdigit():
            found.add(int(tail))
    return found


# --- what each kind talks about ---------------------------------------------------------------


async def spotlight_project(session: AsyncSession, project_id: int | None = None) -> Project | None:
    """The campaign's own project when it has one and it is open; else the open project
    spotlighted least recently (never spotlighted first)."""
    query = select(Project).where(Project.status == ProjectStatus.OPEN.value)
    if project_id is not None:
        return await session.scalar(query.where(Project.id == project_id))
    return await session.scalar(
        query.order_by(
            Project.spotlighted_at.is_not(None), Project.spotlighted_at, Project.id
        ).limit(1)
    )


async def open_needs(session: AsyncSession, project_ids: Iterable[int]) -> list[Need]:
    ids = sorted(set(project_ids))
    if not ids:
        return []
    return list(
        await session.scalars(
            select(Need)
            .where(Need.project_id.in_(ids), Need.status == NeedStatus.OPEN.value)
            .order_by(Need.id)
        )
    )


async def digest_needs(
    session: AsyncSession, since: datetime, today: date, soon: date, soon_before: date
) -> list[Need]:
    """Open needs of open projects that opened since `since`, or whose deadline came within
    reach since then (due by `soon`, and not already due by `soon_before` at the last run)."""
    return list(
        await session.scalars(
            select(Need)
            .join(Project, Project.id == Need.project_id)
            .where(
                Project.status == ProjectStatus.OPEN.value,
                Need.status == NeedStatus.OPEN.value,
                or_(
                    Need.created_at > since,
                    and_(
                        Need.deadline.is_not(None),
                        Need.deadline >= today,
                        Need.deadline <= soon,
                        Need.deadline > soon_before,
                    ),
                ),
            )
            .order_by(Need.deadline.is_(None), Need.deadline, Need.id)
        )
    )


async def projects_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Project]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(select(Project).where(Project.id.in_(wanted)))
    return {project.id: project for project in found}


async def accepted_offers(
    session: AsyncSession, decided_before: datetime
) -> list[tuple[Offer, Need, Project]]:
    """Offers accepted before `decided_before` and not yet done, oldest first, of members who
    accepted private engagement messages."""
    rows = await session.execute(
        select(Offer, Need, Project)
        .join(Need, Need.id == Offer.need_id)
        .join(Project, Project.id == Need.project_id)
        .join(Member, Member.id == Offer.member_id)
        .where(
            Member.accepts_dm.is_(True),
            Offer.status == OfferStatus.ACCEPTED.value,
            Offer.member_id.is_not(None),
            Offer.decided_at.is_not(None),
            Offer.decided_at <= decided_before,
        )
        .order_by(Offer.decided_at, Offer.id)
    )
    return [(offer, need, project) for offer, need, project in rows]


def inactive_since(cutoff: datetime) -> ColumnElement[bool]:
    """Members not seen since `cutoff` (never seen: since they joined)."""
    return func.coalesce(Member.last_seen_at, Member.created_at) < cutoff


async def suggestions(
    session: AsyncSession, member_ids: Sequence[int], today: date
) -> dict[int, Need]:
    """For each member, one open need of an open project they follow or contributed to,
    that they have not offered on yet: the nearest deadline first, then the oldest."""
    found: dict[int, Need] = {}
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        followed = select(
            Follow.member_id.label("member_id"), Follow.project_id.label("project_id")
        )
        contributed = (
            select(Offer.member_id.label("member_id"), Need.project_id.label("project_id"))
            .join(Need, Need.id == Offer.need_id)
            .where(Offer.member_id.is_not(None))
        )
        interest = union(followed, contributed).subquery()
        offered = select(Offer.need_id).where(Offer.member_id == interest.c.member_id)
        rows = await session.execute(
            select(interest.c.member_id, Need)
            .join(Need, Need.project_id == interest.c.project_id)
            .join(Project, Project.id == Need.project_id)
            .where(
                interest.c.member_id.in_(chunk),
                Project.status == ProjectStatus.OPEN.value,
                Need.status == NeedStatus.OPEN.value,
                or_(Need.deadline.is_(None), Need.deadline >= today),
                Need.id.not_in(offered),
            )
            .order_by(interest.c.member_id, Need.deadline.is_(None), Need.deadline, Need.id)
        )
        for member_id, need in rows:
            found.setdefault(member_id, need)
    return found
