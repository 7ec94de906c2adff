"""The outbox: deliveries written in the same transaction as the change that caused them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.members import preferred_identity
from store.models import (
    Chat,
    Delivery,
    DeliveryStatus,
    Member,
)


async def enqueue(
    session: AsyncSession,
    *,
    purpose: str,
    target: str,
    platform: str,
    payload: dict[str, Any],
    now: datetime,
    member_id: int | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Queue one delivery; returns its id, or None when (purpose, target) was already queued."""
    values = {
        "purpose": purpose,
        "target": target,
        "platform": platform,
        "payload": payload,
        "member_id": member_id,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "error": "",
        "not_before": not_before or now,
        "created_at": now,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(Delivery).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(Delivery).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases are not supported
        stmt = insert(Delivery).values(values)
    result = await session.execute(stmt.returning(Delivery.id))
    return result.scalar_one_or_none()


async def existing(session: AsyncSession, purpose: str, target: str) -> Delivery | None:
    return await session.scalar(
        select(Delivery).where(Delivery.purpose == purpose, Delivery.target == target)
    )


async def take_held(session: AsyncSession, member_id: int, now: datetime) -> list[Delivery]:
    """The private messages held while the member was unreachable, marked as delivered now
    (the caller shows them in its answer, inside the same transaction)."""
    held = list(
        await session.scalars(
            select(Delivery)
            .where(
                Delivery.member_id == member_id,
                Delivery.status == DeliveryStatus.HELD.value,
            )
            .order_by(Delivery.id)
            .with_for_update()
        )
    )
    for delivery in held:
        delivery.status = DeliveryStatus.SENT.value
        delivery.sent_at = now
        delivery.error = "shown when the member came back"
    return held


# --- what the dispatcher needs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A row the dispatcher has claimed (status `sending`, one more attempt, committed)."""

    id: int
    platform: str
    target: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class PrivateAddress:
    """Where and in which language a member is written to privately."""

    platform: str
    external_id: str
    locale: str | None
    language_code: str | None


def _waits_behind_an_earlier_row(now: datetime, *, due_too: bool) -> ColumnElement[bool]:
    """True when an earlier row of the same target is still undecided: being sent, waiting
    for a retry, or (`due_too`) due and not sent yet. A chat's messages go out in the order
    they were queued, so such a row must wait its turn. A row deliberately postponed and
    never tried (a campaign message waiting for the end of the member's quiet hours) holds
    nothing back: the answer to the member's own offer must not wait for the morning."""
    earlier = aliased(Delivery)
    pending = earlier.status == DeliveryStatus.PENDING.value
    undecided = or_(
        earlier.status == DeliveryStatus.SENDING.value,
        and_(pending, earlier.not_before > now, earlier.attempts > 0),
    )
    if due_too:
        undecided = or_(undecided, and_(pending, earlier.not_before <= now))
    return exists().where(earlier.target == Delivery.target, earlier.id < Delivery.id, undecided)


async def due(
    session: AsyncSession, *, platform: str, now: datetime, after_id: int, limit: int
) -> list[tuple[int, str]]:
    """(id, target) of the rows of `platform` that may be sent now, in id order, from
    `after_id` on; rows queued behind an earlier row of their target that is being sent or
    waits for a retry are left for later."""
    rows = await session.execute(
        select(Delivery.id, Delivery.target)
        .where(
            Delivery.status == DeliveryStatus.PENDING.value,
            Delivery.platform == platform,
            Delivery.not_before <= now,
            Delivery.id > after_id,
            ~_waits_behind_an_earlier_row(now, due_too=False),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [(delivery_id, target) for delivery_id, target in rows]


async def claim(session: AsyncSession, delivery_id: int, now: datetime) -> Claim | None:
    """Mark a pending row `sending` with one more attempt; None when another worker holds or
    took it, or when an earlier row of the same target is still undecided. Commit before
    sending: the claim is what keeps a row from ever being sent twice."""
    # PostgreSQL: a row another worker is claiming right now is skipped, not waited for.
    # SQLite renders no FOR UPDATE: its BEGIN IMMEDIATE already serialises the claims.
    locked = await session.scalar(
        select(Delivery.id)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING.value)
        .with_for_update(skip_locked=True)
    )
    if locked is None:
        return None
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == DeliveryStatus.PENDING.value,
            ~_waits_behind_an_earlier_row(now, due_too=True),
        )
        .values(status=DeliveryStatus.SENDING.value, attempts=Delivery.attempts + 1)
        .returning(
            Delivery.id, Delivery.platform, Delivery.target, Delivery.payload, Delivery.attempts
        )
        .execution_options(synchronize_session=False)
    )
    row = result.one_or_none()
    if row is None:
        return None
    claimed_id, platform, target, payload, attempts = row
    return Claim(claimed_id, platform, target, dict(payload), attempts)


async def skip_pending(session: AsyncSession, target: str, error: str) -> int:
    """Give up the target's pending rows (status `skipped`); returns how many."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.target == target, Delivery.status == DeliveryStatus.PENDING.value)
        .values(status=DeliveryStatus.SKIPPED.value, error=error)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount if isinstance(result, CursorResult) else 0


async def private_address(session: AsyncSession, member_id: int) -> PrivateAddress | None:
    identity = await preferred_identity(session, member_id)
    if identity is None:
        return None
    member = await session.get(Member, member_id)
    return PrivateAddress(
        identity.platform,
        identity.external_id,
        member.locale if member is not None else None,
        identity.language_code,
    )


async def chat_title(session: AsyncSession, platform: str, external_id: str) -> str | None:
    title = await session.scalar(
        select(Chat.title).where(Chat.platform == platform, Chat.external_id == external_id)
    )
    return title or None
