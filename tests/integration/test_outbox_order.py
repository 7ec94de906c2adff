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


async def test_a_card_sent_after_its_need_closed_is_edited(tmp_path: Path) -> None:
    """The need closed while its card was in flight: the closing could not edit it, so the
    dispatcher queues the edit as soon as the card's message id is known."""
    from sqlalchemy import select

    from store.models import Announcement, Chat, Need, NeedStatus, Project

    h = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    now = h.clock.now()
    async with h.services.sessions() as session, session.begin():
        project = Project(
            slug="argan", title="Argan", status="open", created_at=now, updated_at=now
        )
        session.add(project)
        await session.flush()
        need = Need(project_id=project.id, kind="skills", title="Website", created_at=now)
        chat = Chat(platform="console", external_id="souss", registered=True, created_at=now)
        session.add_all([need, chat])
        await session.flush()
        delivery_id = await outbox.enqueue(
            session,
            purpose=f"announce:need:{need.id}",
            target="console:chat:souss",
            platform="console",
            payload=dump(Message(Rich.of("card"))),
            now=now,
        )
        session.add(
            Announcement(need_id=need.id, chat_id=chat.id, delivery_id=delivery_id, created_at=now)
        )
        need.status = NeedStatus.FULFILLED.value  # closed while the card waits to be sent

    class Editing(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.edits: list[tuple[str, str]] = []

        async def edit(self, ref: MessageRef, message: Message) -> None:
            self.edits.append((ref.message_id, message.text.plain))

    messenger = Editing()
    dispatcher = Dispatcher(
        h.services.sessions, {Platform.CONSOLE: messenger}, h.clock, default_language="en"
    )
    await dispatcher.drain()
    await dispatcher.drain()
    assert messenger.sent == ["card"]
    [(message_id, text)] = messenger.edits
    assert message_id == "1" and "Website" in text and "fulfilled" in text
    async with h.services.sessions() as session:
        assert await session.scalar(select(Announcement.message_id)) == "1"
    await h.close()
