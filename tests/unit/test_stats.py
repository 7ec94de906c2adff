"""/stats without a database: periods, the trend's step, the text's lines and the chart."""

from __future__ import annotations

import ast
import io
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib.image import imread

from handlers import charts
from handlers import stats as stats_handler
from handlers.errors import Usage
from handlers.i18n import use_language
from store.stats import (
    CampaignTotals,
    Funnel,
    Period,
    Stats,
    Trend,
    UnknownPeriod,
    _named,
    bucket_days,
    median_of,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TZ = ZoneInfo("Africa/Casablanca")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "days"),
    [
        (None, "30d", 30),
        ("7d", "7d", 7),
        ("30D", "30d", 30),
        (" 90d ", "90d", 90),
        ("1y", "1y", 365),
        ("ALL", "all", None),
    ],
)
def test_periods(text: str | None, key: str, days: int | None) -> None:
    period = Period.parse(text, NOW)
    assert (period.key, period.until) == (key, NOW)
    assert period.since == (None if days is None else NOW - timedelta(days=days))


@pytest.mark.parametrize("text", ["2w", "30", "d", "-7d", "1 y", "tout", "365d"])
def test_unknown_periods(text: str) -> None:
    with pytest.raises(UnknownPeriod):
        Period.parse(text, NOW)


def test_bad_arguments_are_answered_with_the_usage() -> None:
    with use_language("en"):
        for args in (("2w",), ("7d", "30d")):
            with pytest.raises(Usage) as refused:
                stats_handler.parse_period(args, NOW)
            assert refused.value.render() == "Usage: /stats [7d|30d|90d|1y|all]"
    assert stats_handler.parse_period((), NOW).key == "30d"


@pytest.mark.parametrize(
    ("days", "step"), [(1, 1), (7, 1), (14, 1), (15, 7), (30, 7), (365, 7), (731, 7), (800, 28)]
)
def test_the_trend_keeps_a_readable_number_of_points(days: int, step: int) -> None:
    assert bucket_days(timedelta(days=days)) == step


# --- the text -------------------------------------------------------------------------------


def figures(**changes: object) -> Stats:
    values: dict[str, object] = {
        "period": "30d",
        "since": NOW - timedelta(days=30),
        "until": NOW,
        "members_total": 12_345,
        "members_new": 120,
        "members_active": 3_400,
        "projects": {"open": 12, "draft": 2, "paused": 0},
        "needs_open": 40,
        "needs_new": 6,
        "needs_fulfilled": 5,
        "offers_by_status": {"pending": 12, "accepted": 40, "done": 20, "declined": 10},
        "offers_by_kind": {"funding": 30, "skills": 50, "network": 2},
        "funnel": Funnel(10, 300, 25, 15, 8),
        "response_median": 36 * 3600.0,
        "responses": 31,
        "campaigns": CampaignTotals(4, 1_200, 35, 80, 6, 5),
    }
    values.update(changes)
    return Stats(**values)  # type: ignore[arg-type]


def test_a_few_short_lines() -> None:
    with use_language("en"):
        text = stats_handler.summary(figures(), TZ).plain
    lines = text.splitlines()
    assert lines == [
        "📊 Figures for the last 30 days (27 Oct 2026 – 26 Nov 2026)",
        "👥 Members: 12,345 · 120 new · 3,400 active",
        "📁 Projects: 12 open · 2 draft",
        "📌 Needs: 40 open · 6 new · 5 fulfilled",
        "🙋 Offers: 82 (12 pending · 40 accepted · 20 done · 10 declined)",
        "    By kind: 🛠 Skills 50 · 💰 Funding (pledge) 30 · 🌐 Network 2",
        "🔻 Announced 10 → clicked 300 → offered 25 → accepted 15 → done 8",
        "⏱ Leaders' answer to an offer: 36 h (median; answered: 31)",
        "📣 Campaigns: runs 4 · sent 1,200 · answers 35 · votes 80 · offers 5",
    ]


def test_long_delays_in_days_and_none_at_all() -> None:
    with use_language("en"):
        slow = stats_handler.summary(figures(response_median=3.25 * 86400), TZ).plain
        none = stats_handler.summary(
            figures(
                response_median=None,
                responses=0,
                offers_by_status={},
                offers_by_kind={},
                projects={},
            ),
            TZ,
        ).plain
    assert "Leaders' answer to an offer: 3.2 days (median; answered: 31)" in slow
    assert "No offer was answered by a leader in this period." in none
    assert "Offers: 0 (none)" in none and "By kind: none" in none and "Projects: none" in none


def test_numbers_are_written_the_way_the_manager_reads_them() -> None:
    with use_language("fr"):
        assert stats_handler.number(12_345) == "12\u202f345"
        assert stats_handler.number(1.5) == "1,5"
    with use_language("en"):
        assert stats_handler.number(12_345) == "12,345"
    everything = figures(period="all", since=None)
    with use_language("en"):
        first = stats_handler.summary(everything, TZ).plain.splitlines()[0]
    assert first == "📊 Figures since the beginning"


# --- the chart ------------------------------------------------------------------------------


def trend(points: int, days: int = 7) -> Trend:
    return Trend(
        origin=NOW - timedelta(days=days * points),
        days=days,
        members=tuple(i * 3 % 17 for i in range(points)),
        offers=tuple(i * 5 % 23 for i in range(points)),
        accepted=tuple(i * 2 % 7 for i in range(points)),
    )


@pytest.mark.parametrize("points", [1, 5, 7, 52, 110])
def test_the_chart_is_a_phone_sized_png(points: int) -> None:
    with use_language("en"):
        chart = stats_handler.trend_chart(trend(points), Period.parse("1y", NOW), TZ)
    assert len(chart.labels) == points and len(chart.series) == 3
    png = charts.line_chart_png(chart)
    assert png_size(png) == (1000, 700)
    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (700, 1000)
    assert pixels[..., :3].min() < 0.2  # dark ink on a white background
    assert pixels[0, 0, :3].tolist() == [1.0, 1.0, 1.0]


def test_the_chart_titles_follow_the_step_and_the_language() -> None:
    with use_language("en"):
        daily = stats_handler.trend_chart(trend(7, 1), Period.parse("7d", NOW), TZ)
        monthly = stats_handler.trend_chart(trend(30, 28), Period.parse("all", NOW), TZ)
    assert (daily.title, daily.subtitle) == ("Figures for the last 7 days", "day by day")
    assert daily.labels[-1] == "25 Nov"
    assert monthly.subtitle == "every four weeks" and monthly.labels[-1] == "Oct 2026"
    assert [s.label for s in daily.series] == ["New members", "Offers", "Accepted or done"]
    with use_language("ar"):
        arabic = stats_handler.trend_chart(trend(12), Period.parse("90d", NOW), TZ)
    assert png_size(charts.line_chart_png(arabic)) == (1000, 700)  # right-to-left text draws


def test_at_most_eight_dates_and_always_the_latest() -> None:
    for count in (1, 8, 9, 52, 110):
        shown = charts._ticks(count)
        assert len(shown) <= charts.MAX_TICKS and shown[-1] == count - 1
        assert shown == sorted(set(shown))


def test_matplotlib_is_imported_only_when_drawing() -> None:
    """Start-up stays fast: no module-level import of matplotlib in the handlers."""
    root = Path(charts.__file__).parent
    for name in ("charts.py", "stats.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                modules.append(getattr(node, "module", None) or "")
                assert not any(m.startswith("matplotlib") for m in modules), name


# --- the median, from the database's counts ----------------------------------------------------


@pytest.mark.parametrize(
    ("histogram", "median"),
    [
        ([], None),
        ([(5, 1)], 5),
        ([(1, 1), (9, 1)], 5),  # even: the mean of the two middle ones
        ([(1, 2), (3, 1)], 1),
        ([(1, 1), (2, 1), (10, 2)], 6),
        ([(0, 3), (7, 1), (60, 100)], 60),
        ([(240, 1), (1_440, 1), (2_880, 1)], 1_440),
    ],
)
def test_the_median_of_counted_values(histogram: list[tuple[int, int]], median: float) -> None:
    assert median_of(histogram) == median


def test_unknown_statuses_and_kinds_are_counted_as_other() -> None:
    assert _named(("a", "b"), (2, 0), 5) == {"a": 2, "other": 3}
    assert _named(("a", "b"), (2, 3), 5) == {"a": 2, "b": 3}
