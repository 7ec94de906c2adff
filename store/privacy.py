"""A member's own data: everything kept about them (for /mydata), and its erasure (for
/forgetme), which keeps the projects' history but nothing that points back to the person.

Erasure runs inside the caller's transaction: either all of it happens or none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, String, Text, cast, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from store import traits
from store.links import CODE_PLATFORM
from store.models import (
    AuditEntry,
    Campaign,
    CampaignResponse,
    CampaignRun,
    Delivery,
    DeliveryStatus,
    DialogState,
    Follow,
    MatchFeedback,
    Member,
    MemberIdentity,
    MemberRole,
    Need,
    NeedClick,
    Offer,
    Project,
    ProjectLeader,
)

ERASED = "—"
# Deliveries not yet out: removed. Those already out stay as anonymous counts.
UNSENT = (
    DeliveryStatus.PENDING.value,
    DeliveryStatus.HELD.value,
    DeliveryStatus.SENDING.value,
)
# Texts shorter than this are too common ("yes", "ok") to be searched in other rows.
TEXT_SEARCH_MIN = 12
NO_SYNC = {"synchronize_session": False}


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _amount(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


# --- /mydata -------------------------------------------------------------------------------


async def export_member(session: AsyncSession, member_id: int, now: datetime) -> dict[str, Any]:
    """Everything kept about one member, as JSON-ready data."""
    member = await session.get_one(Member, member_id, populate_existing=True)
    data: dict[str, Any] = {
        "exported_at": now.isoformat(),
        "member": {
            "id": member.id,
            "display_name": member.display_name,
            "locale": member.locale,
            "timezone": member.timezone,
            "quiet_hours": member.quiet_hours,
            "created_at": _when(member.created_at),
            "last_seen_at": _when(member.last_seen_at),
            "skills": member.skills,
            "liked_kinds": member.liked_kinds,
            "languages": member.languages,
            "country": member.country,
            "city": member.city,
            "origin": member.origin,
            "availability": member.availability,
            "accepts_dm": member.accepts_dm,
            "share_name": member.share_name,
            "matching_off": member.matching_off,
            "profile_asked_at": _when(member.profile_asked_at),
            "profile_skipped": member.profile_skipped,
        },
    }
    identities = await session.scalars(
        select(MemberIdentity)
        .where(MemberIdentity.member_id == member_id)
        .order_by(MemberIdentity.id)
    )
    data["identities"] = [
        {
            "platform": identity.platform,
            "id": identity.external_id,
            "username": identity.username,
            "display_name": identity.display_name,
            "language_code": identity.language_code,
            "unreachable": identity.unreachable,
            "last_seen_at": _when(identity.last_seen_at),
        }
        for identity in identities
    ]
    roles = await session.scalars(
        select(MemberRole).where(MemberRole.member_id == member_id).order_by(MemberRole.id)
    )
    data["roles"] = [{"role": role.role, "granted_at": _when(role.granted_at)} for role in roles]
    led = await session.execute(
        select(Project.slug, Project.title, ProjectLeader.granted_at)
        .join(ProjectLeader, ProjectLeader.project_id == Project.id)
        .where(ProjectLeader.member_id == member_id)
        .order_by(Project.slug)
    )
    data["projects_led"] = [
        {"project": slug, "title": title, "since": _when(since)} for slug, title, since in led
    ]
    follows = await session.execute(
        select(Project.slug, Project.title, Follow.created_at)
        .join(Follow, Follow.project_id == Project.id)
        .where(Follow.member_id == member_id)
        .order_by(Project.slug)
    )
    data["follows"] = [
        {"project": slug, "title": title, "since": _when(since)} for slug, title, since in follows
    ]
    offers = await session.execute(
        select(Offer, Need.title, Project.slug, Project.title)
        .join(Need, Need.id == Offer.need_id)
        .join(Project, Project.id == Need.project_id)
        .where(Offer.member_id == member_id)
        .order_by(Offer.id)
    )
    data["offers"] = [
        {
            "id": offer.id,
            "need_id": offer.need_id,
            "need": need_title,
            "project": slug,
            "project_title": project_title,
            "kind": offer.kind,
            "message": offer.message,
            "availability": offer.availability,
            "pledged_amount": _amount(offer.pledged_amount),
            "currency": offer.currency,
            "share_contact": offer.share_contact,
            "status": offer.status,
            "reason": offer.reason,
            "source": offer.source,
            "created_at": _when(offer.created_at),
            "decided_at": _when(offer.decided_at),
            "thanked_at": _when(offer.thanked_at),
        }
        for offer, need_title, slug, project_title in offers
    ]
    responses = await session.execute(
        select(CampaignResponse, Campaign.name)
        .join(Campaign, Campaign.id == CampaignResponse.campaign_id)
        .where(CampaignResponse.member_id == member_id)
        .order_by(CampaignResponse.id)
    )
    data["campaign_responses"] = [
        {
            "campaign": name,
            "kind": response.kind,
            "choice": response.choice,
            "text": response.text,
            "created_at": _when(response.created_at),
        }
        for response, name in responses
    ]
    feedback = await session.execute(
        select(MatchFeedback, Need.title)
        .join(Need, Need.id == MatchFeedback.need_id)
        .where(MatchFeedback.member_id == member_id)
        .order_by(MatchFeedback.id)
    )
    data["match_feedback"] = [
        {
            "need_id": row.need_id,
            "need": title,
            "verdict": row.verdict,
            "created_at": _when(row.created_at),
        }
        for row, title in feedback
    ]
    clicks = await session.execute(
        select(NeedClick, Need.title)
        .join(Need, Need.id == NeedClick.need_id)
        .where(NeedClick.member_id == member_id)
        .order_by(NeedClick.id)
    )
    data["clicks"] = [
        {
            "need_id": click.need_id,
            "need": title,
            "source": click.source,
            "created_at": _when(click.created_at),
        }
        for click, title in clicks
    ]
    data["clicks_through_your_shares"] = int(
        await session.scalar(
            select(func.count()).select_from(NeedClick).where(NeedClick.referrer_id == member_id)
        )
        or 0
    )
    states = await session.scalars(
        select(DialogState)
        .where(DialogState.member_id == member_id, DialogState.platform != CODE_PLATFORM)
        .order_by(DialogState.id)
    )
    data["conversations"] = [
        {
            "platform": state.platform,
            "chat": state.chat_id,
            "dialog": state.dialog,
            "step": state.step,
            "data": state.data,
            "updated_at": _when(state.updated_at),
        }
        for state in states
    ]
    waiting = await session.scalars(
        select(Delivery)
        .where(
            Delivery.member_id == member_id,
            Delivery.status.in_((DeliveryStatus.PENDING.value, DeliveryStatus.HELD.value)),
        )
        .order_by(Delivery.id)
    )
    data["messages_waiting"] = [
        {"purpose": delivery.purpose, "status": delivery.status} for delivery in waiting
    ]
    return data


# --- /forgetme -----------------------------------------------------------------------------


@dataclass
class Erased:
    """What an erasure did, in counts (nothing that names the person)."""

    offers: int = 0
    responses: int = 0
    deliveries_removed: int = 0
    leaderless: list[int] = field(default_factory=list)  # projects left without a leader


def _pattern(identifier: str) -> re.Pattern[str]:
    """`identifier` as a whole word (so "ali" does not touch "alibi")."""
    return re.compile(r"(?<!\w)" + re.escape(identifier) + r"(?!\w)", re.IGNORECASE)


def scrub(value: Any, patterns: Sequence[re.Pattern[str]]) -> Any:
    """`value` (JSON data or text) with every identifier replaced by a dash."""
    if isinstance(value, str):
        for pattern in patterns:
            value = pattern.sub(ERASED, value)
        return value
    if isinstance(value, list):
        return [scrub(item, patterns) for item in value]
    if isinstance(value, dict):
        return {key: scrub(item, patterns) for key, item in value.items()}
    return value


def _in_json(identifier: str) -> str:
    """How `identifier` reads inside stored JSON text (non-ASCII escaped), lowercased."""
    return json.dumps(identifier)[1:-1].lower()


async def _identifiers(session: AsyncSession, member: Member) -> list[str]:
    """What names the member: names, usernames, platform ids, the texts they wrote."""
    found: set[str] = {member.display_name}
    for identity in await session.scalars(
        select(MemberIdentity).where(MemberIdentity.member_id == member.id)
    ):
        found.update((identity.external_id, identity.username or "", identity.display_name or ""))
        if identity.username:
            found.add("@" + identity.username)
    texts = [
        *await session.scalars(select(Offer.message).where(Offer.member_id == member.id)),
        *await session.scalars(
            select(CampaignResponse.text).where(CampaignResponse.member_id == member.id)
        ),
    ]
    found.update(text.strip() for text in texts if len(text.strip()) >= TEXT_SEARCH_MIN)
    # Longest first, so that a full name goes before the first name it contains.
    return sorted((item for item in found if len(item.strip()) >= 2), key=len, reverse=True)


async def _scrub_column(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    identifiers: Sequence[str],
    *,
    json_text: bool,
) -> int:
    """Replace the identifiers in one text or JSON column, in the rows that mention them."""
    if not identifiers:
        return 0
    model = column.class_
    as_text = func.lower(cast(column, Text))
    needles = [_in_json(item) if json_text else item.lower() for item in identifiers]
    mentions = or_(*(as_text.contains(needle, autoescape=True) for needle in needles))
    patterns = [_pattern(item) for item in identifiers]
    changed = 0
    for row_id, value in await session.execute(select(model.id, column).where(mentions)):
        cleaned = scrub(value, patterns)
        if cleaned != value:
            await session.execute(
                update(model)
                .where(model.id == row_id)
                .values({column.key: cleaned})
                .execution_options(**NO_SYNC)
            )
            changed += 1
    return changed


async def _drop_fallbacks_to(session: AsyncSession, member_id: int) -> None:
    """Deliveries to others that would, if they fail, tell this member: not any more."""
    needle = f'"member_id": {member_id}'
    rows = await session.execute(
        select(Delivery.id, Delivery.payload).where(
            Delivery.status.in_(UNSENT), cast(Delivery.payload, Text).contains(needle)
        )
    )
    for delivery_id, payload in rows:
        fallback = payload.get("fallback") if isinstance(payload, dict) else None
        if isinstance(fallback, dict) and fallback.get("member_id") == member_id:
            kept = {key: value for key, value in payload.items() if key != "fallback"}
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(payload=kept)
                .execution_options(**NO_SYNC)
            )


async def erase_member(session: AsyncSession, member_id: int, now: datetime) -> Erased:
    """Erase a member: their profile, identities, rights, follows, conversations and
    feedback go; their offers, clicks and answers stay for the projects' history with no link
    to them and without the texts they wrote; messages waiting for them are dropped; what
    others' rows say about them is blanked; the member row itself is deleted last."""
    member = await session.get_one(Member, member_id, populate_existing=True)
    identifiers = await _identifiers(session, member)
    identities = list(
        await session.scalars(select(MemberIdentity).where(MemberIdentity.member_id == member_id))
    )
    private_targets = [
        f"{identity.platform}:user:{identity.external_id}" for identity in identities
    ]
    erased = Erased()

    co_led = select(ProjectLeader.project_id).where(ProjectLeader.member_id != member_id)
    erased.leaderless = list(
        await session.scalars(
            select(ProjectLeader.project_id)
            .where(ProjectLeader.member_id == member_id, ProjectLeader.project_id.not_in(co_led))
            .order_by(ProjectLeader.project_id)
        )
    )

    # Texts others wrote about them (a decline reason, a notification) lose their names.
    await _scrub_column(session, Offer.reason, identifiers, json_text=False)
    result = await session.execute(
        update(Offer)
        .where(Offer.member_id == member_id)
        .values(member_id=None, message="", share_contact=False)
        .execution_options(**NO_SYNC)
    )
    erased.offers = _rowcount(result)
    await session.execute(
        update(NeedClick)
        .where(NeedClick.member_id == member_id)
        .values(member_id=None)
        .execution_options(**NO_SYNC)
    )
    await session.execute(
        update(NeedClick)
        .where(NeedClick.referrer_id == member_id)
        .values(referrer_id=None)
        .execution_options(**NO_SYNC)
    )
    result = await session.execute(
        update(CampaignResponse)
        .where(CampaignResponse.member_id == member_id)
        .values(member_id=None, text="")
        .execution_options(**NO_SYNC)
    )
    erased.responses = _rowcount(result)

    theirs = or_(Delivery.member_id == member_id, Delivery.target.in_(private_targets))
    result = await session.execute(
        delete(Delivery).where(theirs, Delivery.status.in_(UNSENT)).execution_options(**NO_SYNC)
    )
    erased.deliveries_removed = _rowcount(result)
    # What was already sent stays as an anonymous count (campaign results, the funnel).
    await session.execute(
        update(Delivery)
        .where(theirs)
        .values(
            member_id=None,
            target=literal("erased:") + cast(Delivery.id, String),
            payload={},
            message_id=None,
            external_ref=None,
            error="",
        )
        .execution_options(**NO_SYNC)
    )
    await _drop_fallbacks_to(session, member_id)
    for column in (Delivery.payload, DialogState.data, CampaignRun.details, AuditEntry.details):
        await _scrub_column(session, column, identifiers, json_text=True)

    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor_id == member_id)
        .values(actor_id=None)
        .execution_options(**NO_SYNC)
    )
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.subject == f"member:{member_id}")
        .values(subject="member:" + ERASED)
        .execution_options(**NO_SYNC)
    )
    for model in (DialogState, MatchFeedback, Follow, ProjectLeader, MemberRole, MemberIdentity):
        await session.execute(
            delete(model).where(model.member_id == member_id).execution_options(**NO_SYNC)
        )
    # Every other reference (decisions, proposals, grants, registrations) is SET NULL by the
    # foreign keys when the row goes.
    await traits.forget(session, [member_id])
    await session.execute(delete(Member).where(Member.id == member_id).execution_options(**NO_SYNC))
    for project_id in erased.leaderless:
        session.add(
            AuditEntry(
                at=now,
                actor_id=None,
                action="project.leaderless",
                subject=f"project:{project_id}",
                details={"why": "leader erased their data"},
            )
        )
    session.add(
        AuditEntry(
            at=now,
            actor_id=None,
            action="member.erase",
            subject="member:" + ERASED,
            details={"offers": erased.offers, "responses": erased.responses},
        )
    )
    session.expire_all()
    return erased
