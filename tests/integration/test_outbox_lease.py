"""Outbox leases on a migrated database: one dispatcher sends per platform at a time, another
takes over when it stops or dies, and no row is ever sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import Message, MessageRef, Outgoing, Platform, Rich, SendRates, Target
from handlers.serial import dump
from schedules.outbox import Dispatcher
from store import leases, outbox
from store.leases import Holder
from store.models import Delivery, DeliveryStatus, OutboxLease
from tests.harness import FakeClock

# Rates high enough not to slow the tests down: the pace is test_pacing's business.
FAST = SendRates(per_second=1000, private=(100, 1.0), group=(100, 1.0))
LEASE = 30.0

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class PacedMessenger:
    """A platform with rates (so its lane needs the lease) that records the texts it sends;
    while `gate` is clear, sends wait for it."""

    rates: SendRates = FAST
    gate: asyncio.Event | None = None
    sent: list[str] = field(default_factory=list)
    started: int = 0

    async def send(self, target: Target, message: Outgoing) -> str | None:
        assert isinstance(message, Message)
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(message.text.plain)
        return str(len(self.sent))

    async def edit(self, ref: MessageRef, message: Message) -> None:
        raise AssertionError("no edit expected")


async def queue(sessions: Sessions, clock: FakeClock, platform: Platform, texts: list[str]) -> None:
    """One delivery per text, each to its own private chat on `platform`."""
    async with sessions() as session, session.begin():
        for text in texts:
            await outbox.enqueue(
                session,
                purpose=text,
                target=Target(platform, text, True).key,
                platform=platform.value,
                payload=dump(Message(Rich.of(text))),
                now=clock.now(),
            )


async def pending(sessions: Sessions) -> set[str]:
    """The texts (purposes) of the rows still waiting to be sent."""
    async with sessions() as session:
        purposes = await session.scalars(
            select(Delivery.purpose).where(Delivery.status == DeliveryStatus.PENDING.value)
        )
        return set(purposes)


def worker(
    sessions: Sessions,
    clock: FakeClock,
    messengers: dict[Platform, PacedMessenger],
    *,
    lease: float = LEASE,
    concurrency: int = 50,
) -> Dispatcher:
    return Dispatcher(sessions, messengers, clock, lease_seconds=lease, concurrency=concurrency)


async def eventually(condition: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait until `condition()` holds (checked every 20 ms), failing after `seconds`."""
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


def me(name: str) -> Holder:
    return Holder(name, "host-a", 42)


# --- the store ----------------------------------------------------------------------------------


async def test_a_lease_is_taken_renewed_refused_expired_and_released(sessions) -> None:
    clock = FakeClock()
    start = clock.now()

    async def take(holder: str) -> object:
        async with sessions() as session, session.begin():
            return await leases.take(
                session, "telegram", me(holder), now=clock.now(), seconds=LEASE
            )

    async def current() -> leases.Lease | None:
        async with sessions() as session:
            return await leases.current(session, "telegram")

    assert await take("a") == start + timedelta(seconds=LEASE)
    assert await take("b") is None  # a's lease runs
    clock.advance(timedelta(seconds=10))
    assert await take("a") == start + timedelta(seconds=10 + LEASE)  # renewed
    lease = await current()
    assert lease is not None
    assert (lease.holder, lease.host, lease.pid, lease.since) == ("a", "host-a", 42, start)

    clock.advance(timedelta(seconds=LEASE - 1))
    assert await take("b") is None  # one second left
    clock.advance(timedelta(seconds=1))
    assert await take("b") == clock.now() + timedelta(seconds=LEASE)  # expired: b has it
    lease = await current()
    assert lease is not None and (lease.holder, lease.since) == ("b", clock.now())
    assert await take("a") is None

    async with sessions() as session, session.begin():
        assert await leases.release(session, "telegram", me("a")) is False
        assert await leases.release(session, "telegram", me("b")) is True
    assert await current() is None
    assert await take("a") is not None  # free again at once


async def test_holders_racing_for_a_free_lease_get_one_winner(sessions) -> None:
    clock = FakeClock()

    async def take(holder: str) -> bool:
        async with sessions() as session, session.begin():
            taken = await leases.take(
                session, "discord", me(holder), now=clock.now(), seconds=LEASE
            )
        return taken is not None

    won = await asyncio.gather(*(take(f"h{n}") for n in range(6)))

    assert won.count(True) == 1
    async with sessions() as session:
        lease = await leases.current(session, "discord")
    assert lease is not None and lease.holder == f"h{won.index(True)}"


# --- dispatchers --------------------------------------------------------------------------------


async def test_of_two_dispatchers_on_one_platform_only_one_sends(sessions) -> None:
    clock = FakeClock()
    texts = [f"t{n}" for n in range(10)]
    await queue(sessions, clock, Platform.TELEGRAM, texts)
    first, second = PacedMessenger(), PacedMessenger()
    a = worker(sessions, clock, {Platform.TELEGRAM: first})
    b = worker(sessions, clock, {Platform.TELEGRAM: second})

    counts = await asyncio.gather(a.drain(), b.drain())

    assert sorted(counts) == [0, 10]
    winner, loser = (first, second) if counts[0] else (second, first)
    assert sorted(winner.sent) == sorted(texts) and loser.started == 0
    holder, other = (a, b) if counts[0] else (b, a)
    assert holder.leases.held == {"telegram"} and other.leases.held == frozenset()
    # The holder keeps the lease after its pass: the other still sends nothing.
    await queue(sessions, clock, Platform.TELEGRAM, ["later"])
    assert await other.drain() == 0
    assert await pending(sessions) == {"later"}
    assert await holder.drain() == 1
    assert winner.sent[-1] == "later" and loser.sent == []


async def test_the_other_takes_over_at_once_when_the_holder_stops(sessions) -> None:
    clock = FakeClock()
    await queue(sessions, clock, Platform.TELEGRAM, ["before"])
    first, second = PacedMessenger(), PacedMessenger()
    a = worker(sessions, clock, {Platform.TELEGRAM: first})
    stop, wake = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(a.run(stop, wake, poll_seconds=60))

    async def sent_before() -> bool:
        return first.sent == ["before"]

    await eventually(sent_before)
    stop.set()
    await asyncio.wait_for(running, timeout=10)

    async with sessions() as session:
        assert await leases.current(session, "telegram") is None  # released
    await queue(sessions, clock, Platform.TELEGRAM, ["after"])
    b = worker(sessions, clock, {Platform.TELEGRAM: second})
    assert await b.drain() == 1  # no clock moved: the lease was free
    assert (first.sent, second.sent) == (["before"], ["after"])


async def test_the_other_takes_over_when_the_holders_lease_expires(sessions) -> None:
    clock = FakeClock()
    await queue(sessions, clock, Platform.DISCORD, ["d0", "d1"])
    first, second = PacedMessenger(), PacedMessenger()
    a = worker(sessions, clock, {Platform.DISCORD: first})
    b = worker(sessions, clock, {Platform.DISCORD: second})
    assert await a.drain() == 2
    # `a` dies here: it never renews its lease again.
    await queue(sessions, clock, Platform.DISCORD, ["d2", "d3"])

    clock.advance(timedelta(seconds=LEASE - 1))
    assert await b.drain() == 0
    assert await pending(sessions) == {"d2", "d3"}
    clock.advance(timedelta(seconds=1))
    assert await b.drain() == 2

    assert sorted(first.sent) == ["d0", "d1"] and sorted(second.sent) == ["d2", "d3"]
    assert await a.drain() == 0  # back from the dead: the lease is b's now
    assert a.leases.held == frozenset() and b.leases.held == {"discord"}


async def test_a_dispatcher_may_hold_one_platform_and_not_the_other(sessions) -> None:
    clock = FakeClock()
    telegram_a, telegram_b, discord_b = PacedMessenger(), PacedMessenger(), PacedMessenger()
    a = worker(sessions, clock, {Platform.TELEGRAM: telegram_a})
    b = worker(sessions, clock, {Platform.TELEGRAM: telegram_b, Platform.DISCORD: discord_b})
    assert await a.drain() == 0  # nothing to send, but the telegram lease is a's now
    await queue(sessions, clock, Platform.TELEGRAM, ["t0", "t1"])
    await queue(sessions, clock, Platform.DISCORD, ["d0", "d1"])

    assert await b.drain() == 2

    assert sorted(discord_b.sent) == ["d0", "d1"] and telegram_b.started == 0
    assert b.leases.held == {"discord"}
    assert set(b.stats().platforms) == {"discord"}
    assert await pending(sessions) == {"t0", "t1"}
    assert await a.drain() == 2
    assert sorted(telegram_a.sent) == ["t0", "t1"]


async def test_a_long_drain_renews_its_lease(sessions) -> None:
    clock = FakeClock()
    texts = [f"r{n}" for n in range(3)]
    await queue(sessions, clock, Platform.TELEGRAM, texts)
    gate = asyncio.Event()
    slow, other = PacedMessenger(gate=gate), PacedMessenger()
    # Renewed every 0.1 s of real time, for 0.3 s of the fake clock.
    a = worker(sessions, clock, {Platform.TELEGRAM: slow}, lease=0.3)
    b = worker(sessions, clock, {Platform.TELEGRAM: other})
    draining = asyncio.create_task(a.drain())

    async def renewed_past_now() -> bool:
        async with sessions() as session:
            lease = await leases.current(session, "telegram")
        return lease is not None and lease.expires_at > clock.now()

    async def sending() -> bool:
        return slow.started == len(texts)

    await eventually(sending)
    clock.advance(timedelta(seconds=5))  # far past the lease as first taken
    await eventually(renewed_past_now)  # a renewed it while its sends hang
    assert await b.drain() == 0
    gate.set()

    assert await asyncio.wait_for(draining, timeout=10) == len(texts)
    assert sorted(slow.sent) == sorted(texts) and other.started == 0


async def test_a_lost_lease_stops_the_lane_after_the_send_in_flight(sessions) -> None:
    clock = FakeClock()
    texts = [f"l{n}" for n in range(5)]
    await queue(sessions, clock, Platform.TELEGRAM, texts)
    gate = asyncio.Event()
    slow = PacedMessenger(gate=gate)
    a = worker(sessions, clock, {Platform.TELEGRAM: slow}, lease=0.3, concurrency=1)
    draining = asyncio.create_task(a.drain())

    async def sending() -> bool:
        return slow.started == 1

    await eventually(sending)
    # Another process took the lease over (as after a stall longer than the lease).
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxLease)
            .where(OutboxLease.platform == "telegram")
            .values(holder="intruder", expires_at=clock.now() + timedelta(hours=1))
        )

    async def lost() -> bool:
        return a.leases.held == frozenset()

    await eventually(lost)
    gate.set()

    assert await asyncio.wait_for(draining, timeout=10) == 1
    assert slow.started == 1 and len(slow.sent) == 1
    assert await pending(sessions) == set(texts) - set(slow.sent)


async def test_a_lane_without_rates_needs_no_lease(sessions) -> None:
    clock = FakeClock()
    await queue(sessions, clock, Platform.CONSOLE, ["c0"])
    console = PacedMessenger()
    console.rates = None  # type: ignore[assignment]
    a = worker(sessions, clock, {Platform.CONSOLE: console})
    b = worker(sessions, clock, {Platform.CONSOLE: PacedMessenger()})

    assert await a.drain() == 1
    async with sessions() as session:
        assert await leases.current(session, "console") is None
    assert a.leases.held == frozenset()
    # Paced now, and nobody holds the console's lease: b takes it.
    await queue(sessions, clock, Platform.CONSOLE, ["c1"])
    assert await b.drain() == 1


async def test_only_taking_a_platform_over_recovers_what_its_holder_left_mid_send(
    sessions,
) -> None:
    clock = FakeClock()
    await queue(sessions, clock, Platform.TELEGRAM, ["m0"])
    gate = asyncio.Event()
    slow = PacedMessenger(gate=gate)
    a = worker(sessions, clock, {Platform.TELEGRAM: slow})
    draining = asyncio.create_task(a.drain())

    async def sending() -> bool:
        return slow.started == 1

    await eventually(sending)

    async def status() -> str:
        async with sessions() as session:
            found = await session.scalar(select(Delivery.status).where(Delivery.purpose == "m0"))
            return str(found)

    # A second process starts while `a` sends: it neither sends nor touches a's row.
    b = worker(sessions, clock, {Platform.TELEGRAM: PacedMessenger()})
    assert await b.drain() == 0
    assert await status() == "sending"
    # `a` dies mid-send (killed: its row stays "sending" and it cannot give its lease up).
    draining.cancel()
    gate.set()
    await asyncio.gather(draining, return_exceptions=True)
    async with sessions() as session, session.begin():
        await leases.take(session, "telegram", a.leases.holder, now=clock.now(), seconds=LEASE)
    assert await b.drain() == 0
    assert await status() == "sending"

    clock.advance(timedelta(seconds=LEASE))
    assert await b.drain() == 0  # b takes over: the row may have gone out, so never resent
    assert await status() == "unknown"
