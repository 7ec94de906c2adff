"""A message postponed on purpose (quiet hours) never holds back a later, due one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from handlers.chat import Message, MessageRef, Outgoing, Platform, Rich, Target
from handlers.serial import dump
from schedules.outbox import Dispatcher
from store import outbox
from tests.harness import Harness


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, target: Target, message: Outgoing) -> str | None:
        assert isinstance(message, Message)
        self.sent.append(message.text.plain)
        return str(len(self.sent))

    async def edit(self, ref: MessageRef, message: Message) -> None:
        raise AssertionError


async def test_postponed_campaign_message_does_not_block_an_answer(tmp_path: Path) -> None:
    h = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    now = h.clock.now()
    async with h.services.sessions() as session, session.begin():
        for purpose, text, not_before in (
            ("campaign:1", "good morning", now + timedelta(hours=8)),
            ("offer:1:accepted", "your offer was accepted", now),
        ):
            await outbox.enqueue(
                session,
                purpose=purpose,
                target="console:user:yasmine",
                platform="console",
                payload=dump(Message(Rich.of(text))),
                now=now,
                not_before=not_before,
            )
    recorder = Recorder()
    dispatcher = Dispatcher(h.services.sessions, {Platform.CONSOLE: recorder}, h.clock)
    await dispatcher.drain()
    assert recorder.sent == ["your offer was accepted"]
    h.clock.advance(timedelta(hours=9))
    await dispatcher.drain()
    assert recorder.sent == ["your offer was accepted", "good morning"]
    await h.close()
