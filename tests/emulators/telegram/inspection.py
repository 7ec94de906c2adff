"""What the bot did: its messages and calls, and waiting until one matches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from tests.emulators.telegram.model import Chat, RecordedRequest, SentMessage, User
from tests.emulators.telegram.params import same_id
from tests.emulators.telegram.state import EmulatorState

T = TypeVar("T")


class Inspection(EmulatorState):
    """Read what the bot sent and called, and wait for it (each wait re-checks on change)."""

    def sent(self, chat_id: Chat | User | int) -> list[SentMessage]:
        """Everything the bot posted in a chat, in order (deleted ones are flagged)."""
        key = chat_id if isinstance(chat_id, int) else chat_id.id
        return list(self._sent.get(key, []))

    @property
    def all_sent(self) -> list[SentMessage]:
        """Everything the bot posted, in order."""
        return sorted(self._sent_by_id.values(), key=lambda m: m.message_id)

    def calls(self, method: str, chat_id: int | None = None) -> list[RecordedRequest]:
        """The recorded calls of one method, optionally to one chat."""
        return [
            r
            for r in self.requests
            if r.method == method and (chat_id is None or same_id(r.chat_id, chat_id))
        ]

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the helper's documented signature
        *,
        chat_id: int | None = None,
    ) -> SentMessage:
        """Wait until a message the bot posted (or edited into shape) matches `predicate`."""

        def find() -> SentMessage | None:
            candidates = self.sent(chat_id) if chat_id is not None else self.all_sent
            return next((m for m in candidates if predicate(m)), None)

        try:
            return await self._wait(find, timeout)
        except TimeoutError:
            seen = [(m.chat_id, m.method, m.text or m.caption) for m in self.all_sent]
            raise TimeoutError(f"no matching message after {timeout}s; sent: {seen}") from None

    async def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - same signature as wait_for
        *,
        answered: bool = True,
    ) -> RecordedRequest:
        """Wait until the bot made a call matching `predicate` (and got its answer)."""

        def find() -> RecordedRequest | None:
            calls = (r for r in self.requests if r.status is not None or not answered)
            return next((r for r in calls if predicate(r)), None)

        return await self._wait(find, timeout)

    async def wait_delivered(
        self,
        update_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - same signature as wait_for
    ) -> None:
        """Wait until an update was handed to the bot (by getUpdates or a webhook push)."""
        await self._wait(lambda: True if update_id in self._delivered else None, timeout)

    async def _wait(self, find: Callable[[], T | None], seconds: float) -> T:
        """Re-run `find` after every answered call until it returns something."""
        async with asyncio.timeout(seconds):
            while True:
                changed = self._changed
                found = find()
                if found is not None:
                    return found
                await changed.wait()
