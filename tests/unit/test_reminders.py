"""The answer-within-N-days timeline of an offer, as pure rules (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.reminders import STAGES, due_stage, first_due, stage_at

MADE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("after", "stage", "expected"),
    [
        # N = 3 days: stage 1 at 36 h, stage 2 at 72 h, stage 3 at 108 h.
        (timedelta(0), 0, None),
        (36 * H - timedelta(seconds=1), 0, None),
        (36 * H, 0, 1),
        (36 * H, 1, None),  # already reminded
        (50 * H, 1, None),
        (72 * H, 1, 2),
        (72 * H, 2, None),
        (108 * H - timedelta(seconds=1), 2, None),
        (108 * H, 2, 3),
        (108 * H, 3, None),  # released: nothing more, ever
        (1000 * H, 3, None),
        # After an outage only the latest due stage is applied: a reminder is not sent late.
        (80 * H, 0, 2),
        (200 * H, 0, 3),
        (200 * H, 1, 3),
    ],
)
def test_due_stage_with_three_days(after: timedelta, stage: int, expected: int | None) -> None:
    assert due_stage(MADE, stage, MADE + after, 3) == expected


@pytest.mark.parametrize(
    ("days", "hours"),
    [(1, (12, 24, 36)), (2, (24, 48, 72)), (3, (36, 72, 108)), (7, (84, 168, 252))],
)
def test_the_stages_scale_with_the_setting(days: int, hours: tuple[int, int, int]) -> None:
    assert tuple(stage_at(MADE, stage.number, days) - MADE for stage in STAGES) == tuple(
        hour * H for hour in hours
    )
    for stage, hour in zip((1, 2, 3), hours, strict=True):
        assert due_stage(MADE, stage - 1, MADE + hour * H - timedelta(seconds=1), days) is None
        assert due_stage(MADE, stage - 1, MADE + hour * H, days) == stage


def test_stages_come_in_order_each_once() -> None:
    numbers = [stage.number for stage in STAGES]
    assert numbers == [1, 2, 3]
    assert [stage.after for stage in STAGES] == sorted(stage.after for stage in STAGES)
    assert len({stage.purpose for stage in STAGES}) == len(STAGES)
    assert [stage.audience for stage in STAGES] == ["leaders", "managers", "member"]


def test_an_offer_made_later_than_first_due_has_nothing_due() -> None:
    now = MADE + timedelta(days=10)
    cutoff = first_due(now, 3)
    assert cutoff == now - 36 * H
    assert due_stage(cutoff + timedelta(seconds=1), 0, now, 3) is None
    assert due_stage(cutoff, 0, now, 3) == 1


def test_the_clock_going_backwards_applies_nothing() -> None:
    assert due_stage(MADE, 0, MADE - timedelta(days=5), 3) is None
