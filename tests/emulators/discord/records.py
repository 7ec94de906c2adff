"""What tests read back besides the transcripts: each interaction and how the bot answered it,
each REST request, and each gateway resume.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.discord.model import MessageRecord
from tests.emulators.discord.protocol import JSON


@dataclass
class CallbackAttempt:
    """One ``POST /interactions/{id}/{token}/callback`` and how the emulator answered it."""

    type: int | None
    data: JSON
    elapsed: float
    """Seconds between the INTERACTION_CREATE dispatch and this callback."""
    status: int
    code: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class InteractionReply:
    """The bot's accepted first answer; ``followups`` is the live list of its follow-ups."""

    type: int
    data: JSON
    elapsed: float
    message: MessageRecord | None
    followups: list[MessageRecord]


@dataclass
class InteractionRecord:
    """An interaction the emulator dispatched, and everything the bot did to answer it."""

    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    guild_id: int | None
    payload: JSON
    created_at: float
    dispatched_at: float
    component_message: MessageRecord | None = None
    attempts: list[CallbackAttempt] = field(default_factory=list)
    reply: InteractionReply | None = None
    original: MessageRecord | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    modal: JSON | None = None
    choices: list[JSON] | None = None
    _answered: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def response(self, timeout: float = 5.0) -> InteractionReply:  # noqa: ASYNC109
        """Wait for the bot's accepted callback."""
        try:
            await asyncio.wait_for(self._answered.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"interaction {self.id} got no accepted answer within {timeout}s "
                f"(attempts: {self.attempts})"
            ) from None
        assert self.reply is not None
        return self.reply

    async def followup(self, index: int = 0, timeout: float = 5.0) -> MessageRecord:  # noqa: ASYNC109
        """Wait for the follow-up number ``index`` (0 is the first)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.followups) <= index:
            if loop.time() > deadline:
                raise TimeoutError(f"interaction {self.id} got no follow-up #{index}")
            await asyncio.sleep(0.01)
        return self.followups[index]


@dataclass
class RequestRecord:
    """One REST request: ``path`` is relative to /api/v10, ``at`` is ``time.monotonic()``."""

    method: str
    path: str
    query: dict[str, str]
    at: float
    json: Any
    status: int | None = None


@dataclass
class ResumeRecord:
    session_id: str
    seq: int
    replayed: int
