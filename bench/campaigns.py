"""Campaign engine figures: start-up with many campaigns, run expansion, dispatch rate.

1. Start-up: 10,000 active campaigns (daily, weekly, monthly, nth-weekday and cron schedules,
   each with its last run recorded, as after a restart): the time for the engine to rebuild
   the schedule from the table (catch up, register one APScheduler job each), and memory
   (tracemalloc's peak during a second rebuild, and the process's peak resident size).
2. Expansion: one run of a campaign to 10,000 members (private messages, three languages)
   and 300 groups: the time to create the run and write its 10,300 deliveries, on SQLite and
   on PostgreSQL (a scratch database created on the server given by --pg or
   $CDS_TEST_DATABASE_URL, dropped afterwards). Target: under 2 s.
3. Dispatch: a campaign run to private chats and groups sent by the outbox dispatcher
   through the Telegram adapter (python-telegram-bot) to the Bot API emulator on 127.0.0.1,
   which enforces Telegram's limits (30 messages a second overall, 1 a second per private
   chat, 20 a minute per group). Measured: the achieved rate as a fraction of the allowed
   rate, and the 429 answers. (Discord is measured by bench/discord_throughput.py.)

    uv run python bench/campaigns.py [--campaigns 10000] [--members 10000] [--groups 300]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--privates 600]
        [--dispatch-groups 60]

Only 127.0.0.1 is contacted (the tests' network guard is installed); it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402  (the network guard uses its MonkeyPatch)
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.telegram import create_adapter  # noqa: E402
from handlers.chat import Platform  # noqa: E402
from handlers.context import Community  # noqa: E402
from schedules import triggers  # noqa: E402
from schedules.engine import CampaignEngine, EngineSettings  # noqa: E402
from schedules.plans import Respect  # noqa: E402
from store import migrate  # noqa: E402
from store.db import create_engine, session_factory  # noqa: E402
from store.models import (  # noqa: E402
    Campaign,
    CampaignRun,
    Chat,
    Delivery,
    Member,
    MemberIdentity,
)
from tests.conftest import NetworkGuard  # noqa: E402
from tests.emulators.telegram import TelegramEmulator  # noqa: E402

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TZ = "Africa/Casablanca"
SCHEDULES: tuple[dict[str, Any], ...] = (
    {"type": "daily", "time": "18:00"},
    {"type": "weekly", "time": "09:30", "weekdays": [0, 3]},
    {"type": "monthly", "time": "12:00", "day": 15},
    {"type": "monthly", "time": "18:00", "nth": -1, "weekday": 4},
    {"type": "cron", "cron": "0 18 * * 1-5"},
    {"type": "cron", "cron": "*/30 8-20 * * *"},
)
TIME_ZONES = ("Africa/Casablanca", "Europe/Paris", "America/Toronto", "Europe/Madrid")
LANGUAGES = ("fr", "en", "ar")
TOKEN = "434343:CAMPAIGN-bench"
ALLOWED_PER_SECOND = 30.0
CHUNK = 2000


def chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]


# --- 1. start-up with many campaigns ------------------------------------------------------------


async def seed_campaigns(url: str, count: int) -> None:
    """`count` campaigns changed ten days ago, each with its last slot's run recorded."""
    engine = create_engine(url)
    changed = NOW - timedelta(days=10)
    campaigns, runs = [], []
    for index in range(count):
        schedule = SCHEDULES[index % len(SCHEDULES)]
        timezone = TIME_ZONES[index % len(TIME_ZONES)]
        campaigns.append(
            {
                "id": index + 1,
                "code": f"B{index:07d}",
                "name": f"bench {index}",
                "kind": "message",
                "status": "active",
                "content": {"fr": "Bonjour", "en": "Hello"},
                "options": {},
                "audience": {"groups": "none", "members": "none"},
                "schedule": schedule,
                "timezone": timezone,
                "created_at": changed,
                "updated_at": changed,
            }
        )
        last = triggers.slots_between(schedule, timezone, changed, NOW)
        if last:
            runs.append(
                {
                    "campaign_id": index + 1,
                    "slot": last[-1].key,
                    "scheduled_at": last[-1].at,
                    "status": "done",
                    "details": {},
                    "created_at": last[-1].at,
                    "finished_at": last[-1].at,
                }
            )
    try:
        async with session_factory(engine)() as session, session.begin():
            for part in chunks(campaigns):
                await session.execute(insert(Campaign), part)
            for part in chunks(runs):
                await session.execute(insert(CampaignRun), part)
    finally:
        await engine.dispose()


@dataclass
class FakeClock:
    current: datetime

    def now(self) -> datetime:
        return self.current


@dataclass(frozen=True)
class StartUp:
    campaigns: int
    jobs: int
    seconds: float
    traced_peak_mb: float
    rss_peak_mb: float


async def bench_start_up(url: str, count: int) -> StartUp:
    await seed_campaigns(url, count)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        first = CampaignEngine(sessions, Community(), FakeClock(NOW), EngineSettings())
        started = time.perf_counter()
        await first.start(paused=True)
        seconds = time.perf_counter() - started
        jobs = len(first.job_ids())
        await first.stop()
        second = CampaignEngine(sessions, Community(), FakeClock(NOW), EngineSettings())
        tracemalloc.start()
        await second.start(paused=True)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await second.stop()
    finally:
        await engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return StartUp(count, jobs, seconds, peak / 2**20, rss)


# --- 2. expanding one run ------------------------------------------------------------------------


async def seed_audience(url: str, members: int, groups: int) -> int:
    """Members who accepted private messages, registered groups, and one campaign to all."""
    engine = create_engine(url)
    member_rows = [
        {
            "id": index + 1,
            "display_name": f"member {index}",
            "locale": LANGUAGES[index % len(LANGUAGES)],
            "accepts_dm": True,
            "timezone": TIME_ZONES[index % len(TIME_ZONES)],
            "created_at": NOW,
            "last_seen_at": NOW,
        }
        for index in range(members)
    ]
    identity_rows = [
        {
            "member_id": index + 1,
            "platform": "telegram" if index % 4 else "discord",
            "external_id": str(100_000 + index),
            "display_name": f"member {index}",
            "unreachable": index % 50 == 0,
            "last_seen_at": NOW,
        }
        for index in range(members)
    ]
    chat_rows = [
        {
            "platform": "telegram" if index % 3 else "discord",
            "external_id": str(-1_000_000 - index),
            "title": f"group {index}",
            "tags": ["souss-massa"],
            "registered": True,
            "active": True,
            "created_at": NOW,
        }
        for index in range(groups)
    ]
    try:
        async with session_factory(engine)() as session, session.begin():
            for part in chunks(member_rows):
                await session.execute(insert(Member), part)
            for part in chunks(identity_rows):
                await session.execute(insert(MemberIdentity), part)
            for part in chunks(chat_rows):
                await session.execute(insert(Chat), part)
            campaign = Campaign(
                code="EXPAND",
                name="expansion bench",
                kind="message",
                content={
                    "fr": "Trois projets du Souss-Massa cherchent des bénévoles cette semaine.",
                    "en": "Three Souss-Massa projects are looking for volunteers this week.",
                    "ar": "ثلاثة مشاريع من سوس ماسة تبحث عن متطوعين هذا الأسبوع.",
                },
                audience={"groups": "all", "members": "everyone"},
                schedule={"type": "daily", "time": "18:00"},
                timezone=TZ,
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(campaign)
            await session.flush()
            campaign_id = campaign.id
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(text("COMMIT"))
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return campaign_id


@dataclass(frozen=True)
class Expansion:
    database: str
    targets: int
    seconds: list[float]


async def bench_expansion(url: str, label: str, members: int, groups: int) -> Expansion:
    campaign_id = await seed_audience(url, members, groups)
    engine = create_engine(url)
    sessions = session_factory(engine)
    # A cap high enough that each run writes the same rows (a real cap skips, and writes too).
    settings = EngineSettings(respect=Respect(cap_messages=1000))
    clock = FakeClock(NOW)
    campaigns = CampaignEngine(sessions, Community(), clock, settings)
    seconds = []
    try:
        for attempt in range(3):
            clock.current = NOW + timedelta(minutes=attempt)
            started = time.perf_counter()
            run_id = await campaigns.run_now(campaign_id, None)
            seconds.append(time.perf_counter() - started)
        async with sessions() as session:
            written = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.run_id == run_id)
            )
    finally:
        await engine.dispose()
    return Expansion(label, int(written or 0), seconds)


# --- 3. dispatch through the Telegram adapter, within Telegram's limits -------------------------


@dataclass(frozen=True)
class Dispatch:
    expected: int
    delivered: int
    first_to_last: float
    count_429: int

    @property
    def rate(self) -> float:
        return (self.delivered - 1) / self.first_to_last if self.first_to_last > 0 else 0.0

    @property
    def fraction(self) -> float:
        return self.rate / ALLOWED_PER_SECOND


async def bench_dispatch(url: str, privates: int, groups: int, limit: float) -> Dispatch:
    async with TelegramEmulator(TOKEN, "cds_campaign_bench_bot") as emulator:
        sent_times: list[float] = []
        name, handler = emulator._methods["sendmessage"]

        async def traced(params: dict[str, Any], files: dict[str, Any]) -> Any:
            result = await handler(params, files)
            sent_times.append(time.perf_counter())
            return result

        emulator._methods["sendmessage"] = (name, traced)
        settings = load_settings(
            overrides={
                "database": {"url": url},
                "telegram": {
                    "token": TOKEN,
                    "base_url": emulator.base_url,
                    "base_file_url": emulator.base_file_url,
                },
                "community": {"default_language": "en"},
                "campaigns": {"quiet_hours": "00:00-00:00"},
            }
        )
        now = datetime.now(UTC)
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                for index in range(privates):
                    user = emulator.add_user(200_000 + index, f"Member{index}", None, "en")
                    emulator.start_private(user)
                    member = Member(
                        display_name=f"Member{index}",
                        accepts_dm=True,
                        created_at=now,
                        last_seen_at=now,
                    )
                    member.identities.append(
                        MemberIdentity(platform="telegram", external_id=str(user.id))
                    )
                    session.add(member)
                for index in range(groups):
                    chat_id = -1_004_000_000_000 - index
                    emulator.add_group(chat_id, f"Diaspora {index}", supergroup=True)
                    session.add(
                        Chat(
                            platform="telegram",
                            external_id=str(chat_id),
                            title=f"Diaspora {index}",
                            registered=True,
                            created_at=now,
                        )
                    )
                campaign = Campaign(
                    code="DISPATCH",
                    name="dispatch bench",
                    kind="message",
                    content={"en": "A new need in the Souss-Massa: can you help?"},
                    audience={"groups": "all", "members": "everyone"},
                    schedule={"type": "daily", "time": "18:00"},
                    timezone=TZ,
                    created_at=now,
                    updated_at=now,
                )
                session.add(campaign)
                await session.flush()
                campaign_id = campaign.id
        finally:
            await engine.dispose()

        adapter = create_adapter(settings, poll_timeout=5)
        app = await build_app(
            settings,
            messengers={Platform.TELEGRAM: adapter.messenger},
            community=Community(default_language="en"),
        )
        stop = asyncio.Event()
        dispatcher = asyncio.create_task(app.dispatcher.run(stop, app.wake, 0.5))
        try:
            await adapter.start(app.handle)
            assert app.campaigns is not None
            await app.campaigns.run_now(campaign_id, None)
            expected = privates + groups
            deadline = time.perf_counter() + limit
            while len(sent_times) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        finally:
            await adapter.stop()
            stop.set()
            await dispatcher
            await app.aclose()
        span = sent_times[-1] - sent_times[0] if len(sent_times) > 1 else 0.0
        return Dispatch(expected, len(sent_times), span, emulator.count_429)


# --- PostgreSQL scratch database ------------------------------------------------------------------


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def postgres_expansion(admin_url: str, members: int, groups: int) -> Expansion:
    name = f"cds_bench_{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = (
            make_url(admin_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
        await asyncio.to_thread(migrate.upgrade, url)
        return await bench_expansion(url, "PostgreSQL", members, groups)
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- main ----------------------------------------------------------------------------------------


def fresh_sqlite(directory: Path, name: str) -> str:
    url = f"sqlite+aiosqlite:///{directory / name}"
    migrate.upgrade(url)
    return url


async def run(args: argparse.Namespace, directory: Path) -> int:
    results: dict[str, Any] = {}
    start_up = await bench_start_up(
        await asyncio.to_thread(fresh_sqlite, directory, "startup.db"), args.campaigns
    )
    print(f"\n1. start-up with {start_up.campaigns} active campaigns (SQLite)")
    print(f"{'rebuild the schedule':34}{start_up.seconds:8.2f} s   ({start_up.jobs} jobs)")
    print(f"{'tracemalloc peak during a rebuild':34}{start_up.traced_peak_mb:8.1f} MiB")
    print(f"{'process peak resident size':34}{start_up.rss_peak_mb:8.1f} MiB")
    results["start_up"] = start_up.__dict__

    expansions = [
        await bench_expansion(
            await asyncio.to_thread(fresh_sqlite, directory, "expand.db"),
            "SQLite",
            args.members,
            args.groups,
        )
    ]
    admin_url = args.pg or os.environ.get("CDS_TEST_DATABASE_URL", "").strip()
    if admin_url:
        expansions.append(await postgres_expansion(admin_url, args.members, args.groups))
    print(
        f"\n2. one run to {args.members} members and {args.groups} groups: run created and "
        "deliveries written (target < 2 s)"
    )
    print(f"{'database':12}{'deliveries':>12}{'1st run':>10}{'2nd run':>10}{'3rd run':>10}")
    for figures in expansions:
        times = "".join(f"{seconds:9.2f}s" for seconds in figures.seconds)
        print(f"{figures.database:12}{figures.targets:12d}{times}")
    if not admin_url:
        print("PostgreSQL: skipped (give --pg URL or set CDS_TEST_DATABASE_URL)")
    results["expansion"] = [figures.__dict__ for figures in expansions]

    dispatch = await bench_dispatch(
        await asyncio.to_thread(fresh_sqlite, directory, "dispatch.db"),
        args.privates,
        args.dispatch_groups,
        args.timeout,
    )
    print(
        f"\n3. dispatch of a run to {args.privates} private chats and {args.dispatch_groups} "
        "groups through the Telegram adapter, emulator enforcing Telegram's limits"
    )
    print(
        f"delivered {dispatch.delivered}/{dispatch.expected}; first to last send "
        f"{dispatch.first_to_last:.1f} s: {dispatch.rate:.1f} messages/s of "
        f"{ALLOWED_PER_SECOND:.0f} allowed = {dispatch.fraction:.2f}; 429 answers: "
        f"{dispatch.count_429}"
    )
    results["dispatch"] = {**dispatch.__dict__, "fraction": dispatch.fraction}
    if args.json:
        print(json.dumps(results, default=str))
    ok = (
        all(max(figures.seconds) < 2.0 for figures in expansions)
        and dispatch.delivered == dispatch.expected
        and dispatch.count_429 == 0
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (scratch database)")
    parser.add_argument("--privates", type=int, default=600)
    parser.add_argument("--dispatch-groups", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=300.0, help="for the dispatch")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore", "telegram", "apscheduler", "schedules"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as directory:
        NetworkGuard().install(patch)
        return asyncio.run(run(args, Path(directory)))


if __name__ == "__main__":
    raise SystemExit(main())
