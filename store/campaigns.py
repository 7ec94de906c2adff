"""Campaign queries: statistics, runs (created once, settled), and the bulk outbox insert.

The audience of a run and what each kind talks about are in `store.audiences`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# The audience queries live in `store.audiences`; these three are also read from here by the
# handlers (an audience's size in a preview).
from store.audiences import audience_filter, group_chats, recipients
from store.models import (
    Campaign,
    CampaignResponse,
    CampaignRun,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    RunStatus,
)

__all__ = [
    "MANUAL_PREFIX",
    "CampaignStats",
    "LastRun",
    "active",
    "audience_filter",
    "counted_runs",
    "finish",
    "group_chats",
    "insert_deliveries",
    "insert_run",
    "last_scheduled",
    "open_deliveries",
    "recipients",
    "run_progress",
    "settle_runs",
    "started_runs_in_progress",
    "stats",
    "versions",
]

MANUAL_PREFIX = "manual:"
INSERT_CHUNK = 1000


# --- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignStats:
    """What a campaign did, over all its runs."""

    campaign_id: int
    runs: int = 0  # runs that sent (or are sending) something
    runs_skipped: int = 0  # nothing new, or missed while the bot was down
    deliveries: int = 0  # every delivery row, whatever its status
    sent: int = 0
    pending: int = 0  # waiting (quiet hours) or being sent
    failed: int = 0
    unknown: int = 0  # a timeout hid the outcome
    held: int = 0  # waiting for an unreachable member to come back
    skipped: Mapping[str, int] = field(default_factory=dict)  # reason ("cap"...) -> count
    answers: int = 0
    votes: int = 0
    clicks: int = 0
    offers: int = 0
    choices: Mapping[str, int] = field(default_factory=dict)  # poll option index -> votes
    last_run_at: datetime | None = None

    @property
    def skipped_cap(self) -> int:
        return self.skipped.get("cap", 0)

    @property
    def skipped_quiet(self) -> int:
        return self.skipped.get("quiet", 0)

    @property
    def skipped_unreachable(self) -> int:
        return self.skipped.get("unreachable", 0)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


async def stats(session: AsyncSession, campaign_id: int) -> CampaignStats:
    """Counts of deliveries by status (skips by reason) and of responses by kind."""
    run_rows = await session.execute(
        select(CampaignRun.status, func.count(), func.max(CampaignRun.scheduled_at))
        .where(CampaignRun.campaign_id == campaign_id)
        .group_by(CampaignRun.status)
    )
    runs = runs_skipped = 0
    last: datetime | None = None
    for status, count, latest in run_rows:
        if status == RunStatus.SKIPPED.value:
            runs_skipped += count
        else:
            runs += count
            last = latest if last is None or (latest and latest > last) else last
    delivery_rows = await session.execute(
        select(Delivery.status, Delivery.error, func.count())
        .join(CampaignRun, CampaignRun.id == Delivery.run_id)
        .where(CampaignRun.campaign_id == campaign_id)
        .group_by(Delivery.status, Delivery.error)
    )
    by_status: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for status, error, count in delivery_rows:
        by_status[status] += count
        if status == DeliveryStatus.SKIPPED.value:
            skipped[error or "other"] += count
    response_rows = await session.execute(
        select(CampaignResponse.kind, func.count())
        .where(CampaignResponse.campaign_id == campaign_id)
        .group_by(CampaignResponse.kind)
    )
    responses = {kind: count for kind, count in response_rows}
    choices: Counter[str] = Counter()
    votes = await session.scalars(
        select(CampaignResponse.choice).where(
            CampaignResponse.campaign_id == campaign_id, CampaignResponse.kind == "vote"
        )
    )
    for choice in votes:
        choices.update(str(option) for option in choice or [])
    return CampaignStats(
        campaign_id=campaign_id,
        runs=runs,
        runs_skipped=runs_skipped,
        deliveries=sum(by_status.values()),
        sent=by_status[DeliveryStatus.SENT.value],
        pending=by_status[DeliveryStatus.PENDING.value] + by_status[DeliveryStatus.SENDING.value],
        failed=by_status[DeliveryStatus.FAILED.value],
        unknown=by_status[DeliveryStatus.UNKNOWN.value],
        held=by_status[DeliveryStatus.HELD.value],
        skipped=dict(skipped),
        answers=responses.get("answer", 0),
        votes=responses.get("vote", 0),
        clicks=responses.get("click", 0),
        offers=responses.get("offer", 0),
        choices=dict(choices),
        last_run_at=last,
    )


async def run_progress(session: AsyncSession, run_id: int) -> dict[str, int]:
    """A run's deliveries by status, skips by reason as "skipped:<reason>"."""
    rows = await session.execute(
        select(Delivery.status, Delivery.error, func.count())
        .where(Delivery.run_id == run_id)
        .group_by(Delivery.status, Delivery.error)
    )
    counts: Counter[str] = Counter()
    for status, error, count in rows:
        if status == DeliveryStatus.SKIPPED.value:
            counts[f"skipped:{error or 'other'}"] += count
        else:
            counts[status] += count
    return dict(counts)


# --- campaigns and runs -------------------------------------------------------------------------


async def active(session: AsyncSession) -> list[Campaign]:
    return list(
        await session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.ACTIVE.value)
            .order_by(Campaign.id)
        )
    )


async def versions(session: AsyncSession) -> dict[int, tuple[str, datetime]]:
    """(status, updated_at) of every campaign that is not deleted: a cheap change check."""
    rows = await session.execute(
        select(Campaign.id, Campaign.status, Campaign.updated_at).where(
            Campaign.status != CampaignStatus.DELETED.value
        )
    )
    return {campaign_id: (status, updated) for campaign_id, status, updated in rows}


@dataclass(frozen=True, slots=True)
class LastRun:
    """A campaign's latest scheduled instant, and the slots that have a run at it (several
    when nominal times shared it in a DST gap)."""

    at: datetime
    slots: frozenset[str]


async def last_scheduled(
    session: AsyncSession, campaign_ids: Sequence[int] | None = None
) -> dict[int, LastRun]:
    """The latest scheduled (not manual) run of each campaign that has one."""
    scheduled = ~CampaignRun.slot.startswith(MANUAL_PREFIX)
    latest = select(
        CampaignRun.campaign_id.label("campaign_id"),
        func.max(CampaignRun.scheduled_at).label("at"),
    ).where(scheduled)
    if campaign_ids is not None:
        latest = latest.where(CampaignRun.campaign_id.in_(list(campaign_ids)))
    newest = latest.group_by(CampaignRun.campaign_id).subquery()
    rows = await session.execute(
        select(CampaignRun.campaign_id, CampaignRun.scheduled_at, CampaignRun.slot)
        .join(
            newest,
            and_(
                newest.c.campaign_id == CampaignRun.campaign_id,
                newest.c.at == CampaignRun.scheduled_at,
            ),
        )
        .where(scheduled)
    )
    found: dict[int, tuple[datetime, set[str]]] = {}
    for campaign_id, at, slot in rows:
        found.setdefault(campaign_id, (at, set()))[1].add(slot)
    return {key: LastRun(at, frozenset(slots)) for key, (at, slots) in found.items()}


async def counted_runs(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, int]:
    """Runs that count towards `max_runs`, per campaign: scheduled ones (not manual), except
    those missed while the bot was down."""
    counts: Counter[int] = Counter()
    ids = sorted(set(campaign_ids))
    for start in range(0, len(ids), INSERT_CHUNK):
        rows = await session.execute(
            select(CampaignRun.campaign_id, CampaignRun.status, CampaignRun.details).where(
                CampaignRun.campaign_id.in_(ids[start : start + INSERT_CHUNK]),
                ~CampaignRun.slot.startswith(MANUAL_PREFIX),
            )
        )
        for campaign_id, status, details in rows:
            missed = status == RunStatus.SKIPPED.value and (details or {}).get("reason") == "missed"
            if not missed:
                counts[campaign_id] += 1
    return dict(counts)


async def finish(session: AsyncSession, campaign_ids: Sequence[int]) -> list[int]:
    """Mark these campaigns finished if they are still active; returns those changed."""
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id.in_(list(campaign_ids)), Campaign.status == CampaignStatus.ACTIVE.value)
        .values(status=CampaignStatus.FINISHED.value)
        .returning(Campaign.id)
    )
    return list(result.scalars())


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return insert(table)  # pragma: no cover - other databases are not supported


async def insert_run(session: AsyncSession, **values: Any) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING on (campaign_id, slot): the run id when this call
    created it, None when the slot already had its run (another worker, a double fire)."""
    values.setdefault("details", {})
    values.setdefault("status", RunStatus.PENDING.value)
    result = await session.execute(
        _insert(session, CampaignRun).values(values).returning(CampaignRun.id)
    )
    run_id: int | None = result.scalar_one_or_none()
    return run_id


async def insert_deliveries(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Bulk insert outbox rows, skipping (purpose, target) pairs already there; returns how
    many rows were offered (the caller counts what it wrote from its own rows)."""
    statement = _insert(session, Delivery)
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = list(rows[start : start + INSERT_CHUNK])
        await session.execute(statement, chunk)
    return len(rows)


async def started_runs_in_progress(session: AsyncSession) -> list[int]:
    """Runs started by someone (who is told how they go) whose deliveries are being sent."""
    return list(
        await session.scalars(
            select(CampaignRun.id)
            .where(
                CampaignRun.status == RunStatus.DISPATCHING.value,
                CampaignRun.started_by.is_not(None),
            )
            .order_by(CampaignRun.id)
        )
    )


async def settle_runs(session: AsyncSession, now: datetime) -> int:
    """Mark done, in one statement, the dispatching runs nobody follows (not started by
    hand) whose deliveries are all decided; returns how many."""
    waiting = (
        select(Delivery.id)
        .where(
            Delivery.run_id == CampaignRun.id,
            Delivery.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
        )
        .exists()
    )
    result = await session.execute(
        update(CampaignRun)
        .where(
            CampaignRun.status == RunStatus.DISPATCHING.value,
            CampaignRun.started_by.is_(None),
            ~waiting,
        )
        .values(status=RunStatus.DONE.value, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def open_deliveries(session: AsyncSession, run_id: int) -> int:
    """The run's deliveries not yet settled (waiting or being sent)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.run_id == run_id,
                Delivery.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
            )
        )
        or 0
    )
