"""Linking accounts: pending one-time codes, and merging two members into one.

Pending codes need no table of their own: each is a `dialog_states` row whose `platform` is
`link` (no chat platform has that name, so no conversation can ever collide with it), with
`chat_id` `code`, `user_id` the code itself (unique there), `member_id` the member who was
shown it, and `updated_at` the moment it was shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from store import traits
from store.models import (
    AuditEntry,
    Chat,
    Delivery,
    DialogState,
    Follow,
    Member,
    MemberIdentity,
    MemberRole,
    Need,
    Offer,
    Project,
    ProjectLeader,
)

CODE_PLATFORM = "link"
CODE_CHAT = "code"

# Rows that belong to a member and are unique per (member, key): moved unless the kept member
# already has one for the same key.
_KEYED: tuple[tuple[Any, InstrumentedAttribute[Any]], ...] = (
    (Follow, Follow.project_id),
    (ProjectLeader, ProjectLeader.project_id),
    (MemberRole, MemberRole.role),
)
# Columns that simply point at a member.
_OWNED: tuple[InstrumentedAttribute[Any], ...] = (
    MemberIdentity.member_id,
    Offer.member_id,
    DialogState.member_id,
    Delivery.member_id,
)
_REFERENCES: tuple[InstrumentedAttribute[Any], ...] = (
    Offer.decided_by,
    MemberRole.granted_by,
    ProjectLeader.granted_by,
    Chat.registered_by,
    Project.proposed_by,
    Need.created_by,
    AuditEntry.actor_id,
)


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


async def pending_code(session: AsyncSession, code: str) -> DialogState | None:
    return await session.scalar(
        select(DialogState).where(
            DialogState.platform == CODE_PLATFORM,
            DialogState.chat_id == CODE_CHAT,
            DialogState.user_id == code,
        )
    )


async def add_code(session: AsyncSession, code: str, member_id: int, now: datetime) -> None:
    """Record `code` as shown to `member_id` now, replacing that member's earlier codes."""
    await session.execute(
        delete(DialogState).where(
            DialogState.platform == CODE_PLATFORM, DialogState.member_id == member_id
        )
    )
    session.add(
        DialogState(
            platform=CODE_PLATFORM,
            chat_id=CODE_CHAT,
            user_id=code,
            member_id=member_id,
            dialog="link",
            step="shown",
            data={},
            updated_at=now,
        )
    )


async def forget_codes_shown_before(session: AsyncSession, moment: datetime) -> None:
    await session.execute(
        delete(DialogState).where(
            DialogState.platform == CODE_PLATFORM, DialogState.updated_at < moment
        )
    )


async def claim_code(session: AsyncSession, state_id: int) -> bool:
    """Use a code once: of two members entering it at the same time, one wins."""
    result = await session.execute(delete(DialogState).where(DialogState.id == state_id))
    return _rowcount(result) == 1


async def platforms_of(session: AsyncSession, member_id: int) -> set[str]:
    return set(
        await session.scalars(
            select(MemberIdentity.platform).where(MemberIdentity.member_id == member_id)
        )
    )


async def count_actions_since(
    session: AsyncSession, actor_id: int, action: str, since: datetime
) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.actor_id == actor_id,
            AuditEntry.action == action,
            AuditEntry.at >= since,
        )
    )
    return int(found or 0)


async def merge_members(session: AsyncSession, keep_id: int, gone_id: int) -> None:
    """Move everything of member `gone_id` to `keep_id`, then delete `gone_id`.

    Identities, offers, follows, leader rights, roles, conversations, deliveries and every
    reference (audit, decisions, proposals) follow. Objects already loaded in `session` are
    expired: the statements run in bulk, without the ORM's bookkeeping.
    """
    no_sync = {"synchronize_session": False}
    for model, key in _KEYED:
        kept = select(key).where(model.member_id == keep_id).scalar_subquery()
        await session.execute(
            update(model)
            .where(model.member_id == gone_id, key.not_in(kept))
            .values(member_id=keep_id)
            .execution_options(**no_sync)
        )
        await session.execute(
            delete(model).where(model.member_id == gone_id).execution_options(**no_sync)
        )
    for column in (*_OWNED, *_REFERENCES):
        await session.execute(
            update(column.class_)
            .where(column == gone_id)
            .values({column.key: keep_id})
            .execution_options(**no_sync)
        )
    keep = await session.get_one(Member, keep_id)
    gone = await session.get_one(Member, gone_id)
    values: dict[str, Any] = {}
    if not keep.locale and gone.locale:
        values["locale"] = gone.locale
    if not keep.display_name and gone.display_name:
        values["display_name"] = gone.display_name
    seen = [moment for moment in (keep.last_seen_at, gone.last_seen_at) if moment is not None]
    if seen:
        values["last_seen_at"] = max(seen)
    if values:
        await session.execute(
            update(Member).where(Member.id == keep_id).values(values).execution_options(**no_sync)
        )
    await traits.forget(session, [gone_id])
    await session.execute(delete(Member).where(Member.id == gone_id).execution_options(**no_sync))
    session.expire_all()
