"""Discord throughput, full stack against the emulator on 127.0.0.1 (nothing leaves the machine).

1. Interactions: members run `/projects` (the core reads the database, the adapter defers and
   then edits its answer), N in flight at once; measured: interactions a second, and the time
   to the first answer (Discord's 3-second rule) and to the complete answer, p50/p99.
   The same load is then answered by a bare discord.py bot (one `send_message`, no database),
   and the ratios are printed.
2. Fan-out: one need announced in 200 registered channels through the outbox, with the
   emulator enforcing Discord's limits (50 requests a second, 5 messages per 5 s per channel);
   measured: the send rate as a fraction of the allowed 50/s, and the 429s (expected: none).

The emulator runs in its own thread and event loop, as Discord would be elsewhere.

    uv run python bench/discord_throughput.py [--interactions 400] [--in-flight 20]
                                              [--channels 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
from discord import app_commands  # noqa: E402
from sqlalchemy import select, update  # noqa: E402

from bot.app import App, bind_adapter, build_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.discord import DiscordAdapter, DiscordConfig  # noqa: E402
from handlers.chat import Command, Event, Identity, Message, Place, Platform  # noqa: E402
from handlers.context import Community  # noqa: E402
from store.models import Base, Chat, Need, Project  # noqa: E402
from tests.emulators.discord import DiscordEmulator, InteractionRecord  # noqa: E402

T = TypeVar("T")
TOKEN = "bench-token"
APP_ID = 1_180_000_000_000_000_001
GUILD, GENERAL = 10, 11
CM_USER = 100
FIRST_MEMBER = 1000
MEMBERS = 50
ALLOWED_PER_SECOND = 50


# ------------------------------------------------------------------------------ the emulator


class EmulatorThread:
    """The emulator on its own event loop; `call` runs a coroutine there from the bot's loop."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.emu: DiscordEmulator | None = None

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def __aenter__(self) -> EmulatorThread:
        self.thread.start()

        async def start() -> DiscordEmulator:
            emu = DiscordEmulator(token=TOKEN, app_id=APP_ID, bot_user_id=APP_ID, **self.options)
            await emu.start()
            return emu

        self.emu = await self.call(start())
        return self

    @property
    def running(self) -> DiscordEmulator:
        assert self.emu is not None
        return self.emu

    async def __aexit__(self, *exc: object) -> None:
        assert self.emu is not None
        await self.call(self.emu.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


async def world(emu: DiscordEmulator, channels: int = 1) -> None:
    """A server with #general (and `channels` more), a community manager and members."""
    emu.add_user(CM_USER, "alice", "Alice", locale="en-US")
    for n in range(MEMBERS):
        emu.add_user(FIRST_MEMBER + n, f"member{n}", locale="en-US")
    specs = [(GENERAL, "general"), *((GENERAL + 1 + n, f"annonces-{n}") for n in range(channels))]
    emu.add_guild(
        GUILD,
        "CDS Bench",
        channels=specs,
        members=list(range(FIRST_MEMBER, FIRST_MEMBER + MEMBERS)),
        owner_id=CM_USER,
    )


# ------------------------------------------------------------------------------ the bots


@contextlib.asynccontextmanager
async def full_stack(emu: DiscordEmulator, directory: Path) -> AsyncIterator[App]:
    """The real app on SQLite, the Discord adapter and the outbox dispatcher."""
    settings = load_settings(
        overrides={"database": {"url": f"sqlite+aiosqlite:///{directory / 'bench.db'}"}}
    )
    adapter = DiscordAdapter(
        DiscordConfig(
            token=TOKEN,
            api_base_url=emu.api_base,
            gateway_url=emu.gateway_url,
            default_language="en",
            guild_ready_timeout=0.1,
        )
    )
    community = Community(
        default_language="en", community_managers=frozenset({f"discord:{CM_USER}"})
    )
    app = await build_app(
        settings, messengers={Platform.DISCORD: adapter.messenger}, community=community
    )
    async with app.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await seed(app)
    bind_adapter(app, adapter)
    await adapter.start(app.handle)
    try:
        yield app
    finally:
        await adapter.stop()
        await app.aclose()


async def seed(app: App) -> None:
    now = datetime.now(UTC)
    async with app.sessions() as session, session.begin():
        for n in range(8):
            project = Project(
                slug=f"projet-{n}",
                title=f"Projet {n} de la vallée",
                summary="Un projet du territoire.",
                territory="Souss",
                tags=["souss"],
                status="open",
                created_at=now,
                updated_at=now,
            )
            session.add(project)
            await session.flush()
            session.add(
                Need(
                    project_id=project.id,
                    kind="skills",
                    title=f"Besoin {n}",
                    details="Des détails.",
                    created_at=now,
                )
            )


@contextlib.asynccontextmanager
async def bare_bot(emu: DiscordEmulator) -> AsyncIterator[discord.Client]:
    """discord.py alone: the same command, answered at once with a fixed text."""
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(
        intents=intents,
        guild_ready_timeout=0.1,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    tree = app_commands.CommandTree(client)

    @tree.command(name="projects", description="browse open projects")
    async def projects(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Open projects (8)")

    async def setup_hook() -> None:
        await tree.sync()

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    task = asyncio.create_task(client.start(TOKEN))
    while not client.is_ready():
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await task


# ------------------------------------------------------------------------------ measuring


@dataclass
class Load:
    count: int
    seconds: float
    first_answer: list[float]
    complete: list[float]
    late: int  # first answers after Discord's 3 seconds

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def answered(record: InteractionRecord) -> bool:
    original = record.original
    return record.reply is not None and original is not None and not original.loading


async def load(emu: DiscordEmulator, count: int, in_flight: int) -> Load:
    """Runs in the emulator's loop: `count` /projects, `in_flight` at a time (closed loop)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(FIRST_MEMBER + n % MEMBERS)
    first: list[float] = []
    complete: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            user = queue.get_nowait()
            record = await emu.slash_command(user, GENERAL, "projects", {})
            await emu.wait_for(lambda r=record: answered(r), timeout=30)
            assert record.reply is not None
            first.append(record.reply.elapsed)
            complete.append(time.monotonic() - record.dispatched_at)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    seconds = time.monotonic() - started
    return Load(count, seconds, first, complete, sum(1 for t in first if t > 3.0))


async def interactions(count: int, in_flight: int) -> tuple[Load, Load]:
    with tempfile.TemporaryDirectory() as directory:
        async with EmulatorThread() as side:
            emu = side.running
            await side.call(world(emu))
            with emu.patch_discord():
                async with full_stack(emu, Path(directory)):
                    await side.call(load(emu, in_flight * 2, in_flight))  # warm-up
                    full = await side.call(load(emu, count, in_flight))
    async with EmulatorThread() as side:
        emu = side.running
        await side.call(world(emu))
        with emu.patch_discord():
            async with bare_bot(emu):
                await side.call(load(emu, in_flight * 2, in_flight))
                bare = await side.call(load(emu, count, in_flight))
    return full, bare


# ------------------------------------------------------------------------------ fan-out


@dataclass
class FanOut:
    channels: int
    sent: int
    seconds: float
    too_many: int

    @property
    def rate(self) -> float:
        return (self.sent - 1) / self.seconds if self.seconds > 0 else 0.0


async def fan_out(channels: int) -> FanOut:
    with tempfile.TemporaryDirectory() as directory:
        async with EmulatorThread() as side:
            emu = side.running
            await side.call(world(emu, channels))
            with emu.patch_discord():
                async with full_stack(emu, Path(directory)) as app:
                    await register_channels(app, channels)
                    await asyncio.sleep(1.2)  # the login's requests leave the 1-second window
                    before = len(emu.requests)
                    alice = Identity(Platform.DISCORD, str(CM_USER), "alice", "Alice", "en-US")
                    private = Place(Platform.DISCORD, str(CM_USER), True)
                    replies = await app.handle(Event(alice, private, Command("announce", ("1",))))
                    said = " ".join(r.text.plain for r in replies if isinstance(r, Message))
                    assert f"Announced in {channels} groups" in said, said
                    await app.dispatcher.drain()
                    posts = [
                        r
                        for r in emu.requests[before:]
                        if r.method == "POST" and r.path.startswith("/channels/")
                    ]
                    sent = [r for r in posts if r.status == 200]
                    seconds = sent[-1].at - sent[0].at if len(sent) > 1 else 0.0
                    return FanOut(channels, len(sent), seconds, emu.count_429)


async def register_channels(app: App, channels: int) -> None:
    """The channels as a community manager would `/linkgroup` them; the adapter has already
    recorded them when the bot joined the server."""
    wanted = {str(GENERAL + 1 + n) for n in range(channels)}
    for _ in range(200):
        async with app.sessions() as session:
            known = set(await session.scalars(select(Chat.external_id)))
        if wanted <= known:
            break
        await asyncio.sleep(0.05)
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Chat).where(Chat.external_id.in_(wanted)).values(registered=True, active=True)
        )


# ------------------------------------------------------------------------------ report


def report_load(name: str, result: Load) -> None:
    print(
        f"  {name:<10} {result.per_second:7.1f} interactions/s   first answer p50 "
        f"{percentile(result.first_answer, 0.5) * 1000:6.1f} ms  p99 "
        f"{percentile(result.first_answer, 0.99) * 1000:6.1f} ms   complete p50 "
        f"{percentile(result.complete, 0.5) * 1000:6.1f} ms  p99 "
        f"{percentile(result.complete, 0.99) * 1000:6.1f} ms   late (>3 s): {result.late}"
    )


async def main(arguments: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    print(f"Interactions: {arguments.interactions} x /projects, {arguments.in_flight} in flight")
    full, bare = await interactions(arguments.interactions, arguments.in_flight)
    report_load("full stack", full)
    report_load("bare bot", bare)
    print(
        f"  ratio full/bare: throughput {full.per_second / bare.per_second:.2f}, first answer "
        f"p50 {statistics.median(full.first_answer) / statistics.median(bare.first_answer):.2f}x"
    )
    print(f"Fan-out: one announcement to {arguments.channels} channels through the outbox")
    result = await fan_out(arguments.channels)
    fraction = result.rate / ALLOWED_PER_SECOND
    print(
        f"  sent {result.sent}/{result.channels} in {result.seconds:.2f} s: "
        f"{result.rate:.1f} messages/s = {fraction:.0%} of the allowed {ALLOWED_PER_SECOND}/s; "
        f"429 answers: {result.too_many}"
    )
    ok = result.sent == result.channels and result.too_many == 0 and full.late == 0
    return 0 if ok else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--interactions", type=int, default=400)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--channels", type=int, default=200)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
