"""Writing to someone other than the actor: always through the outbox, in their language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.chat import Outgoing, Platform, Target
from handlers.context import Ctx
from handlers.i18n import negotiate, use_language
from handlers.serial import dump
from store import members, outbox
from store.models import Chat, Member

logger = logging.getLogger(__name__)


async def language_of(ctx: Ctx, member_id: int) -> str:
    member = await ctx.session.get(Member, member_id)
    if member is not None and member.locale:
        return member.locale
    identity = await members.preferred_identity(ctx.session, member_id)
    code = negotiate(identity.language_code) if identity is not None else None
    return code or ctx.community.default_language


async def to_member(
    ctx: Ctx,
    member_id: int,
    purpose: str,
    build: Callable[[], Outgoing],
    *,
    waiting: int | None = None,
    if_unreachable: Callable[[], Outgoing] | None = None,
) -> bool:
    """Queue a private message to a member, built in their language; False if they have no
    identity at all. `purpose` makes it idempotent: the same purpose is sent once.

    When the member cannot be written to privately, the message is held until they next talk
    to the bot, and `waiting` (a leader or CM expecting the member to hear it) is told with
    `if_unreachable`, built in their own language."""
    identity = await members.preferred_identity(ctx.session, member_id)
    if identity is None:
        return False
    with use_language(await language_of(ctx, member_id)):
        message = build()
    payload = dump(message)
    if waiting is not None and if_unreachable is not None:
        fallback = await _fallback(ctx, waiting, if_unreachable)
        if fallback is not None:
            payload["fallback"] = fallback
    target = Target(Platform(identity.platform), identity.external_id, True)
    queued = await outbox.enqueue(
        ctx.session,
        purpose=purpose,
        target=target.key,
        platform=identity.platform,
        payload=payload,
        member_id=member_id,
        now=ctx.now(),
    )
    if queued is not None:
        ctx.queued += 1
    return True


async def _fallback(
    ctx: Ctx, member_id: int, build: Callable[[], Outgoing]
) -> dict[str, Any] | None:
    """A ready-made delivery for the dispatcher to queue if the first one cannot arrive."""
    identity = await members.preferred_identity(ctx.session, member_id)
    if identity is None:
        return None
    with use_language(await language_of(ctx, member_id)):
        message = build()
    target = Target(Platform(identity.platform), identity.external_id, True)
    return {
        "member_id": member_id,
        "target": target.key,
        "platform": identity.platform,
        "payload": dump(message),
    }


async def to_chat(ctx: Ctx, chat: Chat, purpose: str, build: Callable[[], Outgoing]) -> int | None:
    """Queue a message to a registered group or channel, in the community's language.
    Returns the delivery id, or None when this purpose was already queued there."""
    with use_language(ctx.community.default_language):
        message = build()
    target = Target(Platform(chat.platform), chat.external_id, False)
    queued = await outbox.enqueue(
        ctx.session,
        purpose=purpose,
        target=target.key,
        platform=chat.platform,
        payload=dump(message),
        now=ctx.now(),
    )
    if queued is not None:
        ctx.queued += 1
    return queued


async def community_managers(
    session: AsyncSession,
    identities: frozenset[str],
    default_language: str,
    now: datetime,
    purpose: str,
    build: Callable[[], Outgoing],
) -> int:
    """Queue a private message to every community manager (the members granted the `cm`
    role and those behind the configured `identities`), each built in their own language,
    without an actor (an adapter's report, the dispatcher). `purpose` makes it idempotent
    per manager. Returns how many were queued."""
    managers = await members.community_manager_ids(session, identities)
    if not managers:
        logger.warning("no community manager to tell of %s", purpose)
    told = 0
    for member_id in managers:
        address = await outbox.private_address(session, member_id)
        if address is None:
            continue
        with use_language(address.locale or negotiate(address.language_code) or default_language):
            message = build()
        target = Target(Platform(address.platform), address.external_id, True)
        queued = await outbox.enqueue(
            session,
            purpose=purpose,
            target=target.key,
            platform=address.platform,
            payload=dump(message),
            member_id=member_id,
            now=now,
        )
        if queued is not None:
            told += 1
    return told
