"""How the bot respects members' time: the frequency cap and the quiet hours.

Shared by every engagement message written to a member without their asking (campaign
messages, matching notes): at most `cap_messages` of them over `cap_days` days, every platform
together, and none during the member's quiet hours (they wait for the end of the window, in
the member's time zone, else the community's). Pure functions for the time rules, one
set-based query for the counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Delivery, DeliveryStatus

DEFAULT_QUIET_HOURS = "22:00-08:00"
# Purposes of the engagement messages that are not campaign runs but count against the cap.
ENGAGEMENT_PREFIXES = ("match:",)
# Deliveries that count against a member's frequency cap: on their way, or arrived.
CAPPED_STATUSES = (
    DeliveryStatus.SENT.value,
    DeliveryStatus.PENDING.value,
    DeliveryStatus.SENDING.value,
    DeliveryStatus.HELD.value,
)
CHUNK = 1000
_WINDOW = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)")


# --- quiet hours -----------------------------------------------------------------------------


@cache
def parse_window(value: str) -> tuple[time, time] | None:
    """ "22:00-08:00" -> (22:00, 08:00); None when it is not such a window."""
    match = _WINDOW.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    return time(hour1, minute1), time(hour2, minute2)


@cache
def zone(name: str | None) -> ZoneInfo | None:
    """The time zone called `name`, or None when there is no such zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; a time skipped by a DST change is read
    with the offset after the change (so it lands just after the gap)."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    return local.replace(tzinfo=tz, fold=1).astimezone(UTC)


def quiet_until(at: datetime, tz: ZoneInfo, window: tuple[time, time]) -> datetime | None:
    """When `at` falls in the quiet `window` (local to `tz`), the instant it ends; else None.
    A window that runs over midnight ("22:00-08:00") is quiet before its end and after its
    start; an empty one ("00:00-00:00") is never quiet."""
    start, end = window
    if start == end:
        return None
    local = at.astimezone(tz).replace(tzinfo=None)
    moment = local.time()
    if start < end:
        if not start <= moment < end:
            return None
        until = datetime.combine(local.date(), end)
    elif moment >= start:
        until = datetime.combine(local.date() + timedelta(days=1), end)
    elif moment < end:
        until = datetime.combine(local.date(), end)
    else:
        return None
    resolved = _instant(until, tz)
    if resolved <= at:  # the end falls in an hour that repeats, and `at` is its second pass
        resolved = until.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return resolved


def not_before(
    at: datetime,
    *,
    member_zone: str | None,
    member_quiet: str | None,
    community_zone: ZoneInfo,
    default_quiet: str = DEFAULT_QUIET_HOURS,
) -> datetime:
    """`at`, or the end of the member's quiet hours when `at` falls in them (their own
    window and zone when they chose them, else the community's)."""
    tz = zone(member_zone) or community_zone
    window = (
        parse_window(member_quiet or "")
        or parse_window(default_quiet)
        or parse_window(DEFAULT_QUIET_HOURS)
    )
    if window is None:  # pragma: no cover - the default always parses
        return at
    return quiet_until(at, tz, window) or at


# --- the frequency cap -----------------------------------------------------------------------


def engagement_filter() -> ColumnElement[bool]:
    """The deliveries the frequency cap counts: campaign messages and matching notes."""
    return or_(
        Delivery.run_id.is_not(None),
        *(Delivery.purpose.startswith(prefix) for prefix in ENGAGEMENT_PREFIXES),
    )


async def engagement_counts(
    session: AsyncSession, member_ids: Iterable[int], since: datetime
) -> dict[int, int]:
    """Engagement messages (campaign runs and matching notes) per member since `since`,
    every platform together: what the frequency cap counts."""
    ids = sorted(set(member_ids))
    counts: dict[int, int] = {}
    engagement = engagement_filter()
    for begin in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(Delivery.member_id, func.count())
            .where(
                Delivery.member_id.in_(ids[begin : begin + CHUNK]),
                Delivery.created_at >= since,
                Delivery.status.in_(CAPPED_STATUSES),
                engagement,
            )
            .group_by(Delivery.member_id)
        )
        counts.update({member_id: count for member_id, count in rows if member_id is not None})
    return counts


def capped(count: int, cap_messages: int) -> bool:
    """Whether a member who already received `count` engagement messages in the window may
    not receive one more."""
    return count >= cap_messages


__all__ = [
    "CAPPED_STATUSES",
    "DEFAULT_QUIET_HOURS",
    "ENGAGEMENT_PREFIXES",
    "capped",
    "engagement_counts",
    "not_before",
    "parse_window",
    "quiet_until",
    "zone",
]
