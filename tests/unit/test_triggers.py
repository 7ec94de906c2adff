"""Campaign triggers: every nominal wall-clock occurrence fires once, across offset changes.

The property tests compare `slots_between` with a reference built another way: it sweeps the
UTC timeline on a 15-minute grid (every offset of the zones used is a multiple of 15 minutes)
and reads local time forwards only (UTC -> local, which is never ambiguous). A wall-clock
time seen twice (clocks falling back) belongs to its first sighting; a wall-clock time
jumped over (clocks springing forward) belongs to the first instant after the jump.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.triggers import (
    Cron,
    Daily,
    MonthlyDay,
    MonthlyNth,
    Once,
    Slot,
    Weekly,
    local_time,
    next_slot,
    next_slots,
    parse_schedule,
    slots_between,
    to_utc,
    validate,
    zone,
)
from store.respect import parse_window, quiet_until

GRID = timedelta(minutes=15)
DST_ZONES = (
    "Africa/Casablanca",
    "Europe/Paris",
    "America/Toronto",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Europe/Madrid",
    "America/St_Johns",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the reference -----------------------------------------------------------------------------


def _matches(spec: object, wall: datetime) -> bool:
    if isinstance(spec, Daily):
        return wall.time() == spec.time
    if isinstance(spec, Weekly):
        return wall.time() == spec.time and wall.weekday() in spec.weekdays
    if isinstance(spec, MonthlyDay):
        last = calendar.monthrange(wall.year, wall.month)[1]
        return wall.time() == spec.time and wall.day == min(spec.day, last)
    if isinstance(spec, MonthlyNth):
        if wall.time() != spec.time or wall.weekday() != spec.weekday:
            return False
        same = [
            day
            for day in range(1, calendar.monthrange(wall.year, wall.month)[1] + 1)
            if date(wall.year, wall.month, day).weekday() == spec.weekday
        ]
        index = spec.nth - 1 if spec.nth > 0 else len(same) + spec.nth
        return 0 <= index < len(same) and same[index] == wall.day
    raise AssertionError(spec)


def reference(spec: object, tz: ZoneInfo, start: datetime, end: datetime) -> list[Slot]:
    """Slots in (start, end], by sweeping UTC; `start` is on the grid."""
    cron_walls: set[datetime] | None = None
    if isinstance(spec, Cron):
        low = local_time(start, tz) - timedelta(days=2)
        high = local_time(end, tz) + timedelta(days=2)
        iterator = croniter(spec.expression, low)
        cron_walls = set()
        while (found := iterator.get_next(datetime)) <= high:
            cron_walls.add(found)

    def matches(wall: datetime) -> bool:
        return wall in cron_walls if cron_walls is not None else _matches(spec, wall)

    seen: set[datetime] = set()
    out: list[Slot] = []
    previous = local_time(start, tz)
    instant = start + GRID
    while instant <= end:
        wall = local_time(instant, tz)
        # Wall-clock times jumped over since the previous grid instant fire now.
        skipped = previous + GRID
        while skipped < wall:
            if skipped not in seen and matches(skipped):
                out.append(Slot(instant, skipped))
            seen.add(skipped)
            skipped += GRID
        if wall not in seen and matches(wall):
            out.append(Slot(instant, wall))
        seen.add(wall)
        previous = max(previous, wall)
        instant += GRID
    return out


# --- strategies --------------------------------------------------------------------------------

times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
night_times = st.builds(time, st.integers(0, 4), st.sampled_from([0, 15, 30, 45]))
any_time = st.one_of(times, night_times)  # the small hours, where the clocks change
weekdays = st.frozensets(st.integers(0, 6), min_size=1)
crons = st.builds(
    lambda minutes, hours, dow: f"{minutes} {hours} * * {dow}",
    st.sampled_from(["0", "30", "0,30", "*/15", "15,45"]),
    st.sampled_from(["*", "2", "0-3", "1,2,3", "*/2", "18", "2-4"]),
    st.sampled_from(["*", "1-5", "0", "6,0", "3"]),
)
specs = st.one_of(
    st.builds(Daily, any_time),
    st.builds(Weekly, any_time, weekdays),
    st.builds(MonthlyDay, any_time, st.integers(1, 31)),
    st.builds(MonthlyNth, any_time, st.sampled_from([1, 2, 3, 4, 5, -1, -2]), st.integers(0, 6)),
    st.builds(Cron, crons),
)
# Year-long windows starting anywhere from 2024 to 2029, on the grid.
starts = st.integers(0, 6 * 365 * 96).map(lambda n: utc(2024, 1, 1) + n * GRID)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(spec=specs, tz_name=st.sampled_from(DST_ZONES), start=starts)
def test_every_nominal_occurrence_fires_once_in_order(
    spec: object, tz_name: str, start: datetime
) -> None:
    tz = ZoneInfo(tz_name)
    end = start + timedelta(days=365)
    slots = slots_between(spec, tz, start, end)  # type: ignore[arg-type]
    assert slots == reference(spec, tz, start, end)
    keys = [slot.key for slot in slots]
    assert len(keys) == len(set(keys)), "a slot fired twice"
    assert [slot.at for slot in slots] == sorted(slot.at for slot in slots)
    assert [slot.local for slot in slots] == sorted(slot.local for slot in slots)
    for slot in slots:
        shown = local_time(slot.at, tz)
        if shown != slot.local:
            # Only a time that does not exist moves, to the first instant after the gap.
            assert shown > slot.local
            assert local_time(slot.at - timedelta(seconds=1), tz) < slot.local


@settings(max_examples=40, deadline=None)
@given(
    spec=specs,
    tz_name=st.sampled_from(DST_ZONES),
    start=starts,
    cut=st.integers(1, 364 * 96),
)
def test_windows_split_anywhere_lose_and_double_nothing(
    spec: object, tz_name: str, start: datetime, cut: int
) -> None:
    end = start + timedelta(days=365)
    middle = start + cut * GRID + timedelta(seconds=7)
    whole = slots_between(spec, tz_name, start, end)  # type: ignore[arg-type]
    halves = slots_between(spec, tz_name, start, middle) + slots_between(  # type: ignore[arg-type]
        spec,  # type: ignore[arg-type]
        tz_name,
        middle,
        end,
    )
    assert halves == whole


@settings(max_examples=40, deadline=None)
@given(spec=specs, tz_name=st.sampled_from(DST_ZONES), start=starts)
def test_next_slot_walks_the_same_slots(spec: object, tz_name: str, start: datetime) -> None:
    end = start + timedelta(days=40)
    expected = slots_between(spec, tz_name, start, end)  # type: ignore[arg-type]
    walked = next_slots(spec, tz_name, start, len(expected))  # type: ignore[arg-type]
    assert walked == expected
    if expected:
        assert next_slot(spec, tz_name, start) == expected[0]  # type: ignore[arg-type]


# --- Morocco's Ramadan and Europe's DST, by hand -------------------------------------------------


def test_morocco_falls_back_on_2026_02_15_and_the_repeated_hour_fires_once() -> None:
    # 03:00 (UTC+1) becomes 02:00 (UTC+0): 02:00-02:59 happens twice.
    daily = {"type": "daily", "time": "02:30"}
    slots = slots_between(daily, "Africa/Casablanca", utc(2026, 2, 14), utc(2026, 2, 16))
    assert [(slot.key, slot.at) for slot in slots] == [
        ("2026-02-14T02:30", utc(2026, 2, 14, 1, 30)),
        ("2026-02-15T02:30", utc(2026, 2, 15, 1, 30)),  # first pass, UTC+1
    ]
    every_half_hour = {"type": "cron", "cron": "*/30 * * * *"}
    day = slots_between(
        every_half_hour, "Africa/Casablanca", utc(2026, 2, 14, 22, 59), utc(2026, 2, 15, 23, 59)
    )
    assert len(day) == 48  # one per nominal half hour, although the day lasts 25 hours
    assert len({slot.key for slot in day}) == 48


def test_morocco_springs_forward_on_2026_03_22_and_the_missing_hour_fires_after() -> None:
    # 02:00 (UTC+0) becomes 03:00 (UTC+1): 02:00-02:59 does not exist.
    daily = {"type": "daily", "time": "02:30"}
    slots = slots_between(daily, "Africa/Casablanca", utc(2026, 3, 21), utc(2026, 3, 23, 12))
    assert [(slot.key, slot.at) for slot in slots] == [
        ("2026-03-21T02:30", utc(2026, 3, 21, 2, 30)),
        ("2026-03-22T02:30", utc(2026, 3, 22, 2, 0)),  # 03:00 local, the gap's end
        ("2026-03-23T02:30", utc(2026, 3, 23, 1, 30)),
    ]
    assert local_time(slots[1].at, zone("Africa/Casablanca")) == datetime(2026, 3, 22, 3, 0)
    hourly = {"type": "cron", "cron": "0 * * * *"}
    day = slots_between(hourly, "Africa/Casablanca", utc(2026, 3, 21, 23), utc(2026, 3, 22, 22))
    assert [slot.key[11:] for slot in day] == [f"{hour:02d}:00" for hour in range(24)]
    # 02:00 and 03:00 both fire at 03:00 local, once each, in their nominal order.
    assert day[2].at == day[3].at == utc(2026, 3, 22, 2)


def test_a_weekly_campaign_keeps_its_local_time_through_ramadan() -> None:
    weekly = {"type": "weekly", "time": "18:00", "weekdays": [6]}  # Sundays
    slots = slots_between(weekly, "Africa/Casablanca", utc(2026, 2, 1), utc(2026, 4, 1))
    tz = zone("Africa/Casablanca")
    assert [slot.local.date() for slot in slots] == [
        date(2026, 2, 1) + timedelta(weeks=n) for n in range(9)
    ]
    assert all(local_time(slot.at, tz).time() == time(18, 0) for slot in slots)
    # From 2026-02-15 03:00 to 2026-03-22 02:00 (Ramadan) 18:00 local is 18:00 UTC; otherwise
    # 17:00 UTC.
    assert [slot.at.hour for slot in slots] == [17, 17, 18, 18, 18, 18, 18, 17, 17]


def test_paris_spring_forward_2026_03_29() -> None:
    daily = {"type": "daily", "time": "02:30"}
    slot = next_slot(daily, "Europe/Paris", utc(2026, 3, 28, 12))
    assert slot is not None
    assert slot.key == "2026-03-29T02:30"
    assert slot.at == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert to_utc(datetime(2026, 3, 29, 2, 0), zone("Europe/Paris")) == utc(2026, 3, 29, 1)


def test_paris_fall_back_2026_10_25() -> None:
    daily = {"type": "daily", "time": "02:30"}
    slots = slots_between(daily, "Europe/Paris", utc(2026, 10, 24, 12), utc(2026, 10, 26))
    assert [(slot.key, slot.at) for slot in slots] == [
        ("2026-10-25T02:30", utc(2026, 10, 25, 0, 30)),  # the first 02:30, still CEST
    ]


def test_monthly_by_day_and_by_weekday() -> None:
    last_day = {"type": "monthly", "time": "09:00", "day": 31}
    slots = next_slots(last_day, "Europe/Paris", utc(2027, 1, 1), 4)
    assert [slot.local.date() for slot in slots] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    first_monday = {"type": "monthly", "time": "18:00", "nth": 1, "weekday": 0}
    slots = next_slots(first_monday, "Africa/Casablanca", utc(2026, 12, 1), 3)
    assert [slot.local.date() for slot in slots] == [
        date(2026, 12, 7),
        date(2027, 1, 4),
        date(2027, 2, 1),
    ]
    last_friday = {"type": "monthly", "time": "18:00", "nth": -1, "weekday": 4}
    slot = next_slot(last_friday, "Africa/Casablanca", utc(2026, 12, 1))
    assert slot is not None and slot.local.date() == date(2026, 12, 25)


def test_cron_weekdays_are_standard_cron() -> None:
    # "1-5" is Monday to Friday (APScheduler 3's from_crontab would read Tuesday-Saturday).
    weekdays = {"type": "cron", "cron": "0 18 * * 1-5"}
    slots = next_slots(weekdays, "Europe/Paris", utc(2026, 11, 28), 5)
    assert [slot.local.weekday() for slot in slots] == [0, 1, 2, 3, 4]
    sunday = {"type": "cron", "cron": "0 9 * * 0"}
    sundays = next_slots(sunday, "Europe/Paris", utc(2026, 11, 26), 2)
    assert {slot.local.weekday() for slot in sundays} == {6}


def test_once_fires_once_then_never() -> None:
    once = {"type": "once", "at": "2026-12-01T18:00"}
    slot = next_slot(once, "Africa/Casablanca", utc(2026, 11, 26))
    assert slot == Slot(utc(2026, 12, 1, 17), datetime(2026, 12, 1, 18))
    assert next_slot(once, "Africa/Casablanca", slot.at) is None
    assert slots_between(once, "Africa/Casablanca", utc(2026, 11, 1), utc(2027, 1, 1)) == [slot]


def test_windows_are_open_on_the_left_and_closed_on_the_right() -> None:
    daily = {"type": "daily", "time": "10:00"}
    at = utc(2026, 12, 1, 9)  # 10:00 in Casablanca
    assert slots_between(daily, "Africa/Casablanca", at - timedelta(minutes=1), at)[0].at == at
    assert slots_between(daily, "Africa/Casablanca", at, at + timedelta(hours=1)) == []
    assert next_slot(daily, "Africa/Casablanca", at) == Slot(
        at + timedelta(days=1), datetime(2026, 12, 2, 10)
    )


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"type": "cron", "cron": "61 18 * * *"}, "invalid cron field minute '61'"),
        ({"type": "cron", "cron": "0 25 * * *"}, "invalid cron field hour '25'"),
        ({"type": "cron", "cron": "0 18 * * mon-xyz"}, "invalid cron field day of week"),
        ({"type": "cron", "cron": "0 18 32 * *"}, "invalid cron field day of month '32'"),
        ({"type": "cron", "cron": "0 18 * *"}, "has 4 fields; expected 5"),
        ({"type": "cron", "cron": "0 0 18 * * *"}, "has 6 fields"),
        ({"type": "daily", "time": "25:00"}, "is not a time of day"),
        ({"type": "daily"}, "is not a time of day"),
        ({"type": "weekly", "time": "18:00", "weekdays": []}, "non-empty list"),
        ({"type": "weekly", "time": "18:00", "weekdays": [7]}, "weekday 7"),
        ({"type": "monthly", "time": "18:00", "day": 32}, "day 32"),
        ({"type": "monthly", "time": "18:00", "nth": 0, "weekday": 0}, "nth 0"),
        ({"type": "once", "at": "tomorrow"}, "not a local date and time"),
        ({"type": "once", "at": "2026-12-01T18:00+01:00"}, "has an offset"),
        ({"type": "hourly"}, "unknown schedule type 'hourly'"),
    ],
)
def test_bad_schedules_name_the_problem(schedule: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^.*" + message.replace("(", r"\(")):
        parse_schedule(schedule)


def test_unknown_time_zone_suggests_the_closest() -> None:
    with pytest.raises(ValueError, match="did you mean 'Africa/Casablanca'"):
        zone("Africa/Casablance")
    with pytest.raises(ValueError, match="did you mean 'Europe/Paris'"):
        validate({"type": "daily", "time": "18:00"}, "Europe/Pari", utc(2026, 11, 26))
    assert zone("europe/paris") == ZoneInfo("Europe/Paris")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")


def test_dates_in_the_past_are_refused() -> None:
    now = utc(2026, 11, 26, 10)
    with pytest.raises(ValueError, match="'at' 2026-11-01T18:00 is in the past"):
        validate({"type": "once", "at": "2026-11-01T18:00"}, "Africa/Casablanca", now)
    with pytest.raises(ValueError, match="end date 2026-11-01 is in the past"):
        validate({"type": "daily", "time": "18:00"}, "Africa/Casablanca", now, date(2026, 11, 1))
    with pytest.raises(ValueError, match="never fires"):
        validate({"type": "cron", "cron": "0 0 30 2 *"}, "Africa/Casablanca", now)
    with pytest.raises(ValueError, match="after its end date"):
        validate(
            {"type": "monthly", "time": "18:00", "day": 1},
            "Africa/Casablanca",
            now,
            date(2026, 11, 30),
        )
    assert isinstance(
        validate({"type": "once", "at": "2026-12-01T18:00"}, "Africa/Casablanca", now), Once
    )


# --- quiet hours --------------------------------------------------------------------------------


def test_quiet_hours_postpone_to_their_end_in_the_members_zone() -> None:
    window = parse_window("22:00-08:00")
    assert window is not None
    paris, toronto = ZoneInfo("Europe/Paris"), ZoneInfo("America/Toronto")
    # 23:30 in Paris (22:30 UTC) waits until 08:00 Paris.
    assert quiet_until(utc(2026, 12, 1, 22, 30), paris, window) == utc(2026, 12, 2, 7)
    # 06:00 in Toronto waits until 08:00 the same morning.
    assert quiet_until(utc(2026, 12, 1, 11), toronto, window) == utc(2026, 12, 1, 13)
    # Noon is not quiet.
    assert quiet_until(utc(2026, 12, 1, 11), paris, window) is None
    # A window within a day.
    lunch = parse_window("13:00-14:00")
    assert lunch is not None
    assert quiet_until(utc(2026, 12, 1, 12, 30), paris, lunch) == utc(2026, 12, 1, 13)
    never = parse_window("00:00-00:00")
    assert never is not None
    assert quiet_until(utc(2026, 12, 1, 12), ZoneInfo("UTC"), never) is None
    assert parse_window("22h-8h") is None


def _transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    found = []
    moment = utc(year, 1, 1)
    previous = moment.astimezone(tz).utcoffset()
    while moment.year == year:
        offset = moment.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(moment)
        previous = offset
        moment += GRID
    return found


@pytest.mark.parametrize("tz_name", DST_ZONES)
def test_windows_cut_right_at_the_offset_changes(tz_name: str) -> None:
    tz = ZoneInfo(tz_name)
    every_quarter = {"type": "cron", "cron": "*/15 * * * *"}
    for change in _transitions(tz, 2026):
        start, end = change - timedelta(hours=6), change + timedelta(hours=6)
        whole = slots_between(every_quarter, tz, start, end)
        assert whole == reference(Cron("*/15 * * * *"), tz, start, end)
        for minutes in range(-90, 91, 5):
            cut = change + timedelta(minutes=minutes)
            halves = slots_between(every_quarter, tz, start, cut) + slots_between(
                every_quarter, tz, cut, end
            )
            assert halves == whole, (change, minutes)
            following = next_slot(every_quarter, tz, cut)
            assert following == next(slot for slot in whole if slot.at > cut)
