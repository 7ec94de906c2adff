"""Outbox leases: which dispatcher may send on a platform, until when.

A lease is one row per platform. Taking it is a single conditional upsert (INSERT ... ON
CONFLICT DO UPDATE ... WHERE), atomic on PostgreSQL and SQLite alike: it succeeds when the row
is missing, has expired, or is already the caller's (a renewal). The times come from the
caller's clock, so tests move them with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import OutboxLease


@dataclass(frozen=True, slots=True)
class Holder:
    """Who asks for a lease: a random id per dispatcher, and where it runs (for humans)."""

    id: str
    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class Lease:
    platform: str
    holder: str
    host: str
    pid: int
    since: datetime
    expires_at: datetime


async def take(
    session: AsyncSession, platform: str, holder: Holder, *, now: datetime, seconds: float
) -> datetime | None:
    """Take or renew `platform`'s lease for `seconds` from `now`: returns its new expiry, or
    None when another holder's lease is still running."""
    values = {
        "platform": platform,
        "holder": holder.id,
        "host": holder.host[:255],
        "pid": holder.pid,
        "since": now,
        "expires_at": now + timedelta(seconds=seconds),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(OutboxLease).values(values)
    ours = OutboxLease.holder == holder.id
    stmt = stmt.on_conflict_do_update(
        index_elements=[OutboxLease.platform],
        set_={
            "holder": stmt.excluded.holder,
            "host": stmt.excluded.host,
            "pid": stmt.excluded.pid,
            # A renewal keeps the time the lease was first taken.
            "since": case((ours, OutboxLease.since), else_=stmt.excluded.since),
            "expires_at": stmt.excluded.expires_at,
        },
        where=or_(ours, OutboxLease.expires_at <= now),
    )
    result = await session.execute(stmt.returning(OutboxLease.expires_at))
    expires: datetime | None = result.scalar_one_or_none()
    return expires


async def release(session: AsyncSession, platform: str, holder: Holder) -> bool:
    """Give `platform`'s lease up if `holder` has it; returns whether it had."""
    result = await session.execute(
        delete(OutboxLease)
        .where(OutboxLease.platform == platform, OutboxLease.holder == holder.id)
        .returning(OutboxLease.platform)
    )
    return result.scalar_one_or_none() is not None


async def current(session: AsyncSession, platform: str) -> Lease | None:
    """The lease row of `platform`, expired or not (None: never taken, or released)."""
    row = await session.get(OutboxLease, platform)
    if row is None:
        return None
    return Lease(row.platform, row.holder, row.host, row.pid, row.since, row.expires_at)
