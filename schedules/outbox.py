"""The outbox dispatcher: sends queued deliveries, once each, and records what happened.

A delivery is claimed (status `sending`, one more attempt) and the claim is committed before
anything is sent, so a crash between the claim and the result can never cause a second send:
at the next start `recover` turns such rows into `unknown`, because their outcome is hidden.
Each row is claimed in its own short transaction, which keeps that uncertain window to the
one message in flight; `FOR UPDATE SKIP LOCKED` (PostgreSQL) lets several workers drain the
same table without ever claiming the same row, and SQLite's `BEGIN IMMEDIATE` serialises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import (
    Clock,
    Edit,
    Messenger,
    OutcomeUnknown,
    Outgoing,
    Platform,
    RetryLater,
    SendFailed,
    Target,
    Unreachable,
)
from handlers.serial import load
from store import outbox
from store.models import Announcement, Delivery, DeliveryStatus, MemberIdentity

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Claimed:
    """What the dispatcher needs of a claimed row, read inside the claim's transaction."""

    id: int
    platform: str
    target: str
    payload: dict[str, Any]
    attempts: int


class Dispatcher:
    """Drains the `deliveries` table through one `Messenger` per platform."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        messengers: Mapping[Platform, Messenger],
        clock: Clock,
        batch_size: int = 50,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.sessions = sessions
        self.messengers = dict(messengers)
        self.clock = clock
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self._reported_missing: set[str] = set()

    @property
    def platforms(self) -> list[str]:
        return sorted(platform.value for platform in self.messengers)

    async def recover(self) -> int:
        """After a crash: rows still `sending` may or may not have gone out; never resend."""
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.SENDING.value)
                .values(
                    status=DeliveryStatus.UNKNOWN.value,
                    error="interrupted while sending (outcome unknown)",
                )
            )
        count = _rowcount(result)
        if count:
            logger.warning("%d deliveries were interrupted while sending: marked unknown", count)
        return count

    async def drain(self) -> int:
        """Send every due delivery of a configured platform; returns how many were processed."""
        await self._report_missing_messengers()
        processed = 0
        while True:
            due = await self._due_ids()
            if not due:
                return processed
            for delivery_id in due:
                claimed = await self._claim(delivery_id)
                if claimed is None:  # another worker took it
                    continue
                await self._deliver(claimed)
                processed += 1

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, poll_seconds: float) -> None:
        """Drain, then wait for `wake` (something was queued) or `poll_seconds`, until `stop`."""
        while not stop.is_set():
            wake.clear()
            try:
                await self.drain()
            except Exception:
                # The database may be briefly away; the rows stay and the next pass resumes.
                logger.exception("the outbox dispatcher failed a pass; retrying later")
            await _first_of(stop, wake, poll_seconds)

    # --- claiming ----------------------------------------------------------------------------

    async def _due_ids(self) -> list[int]:
        if not self.messengers:
            return []
        async with self.sessions() as session:
            ids = await session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.status == DeliveryStatus.PENDING.value,
                    Delivery.not_before <= self.clock.now(),
                    Delivery.platform.in_(self.platforms),
                )
                .order_by(Delivery.id)
                .limit(self.batch_size)
            )
            return list(ids)

    async def _claim(self, delivery_id: int) -> Claimed | None:
        async with self.sessions() as session, session.begin():
            row = await session.scalar(
                select(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                )
                # Rendered on PostgreSQL only; SQLite's BEGIN IMMEDIATE already serialises.
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return None
            row.status = DeliveryStatus.SENDING.value
            row.attempts += 1
            return Claimed(row.id, row.platform, row.target, dict(row.payload), row.attempts)

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

    async def _deliver(self, claimed: Claimed) -> None:
        messenger = self.messengers[Platform(claimed.platform)]
        try:
            target = Target.parse(claimed.target)
            message = load(claimed.payload)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("delivery %d has an unreadable payload or target", claimed.id)
            await self._record_failed(claimed, f"unreadable delivery: {type(exc).__name__}")
            return
        try:
            message_id = await _send(messenger, target, message)
        except Unreachable as exc:
            logger.info("delivery %d: the recipient is unreachable", claimed.id)
            await self._record_unreachable(claimed, target, str(exc))
        except RetryLater as exc:
            await self._record_retry(claimed, exc)
        except SendFailed as exc:
            logger.warning("delivery %d failed: %s", claimed.id, exc)
            await self._record_failed(claimed, str(exc) or "send failed")
        except OutcomeUnknown as exc:
            logger.warning("delivery %d: outcome unknown (%s)", claimed.id, exc)
            await self._record(claimed.id, DeliveryStatus.UNKNOWN, error=str(exc) or "timeout")
        except Exception as exc:
            # A fault the messenger did not classify: the message may have left, so it is
            # never sent again.
            logger.exception("delivery %d: unexpected error from the messenger", claimed.id)
            await self._record(claimed.id, DeliveryStatus.UNKNOWN, error=type(exc).__name__)
        else:
            await self._record_sent(claimed, message_id)

    async def _record_sent(self, claimed: Claimed, message_id: str | None) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.id)
                .values(
                    status=DeliveryStatus.SENT.value,
                    message_id=message_id,
                    sent_at=self.clock.now(),
                    error="",
                )
            )
            if message_id is not None:
                await session.execute(
                    update(Announcement)
                    .where(Announcement.delivery_id == claimed.id)
                    .values(message_id=message_id)
                )

    async def _record_retry(self, claimed: Claimed, exc: RetryLater) -> None:
        if claimed.attempts >= self.max_attempts:
            logger.warning("delivery %d: giving up after %d attempts", claimed.id, claimed.attempts)
            await self._record_failed(claimed, f"gave up after {claimed.attempts} attempts: {exc}")
            return
        seconds = max(0.0, exc.seconds)
        logger.info("delivery %d: retry in %.1f s", claimed.id, seconds)
        await self._record(
            claimed.id,
            DeliveryStatus.PENDING,
            error=str(exc),
            not_before=self.clock.now() + timedelta(seconds=seconds),
        )

    async def _record_unreachable(self, claimed: Claimed, target: Target, reason: str) -> None:
        async with self.sessions() as session, session.begin():
            # A private message waits for the member's return; anything else has failed.
            status = DeliveryStatus.HELD if target.private else DeliveryStatus.FAILED
            await session.execute(
                update(Delivery)
                .where(Delivery.id == claimed.id)
                .values(status=status.value, error=_clip(f"unreachable: {reason}"))
            )
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

    async def _record_failed(self, claimed: Claimed, error: str) -> None:
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


async def _send(messenger: Messenger, target: Target, message: Outgoing) -> str | None:
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
