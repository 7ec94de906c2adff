"""Telegram updates as neutral things: who, where, which command; and their processing order.

Updates of different people are handled concurrently, those of one person (or one chat) in
order, so that the answers of a conversation never overtake each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from telegram import Chat as TgChat
from telegram import ChatMember, Update
from telegram import User as TgUser
from telegram.constants import ChatType
from telegram.ext import BaseUpdateProcessor

from handlers.chat import Command, Identity, Incoming, Place, Platform, Press

PRESENT = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER})


class PerSenderProcessor(BaseUpdateProcessor):
    """Different people's updates concurrently; one person's (or one chat's) in order."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        key = _sender_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def _sender_key(update: object) -> int:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return 0


# --- platform objects to neutral ones ---------------------------------------------------------


def identity_of(user: TgUser) -> Identity:
    return Identity(
        Platform.TELEGRAM, str(user.id), user.username, user.full_name, user.language_code
    )


def place_of(chat: TgChat) -> Place:
    return Place(Platform.TELEGRAM, str(chat.id), chat.type == ChatType.PRIVATE, chat.title)


def parse_command(text: str, bot_username: str) -> Command | None:
    """`/name@bot args` as a neutral command; None when it is addressed to another bot."""
    head, *args = text.split()
    name, _sep, addressee = head[1:].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    if not name:
        return None
    return Command(name.lower(), tuple(args))


def resume_payload(incoming: Incoming) -> str | None:
    """The deep-link payload that takes a member back to the flow begun in a group."""
    match incoming:
        case Command(name="offer", args=(ref, *_)) | Press(action="help", args=(ref,)):
            ref = ref.lstrip("#")
            return f"offer-{ref}" if ref.isdigit() else None
    return None


def present(member: ChatMember) -> bool:
    """Whether a chat member status means being in the chat."""
    if member.status in PRESENT:
        return True
    return member.status == ChatMember.RESTRICTED and bool(getattr(member, "is_member", False))
