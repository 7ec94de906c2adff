"""A member who cannot be written to privately loses nothing: the leader is told, and the
decision waits for the member's next private message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.chat import Message, MessageRef, Outgoing, Platform, Target, Unreachable
from schedules.outbox import Dispatcher
from tests.harness import Harness, plain
from tests.integration.test_offers import make_offer, offers, seed


class Messenger:
    """Delivers to everyone but the members listed as unreachable."""

    def __init__(self, unreachable: set[str]) -> None:
        self.unreachable = unreachable
        self.sent: list[tuple[str, str]] = []

    async def send(self, target: Target, message: Outgoing) -> str | None:
        if target.chat_id in self.unreachable:
            raise Unreachable("bot was blocked by the user")
        assert isinstance(message, Message)
        self.sent.append((target.chat_id, message.text.plain))
        return str(len(self.sent))

    async def edit(self, ref: MessageRef, message: Message) -> None:
        raise AssertionError("no edit expected")


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db")
    yield harness
    await harness.close()


async def test_decision_waits_for_the_member_and_the_leader_is_told(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    [offer] = await offers(h)
    offer_id = offer.id
    messenger = Messenger(unreachable={"yasmine"})
    dispatcher = Dispatcher(h.services.sessions, {Platform.CONSOLE: messenger}, h.clock)
    await dispatcher.drain()  # the leaders hear of the new offer

    await h.press("leila", f"1|acc|{offer_id}")
    await dispatcher.drain()  # yasmine unreachable: held; leila told
    statuses = {d.purpose: d.status for d in await h.deliveries()}
    assert statuses[f"offer:{offer_id}:accepted"] == "held"
    told = [text for who, text in messenger.sent if who == "leila"]
    assert any("could not write to Yasmine" in text for text in told)

    # Writing in a group does not reopen a private chat: still held.
    await h.send("yasmine", "/projects", group="souss-massa")
    assert {d.purpose: d.status for d in await h.deliveries()}[
        f"offer:{offer_id}:accepted"
    ] == "held"

    # Her next private message shows what waited for her, once.
    shown = plain(await h.send("yasmine", "/help"))
    assert "these messages waited for you" in shown
    assert "Leila accepted your offer" in shown
    assert "waited for you" not in plain(await h.send("yasmine", "/help"))
    statuses = {d.purpose: d.status for d in await h.deliveries()}
    assert statuses[f"offer:{offer_id}:accepted"] == "sent"
