"""When a campaign fires: pure functions from a schedule and a time zone to slots.

A slot is a nominal local wall-clock time (what the community manager asked for: "every
Monday at 18:00 in Casablanca") and the UTC instant it fires at. The nominal time names the
slot (`Slot.key`, stored in `campaign_runs.slot`), so that a slot is one run whatever the
clocks do.

Schedules (`Campaign.schedule`, JSON):

    {"type": "once", "at": "2026-12-01T18:00"}
    {"type": "daily", "time": "18:00"}
    {"type": "weekly", "time": "18:00", "weekdays": [0, 3]}        0 = Monday
    {"type": "monthly", "time": "18:00", "day": 15}                 29-31: the month's last
                                                                    day when it is shorter
    {"type": "monthly", "time": "18:00", "nth": 1, "weekday": 0}    first Monday; nth -1 = last
                                                                    (a month without a fifth
                                                                    Monday has no nth 5)
    {"type": "cron", "cron": "0 18 * * 1-5"}                        standard 5-field cron
                                                                    (0 or 7 = Sunday)

Daylight saving time and other offset changes (Morocco leaves UTC+1 for UTC+0 during
Ramadan: 2026-02-15 and back on 2026-03-22):

- A wall-clock time that does not exist (the clocks spring forward over it) fires at the
  first valid instant after the gap: 02:30 during a 02:00 -> 03:00 jump fires at 03:00 local,
  and keeps its nominal slot "02:30". Several nominal times in one gap all fire then, each
  once, in their nominal order.
- A wall-clock time that occurs twice (the clocks fall back over it) fires once, at its first
  occurrence (`fold=0`); the repeated hour fires nothing.
- So every nominal occurrence of the schedule fires exactly once: none is lost and none is
  doubled, and the firing instants never go backwards.

Cron expressions are parsed by croniter, iterated over naive wall-clock datetimes (a
timeline without offset changes), then each nominal time is placed by the rules above.
APScheduler 3's `CronTrigger.from_crontab` was not used: it numbers weekdays from Monday
(its documented historical mismatch), so "1-5" would mean Tuesday to Saturday.

Windows are half-open on the left: `slots_between(start, end)` gives the slots firing at
`start < at <= end`, and `next_slot(after)` the first firing strictly after `after`.
"""

from __future__ import annotations

import calendar
import copy
import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterError, croniter

TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
SLOT_FORMAT = "%Y-%m-%dT%H:%M"
# A zone's offset changes at most once within this long around an instant: the offsets read
# at both ends and in the middle are all the offsets in force near it.
NEAR = timedelta(hours=26)
SLACK = timedelta(minutes=1)
# How far `next_slot` looks ahead before deciding that a schedule never fires again
# ("0 0 29 2 *" fires every four years; "0 0 30 2 *" never).
HORIZON = timedelta(days=366 * 9)
CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
TYPES = ("once", "daily", "weekly", "monthly", "cron")


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One firing: `at` (aware UTC) and the nominal local wall-clock time it stands for."""

    at: datetime
    local: datetime  # naive

    @property
    def key(self) -> str:
        """The slot's name in `campaign_runs.slot`, e.g. "2026-03-22T02:30"."""
        return self.local.strftime(SLOT_FORMAT)


# --- specs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Once:
    at: datetime  # naive local


@dataclass(frozen=True, slots=True)
class Daily:
    time: time


@dataclass(frozen=True, slots=True)
class Weekly:
    time: time
    weekdays: frozenset[int]


@dataclass(frozen=True, slots=True)
class MonthlyDay:
    time: time
    day: int


@dataclass(frozen=True, slots=True)
class MonthlyNth:
    time: time
    nth: int
    weekday: int


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str


Spec = Once | Daily | Weekly | MonthlyDay | MonthlyNth | Cron


def parse_schedule(schedule: Mapping[str, Any]) -> Spec:
    """Check a schedule and give its typed form; ValueError names what is wrong."""
    if not isinstance(schedule, Mapping):
        raise ValueError("the schedule must be an object with a 'type'")
    try:
        key = json.dumps(schedule, sort_keys=True)
    except (TypeError, ValueError):
        return _parse(schedule)
    return _parse_cached(key)


@lru_cache(maxsize=4096)
def _parse_cached(key: str) -> Spec:
    # Specs are frozen: a scheduler rebuilt from ten thousand campaigns parses each distinct
    # schedule once.
    return _parse(json.loads(key))


def _parse(schedule: Mapping[str, Any]) -> Spec:
    kind = schedule.get("type")
    if kind not in TYPES:
        raise ValueError(f"unknown schedule type {kind!r}: use one of {', '.join(TYPES)}")
    if kind == "once":
        return Once(_parse_local(schedule.get("at")))
    if kind == "cron":
        return Cron(_parse_cron(schedule.get("cron")))
    at = _parse_time(schedule.get("time"))
    if kind == "daily":
        return Daily(at)
    if kind == "weekly":
        return Weekly(at, _parse_weekdays(schedule.get("weekdays")))
    if "nth" in schedule or "weekday" in schedule:
        return MonthlyNth(at, _parse_nth(schedule.get("nth")), _weekday(schedule.get("weekday")))
    return MonthlyDay(at, _parse_day(schedule.get("day")))


def _parse_time(value: Any) -> time:
    match = TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"time {value!r} is not a time of day like '18:00' (HH:MM, 24-hour)")
    return time(int(match.group(1)), int(match.group(2)))


def _parse_local(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"'at' {value!r} is not a local date and time like '2026-12-01T18:00'")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"'at' {value!r} is not a local date and time like '2026-12-01T18:00'"
        ) from None
    if parsed.tzinfo is not None:
        raise ValueError(f"'at' {value!r} has an offset: give the campaign's local time")
    return parsed.replace(second=0, microsecond=0)


def _weekday(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise ValueError(f"weekday {value!r} is not a number from 0 (Monday) to 6 (Sunday)")
    return value


def _parse_weekdays(value: Any) -> frozenset[int]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("weekdays must be a non-empty list of numbers, 0 (Monday) to 6 (Sunday)")
    return frozenset(_weekday(day) for day in value)


def _parse_day(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 31:
        raise ValueError(f"day {value!r} is not a day of the month from 1 to 31")
    return value


def _parse_nth(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or abs(value) > 5:
        raise ValueError(f"nth {value!r} must be 1 to 5 (first to fifth) or -1 to -5 (-1 = last)")
    return value


def _parse_cron(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("cron must be an expression like '0 18 * * 1-5'")
    fields = value.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(
            f"cron {value!r} has {len(fields)} fields; expected 5: "
            "minute hour day-of-month month day-of-week"
        )
    for index, field in enumerate(fields):
        probe = ["*"] * len(CRON_FIELDS)
        probe[index] = field
        if not croniter.is_valid(" ".join(probe)):
            raise ValueError(f"invalid cron field {CRON_FIELDS[index]} {field!r} in {value!r}")
    expression = " ".join(fields)
    try:
        croniter(expression, datetime(2000, 1, 1))
    except (CroniterError, ValueError) as exc:  # fields valid alone, not together
        raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
    return expression


# --- time zones --------------------------------------------------------------------------------


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone(name: str | ZoneInfo) -> ZoneInfo:
    """The time zone called `name`; ValueError with a suggestion when there is none."""
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError("the time zone is missing (an IANA name like 'Africa/Casablanca')")
    names = _zone_names()
    exact = names.get(name.strip().lower())
    if exact is not None:
        return ZoneInfo(exact)
    try:
        return ZoneInfo(name)  # names kept for backward compatibility, like "UTC"
    except (ZoneInfoNotFoundError, ValueError):
        pass
    close = difflib.get_close_matches(name.strip().lower(), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {names[close[0]]!r}?" if close else " (use an IANA name)"
    raise ValueError(f"unknown time zone {name!r}{hint}")


# --- placing wall-clock times --------------------------------------------------------------------


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant a nominal wall-clock time fires at, by the rules of this module."""
    first = local.replace(tzinfo=tz, fold=0)
    at = first.astimezone(UTC)
    if at.astimezone(tz).replace(tzinfo=None) == local:
        return at  # it exists (its first occurrence when it occurs twice)
    # In a gap: fold=0 reads it with the offset before the change (an instant after the
    # change), fold=1 with the offset after it (an instant before): the change is between.
    before = first.utcoffset()
    low = int(local.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(at.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def local_time(at: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of an instant."""
    return at.astimezone(tz).replace(tzinfo=None)


# --- nominal occurrences -------------------------------------------------------------------------


def _month_starts(start: date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while True:
        yield year, month
        month += 1
        if month == 13:
            year, month = year + 1, 1


def _nth_weekday(year: int, month: int, nth: int, weekday: int) -> date | None:
    days = [
        day
        for day in range(1, calendar.monthrange(year, month)[1] + 1)
        if date(year, month, day).weekday() == weekday
    ]
    index = nth - 1 if nth > 0 else nth
    if -len(days) <= index < len(days):
        return date(year, month, days[index])
    return None


@lru_cache(maxsize=1024)
def _cron(expression: str) -> croniter:
    """A parsed expression, copied for each walk (parsing costs far more than walking)."""
    return croniter(expression, datetime(2000, 1, 1))


def nominal(spec: Spec, start: datetime) -> Iterator[datetime]:
    """The spec's wall-clock times from `start` (naive, inclusive), in order, without end
    (except `Once`)."""
    if isinstance(spec, Once):
        if spec.at >= start:
            yield spec.at
        return
    if isinstance(spec, Cron):
        iterator = copy.copy(_cron(spec.expression))
        iterator.set_current(start - timedelta(minutes=1), force=True)
        while True:
            try:
                found = iterator.get_next(datetime)
            except CroniterError:  # no date ever matches ("0 0 30 2 *")
                return
            assert isinstance(found, datetime)
            if found >= start:
                yield found
        return
    if isinstance(spec, MonthlyDay | MonthlyNth):
        for year, month in _month_starts(start.date()):
            if isinstance(spec, MonthlyDay):
                day: date | None = date(
                    year, month, min(spec.day, calendar.monthrange(year, month)[1])
                )
            else:
                day = _nth_weekday(year, month, spec.nth, spec.weekday)
            if day is not None:
                candidate = datetime.combine(day, spec.time)
                if candidate >= start:
                    yield candidate
        return
    day = start.date()
    while True:
        if isinstance(spec, Daily) or day.weekday() in spec.weekdays:
            candidate = datetime.combine(day, spec.time)
            if candidate >= start:
                yield candidate
        day += timedelta(days=1)


def _local_bound(at: datetime, tz: ZoneInfo, *, latest: bool) -> datetime:
    """The earliest (or latest) wall-clock time that may fire at `at`: a nominal time fires
    at itself minus the offset in force (before a gap: the offset before it), so it is read
    with the smallest (or largest) offset in force near `at`."""
    naive = at.astimezone(UTC).replace(tzinfo=None)
    offsets = [
        offset
        for moment in (at - NEAR, at, at + NEAR)
        if (offset := moment.astimezone(tz).utcoffset()) is not None
    ]
    if latest:
        return naive + max(offsets) + SLACK
    return naive + min(offsets) - SLACK


def _as_spec(schedule: Spec | Mapping[str, Any]) -> Spec:
    if isinstance(schedule, Once | Daily | Weekly | MonthlyDay | MonthlyNth | Cron):
        return schedule
    return parse_schedule(schedule)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def slots_between(
    schedule: Spec | Mapping[str, Any],
    tz: str | ZoneInfo,
    start_utc: datetime,
    end_utc: datetime,
) -> list[Slot]:
    """Every slot firing at `start_utc < at <= end_utc`, in firing order."""
    spec, zone_info = _as_spec(schedule), zone(tz)
    start, end = _aware(start_utc, "start_utc"), _aware(end_utc, "end_utc")
    if end <= start:
        return []
    last_local = _local_bound(end, zone_info, latest=True)
    found: list[Slot] = []
    for local in nominal(spec, _local_bound(start, zone_info, latest=False)):
        if local > last_local:
            break
        at = to_utc(local, zone_info)
        if start < at <= end:
            found.append(Slot(at, local))
    return found


def next_slot(
    schedule: Spec | Mapping[str, Any],
    tz: str | ZoneInfo,
    after_utc: datetime,
    horizon: timedelta = HORIZON,
) -> Slot | None:
    """The first slot firing strictly after `after_utc`, or None within `horizon`."""
    spec, zone_info = _as_spec(schedule), zone(tz)
    after = _aware(after_utc, "after_utc")
    last_local = local_time(after + horizon, zone_info)
    for local in nominal(spec, _local_bound(after, zone_info, latest=False)):
        if local > last_local:
            return None
        at = to_utc(local, zone_info)
        if at > after:
            return Slot(at, local)
    return None


def next_slots(
    schedule: Spec | Mapping[str, Any], tz: str | ZoneInfo, after_utc: datetime, count: int
) -> list[Slot]:
    """The next `count` slots after `after_utc` (fewer when the schedule ends)."""
    found: list[Slot] = []
    cursor = after_utc
    while len(found) < count:
        slot = next_slot(schedule, tz, cursor)
        if slot is None:
            break
        # Slots of one gap share an instant: take them all before moving on.
        found.extend(s for s in slots_between(schedule, tz, cursor, slot.at) if len(found) < count)
        cursor = slot.at
    return found[:count]


def validate(
    schedule: Mapping[str, Any],
    tz: str,
    now: datetime,
    ends_on: date | None = None,
) -> Spec:
    """Check a schedule as a community manager gives it: well formed, a known time zone,
    and firing at least once after `now` (before `ends_on`, when given)."""
    spec = parse_schedule(schedule)
    zone_info = zone(tz)
    if isinstance(spec, Once) and to_utc(spec.at, zone_info) <= now:
        raise ValueError(f"'at' {spec.at.strftime(SLOT_FORMAT)} is in the past")
    if ends_on is not None and ends_on < local_time(now, zone_info).date():
        raise ValueError(f"the end date {ends_on.isoformat()} is in the past")
    first = next_slot(spec, zone_info, now)
    if first is None:
        raise ValueError("this schedule never fires")
    if ends_on is not None and first.local.date() > ends_on:
        raise ValueError(
            f"this schedule first fires on {first.local.date().isoformat()}, "
            f"after its end date {ends_on.isoformat()}"
        )
    return spec
