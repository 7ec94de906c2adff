"""Groups follow the bot: added, removed, upgraded to a supergroup with a new id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.chat import ChatJoined, ChatLeft, ChatMoved, Place, Platform
from handlers.groups import chat_changed
from store.models import Chat, Delivery
from tests.harness import Harness

GROUP = Place(Platform.TELEGRAM, "-42", False, "Diaspora Agadir")


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    yield harness
    await harness.close()


async def chats(h: Harness) -> list[Chat]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(Chat).order_by(Chat.id)))


async def test_joined_left_and_moved(h: Harness) -> None:
    await chat_changed(h.services, GROUP, ChatJoined("Diaspora Agadir"))
    [chat] = await chats(h)
    assert (chat.external_id, chat.active, chat.registered) == ("-42", True, False)

    async with h.services.sessions() as session, session.begin():
        row = await session.get_one(Chat, chat.id)
        row.registered, row.tags = True, ["agadir"]

    await chat_changed(h.services, GROUP, ChatMoved("-100777"))
    [chat] = await chats(h)
    assert (chat.external_id, chat.registered, chat.tags) == ("-100777", True, ["agadir"])

    moved = Place(Platform.TELEGRAM, "-100777", False)
    await chat_changed(h.services, moved, ChatLeft())
    [chat] = await chats(h)
    assert not chat.active and chat.registered  # back in later: registration still there


async def test_leaving_skips_pending_deliveries_and_moving_retargets_them(h: Harness) -> None:
    from store import outbox

    await chat_changed(h.services, GROUP, ChatJoined())
    async with h.services.sessions() as session, session.begin():
        for purpose in ("a", "b"):
            await outbox.enqueue(
                session,
                purpose=purpose,
                target="telegram:chat:-42",
                platform="telegram",
                payload={},
                now=h.clock.now(),
            )
    await chat_changed(h.services, GROUP, ChatMoved("-100777"))
    async with h.services.sessions() as session:
        targets = set(await session.scalars(select(Delivery.target)))
    assert targets == {"telegram:chat:-100777"}
    await chat_changed(h.services, Place(Platform.TELEGRAM, "-100777", False), ChatLeft())
    assert {d.status for d in await h.deliveries()} == {"skipped"}
