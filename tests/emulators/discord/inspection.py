"""What tests read back and wait for: the transcripts per channel and per DM, single messages,
and waiting for a condition or a message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from tests.emulators.discord.model import MessageRecord
from tests.emulators.discord.state import EmulatorState

T = TypeVar("T")


class Inspection(EmulatorState):
    """The transcripts, and waits on the emulator's changes."""

    def messages(self, channel_id: int, *, deleted: bool = False) -> list[MessageRecord]:
        """The transcript of a channel, oldest first (interaction answers included)."""
        return [m for m in self._transcripts.get(channel_id, []) if deleted or not m.deleted]

    def dm_messages(self, user_id: int, *, deleted: bool = False) -> list[MessageRecord]:
        """The transcript of the bot's DMs with a user."""
        channel_id = self._dm_channels.get(user_id)
        return [] if channel_id is None else self.messages(channel_id, deleted=deleted)

    def message(self, message_id: int) -> MessageRecord:
        return self._messages[message_id]

    def all_messages(self) -> list[MessageRecord]:
        return sorted(self._messages.values(), key=lambda m: m.id)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy and return its value.

        It is re-checked on every emulator change and every 20 ms, so it may also look at
        the client's own state.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._change.wait(), min(remaining, 0.02))

    async def wait_for_message(
        self,
        predicate: Callable[[MessageRecord], bool] = lambda message: True,
        *,
        channel_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> MessageRecord:
        """Wait for a message (in a channel, if given) that satisfies ``predicate``."""

        def find() -> MessageRecord | None:
            pool = self.all_messages() if channel_id is None else self.messages(channel_id)
            return next((m for m in pool if predicate(m)), None)

        found = await self.wait_for(find, timeout)
        assert found is not None
        return found
