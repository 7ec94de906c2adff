"""The state every part of the emulator shares, and the primitives they all use.

`EmulatorState` takes the emulator's options and holds its whole mutable state; it also
counts ids, finds users and chats (`_target` resolves a `chat_id` with Telegram's errors),
queues updates and wakes whoever waits on a change. The method families in the other modules
are mixins on top of it, assembled by `emulator.TelegramEmulator`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.emulators.telegram.limits import Limits, RateLimits, RateWindows
from tests.emulators.telegram.model import (
    JSON,
    ApiError,
    CallbackQuery,
    Chat,
    RecordedRequest,
    SentMessage,
    UploadedFile,
    User,
)
from tests.emulators.telegram.params import as_int

if TYPE_CHECKING:
    from tests.emulators.telegram.faults import Fault

#: A Bot API method: decoded parameters and uploaded files in, the `result` out.
Handler = Callable[[JSON, dict[str, UploadedFile]], Awaitable[Any]]


class EmulatorState:
    """The emulator's options and state, with the lookups and signals every family uses."""

    def __init__(
        self,
        token: str = "123:ABC",
        bot_username: str = "test_bot",
        *,
        bot_name: str = "Test Bot",
        rate_limits: RateLimits | None = None,
        limits: Limits | None = None,
        privacy_mode: bool = True,
        callback_query_ttl: float = 15.0,
        poll_conflict_grace: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot = User(
            int(prefix) if prefix.isdigit() else 1, bot_name, bot_username, None, is_bot=True
        )
        self.rate_limits = rate_limits or RateLimits()
        self.limits = limits or Limits()
        self.privacy_mode = privacy_mode
        self.callback_query_ttl = callback_query_ttl
        self.poll_conflict_grace = poll_conflict_grace
        self.clock = clock

        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.requests: list[RecordedRequest] = []
        self.updates: list[JSON] = []
        self.count_429 = 0
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.settings: dict[str, JSON] = {}
        self.callback_answers: dict[str, JSON] = {}
        self.files: dict[str, bytes] = {}

        self._sent: dict[int, list[SentMessage]] = {}
        self._sent_by_id: dict[int, SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._pending: list[JSON] = []
        self._delivered: set[int] = set()
        self._allowed_updates: frozenset[str] | None = None
        self._queries: dict[str, CallbackQuery] = {}
        self._query_of_update: dict[int, str] = {}
        self._polls: dict[str, SentMessage] = {}
        self._votes: dict[str, dict[int, list[int]]] = {}
        self._commands: dict[tuple[str, int | None, int | None, str], list[JSON]] = {}
        self._faults: list[Fault] = []
        self._rate_windows = RateWindows()
        self._next_message_id = 1
        self._next_update_id = 100_001
        self._next_serial = 1
        self._update_added = asyncio.Event()
        self._changed = asyncio.Event()
        self._poll_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }

    def _method_table(self) -> dict[str, Handler]:
        """Every Bot API method served, by canonical name (the assembled emulator lists them)."""
        raise NotImplementedError

    # ---- ids and lookups ---------------------------------------------------------------------

    def _serial(self) -> int:
        self._next_serial += 1
        return self._next_serial

    def _new_message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id - 1

    def _user(self, user: User | int | None) -> User:
        if isinstance(user, User):
            return user
        if user is None or user not in self.users:
            raise KeyError(f"unknown user {user}: call add_user first")
        return self.users[user]

    def _target(self, chat_id: Any, *, sending: bool = True) -> Chat:
        """Resolve `chat_id` as Telegram does, with its errors for every unreachable chat."""
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: Chat | None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == chat_id[1:]), None)
        else:
            number = as_int(chat_id)
            chat = self.chats.get(number) if number is not None else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            if chat.blocked and sending:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                if sending:
                    raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
                raise ApiError(400, "Bad Request: chat not found")
        elif chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    # ---- the update queue and change signals -------------------------------------------------

    def _enqueue(self, kind: str, payload: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self.updates.append(update)
        self._pending.append(update)
        self._wake_pollers()
        return update_id

    def _wake_pollers(self) -> None:
        self._update_added.set()
        self._update_added = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
