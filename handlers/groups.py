"""What happens to the groups and channels themselves: the bot added, removed, or a group
given a new id. Registrations follow, so announcements stop where the bot no longer is and
nothing is lost when Telegram upgrades a group to a supergroup. After a restart, an adapter
that can list what it sees (Discord) reconciles: what went while the bot was offline is
treated as if the platform had said so at the time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import notify
from handlers.chat import (
    ChatChange,
    ChatJoined,
    ChatLeft,
    ChatMoved,
    Message,
    Place,
    Platform,
    Rich,
    Target,
)
from handlers.context import Services
from handlers.i18n import _
from store.models import AuditEntry, Chat, Delivery, DeliveryStatus
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)


async def chat_changed(services: Services, place: Place, change: ChatChange) -> None:
    """Record a change of a group or channel (called by the adapters; no member involved)."""
    told = 0
    async with UnitOfWork(services.sessions) as uow:
        session = uow.session
        now = services.now()
        chat = await session.scalar(
            select(Chat).where(
                Chat.platform == place.platform.value, Chat.external_id == place.chat_id
            )
        )
        match change:
            case ChatJoined():
                if chat is None:
                    chat = Chat(
                        platform=place.platform.value,
                        external_id=place.chat_id,
                        title=change.title or place.title or "",
                        tags=[],
                        registered=False,
                        active=True,
                        created_at=now,
                    )
                    session.add(chat)
                else:
                    chat.active = True
                    chat.title = change.title or chat.title
                action = "chat.joined"
            case ChatLeft():
                if chat is None:
                    return
                if chat.active and chat.registered:
                    told = await _tell_community_managers(session, services, chat, now)
                chat.active = False
                await _skip_pending(session, Target(place.platform, place.chat_id, False).key)
                action = "chat.left"
            case ChatMoved():
                if chat is None:
                    return
                await _move(session, chat, place, change.new_chat_id)
                action = "chat.moved"
        session.add(
            AuditEntry(
                at=now,
                actor_id=None,
                action=action,
                subject=f"chat:{place.platform.value}:{place.chat_id}",
                details=_details(change),
            )
        )
        await uow.commit()
    logger.info("%s: %s %s", action, place.platform.value, place.chat_id)
    if told and services.on_outbox is not None:
        woken = services.on_outbox()
        if woken is not None:
            await woken


async def chats_present(
    services: Services,
    platform: Platform,
    present: Collection[str],
    still_there: Callable[[str], Awaitable[bool]] | None = None,
) -> None:
    """Bring the chats of `platform` in line with the ones the bot sees on (re)connecting.

    An active chat it no longer sees was left while it was offline (removed from a server, a
    channel deleted), once `still_there` (the platform asked about that one chat) says it
    is really gone: a connection does not list everything (Discord leaves archived threads
    out). An inactive one it sees again was given back to it meanwhile. Each goes through
    `chat_changed`, so the effect is the one of a live event. The adapter must call this only
    when it sees everything it can (no server hidden by an outage)."""
    async with services.sessions() as session:
        known = (
            await session.execute(
                select(Chat.external_id, Chat.active).where(Chat.platform == platform.value)
            )
        ).all()
    seen = set(present)
    unseen = sorted(chat_id for chat_id, active in known if active and chat_id not in seen)
    gone = [c for c in unseen if still_there is None or not await still_there(c)]
    back = sorted(chat_id for chat_id, active in known if not active and chat_id in seen)
    for chat_id in gone:
        await chat_changed(services, Place(platform, chat_id, False), ChatLeft())
    for chat_id in back:
        await chat_changed(services, Place(platform, chat_id, False), ChatJoined())
    logger.info(
        "%s chats reconciled: %d seen, %d gone meanwhile, %d back",
        platform.value,
        len(seen),
        len(gone),
        len(back),
    )


async def _tell_community_managers(
    session: AsyncSession, services: Services, chat: Chat, now: datetime
) -> int:
    """A registered group is gone: its announcements and campaigns stop there, which the
    community managers must know (they may want to register another one). Returns how many
    were told."""
    community = services.community
    key = Target(Platform(chat.platform), chat.external_id, False).key

    def notice() -> Message:
        return Message(
            Rich.of(
                _(
                    "I can no longer post in {chat} ({platform}): I was removed from it, or it "
                    "was deleted. Announcements and campaigns stop there; if I am added back, "
                    "its registration comes back with me."
                ).format(chat=chat.title or chat.external_id, platform=chat.platform.capitalize())
            )
        )

    return await notify.community_managers(
        session,
        community.community_managers | community.admins,
        community.default_language,
        now,
        # One notice per departure: the same chat may leave again after coming back.
        f"left:{key}:{now.isoformat(timespec='seconds')}",
        notice,
    )


async def _move(session: AsyncSession, chat: Chat, place: Place, new_id: str) -> None:
    """Give the chat its new id, keeping its registration, tags and announcements."""
    existing = await session.scalar(
        select(Chat).where(Chat.platform == chat.platform, Chat.external_id == new_id)
    )
    if existing is not None:
        # The bot already saw the new chat (its first message arrived before the
        # migration notice): carry the registration over and retire the old row.
        existing.registered = existing.registered or chat.registered
        existing.tags = sorted(set(existing.tags) | set(chat.tags))
        existing.active = True
        chat.active = False
        chat.registered = False
    else:
        chat.external_id = new_id
    old_key = Target(place.platform, place.chat_id, False).key
    new_key = Target(place.platform, new_id, False).key
    await session.execute(
        update(Delivery)
        .where(Delivery.target == old_key, Delivery.status == DeliveryStatus.PENDING.value)
        .values(target=new_key)
    )


async def _skip_pending(session: AsyncSession, target_key: str) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.target == target_key, Delivery.status == DeliveryStatus.PENDING.value)
        .values(status=DeliveryStatus.SKIPPED.value, error="the bot left this chat")
    )


def _details(change: ChatChange) -> dict[str, str]:
    return {"new_chat_id": change.new_chat_id} if isinstance(change, ChatMoved) else {}
