"""The outbox dispatcher on a real database: every outcome recorded, nothing ever sent twice."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import (
    Edit,
    Message,
    MessageRef,
    OutcomeUnknown,
    Outgoing,
    Platform,
    RetryLater,
    Rich,
    SendFailed,
    Target,
    Unreachable,
)
from handlers.serial import dump
from schedules.outbox import MAX_ATTEMPTS, Dispatcher
from store import outbox
from store.db import create_engine, session_factory
from store.models import (
    Announcement,
    Base,
    Chat,
    Delivery,
    DeliveryStatus,
    Member,
    MemberIdentity,
    Need,
    Project,
)
from tests.harness import FakeClock

YASMINE = Target(Platform.CONSOLE, "yasmine", True)
GROUP = Target(Platform.CONSOLE, "souss-massa", False)


class Crash(BaseException):
    """The process dying: nothing after it runs (not an Exception, so nobody catches it)."""


@dataclass
class FakeMessenger:
    """Records what it sends; `fail` decides, per call, what goes wrong."""

    fail: Callable[[int], BaseException | None] = lambda _n: None
    sent: list[tuple[Target, Outgoing]] = field(default_factory=list)
    edits: list[tuple[MessageRef, Message]] = field(default_factory=list)
    calls: int = 0
    delay: float = 0.0

    async def send(self, target: Target, message: Outgoing) -> str | None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self.fail(self.calls)
        if error is not None:
            raise error
        self.sent.append((target, message))
        return f"m{len(self.sent)}"

    async def edit(self, ref: MessageRef, message: Message) -> None:
        self.calls += 1
        error = self.fail(self.calls)
        if error is not None:
            raise error
        self.edits.append((ref, message))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """An empty database of each kind (PostgreSQL with CDS_TEST_DATABASE_URL), tables made."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def enqueue(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    purpose: str = "offer:1:accepted",
    target: Target = YASMINE,
    message: Outgoing | None = None,
) -> int | None:
    async with sessions() as session, session.begin():
        return await outbox.enqueue(
            session,
            purpose=purpose,
            target=target.key,
            platform=target.platform.value,
            payload=dump(message or Message(Rich.of(f"hello for {purpose}"))),
            now=clock.now(),
        )


async def delivery(sessions: async_sessionmaker[AsyncSession], delivery_id: int) -> Delivery:
    async with sessions() as session:
        return await session.get_one(Delivery, delivery_id)


def dispatcher(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, messenger: FakeMessenger
) -> Dispatcher:
    return Dispatcher(sessions, {Platform.CONSOLE: messenger}, clock)


async def test_sent_records_the_message_id(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger()

    assert await dispatcher(sessions, clock, messenger).drain() == 1

    assert messenger.sent == [(YASMINE, Message(Rich.of("hello for offer:1:accepted")))]
    row = await delivery(sessions, delivery_id)
    assert (row.status, row.message_id, row.attempts, row.error) == ("sent", "m1", 1, "")
    assert row.sent_at == clock.now()
    # Nothing left to do: a second pass sends nothing.
    assert await dispatcher(sessions, clock, messenger).drain() == 0
    assert len(messenger.sent) == 1


async def test_rows_are_sent_in_order_of_queueing(sessions, clock) -> None:
    for n in range(3):
        await enqueue(sessions, clock, purpose=f"p{n}")
    messenger = FakeMessenger()
    assert await dispatcher(sessions, clock, messenger).drain() == 3
    texts = [m.text.plain for _t, m in messenger.sent if isinstance(m, Message)]
    assert texts == ["hello for p0", "hello for p1", "hello for p2"]


async def test_announcement_gets_the_message_id(sessions, clock) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        chat = Chat(platform="console", external_id="souss-massa", title="g", created_at=now)
        project = Project(slug="argan", title="Argan", created_at=now, updated_at=now)
        session.add_all([chat, project])
        await session.flush()
        need = Need(project_id=project.id, kind="skills", title="Web site", created_at=now)
        session.add(need)
        await session.flush()
        delivery_id = await outbox.enqueue(
            session,
            purpose=f"announce:need:{need.id}",
            target=GROUP.key,
            platform="console",
            payload=dump(Message(Rich.of("new need"))),
            now=now,
        )
        session.add(
            Announcement(need_id=need.id, chat_id=chat.id, delivery_id=delivery_id, created_at=now)
        )
    messenger = FakeMessenger()

    await dispatcher(sessions, clock, messenger).drain()

    async with sessions() as session:
        announcement = await session.scalar(select(Announcement))
    assert announcement is not None
    assert announcement.message_id == "m1"
    assert messenger.sent[0][0] == GROUP


async def test_edit_payload_edits_the_message(sessions, clock) -> None:
    ref = MessageRef(GROUP, "42")
    edited = Message(Rich.of("need fulfilled"))
    delivery_id = await enqueue(sessions, clock, "need:5:closed", GROUP, Edit(ref, edited))
    assert delivery_id is not None
    messenger = FakeMessenger()

    assert await dispatcher(sessions, clock, messenger).drain() == 1

    assert messenger.sent == []
    assert messenger.edits == [(ref, edited)]
    row = await delivery(sessions, delivery_id)
    assert (row.status, row.message_id) == ("sent", "42")


async def test_send_failed_is_recorded_and_not_retried(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger(fail=lambda _n: SendFailed("chat not found"))

    assert await dispatcher(sessions, clock, messenger).drain() == 1
    clock.advance(timedelta(hours=1))
    assert await dispatcher(sessions, clock, messenger).drain() == 0

    row = await delivery(sessions, delivery_id)
    assert (row.status, row.error, row.attempts) == ("failed", "chat not found", 1)
    assert messenger.calls == 1


async def test_unknown_outcome_is_never_sent_again(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger(fail=lambda n: OutcomeUnknown("timed out") if n == 1 else None)

    await dispatcher(sessions, clock, messenger).drain()
    clock.advance(timedelta(hours=1))
    assert await dispatcher(sessions, clock, messenger).drain() == 0

    row = await delivery(sessions, delivery_id)
    assert (row.status, row.error) == ("unknown", "timed out")
    assert messenger.calls == 1


async def test_unexpected_messenger_error_counts_as_unknown(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger(fail=lambda _n: ConnectionResetError("peer reset"))

    await dispatcher(sessions, clock, messenger).drain()
    assert await dispatcher(sessions, clock, messenger).drain() == 0

    assert (await delivery(sessions, delivery_id)).status == "unknown"
    assert messenger.calls == 1


async def test_retry_later_waits_then_sends(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger(fail=lambda n: RetryLater("flood control", 30) if n == 1 else None)
    start = clock.now()

    assert await dispatcher(sessions, clock, messenger).drain() == 1
    row = await delivery(sessions, delivery_id)
    assert (row.status, row.attempts, row.error) == ("pending", 1, "flood control")
    assert row.not_before == start + timedelta(seconds=30)

    clock.advance(timedelta(seconds=29))
    assert await dispatcher(sessions, clock, messenger).drain() == 0
    assert messenger.calls == 1

    clock.advance(timedelta(seconds=2))
    assert await dispatcher(sessions, clock, messenger).drain() == 1
    row = await delivery(sessions, delivery_id)
    assert (row.status, row.attempts, row.message_id) == ("sent", 2, "m1")


async def test_retry_gives_up_after_the_last_attempt(sessions, clock) -> None:
    """Passing faults back off exponentially (1, 2, 4, 8 s: the messenger's wait is only a
    minimum), then the row fails."""
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger(fail=lambda _n: RetryLater("server busy", 0))
    # Waits this long are not sat out within a drain: each pass makes one attempt.
    worker = Dispatcher(sessions, {Platform.CONSOLE: messenger}, clock, retry_linger=0)
    waits = []

    for _ in range(MAX_ATTEMPTS):
        assert await worker.drain() == 1
        row = await delivery(sessions, delivery_id)
        if row.status == "pending":
            wait = row.not_before - clock.now()
            waits.append(wait.total_seconds())
            clock.advance(wait - timedelta(milliseconds=1))
            assert await worker.drain() == 0  # not yet
            clock.advance(timedelta(milliseconds=1))

    row = await delivery(sessions, delivery_id)
    assert row.status == "failed"
    assert row.attempts == MAX_ATTEMPTS
    assert "gave up" in row.error
    assert messenger.calls == MAX_ATTEMPTS
    assert waits == [1, 2, 4, 8]


async def test_a_short_retry_is_waited_for_within_the_drain(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    later = await enqueue(sessions, clock, purpose="offer:2:accepted")
    assert delivery_id is not None and later is not None
    messenger = FakeMessenger(fail=lambda n: RetryLater("bad gateway", 0) if n == 1 else None)
    worker = dispatcher(sessions, clock, messenger)

    assert await worker.drain() == 3  # the failed try, its retry a second later, the next row

    assert (await delivery(sessions, delivery_id)).attempts == 2
    texts = [m.text.plain for _t, m in messenger.sent if isinstance(m, Message)]
    assert texts == ["hello for offer:1:accepted", "hello for offer:2:accepted"]
    assert worker.stats().total("retried") == 1
    assert worker.stats().total("sent") == 2


async def test_unreachable_holds_the_message_and_marks_the_identity(sessions, clock) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        member = Member(display_name="Yasmine", created_at=now)
        other = Member(display_name="Hassan", created_at=now)
        session.add_all(
            [
                member,
                other,
                MemberIdentity(member=member, platform="console", external_id="yasmine"),
                MemberIdentity(member=other, platform="console", external_id="hassan"),
            ]
        )
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger(fail=lambda _n: Unreachable("bot blocked by the user"))

    await dispatcher(sessions, clock, messenger).drain()

    row = await delivery(sessions, delivery_id)
    assert row.status == "held"  # shown when she next writes privately
    assert row.error.startswith("unreachable")
    async with sessions() as session:
        rows = await session.execute(select(MemberIdentity.external_id, MemberIdentity.unreachable))
        flags = {external_id: unreachable for external_id, unreachable in rows}
    assert flags == {"yasmine": True, "hassan": False}


async def test_crash_after_the_claim_never_resends(sessions, clock) -> None:
    """The process dies after claiming (before or after the send went out): the row is
    left `sending`; recovery marks it unknown and no later pass sends it again."""
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    dying = FakeMessenger(fail=lambda _n: Crash())

    with pytest.raises(Crash):
        await dispatcher(sessions, clock, dying).drain()
    row = await delivery(sessions, delivery_id)
    assert (row.status, row.attempts) == ("sending", 1)

    healthy = FakeMessenger()
    restarted = dispatcher(sessions, clock, healthy)
    assert await restarted.recover() == 1
    assert await restarted.drain() == 0
    assert healthy.calls == 0
    assert (await delivery(sessions, delivery_id)).status == "unknown"


async def test_crash_between_send_and_record_never_resends(sessions, clock) -> None:
    delivery_id = await enqueue(sessions, clock)
    assert delivery_id is not None
    messenger = FakeMessenger()
    first = dispatcher(sessions, clock, messenger)

    async def die(*_args: object) -> None:
        raise Crash()

    first._record_sent = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await first.drain()
    assert len(messenger.sent) == 1

    restarted = dispatcher(sessions, clock, messenger)
    await restarted.recover()
    assert await restarted.drain() == 0
    assert len(messenger.sent) == 1
    assert (await delivery(sessions, delivery_id)).status == "unknown"


async def test_enqueue_is_idempotent(sessions, clock) -> None:
    first = await enqueue(sessions, clock, purpose="offer:7:declined")
    again = await enqueue(sessions, clock, purpose="offer:7:declined")
    elsewhere = await enqueue(sessions, clock, purpose="offer:7:declined", target=GROUP)
    assert first is not None and elsewhere is not None
    assert again is None
    messenger = FakeMessenger()

    assert await dispatcher(sessions, clock, messenger).drain() == 2
    assert [target for target, _m in messenger.sent] == [YASMINE, GROUP]


async def test_platform_without_messenger_stays_pending(sessions, clock, caplog) -> None:
    telegram = Target(Platform.TELEGRAM, "123", True)
    waiting = await enqueue(sessions, clock, purpose="a", target=telegram)
    await enqueue(sessions, clock, purpose="b", target=telegram)
    assert waiting is not None
    messenger = FakeMessenger()
    worker = dispatcher(sessions, clock, messenger)

    with caplog.at_level(logging.INFO, logger="schedules.outbox"):
        assert await worker.drain() == 0
        assert await worker.drain() == 0
    assert (await delivery(sessions, waiting)).status == "pending"
    assert messenger.calls == 0
    notices = [r for r in caplog.records if "no messenger for telegram" in r.getMessage()]
    assert len(notices) == 1


async def test_two_workers_never_send_the_same_row(sessions, clock) -> None:
    for n in range(12):
        await enqueue(sessions, clock, purpose=f"digest:{n}")
    shared = FakeMessenger(delay=0.005)

    counts = await asyncio.gather(
        dispatcher(sessions, clock, shared).drain(),
        dispatcher(sessions, clock, shared).drain(),
    )

    assert sum(counts) == 12
    texts = [m.text.plain for _t, m in shared.sent if isinstance(m, Message)]
    assert sorted(texts) == sorted(f"hello for digest:{n}" for n in range(12))
    async with sessions() as session:
        statuses = set(await session.scalars(select(Delivery.status)))
    assert statuses == {DeliveryStatus.SENT.value}


async def test_run_sends_when_woken_and_stops(sessions, clock) -> None:
    messenger = FakeMessenger()
    worker = dispatcher(sessions, clock, messenger)
    stop, wake = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(worker.run(stop, wake, poll_seconds=60))
    await asyncio.sleep(0.05)

    await enqueue(sessions, clock)
    wake.set()
    for _ in range(100):
        if messenger.sent:
            break
        await asyncio.sleep(0.02)
    assert len(messenger.sent) == 1

    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_runtime_sends_through_the_adapters_until_signalled(tmp_path, monkeypatch) -> None:
    """`bot.app.run`: adapters get the core's entry point, the dispatcher their messengers,
    and SIGTERM stops everything cleanly."""
    from bot import app as runtime
    from bot.config import load_settings
    from handlers.chat import Command, Event, Identity, Place

    for key in [key for key in os.environ if key.startswith("CDS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path}/runtime.db"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    settings = load_settings(
        overrides={
            "database": {"url": url},
            "telegram": {"token": "123:secret"},
            "outbox": {"poll_seconds": 0.05},
        }
    )
    chat = Target(Platform.TELEGRAM, "42", True)

    class FakeAdapter:
        platform = Platform.TELEGRAM

        def __init__(self) -> None:
            self.messenger = FakeMessenger()
            self.answers: list[Outgoing] = []
            self.stopped = False

        async def start(self, handle: runtime.Handle) -> None:
            event = Event(
                Identity(Platform.TELEGRAM, "42", "ana", "Ana"),
                Place(Platform.TELEGRAM, "42", True),
                Command("help"),
            )
            self.answers = await handle(event)
            now = FakeClock(datetime.now(UTC))
            await enqueue(session_factory(engine), now, target=chat)
            asyncio.get_running_loop().call_later(0.01, watch)

        async def stop(self) -> None:
            self.stopped = True

    adapter = FakeAdapter()

    def watch() -> None:
        if adapter.messenger.sent:
            signal.raise_signal(signal.SIGTERM)
        else:
            asyncio.get_running_loop().call_later(0.02, watch)

    monkeypatch.setattr(runtime, "_load_adapter", lambda _settings, _platform: adapter)

    assert await asyncio.wait_for(runtime.run(settings), timeout=10) == 0

    assert "/projects" in "\n".join(
        out.text.plain for out in adapter.answers if isinstance(out, Message)
    )
    assert [target for target, _m in adapter.messenger.sent] == [chat]
    assert adapter.stopped
    await engine.dispose()


async def test_runtime_without_a_platform_exits_2(tmp_path, monkeypatch, capsys) -> None:
    from bot import app as runtime
    from bot.config import load_settings

    for key in [key for key in os.environ if key.startswith("CDS_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert await runtime.run(load_settings()) == runtime.EXIT_NOT_CONFIGURED
    assert "no platform configured" in capsys.readouterr().err
