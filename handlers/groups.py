"""What happens to the groups and channels themselves: the bot added, removed, or a group
given a new id. Registrations follow, so announcements stop where the bot no longer is and
nothing is lost when Telegram upgrades a group to a supergroup."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.chat import ChatChange, ChatJoined, ChatLeft, ChatMoved, Place, Target
from handlers.context import Services
from store.models import AuditEntry, Chat, Delivery, DeliveryStatus
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)


async def chat_changed(services: Services, place: Place, change: ChatChange) -> None:
    """Record a change of a group or channel (called by the adapters; no member involved)."""
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
