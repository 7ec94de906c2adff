"""After a restart, the chats the bot sees are reconciled with the registered ones: what went
while it was offline is let go exactly as a live "left" event would, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from handlers.chat import Message, Platform
from handlers.groups import chats_present
from handlers.serial import load
from store import outbox
from store.models import AuditEntry, Chat
from tests.harness import Harness


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    harness = await Harness.create(database_url)
    yield harness
    await harness.close()


async def add_chats(h: Harness, *specs: tuple[str, str, bool, bool]) -> None:
    """(platform, external id, registered, active) rows, titled after their id."""
    async with h.services.sessions() as session, session.begin():
        for platform, external_id, registered, active in specs:
            session.add(
                Chat(
                    platform=platform,
                    external_id=external_id,
                    title=f"#{external_id}",
                    tags=[],
                    registered=registered,
                    active=active,
                    created_at=h.clock.now(),
                )
            )


async def chat_states(h: Harness) -> dict[tuple[str, str], tuple[bool, bool]]:
    async with h.services.sessions() as session:
        found = await session.scalars(select(Chat))
        return {(c.platform, c.external_id): (c.registered, c.active) for c in found}


async def audit_actions(h: Harness) -> list[tuple[str, str]]:
    async with h.services.sessions() as session:
        entries = await session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("chat.%")).order_by(AuditEntry.id)
        )
        return [(e.action, e.subject) for e in entries]


async def queue(h: Harness, purpose: str, target: str) -> None:
    async with h.services.sessions() as session, session.begin():
        platform = target.split(":", 1)[0]
        await outbox.enqueue(
            session,
            purpose=purpose,
            target=target,
            platform=platform,
            payload={},
            now=h.clock.now(),
        )


async def test_chats_gone_while_offline_are_left_and_the_managers_told(h: Harness) -> None:
    await h.send("alice", "/start")  # the community manager (console:alice)
    await add_chats(
        h,
        ("discord", "11", True, True),  # still there
        ("discord", "12", True, True),  # channel deleted while the bot was offline
        ("discord", "13", False, True),  # server left meanwhile, never registered
        ("discord", "14", True, False),  # left earlier, given back meanwhile
        ("telegram", "-42", True, True),  # another platform: not Discord's to judge
    )
    await queue(h, "announce:need:1", "discord:chat:12")
    await queue(h, "announce:need:1", "discord:chat:11")
    await queue(h, "nudge:1", "discord:user:12")  # a member's DMs are not a chat

    await chats_present(h.services, Platform.DISCORD, frozenset({"11", "14", "99"}))

    assert await chat_states(h) == {
        ("discord", "11"): (True, True),
        ("discord", "12"): (True, False),  # inactive; registered again if the bot comes back
        ("discord", "13"): (False, False),
        ("discord", "14"): (True, True),
        ("telegram", "-42"): (True, True),
    }
    statuses = {(d.target, d.purpose): d.status for d in await h.deliveries()}
    assert statuses[("discord:chat:12", "announce:need:1")] == "skipped"
    assert statuses[("discord:chat:11", "announce:need:1")] == "pending"
    assert statuses[("discord:user:12", "nudge:1")] == "pending"
    assert await audit_actions(h) == [
        ("chat.left", "chat:discord:12"),
        ("chat.left", "chat:discord:13"),
        ("chat.joined", "chat:discord:14"),
    ]
    # Only the registered chat that went is worth a word to the community manager.
    [notice] = [d for d in await h.deliveries() if d.purpose.startswith("left:")]
    assert notice.target == "console:user:alice"
    assert notice.purpose.startswith("left:discord:chat:12:")
    message = load(notice.payload)
    assert isinstance(message, Message)
    assert message.text.plain.startswith("I can no longer post in #12 (Discord)")

    # A second start-up seeing the same channels changes nothing and says nothing again.
    await chats_present(h.services, Platform.DISCORD, frozenset({"11", "14", "99"}))
    assert len(await audit_actions(h)) == 3
    assert len([d for d in await h.deliveries() if d.purpose.startswith("left:")]) == 1


async def test_seeing_no_channel_at_all_lets_every_chat_go(h: Harness) -> None:
    """Removed from the last server while offline: nothing is seen, so everything is gone
    (the adapter does not call this during an outage, when servers are merely hidden)."""
    await add_chats(h, ("discord", "11", True, True), ("discord", "12", False, True))
    await chats_present(h.services, Platform.DISCORD, frozenset())
    assert await chat_states(h) == {
        ("discord", "11"): (True, False),
        ("discord", "12"): (False, False),
    }
