"""Drive the core with neutral events, as an adapter would, on a real SQLite store."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers import core, routes
from handlers.buttons import decode, encode
from handlers.chat import (
    Button,
    Command,
    Event,
    Identity,
    Message,
    Outgoing,
    Place,
    Platform,
    Press,
    Text,
)
from handlers.context import Community, Services
from store.db import create_engine, session_factory
from store.models import Base, Delivery


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 10, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


async def make_engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    return engine


def plain(outgoing: list[Outgoing]) -> str:
    """Everything the bot said, as plain text, one message per paragraph."""
    return "\n\n".join(out.text.plain for out in outgoing if isinstance(out, Message))


def buttons(outgoing: list[Outgoing]) -> list[Button]:
    return [b for out in outgoing if isinstance(out, Message) for row in out.buttons for b in row]


@dataclass
class Harness:
    """A community on SQLite with personas writing to the bot, private or in groups."""

    engine: AsyncEngine
    services: Services
    clock: FakeClock
    last: list[Outgoing] = field(default_factory=list)

    @classmethod
    async def create(cls, url: str, **community: Any) -> Harness:
        engine = await make_engine(url)
        clock = FakeClock()
        # Tests read the English source strings; the catalogues are tested on their own.
        settings = {
            "community_managers": frozenset({"console:alice"}),
            "default_language": "en",
            **community,
        }
        services = Services(
            sessions=session_factory(engine), community=Community(**settings), clock=clock
        )
        return cls(engine, services, clock)

    def event(self, who: str, incoming: Any, group: str | None = None) -> Event:
        identity = Identity(Platform.CONSOLE, who, who, who.capitalize())
        place = (
            Place(Platform.CONSOLE, group, False, group)
            if group
            else Place(Platform.CONSOLE, who, True)
        )
        return Event(identity, place, incoming)

    async def send(self, who: str, line: str, group: str | None = None) -> list[Outgoing]:
        """A line typed by `who`: a command when it starts with '/', else text."""
        if line.startswith("/"):
            name, *args = shlex.split(line[1:]) if line.count('"') % 2 == 0 else line[1:].split()
            incoming: Any = Command(name.lower(), tuple(args))
        else:
            incoming = Text(line)
        self.last = await core.handle(
            self.services, routes.ROUTER, self.event(who, incoming, group)
        )
        return self.last

    async def press(
        self, who: str, button: Button | str, group: str | None = None
    ) -> list[Outgoing]:
        """Press a button (or a raw payload), through the same codec as the adapters."""
        payload = button if isinstance(button, str) else encode(button.action, button.args)
        press = decode(payload)
        assert press is not None, payload
        self.last = await core.handle(self.services, routes.ROUTER, self.event(who, press, group))
        return self.last

    def button(self, label_part: str) -> Button:
        """The button of the last answer whose label contains `label_part`."""
        for b in buttons(self.last):
            if label_part.lower() in b.label.lower():
                return b
        raise AssertionError(f"no button {label_part!r} in {[b.label for b in buttons(self.last)]}")

    async def deliveries(self) -> list[Delivery]:
        async with self.services.sessions() as session:
            return list(await session.scalars(select(Delivery).order_by(Delivery.id)))

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = ["FakeClock", "Harness", "Press", "buttons", "plain"]
