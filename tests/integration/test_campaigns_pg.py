"""Two scheduler processes on one PostgreSQL database fire the same slots: each slot runs once.

Each worker is a separate Python process with its own connection pool and its own campaign
engine. Both are released at the same moment (a "go" line on their standard input) and, with
the same fake time, catch up the same slots at start (the restart path) and then after a
clock jump (the timer path). Every slot must end up with exactly one run, expanded exactly
once, and neither process may fail.

Run as a module, this file is the worker: `python -m tests.integration.test_campaigns_pg URL`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CATCH_UP = timedelta(minutes=30)  # fired at start, within the grace
JUMP = timedelta(minutes=20)  # then fired by a clock jump
CAMPAIGNS = 12
MEMBERS = 40
GROUPS = 3


async def seed(url: str) -> None:
    from store.db import create_engine, session_factory
    from store.models import Campaign, Chat, Member, MemberIdentity

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for index in range(MEMBERS):
                member = Member(
                    display_name=f"m{index}",
                    accepts_dm=True,
                    quiet_hours="00:00-00:00",
                    created_at=T0,
                    last_seen_at=T0,
                )
                member.identities.append(
                    MemberIdentity(platform="telegram", external_id=str(10_000 + index))
                )
                session.add(member)
            for index in range(GROUPS):
                session.add(
                    Chat(
                        platform="telegram",
                        external_id=str(-100 - index),
                        tags=["souss"],
                        registered=True,
                        created_at=T0,
                    )
                )
            crons = ["* * * * *", "*/2 * * * *", "*/5 * * * *", "0,30 * * * *"]
            for index in range(CAMPAIGNS):
                session.add(
                    Campaign(
                        code=f"PG{index}",
                        name=f"pg {index}",
                        kind="message",
                        content={"en": f"hello {index}"},
                        audience={"groups": "all", "members": "everyone"},
                        schedule={"type": "cron", "cron": crons[index % len(crons)]},
                        timezone="Africa/Casablanca",
                        created_at=T0,
                        updated_at=T0,
                    )
                )
    finally:
        await engine.dispose()


def expected_slots() -> int:
    from schedules.triggers import slots_between

    crons = ["* * * * *", "*/2 * * * *", "*/5 * * * *", "0,30 * * * *"]
    return sum(
        len(
            slots_between(
                {"type": "cron", "cron": crons[index % len(crons)]},
                "Africa/Casablanca",
                T0,
                T0 + CATCH_UP + JUMP,
            )
        )
        for index in range(CAMPAIGNS)
    )


# --- the worker --------------------------------------------------------------------------------


async def work(url: str) -> dict[str, int]:
    from handlers.context import Community
    from schedules.engine import CampaignEngine, EngineSettings
    from store.db import create_engine, session_factory
    from tests.harness import FakeClock

    engine = create_engine(url, pool_size=5)
    clock = FakeClock(T0 + CATCH_UP)
    campaigns = CampaignEngine(
        session_factory(engine),
        Community(default_language="en"),
        clock,
        EngineSettings(grace=timedelta(hours=2)),
    )
    try:
        async with engine.connect():  # connected before the start line
            pass
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        fired: Counter[str] = Counter()
        original = campaigns.fire

        async def counting_fire(*args: object, **kwargs: object) -> object:
            outcome = await original(*args, **kwargs)  # type: ignore[arg-type]
            fired["won" if outcome is not None else "lost"] += 1
            return outcome

        campaigns.fire = counting_fire  # type: ignore[method-assign]
        await campaigns.start(paused=True)
        before = clock.now()
        clock.advance(JUMP)
        await campaigns.clock_moved(before)
        await campaigns.stop()
        return dict(fired)
    finally:
        await engine.dispose()


def main() -> None:
    result = asyncio.run(work(sys.argv[1]))
    print(json.dumps(result), flush=True)


# --- the test ----------------------------------------------------------------------------------


def _spawn(url: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDS_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.test_campaigns_pg", url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_scheduler_processes_fire_each_slot_once(postgres_url: str) -> None:
    from store import migrate

    migrate.upgrade(postgres_url)
    asyncio.run(seed(postgres_url))
    workers = [_spawn(postgres_url), _spawn(postgres_url)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline().strip()
            assert line == "ready", (line, worker.stderr.read() if worker.stderr else "")
        for worker in workers:  # released together
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            assert "Traceback" not in err, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    asyncio.run(_check(postgres_url, results))


async def _check(url: str, results: list[dict[str, int]]) -> None:
    from store.db import create_engine, session_factory
    from store.models import CampaignRun, Delivery

    slots = expected_slots()
    won = sum(result.get("won", 0) for result in results)
    assert won == slots, results  # every slot was created by exactly one process
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            runs = list(await session.execute(select(CampaignRun.campaign_id, CampaignRun.slot)))
            per_run = dict(
                list(
                    await session.execute(
                        select(Delivery.run_id, func.count()).group_by(Delivery.run_id)
                    )
                )
            )
            statuses = Counter(await session.scalars(select(CampaignRun.status)))
    finally:
        await engine.dispose()
    assert len(runs) == len(set(runs)) == slots
    assert statuses == Counter({"dispatching": slots})
    # Each run was expanded once, to every member and group.
    assert set(per_run.values()) == {MEMBERS + GROUPS}
    assert len(per_run) == slots


if __name__ == "__main__":
    main()
