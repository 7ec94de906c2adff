"""The outbox: deliveries written in the same transaction as the change that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Delivery, DeliveryStatus


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
