"""The outbox dispatcher: sends queued deliveries, once each, and records what happened.

A delivery is claimed (status `sending`, one more attempt) and the claim is committed right
before it is sent, so a crash between the claim and the result can never cause a second send:
at the next start `recover` turns such rows into `unknown`, because their outcome is hidden.
The claim comes after the rate permits (schedules/pacing.py): rows that were only waiting for
their turn stay `pending` through a crash and go out after the restart.

Each platform drains in its own lane: a messenger with `rates` (Telegram, Discord) sends to
many chats at once within the platform's limits; one without (the console) sends one row at a
time. A chat's messages always go out in the order they were queued, and a claim is a
conditional UPDATE, so several workers can drain the same table (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite) without ever claiming the same row.

A paced lane also needs its platform's lease (schedules/leases.py): several processes may run
a dispatcher, but only the lease holder sends on a platform, so that their paces never add up.
A lane without rates has no pace to share and needs no lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import notify
from handlers.cards import need_card
from handlers.chat import (
    Clock,
    Edit,
    Message,
    MessageRef,
    Messenger,
    NotPermitted,
    OutcomeUnknown,
    Outgoing,
    Platform,
    RetryLater,
    Rich,
    SendFailed,
    SendRates,
    Sent,
    Target,
    Unreachable,
)
from handlers.i18n import DEFAULT_LANGUAGE, _, use_language
from handlers.serial import dump, load
from schedules.leases import LEASE_SECONDS, PlatformLeases
from schedules.pacing import (
    CONCURRENCY,
    RETRY_LINGER,
    DrainSummary,
    Lane,
    Outcome,
    Pacer,
    PlatformStats,
    Result,
    Turn,
    backoff,
    run_together,
)
from store import outbox
from store.models import (
    Announcement,
    Delivery,
    DeliveryStatus,
    MemberIdentity,
    Need,
    NeedStatus,
    Project,
)
from store.outbox import Claim

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ERROR_LENGTH = 500
NOT_PERMITTED = "not permitted"
CHAT_UNREACHABLE = "chat unreachable"
PLATFORM_NAMES = {Platform.TELEGRAM: "Telegram", Platform.DISCORD: "Discord"}


class Dispatcher:
    """Drains the `deliveries` table through one `Messenger` per platform.

    `community_managers`: identities ("telegram:123") told when the bot may not post in a
    chat, besides the members granted the `cm` role."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        messengers: Mapping[Platform, Messenger],
        clock: Clock,
        batch_size: int = 50,
        max_attempts: int = MAX_ATTEMPTS,
        *,
        community_managers: frozenset[str] = frozenset(),
        default_language: str = DEFAULT_LANGUAGE,
        concurrency: int = CONCURRENCY,
        retry_linger: float = RETRY_LINGER,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.messengers = dict(messengers)
        self.clock = clock
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.community_managers = community_managers
        self.default_language = default_language
        self.concurrency = concurrency
        self.retry_linger = retry_linger
        self.leases = PlatformLeases(sessions, clock, lease_seconds)
        self.last_drain: DrainSummary | None = None
        self._pacers: dict[Platform, Pacer] = {}
        self._reported_missing: set[str] = set()
        self._recovered: set[str] = set()  # lanes without a lease recovered by this one

    @property
    def platforms(self) -> list[str]:
        return sorted(platform.value for platform in self.messengers)

    def stats(self) -> DrainSummary:
        """What the last finished drain did, per platform (empty before the first)."""
        return self.last_drain or DrainSummary()

    async def recover(self, platforms: Iterable[str] | None = None) -> int:
        """After a crash: rows still `sending` (on `platforms`, else on every platform) may
        or may not have gone out; never resend them.

        `drain` does it by itself for a platform when it takes the platform's lease (the last
        holder may have died mid-send), or, for a platform without a lease, on its first
        pass; a process that starts beside another one that is sending must not call it for
        every platform."""
        query = update(Delivery).where(Delivery.status == DeliveryStatus.SENDING.value)
        if platforms is not None:
            query = query.where(Delivery.platform.in_(sorted(platforms)))
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                query.values(
                    status=DeliveryStatus.UNKNOWN.value,
                    error="interrupted while sending (outcome unknown)",
                )
            )
        count = _rowcount(result)
        if count:
            logger.warning("%d deliveries were interrupted while sending: marked unknown", count)
        return count

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Send every due delivery of a configured platform (a paced one only under its
        lease), until none is left (or `stop`: the sends in flight finish, the rest stays
        pending); returns how many rows were processed (one per attempt). `stats()` then
        tells what happened."""
        await self._report_missing_messengers()
        loop = asyncio.get_running_loop()
        started = loop.time()
        lanes = [self._lane(platform, messenger) for platform, messenger in self._sorted()]
        try:
            leased = await self._leased(lanes)
            results = await run_together([self._run_lane(lane, stop) for lane in leased])
        except asyncio.CancelledError:
            # The task is being stopped and its sends were cancelled: another process may
            # take over at once.
            await self.leases.release_all()
            raise
        summary = DrainSummary({stats.platform: stats for stats in results}, loop.time() - started)
        self.last_drain = summary
        for stats in results:
            if stats.processed or stats.skipped:
                logger.info("outbox drained on %s: %s", stats.platform, stats.as_dict())
        return summary.processed

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, poll_seconds: float) -> None:
        """Drain, then wait for `wake` (something was queued) or `poll_seconds`, until `stop`;
        then give the leases up."""
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    await self.drain(stop)
                except Exception:
                    # The database may be briefly away; the rows stay and the next pass resumes.
                    logger.exception("the outbox dispatcher failed a pass; retrying later")
                await _first_of(stop, wake, poll_seconds)
        finally:
            await self.leases.release_all()

    # --- lanes -------------------------------------------------------------------------------

    def _sorted(self) -> list[tuple[Platform, Messenger]]:
        return sorted(self.messengers.items(), key=lambda item: item[0].value)

    async def _leased(self, lanes: list[Lane]) -> list[Lane]:
        """The lanes this pass may run: a paced one only while this dispatcher holds its
        platform's lease (taken or renewed here). Taking a lease, or the first pass of a lane
        without one, first recovers what a dead sender left mid-send on that platform."""
        allowed = []
        for lane in lanes:
            platform = lane.stats.platform
            if lane.pacer is not None:
                fresh = platform not in self.leases.held
                if not await self.leases.take(platform):
                    continue
                if fresh:
                    await self.recover([platform])
            elif platform not in self._recovered:
                await self.recover([platform])
                self._recovered.add(platform)
            allowed.append(lane)
        return allowed

    async def _run_lane(self, lane: Lane, stop: asyncio.Event | None) -> PlatformStats:
        """Run a lane; a paced one renews its lease meanwhile, and stops if it is lost."""
        if lane.pacer is None:
            return await lane.run(stop)
        halt = asyncio.Event()
        if stop is not None and stop.is_set():
            halt.set()
        keeper = asyncio.create_task(self.leases.keep(lane.stats.platform, stop, halt))
        try:
            return await lane.run(halt)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    def _lane(self, platform: Platform, messenger: Messenger) -> Lane:
        pacer = self._pacer(platform, messenger)

        async def fetch(after_id: int, limit: int) -> list[tuple[int, str, bool]]:
            async with self.sessions() as session:
                rows = await outbox.due(
                    session,
                    platform=platform.value,
                    now=self.clock.now(),
                    after_id=after_id,
                    limit=limit,
                )
            return [(delivery_id, key, _is_private(key)) for delivery_id, key in rows]

        async def attempt(delivery_id: int, turn: Turn) -> Outcome:
            claimed = await self._claim(delivery_id)
            if claimed is None:  # another worker took it, or it waits behind an earlier row
                return Outcome(Result.NOT_CLAIMED)
            return await self._deliver(claimed, messenger, turn)

        return Lane(
            platform.value,
            fetch,
            attempt,
            pacer=pacer,
            # Without rates (the console), one row at a time, in queueing order.
            concurrency=self.concurrency if pacer is not None else 1,
            page=self.batch_size,
            linger=self.retry_linger,
        )

    def _pacer(self, platform: Platform, messenger: Messenger) -> Pacer | None:
        rates = getattr(messenger, "rates", None)
        if not isinstance(rates, SendRates):
            self._pacers.pop(platform, None)
            return None
        pacer = self._pacers.get(platform)
        if pacer is None or pacer.rates != rates:
            pacer = self._pacers[platform] = Pacer(rates)
        return pacer

    async def _claim(self, delivery_id: int) -> Claim | None:
        async with self.sessions() as session, session.begin():
            return await outbox.claim(session, delivery_id, self.clock.now())

    async def _report_missing_messengers(self) -> None:
        unreported = {p.value for p in Platform} - set(self.platforms) - self._reported_missing
        if not unreported:
            return
        async with self.sessions() as session:
            waiting = set(
                await session.scalars(
                    select(Delivery.platform)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING.value,
                        Delivery.platform.in_(sorted(unreported)),
                    )
                    .distinct()
                )
            )
        for platform in sorted(waiting):
            logger.info("no messenger for %s: its deliveries stay pending", platform)
            self._reported_missing.add(platform)

    # --- sending -----------------------------------------------------------------------------

    async def _deliver(self, claimed: Claim, messenger: Messenger, turn: Turn) -> Outcome:
        try:
            target = Target.parse(claimed.target)
            message = load(claimed.payload)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("delivery %d has an unreadable payload or target", claimed.id)
            await self._record_failed(claimed, f"unreadable delivery: {type(exc).__name__}")
            return Outcome(Result.FAILED)
        await turn.wait()
        try:
            message_id = await _send(messenger, target, message)
        except Unreachable as exc:
            logger.info("delivery %d: the recipient is unreachable", claimed.id)
            return await self._record_unreachable(claimed, target, str(exc))
        except RetryLater as exc:
            if exc.global_pause:
                turn.pause_platform(exc.seconds)
            return await self._record_retry(claimed, exc)
        except NotPermitted as exc:
            logger.warning("delivery %d: not permitted in %s (%s)", claimed.id, target.key, exc)
            skipped = await self._record_refused(claimed, target, str(exc) or NOT_PERMITTED)
            return Outcome(Result.BLOCKED, skipped=skipped)
        except SendFailed as exc:
            logger.warning("delivery %d failed: %s", claimed.id, exc)
            await self._record_failed(claimed, str(exc) or "send failed")
            return Outcome(Result.FAILED)
        except OutcomeUnknown as exc:
            logger.warning("delivery %d: outcome unknown (%s)", claimed.id, exc)
            await self._record(claimed.id, DeliveryStatus.UNKNOWN, error=str(exc) or "timeout")
            return Outcome(Result.UNKNOWN)
        except Exception as exc:
            # A fault the messenger did not classify: the message may have left, so it is
            # never sent again.
            logger.exception("delivery %d: unexpected error from the messenger", claimed.id)
            await self._record(claimed.id, DeliveryStatus.UNKNOWN, error=type(exc).__name__)
            return Outcome(Result.UNKNOWN)
        await self._record_sent(claimed, message_id)
        return Outcome(Result.SENT)

    async def _record_sent(self, claimed: Claim, sent: str | Sent | None) -> None:
        message_id, external_ref = (
            (sent.message_id, sent.external_ref) if isinstance(sent, Sent) else (sent, None)
        )
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.id)
                .values(
                    status=DeliveryStatus.SENT.value,
                    message_id=message_id,
                    external_ref=external_ref,
                    sent_at=self.clock.now(),
                    error="",
                )
            )
            if message_id is not None:
                await self._record_announcement(session, claimed, message_id)

    async def _record_announcement(
        self, session: AsyncSession, claimed: Claim, message_id: str
    ) -> None:
        """Keep the id of a need card; if the need closed while the card was on its way
        (too late for the closing to edit it), queue the edit now."""
        announcement = await session.scalar(
            select(Announcement).where(Announcement.delivery_id == claimed.id)
        )
        if announcement is None:
            return
        announcement.message_id = message_id
        need = await session.get(Need, announcement.need_id)
        if need is None or need.status == NeedStatus.OPEN.value:
            return
        project = await session.get_one(Project, need.project_id)
        with use_language(self.default_language):
            card = need_card(need, project)
        ref = MessageRef(Target.parse(claimed.target), message_id)
        await outbox.enqueue(
            session,
            purpose=f"need:{need.id}:closed",
            target=claimed.target,
            platform=claimed.platform,
            payload=dump(Edit(ref, card)),
            now=self.clock.now(),
        )

    async def _record_retry(self, claimed: Claim, exc: RetryLater) -> Outcome:
        if claimed.attempts >= self.max_attempts:
            logger.warning("delivery %d: giving up after %d attempts", claimed.id, claimed.attempts)
            await self._record_failed(claimed, f"gave up after {claimed.attempts} attempts: {exc}")
            return Outcome(Result.FAILED)
        # The platform's wait is a minimum; passing faults back off exponentially.
        delay = max(0.0, exc.seconds, backoff(claimed.attempts))
        logger.info("delivery %d: retry in %.1f s", claimed.id, delay)
        await self._record(
            claimed.id,
            DeliveryStatus.PENDING,
            error=str(exc),
            not_before=self.clock.now() + timedelta(seconds=delay),
        )
        return Outcome(Result.RETRY, delay=delay)

    async def _record_unreachable(self, claimed: Claim, target: Target, reason: str) -> Outcome:
        async with self.sessions() as session, session.begin():
            # A private message waits for the member's return; a chat the bot was removed
            # from takes none of its other pending messages either.
            status = DeliveryStatus.HELD if target.private else DeliveryStatus.FAILED
            await session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.id)
                .values(status=status.value, error=_clip(f"unreachable: {reason}"))
            )
            skipped = 0
            if not target.private:
                skipped = await outbox.skip_pending(session, target.key, CHAT_UNREACHABLE)
            fallback = claimed.payload.get("fallback")
            if fallback:
                await outbox.enqueue(
                    session,
                    purpose=f"unreachable:{claimed.id}",
                    target=fallback["target"],
                    platform=fallback["platform"],
                    payload=fallback["payload"],
                    member_id=fallback["member_id"],
                    now=self.clock.now(),
                )
            if target.private:
                await session.execute(
                    update(MemberIdentity)
                    .where(
                        MemberIdentity.platform == target.platform.value,
                        MemberIdentity.external_id == target.chat_id,
                    )
                    .values(unreachable=True)
                )
        if target.private:
            return Outcome(Result.HELD)
        return Outcome(Result.BLOCKED, skipped=skipped)

    async def _record_refused(self, claimed: Claim, target: Target, reason: str) -> int:
        """Not permitted in that chat: this row failed, the chat's other pending rows are
        skipped, and the community managers are told once; returns how many were skipped."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.id)
                .values(status=DeliveryStatus.FAILED.value, error=_clip(reason))
            )
            skipped = await outbox.skip_pending(session, target.key, NOT_PERMITTED)
            await self._tell_community_managers(session, target)
        return skipped

    async def _tell_community_managers(self, session: AsyncSession, target: Target) -> None:
        title = await outbox.chat_title(session, target.platform.value, target.chat_id)
        chat = title or target.chat_id
        platform = PLATFORM_NAMES.get(target.platform, target.platform.value)

        def notice() -> Message:
            return Message(
                Rich.of(
                    _(
                        "I am not allowed to post in {chat} ({platform}): please check my "
                        "permissions there. Its pending messages were skipped."
                    ).format(chat=chat, platform=platform)
                )
            )

        await notify.community_managers(
            session,
            self.community_managers,
            self.default_language,
            self.clock.now(),
            # Unique on (purpose, target): each manager hears of a chat once.
            f"refused:{target.key}",
            notice,
        )

    async def _record_failed(self, claimed: Claim, error: str) -> None:
        await self._record(claimed.id, DeliveryStatus.FAILED, error=error)

    async def _record(self, delivery_id: int, status: DeliveryStatus, **values: Any) -> None:
        if "error" in values:
            values["error"] = _clip(values["error"])
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=status.value, **values)
            )


def _is_private(key: str) -> bool:
    parts = key.split(":", 2)
    return len(parts) == 3 and parts[1] == "user"


async def _send(messenger: Messenger, target: Target, message: Outgoing) -> str | Sent | None:
    if isinstance(message, Edit):
        await messenger.edit(message.ref, message.message)
        return message.ref.message_id
    return await messenger.send(target, message)


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Wait until either event is set, or for `seconds`."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
