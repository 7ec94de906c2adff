"""A bot killed with SIGKILL in the middle of a campaign to 2,000 members, then restarted:
every member has exactly one delivery, and the Telegram emulator's transcript shows that no
one received the campaign twice.

The bot is a real process (`tests/e2e/campaign_crash_driver.py`: the real app, campaign
engine, outbox dispatcher and python-telegram-bot messenger); the emulator runs in this
test's process, so its transcript outlives the killed bot.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from store import migrate
from tests.emulators.telegram import RateLimits, TelegramEmulator

ROOT = Path(__file__).resolve().parents[2]
TARGETS = 2_000
FIRST_USER = 700_000
KILL_AFTER = 600  # messages received by the emulator before the bot is killed
TIME_LIMIT = 60.0


def seed(db: Path, now: datetime) -> None:
    """2,000 members who accepted private messages, and a campaign due a minute ago."""

    def stored(at: datetime) -> str:  # as SQLAlchemy stores a UTC datetime in SQLite
        return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    stamp = stored(now)
    with sqlite3.connect(db) as connection:
        connection.executemany(
            "INSERT INTO members (id, display_name, accepts_dm, quiet_hours, created_at) "
            "VALUES (?, ?, 1, '00:00-00:00', ?)",
            [(index + 1, f"member {index}", stamp) for index in range(TARGETS)],
        )
        connection.executemany(
            "INSERT INTO member_identities (member_id, platform, external_id, display_name, "
            "unreachable) VALUES (?, 'telegram', ?, '', 0)",
            [(index + 1, str(FIRST_USER + index)) for index in range(TARGETS)],
        )
        due = (now - timedelta(minutes=1)).astimezone(UTC)
        local = (due + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")  # Casablanca, winter
        connection.execute(
            "INSERT INTO campaigns (code, name, kind, status, content, options, audience, "
            "schedule, timezone, created_at, updated_at) VALUES ('CRASH', 'crash test', "
            "'message', 'active', ?, '{}', ?, ?, 'Etc/GMT-1', ?, ?)",
            (
                '{"en": "Hello from the crash test"}',
                '{"groups": "none", "members": "everyone"}',
                '{"type": "once", "at": "' + local + '"}',
                stored(now - timedelta(minutes=10)),
                stored(now - timedelta(minutes=10)),
            ),
        )


async def start_bot(url: str, emulator: TelegramEmulator) -> asyncio.subprocess.Process:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDS_")}
    env.update({"PYTHONPATH": str(ROOT), "CDS_LOG_LEVEL": "WARNING"})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.campaign_crash_driver",
        url,
        emulator.base_url,
        emulator.base_file_url,
        emulator.token,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def received(emulator: TelegramEmulator) -> Counter[int]:
    return Counter(
        message.chat_id for message in emulator.all_sent if message.method == "sendMessage"
    )


async def test_a_bot_killed_mid_campaign_sends_nobody_anything_twice(tmp_path: Path) -> None:
    begun = time.monotonic()
    db = tmp_path / "crash.db"
    url = f"sqlite+aiosqlite:///{db}"
    migrate.upgrade(url)
    seed(db, datetime.now(UTC))

    async with TelegramEmulator(token="4242:CRASH", rate_limits=RateLimits.off()) as emulator:
        for index in range(TARGETS):
            emulator.start_private(emulator.add_user(FIRST_USER + index, f"m{index}"))

        first = await start_bot(url, emulator)
        while sum(received(emulator).values()) < KILL_AFTER:
            assert first.returncode is None, await first.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() - begun < TIME_LIMIT, "the first run was too slow"
            await asyncio.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert first.returncode == -signal.SIGKILL
        at_kill = sum(received(emulator).values())
        assert at_kill < TARGETS, "killed too late: nothing was left to send"

        second = await start_bot(url, emulator)
        out, err = await asyncio.wait_for(second.communicate(), TIME_LIMIT)
        assert second.returncode == 0, err.decode()
        assert "done" in out.decode(), out.decode()
        transcript = received(emulator)

    with sqlite3.connect(db) as connection:
        runs = connection.execute("SELECT id, status FROM campaign_runs").fetchall()
        rows = connection.execute(
            "SELECT target, status FROM deliveries WHERE run_id IS NOT NULL"
        ).fetchall()
    assert len(runs) == 1, runs  # the restart did not fire the slot again
    targets = Counter(target for target, _status in rows)
    assert len(targets) == TARGETS and set(targets.values()) == {1}
    statuses = Counter(status for _target, status in rows)
    # Only the messages in flight when the bot died have a hidden outcome.
    assert set(statuses) <= {"sent", "unknown"}, statuses
    assert statuses["unknown"] <= 60, statuses

    # The emulator's transcript: nobody received the campaign twice...
    assert transcript and max(transcript.values()) == 1, transcript.most_common(3)
    # ...every row marked sent arrived, and only an unknown one may not have.
    sent_to = {int(target.rsplit(":", 1)[1]) for target, status in rows if status == "sent"}
    assert sent_to <= set(transcript)
    assert len(transcript) >= statuses["sent"]
    assert len(transcript) <= statuses["sent"] + statuses["unknown"]
    assert time.monotonic() - begun < TIME_LIMIT
