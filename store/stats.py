"""The community's figures for a period: counted in the database, never row by row.

Every figure is an aggregate (filtered COUNTs, a GROUP BY for the trend's buckets and for
the minutes the answers to offers took, whose median is read from those counts), so that
/stats stays under a second with 100,000 members and 200,000 offers, on SQLite and on
PostgreSQL (bench/stats.py). Times are compared as the store keeps them (UTC); the two
expressions that differ between the databases (a bucket index, minutes between two times)
are at the end of this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    cast,
    distinct,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    Announcement,
    AuditEntry,
    Campaign,
    CampaignResponse,
    CampaignRun,
    ContributionKind,
    Delivery,
    DeliveryStatus,
    Member,
    Need,
    NeedClick,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    RunStatus,
    UTCDateTime,
)

# The periods a community manager may ask for, in days (None: since the beginning).
PERIODS: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "1y": 365, "all": None}
DEFAULT_PERIOD = "30d"
# A leader's answer to an offer, as the audit log records it (its subject is "offer:<id>").
DECISIONS = ("offer.accept", "offer.decline")
OFFER_SUBJECT = "offer:"
STEP = 5  # minutes: the precision of the answers' median
REACHED_ACCEPTANCE = (OfferStatus.ACCEPTED.value, OfferStatus.DONE.value)
DAY = 86_400
UNIX_EPOCH_JULIAN_DAY = 2_440_587.5
KINDS = tuple(kind.value for kind in ContributionKind)
OTHER = "other"  # a status or kind this version does not know


class UnknownPeriod(ValueError):
    """Not one of `PERIODS`."""


@dataclass(frozen=True, slots=True)
class Period:
    """[since, until]; `since` is None for "all"."""

    key: str
    since: datetime | None
    until: datetime

    @classmethod
    def parse(cls, text: str | None, until: datetime) -> Period:
        key = (text or DEFAULT_PERIOD).strip().lower()
        if key not in PERIODS:
            raise UnknownPeriod(key)
        days = PERIODS[key]
        return cls(key, None if days is None else until - timedelta(days=days), until)


@dataclass(frozen=True, slots=True)
class Funnel:
    """Needs announced in the period, and what became of them."""

    announced: int = 0  # needs with an announcement posted in the period
    clicked: int = 0  # opens of those needs: links and buttons, campaign clicks included
    offered: int = 0
    accepted: int = 0  # accepted, or already done
    done: int = 0


@dataclass(frozen=True, slots=True)
class CampaignTotals:
    runs: int = 0  # runs that sent something (skipped ones left out)
    sent: int = 0
    answers: int = 0
    votes: int = 0
    clicks: int = 0
    offers: int = 0  # offers credited to a campaign


@dataclass(frozen=True, slots=True)
class Stats:
    period: str
    since: datetime | None
    until: datetime
    members_total: int = 0
    members_new: int = 0
    members_active: int = 0  # seen (wrote or pressed something) in the period
    projects: Mapping[str, int] = field(default_factory=dict)  # status -> count, today
    needs_open: int = 0  # today
    needs_new: int = 0
    needs_fulfilled: int = 0  # closed as fulfilled in the period
    offers_by_status: Mapping[str, int] = field(default_factory=dict)  # made in the period
    offers_by_kind: Mapping[str, int] = field(default_factory=dict)
    funnel: Funnel = field(default_factory=Funnel)
    response_median: float | None = None  # seconds from an offer to its leader's answer
    responses: int = 0  # answers measured
    campaigns: CampaignTotals = field(default_factory=CampaignTotals)

    @property
    def offers_total(self) -> int:
        return sum(self.offers_by_status.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready: times as ISO strings)."""
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat()
        data["offers_total"] = self.offers_total
        return data


@dataclass(frozen=True, slots=True)
class Trend:
    """Counts per bucket of `days` days, from `origin`: bucket i starts at origin + i*days."""

    origin: datetime
    days: int
    members: tuple[int, ...]
    offers: tuple[int, ...]
    accepted: tuple[int, ...]  # offers accepted or done, in the bucket of their last decision

    @property
    def starts(self) -> tuple[datetime, ...]:
        return tuple(self.origin + timedelta(days=self.days * i) for i in range(len(self.offers)))


# --- the figures --------------------------------------------------------------------------------


async def collect(session: AsyncSession, period: Period) -> Stats:
    """Every figure of /stats for `period`."""
    since, until = period.since, period.until
    members_total, members_new, members_active = await _members(session, since, until)
    projects = await _grouped(
        session, select(Project.status, func.count()).group_by(Project.status)
    )
    needs_open, needs_new, needs_fulfilled = await _needs(session, since, until)
    by_status, by_kind, funnel = await _offers_and_funnel(session, since, until)
    median, responses = await _response_median(session, since, until)
    return Stats(
        period=period.key,
        since=since,
        until=until,
        members_total=members_total,
        members_new=members_new,
        members_active=members_active,
        projects=projects,
        needs_open=needs_open,
        needs_new=needs_new,
        needs_fulfilled=needs_fulfilled,
        offers_by_status=by_status,
        offers_by_kind=by_kind,
        funnel=funnel,
        response_median=median,
        responses=responses,
        campaigns=await _campaigns(session, since, until),
    )


def _within(column: Any, since: datetime | None, until: datetime) -> ColumnElement[bool]:
    """In [since, until]: what happened at the very moment of the question counts."""
    if since is None:
        return and_(column <= until)
    return and_(column >= since, column <= until)


async def _grouped(session: AsyncSession, query: Select[str, int]) -> dict[str, int]:
    return {str(key): int(count) for key, count in await session.execute(query)}


async def _members(
    session: AsyncSession, since: datetime | None, until: datetime
) -> tuple[int, int, int]:
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(_within(Member.created_at, since, until)),
                func.count().filter(_within(Member.last_seen_at, since, until)),
            ).select_from(Member)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _needs(
    session: AsyncSession, since: datetime | None, until: datetime
) -> tuple[int, int, int]:
    row = (
        await session.execute(
            select(
                func.count().filter(Need.status == NeedStatus.OPEN.value),
                func.count().filter(_within(Need.created_at, since, until)),
                func.count().filter(
                    Need.status == NeedStatus.FULFILLED.value,
                    _within(Need.closed_at, since, until),
                ),
            ).select_from(Need)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _offers_and_funnel(
    session: AsyncSession, since: datetime | None, until: datetime
) -> tuple[dict[str, int], dict[str, int], Funnel]:
    """Offers made in the period by status and by kind (one pass, every figure a filtered
    COUNT: a GROUP BY would sort the offers, or read them in the order of an index, both
    slower), and the funnel of the needs announced in the period."""
    statuses = tuple(status.value for status in OfferStatus)
    made = _within(Offer.created_at, since, until)
    row = (
        await session.execute(
            select(
                func.count(),
                *(func.count().filter(Offer.status == status) for status in statuses),
                *(func.count().filter(Offer.kind == kind) for kind in KINDS),
            ).where(made)
        )
    ).one()
    total, counts = int(row[0]), [int(value) for value in row[1:]]
    by_status = _named(statuses, counts[: len(statuses)], total)
    by_kind = _named(KINDS, counts[len(statuses) :], total)

    announced = select(Announcement.need_id).where(_within(Announcement.created_at, since, until))
    # `need_id + 0` (here and for the clicks): read the period's rows in one pass and test
    # each need against the announced ones, rather than look up every row of every announced
    # need through the need index (SQLite would: several times slower when most needs were
    # announced). For the offers, that pass reads the (created_at, status, kind, need_id)
    # index alone.
    funnel = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Offer.status.in_(REACHED_ACCEPTANCE)),
                func.count().filter(Offer.status == OfferStatus.DONE.value),
            ).where(made, (Offer.need_id + 0).in_(announced))
        )
    ).one()
    needs, clicked = await _clicks(session, since, until, announced)
    offered, accepted, done = (int(value) for value in funnel)
    return by_status, by_kind, Funnel(needs, clicked, offered, accepted, done)


def _named(names: Sequence[str], counts: Sequence[int], total: int) -> dict[str, int]:
    """{name: count} without the zeros; what no name counted (a value this version does
    not know) is under "other"."""
    named = {name: count for name, count in zip(names, counts, strict=True) if count}
    if total > sum(counts):
        named[OTHER] = total - sum(counts)
    return named


async def _clicks(
    session: AsyncSession, since: datetime | None, until: datetime, announced: Select[int]
) -> tuple[int, int]:
    """How many needs were announced in the period, and the opens of those needs in the
    period: links and buttons (`NeedClick`) and clicks on campaigns about them."""
    needs = (
        select(func.count(distinct(Announcement.need_id)))
        .where(_within(Announcement.created_at, since, until))
        .scalar_subquery()
    )
    links = (
        select(func.count())
        .select_from(NeedClick)
        .where((NeedClick.need_id + 0).in_(announced), _within(NeedClick.created_at, since, until))
        .scalar_subquery()
    )
    campaigns = (
        select(func.count())
        .select_from(CampaignResponse)
        .join(Campaign, Campaign.id == CampaignResponse.campaign_id)
        .where(
            CampaignResponse.kind == "click",
            Campaign.need_id.in_(announced),
            _within(CampaignResponse.created_at, since, until),
        )
        .scalar_subquery()
    )
    row = (await session.execute(select(needs, links, campaigns))).one()
    return int(row[0] or 0), int(row[1] or 0) + int(row[2] or 0)


async def _response_median(
    session: AsyncSession, since: datetime | None, until: datetime
) -> tuple[float | None, int]:
    """The median time from an offer to its answer (accepted or declined, by a leader of its
    project or a community manager), over the answers given in the period, to five minutes;
    and how many answers there were.

    The answer's time comes from the audit log: `Offer.decided_at` moves on when the offer
    is later marked done, the audit entry of the decision does not. The database returns
    how many answers took each number of five-minute steps (a few thousand rows at most),
    and the median is read from those counts."""
    offer_id = cast(func.substr(AuditEntry.subject, len(OFFER_SUBJECT) + 1), Integer)
    steps = _minutes_between(_dialect(session), Offer.created_at, AuditEntry.at) // STEP
    rows = await session.execute(
        select(steps, func.count())
        .select_from(AuditEntry)
        .join(Offer, Offer.id == offer_id)
        .where(AuditEntry.action.in_(DECISIONS), _within(AuditEntry.at, since, until))
        .group_by(steps)
    )
    histogram = sorted((int(value), int(count)) for value, count in rows if value is not None)
    median = median_of(histogram)
    if median is None:
        return None, 0
    return median * STEP * 60, sum(count for _, count in histogram)


def median_of(histogram: Sequence[tuple[int, int]]) -> float | None:
    """The median of values given as sorted (value, how many times) pairs."""
    total = sum(count for _, count in histogram)
    if not total:
        return None
    # The middle one (odd total) or the two middle ones (even), by their rank from 1.
    wanted = sorted({(total + 1) // 2, (total + 2) // 2})
    found: list[int] = []
    seen = 0
    for value, count in histogram:
        seen += count
        while wanted and wanted[0] <= seen:
            found.append(value)
            wanted.pop(0)
        if not wanted:
            break
    return sum(found) / len(found)


async def _campaigns(
    session: AsyncSession, since: datetime | None, until: datetime
) -> CampaignTotals:
    ran = and_(
        _within(CampaignRun.scheduled_at, since, until),
        CampaignRun.status != RunStatus.SKIPPED.value,
    )
    runs = select(func.count()).select_from(CampaignRun).where(ran).scalar_subquery()
    sent = (
        select(func.count())
        .select_from(Delivery)
        .join(CampaignRun, CampaignRun.id == Delivery.run_id)
        .where(ran, Delivery.status == DeliveryStatus.SENT.value)
        .scalar_subquery()
    )
    counts = (await session.execute(select(runs, sent))).one()
    responses = await _grouped(
        session,
        select(CampaignResponse.kind, func.count())
        .where(_within(CampaignResponse.created_at, since, until))
        .group_by(CampaignResponse.kind),
    )
    return CampaignTotals(
        runs=int(counts[0] or 0),
        sent=int(counts[1] or 0),
        answers=responses.get("answer", 0),
        votes=responses.get("vote", 0),
        clicks=responses.get("click", 0),
        offers=responses.get("offer", 0),
    )


# --- the trend ----------------------------------------------------------------------------------


def bucket_days(span: timedelta) -> int:
    """Days per point of the trend: days for a week or two, weeks up to two years, else
    four-week months (so that a chart keeps between a few and about a hundred points)."""
    if span <= timedelta(days=14):
        return 1
    if span <= timedelta(days=731):
        return 7
    return 28


async def trend(session: AsyncSession, period: Period) -> Trend:
    """New members, offers made, and offers accepted or done, per bucket over the period
    (whole buckets ending at `period.until`)."""
    until = period.until
    since = period.since if period.since is not None else await _first_activity(session, until)
    days = bucket_days(until - since)
    count = max(1, math.ceil((until - since) / timedelta(days=days)))
    origin = until - timedelta(days=days * count)
    dialect = _dialect(session)

    async def per_bucket(column: Any, *where: ColumnElement[bool]) -> tuple[int, ...]:
        bucket = _bucket(dialect, column, origin, days)
        rows = await session.execute(
            select(bucket, func.count())
            .where(column >= origin, column <= until, *where)
            .group_by(bucket)
        )
        counts = [0] * count
        for index, total in rows:
            if index is not None:  # the very moment `until` falls in the last bucket
                counts[min(max(int(index), 0), count - 1)] += int(total)
        return tuple(counts)

    return Trend(
        origin=origin,
        days=days,
        members=await per_bucket(Member.created_at),
        offers=await per_bucket(Offer.created_at),
        accepted=await per_bucket(Offer.decided_at, Offer.status.in_(REACHED_ACCEPTANCE)),
    )


async def _first_activity(session: AsyncSession, until: datetime) -> datetime:
    """When the community began: its first member or offer (a week ago when empty)."""
    row = (
        await session.execute(
            select(
                select(func.min(Member.created_at)).scalar_subquery(),
                select(func.min(Offer.created_at)).scalar_subquery(),
            )
        )
    ).one()
    firsts = [_aware(value) for value in row if value is not None]
    return min(firsts) if firsts else until - timedelta(days=7)


# --- what differs between SQLite and PostgreSQL -------------------------------------------------


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    return bind.dialect.name if bind is not None else "sqlite"


def _minutes_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """Whole minutes from `start` to `end` (both stored times)."""
    if dialect == "postgresql":  # date_part: a double, far faster than extract's numeric
        return cast(func.floor(func.date_part("epoch", end - start) / 60), Integer)
    # Rounded to the second first: a Julian day's float makes 48 h come out as 47:59.99...
    seconds = cast(func.round((func.julianday(end) - func.julianday(start)) * DAY), Integer)
    return seconds // 60


def _bucket(dialect: str, column: Any, origin: datetime, days: int) -> ColumnElement[Any]:
    """The index of the `days`-day bucket, counted from `origin`, that holds `column` (for
    times at or after `origin`)."""
    if dialect == "postgresql":
        elapsed = func.date_part("epoch", column - literal(origin, UTCDateTime()))
        return cast(func.floor(elapsed / (days * DAY)), Integer)
    # SQLite: milliseconds since `origin` from the Julian day (as fast as a date function
    # gets there), rounded to whole milliseconds, then divided whole.
    origin_day = origin.timestamp() / DAY + UNIX_EPOCH_JULIAN_DAY
    elapsed_ms = cast((func.julianday(column) - origin_day) * (DAY * 1000) + 0.5, Integer)
    return elapsed_ms // (days * DAY * 1000)


def _aware(value: datetime | str) -> datetime:
    """A MIN() over a date column comes back as stored: naive (UTC) or as text on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = [
    "DEFAULT_PERIOD",
    "PERIODS",
    "CampaignTotals",
    "Funnel",
    "Period",
    "Stats",
    "Trend",
    "UnknownPeriod",
    "bucket_days",
    "collect",
    "median_of",
    "trend",
]
