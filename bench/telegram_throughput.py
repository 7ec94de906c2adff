"""Telegram throughput, through the whole stack, against the Bot API emulator on 127.0.0.1.

1. Updates: simulated people send commands (/projects, /project, /needs, /help) in their
   private chats, each waiting for the answer before the next (a closed loop). Measured: updates
   answered per second, and the latency from the update being queued to the answer reaching
   the server (p50, p99). The same load runs, in the same process and on the same emulator
   settings, against a bare python-telegram-bot echo bot: the ratio of the two is the figure
   (how much of the library's speed the bot keeps with its database, core and rendering).
2. Fan-out: news to N followers in their private chats and a need announced in M groups, sent
   by the outbox dispatcher with the emulator enforcing Telegram's limits (30 messages a second
   overall, 1 a second per private chat, 20 a minute per group). Measured: the achieved rate
   as a fraction of the allowed rate (target at least 0.9), and the 429 answers (target 0).

    uv run python bench/telegram_throughput.py [--updates 1000 --people 50 --rounds 3]
        [--core-concurrency N] [--privates 1000 --groups 100]

Only 127.0.0.1 is contacted (the tests' network guard is installed); it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402  (the network guard uses its MonkeyPatch)
from sqlalchemy import select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler  # noqa: E402
from telegram.ext import filters as tg_filters  # noqa: E402

from bot.app import App, bind_adapter, build_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.importer import apply_catalogue, catalogue_from_data  # noqa: E402
from bot.telegram import TelegramAdapter, create_adapter  # noqa: E402
from handlers.chat import Platform  # noqa: E402
from handlers.context import Community  # noqa: E402
from store import migrate  # noqa: E402
from store.models import Chat, Follow, Member, MemberIdentity, Need, Project  # noqa: E402
from store.uow import UnitOfWork  # noqa: E402
from tests.conftest import NetworkGuard  # noqa: E402
from tests.emulators.telegram import RateLimits, TelegramEmulator, User  # noqa: E402

TOKEN = "424242:BENCH-token"
BOT = "cds_bench_bot"
LEADER = 7
FIRST_PERSON = 10_000
FIRST_GROUP = -1_003_000_000_000
COMMANDS = ("/projects", "/project argan-tafraout", "/needs", "/help")
CONCURRENCY = 64
ALLOWED_PER_SECOND = 30.0
FAN_OUT_TIMEOUT = 600.0

CATALOGUE: dict[str, Any] = {
    "projects": [
        {
            "slug": "argan-tafraout",
            "title": "Coopérative féminine d'argan de Tafraout",
            "summary": "Trente femmes pressent et vendent leur huile d'argan.",
            "territory": "Tafraout",
            "tags": ["argan", "souss-massa"],
            "status": "open",
            "leaders": [f"telegram:{LEADER}"],
            "needs": [
                {"kind": "expertise", "title": "Conseil pour la certification bio"},
                {"kind": "network", "title": "Épiceries fines en France et en Belgique"},
                {"kind": "skills", "title": "Cartographie GPS du sentier", "effort": "2 jours"},
            ],
        },
        {
            "slug": "bibliotheque-tiznit",
            "title": "Bibliothèque de l'école primaire de Tiznit",
            "summary": "Une salle vide à transformer en bibliothèque pour 400 élèves.",
            "territory": "Tiznit",
            "tags": ["education"],
            "status": "open",
            "needs": [{"kind": "skills", "title": "Montage des étagères et inventaire"}],
        },
    ]
}


# --- timing what the emulator receives ---------------------------------------------------------


@dataclass
class Answers:
    """Times at which the emulator received a successful sendMessage, per chat."""

    waiting: dict[int, asyncio.Future[float]] = field(default_factory=dict)
    sent: dict[int, int] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)

    def install(self, emu: TelegramEmulator) -> None:
        # The emulator's own waiters rescan every message; a bench needs a cheaper signal,
        # so it wraps the emulator's sendMessage method.
        name, handler = emu._methods["sendmessage"]

        async def traced(params: dict[str, Any], files: dict[str, Any]) -> Any:
            result = await handler(params, files)
            chat_id = int(result["chat"]["id"])
            now = time.perf_counter()
            self.sent[chat_id] = self.sent.get(chat_id, 0) + 1
            self.times.append(now)
            future = self.waiting.pop(chat_id, None)
            if future is not None and not future.done():
                future.set_result(now)
            return result

        emu._methods["sendmessage"] = (name, traced)

    def expect(self, chat_id: int) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = future
        return future


# --- the two bots ------------------------------------------------------------------------------


class Stack:
    """The bot as `cds-bot run` wires it: adapter, app, outbox dispatcher."""

    def __init__(self, emu: TelegramEmulator, url: str, core: int | None = None) -> None:
        self.emu = emu
        self.url = url
        self.core = core
        self.app: App | None = None
        self.adapter: TelegramAdapter | None = None
        self.stop_event = asyncio.Event()
        self.dispatcher: asyncio.Task[None] | None = None

    async def start(self) -> App:
        settings = load_settings(
            overrides={
                "database": {"url": self.url},
                "telegram": {
                    "token": TOKEN,
                    "base_url": self.emu.base_url,
                    "base_file_url": self.emu.base_file_url,
                },
                "community": {"default_language": "en"},
            }
        )
        overrides: dict[str, Any] = {"poll_timeout": 5, "concurrency": CONCURRENCY}
        if self.core is not None:
            overrides["core_concurrency"] = self.core
        self.adapter = create_adapter(settings, **overrides)
        self.core = self.adapter.options.core_concurrency or CONCURRENCY
        self.app = await build_app(
            settings,
            messengers={Platform.TELEGRAM: self.adapter.messenger},
            community=Community(default_language="en"),
        )
        bind_adapter(self.app, self.adapter)
        await self.app.dispatcher.recover()
        self.dispatcher = asyncio.create_task(
            self.app.dispatcher.run(self.stop_event, self.app.wake, 0.5)
        )
        await self.adapter.start(self.app.handle)
        return self.app

    async def stop(self) -> None:
        if self.adapter is not None:
            await self.adapter.stop()
        self.stop_event.set()
        if self.dispatcher is not None:
            await self.dispatcher
        if self.app is not None:
            await self.app.aclose()


class EchoBot:
    """A bare python-telegram-bot application that repeats every text it receives."""

    def __init__(self, emu: TelegramEmulator) -> None:
        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message = update.effective_message
            if message is not None and message.text:
                await context.bot.send_message(message.chat_id, message.text)

        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(emu.base_url)
            .base_file_url(emu.base_file_url)
            .concurrent_updates(CONCURRENCY)
            .job_queue(None)
            .build()
        )
        self.application.add_handler(MessageHandler(tg_filters.TEXT, echo))

    async def start(self) -> None:
        await self.application.initialize()
        assert self.application.updater is not None
        await self.application.updater.start_polling(timeout=5)
        await self.application.start()

    async def stop(self) -> None:
        assert self.application.updater is not None
        await self.application.updater.stop()
        await self.application.stop()
        await self.application.shutdown()


# --- 1. updates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateFigures:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def people_of(emu: TelegramEmulator, count: int) -> list[User]:
    users = [emu.add_user(FIRST_PERSON + i, f"Person{i}", f"person{i}", "en") for i in range(count)]
    for user in users:
        emu.start_private(user)
    return users


async def closed_loop(
    emu: TelegramEmulator, answers: Answers, users: list[User], total: int
) -> UpdateFigures:
    """Each person sends a command and waits for its answer, until `total` are answered."""
    latencies: list[float] = []
    remaining = [total]

    async def person(index: int) -> None:
        user = users[index]
        turn = 0
        while remaining[0] > 0:
            remaining[0] -= 1
            answered = answers.expect(user.id)
            sent_at = time.perf_counter()
            emu.user_sends(user, None, COMMANDS[(index + turn) % len(COMMANDS)])
            latencies.append(await asyncio.wait_for(answered, 30) - sent_at)
            turn += 1

    started = time.perf_counter()
    await asyncio.gather(*(person(i) for i in range(len(users))))
    return UpdateFigures(total, time.perf_counter() - started, latencies)


async def seed(app: App) -> None:
    now = datetime.now(UTC)
    async with UnitOfWork(app.sessions) as uow:
        await apply_catalogue(uow.session, catalogue_from_data(CATALOGUE, now.date()), now)
        await uow.commit()


@dataclass(frozen=True)
class Rounds:
    """The rounds of one bot; each figure is the median over the rounds (a busy machine
    slows some of them)."""

    runs: list[UpdateFigures]

    @property
    def per_second(self) -> float:
        return statistics.median(run.per_second for run in self.runs)

    def percentile(self, p: float) -> float:
        return statistics.median(run.percentile(p) for run in self.runs)


async def bench_updates(
    url: str, people: int, total: int, rounds: int, core: int | None
) -> tuple[Rounds, Rounds, float, int]:
    """Both bots side by side, each on its own emulator; the rounds alternate between them.
    Returns the figures of each, the median of the per-round throughput ratios, and how many
    events the full stack let into its core at once."""
    async with (
        TelegramEmulator(TOKEN, BOT, rate_limits=RateLimits.off()) as full_emu,
        TelegramEmulator(TOKEN, BOT, rate_limits=RateLimits.off()) as echo_emu,
    ):
        full_answers, echo_answers = Answers(), Answers()
        full_answers.install(full_emu)
        echo_answers.install(echo_emu)
        stack = Stack(full_emu, url, core)
        echo = EchoBot(echo_emu)
        app = await stack.start()
        await echo.start()
        try:
            await seed(app)
            full_people, echo_people = people_of(full_emu, people), people_of(echo_emu, people)
            await closed_loop(full_emu, full_answers, full_people, people * 2)  # warm-up
            await closed_loop(echo_emu, echo_answers, echo_people, people * 2)
            full, bare = [], []
            for _round in range(rounds):
                full.append(await closed_loop(full_emu, full_answers, full_people, total))
                bare.append(await closed_loop(echo_emu, echo_answers, echo_people, total))
        finally:
            await echo.stop()
            await stack.stop()
    ratio = statistics.median(f.per_second / b.per_second for f, b in zip(full, bare, strict=True))
    return Rounds(full), Rounds(bare), ratio, stack.core or CONCURRENCY


# --- 2. fan-out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOutFigures:
    expected: int
    delivered: int
    seconds: float
    first_to_last: float
    count_429: int

    @property
    def rate(self) -> float:
        return self.delivered / self.first_to_last if self.first_to_last > 0 else 0.0

    @property
    def fraction(self) -> float:
        return self.rate / ALLOWED_PER_SECOND


async def audience(app: App, emu: TelegramEmulator, privates: int, groups: int) -> None:
    """`privates` followers of the argan project, and `groups` registered groups."""
    now = datetime.now(UTC)
    async with UnitOfWork(app.sessions) as uow:
        session = uow.session
        project_id = await session.scalar(
            select(Project.id).where(Project.slug == "argan-tafraout")
        )
        for i in range(privates):
            user_id = FIRST_PERSON + 100_000 + i
            emu.start_private(emu.add_user(user_id, f"Follower{i}", f"follower{i}", "en"))
            member = Member(display_name=f"Follower{i}", created_at=now, last_seen_at=now)
            session.add_all(
                [
                    member,
                    MemberIdentity(
                        member=member,
                        platform="telegram",
                        external_id=str(user_id),
                        username=f"follower{i}",
                        display_name=f"Follower{i}",
                        language_code="en",
                        last_seen_at=now,
                    ),
                ]
            )
            await session.flush()
            session.add(Follow(member_id=member.id, project_id=project_id, created_at=now))
        for i in range(groups):
            chat_id = FIRST_GROUP - i
            emu.add_group(chat_id, f"Diaspora {i}", supergroup=True)
            session.add(
                Chat(
                    platform="telegram",
                    external_id=str(chat_id),
                    title=f"Diaspora {i}",
                    tags=["souss-massa"],
                    registered=True,
                    active=True,
                    created_at=now,
                )
            )
        await uow.commit()


async def bench_fan_out(url: str, privates: int, groups: int) -> FanOutFigures:
    async with TelegramEmulator(TOKEN, BOT) as emu:  # Telegram's limits, enforced
        answers = Answers()
        answers.install(emu)
        stack = Stack(emu, url)
        app = await stack.start()
        try:
            await seed(app)
            await audience(app, emu, privates, groups)
            leader = emu.add_user(LEADER, "Hassan", "hassan", "en")
            emu.start_private(leader)
            async with app.sessions() as session:
                need = await session.scalar(select(Need.id).order_by(Need.id).limit(1))
            targets = {FIRST_PERSON + 100_000 + i for i in range(privates)}
            targets |= {FIRST_GROUP - i for i in range(groups)}
            mark = len(answers.times)
            started = time.perf_counter()
            emu.user_sends(
                leader, None, "/update argan-tafraout La presse arrive la semaine prochaine !"
            )
            emu.user_sends(leader, None, f"/announce {need}")

            def delivered() -> int:
                return sum(1 for chat in targets if answers.sent.get(chat))

            deadline = started + FAN_OUT_TIMEOUT
            while delivered() < len(targets) and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            seconds = time.perf_counter() - started
            times = answers.times[mark:]
            # The leader's own two answers are in `times` too; they hardly move the window.
            first_to_last = (times[-1] - times[0]) if len(times) > 1 else 0.0
            return FanOutFigures(len(targets), delivered(), seconds, first_to_last, emu.count_429)
        finally:
            await stack.stop()


# --- main --------------------------------------------------------------------------------------


def fresh_database(directory: Path, name: str) -> str:
    url = f"sqlite+aiosqlite:///{directory / name}"
    migrate.upgrade(url)
    return url


async def run(args: argparse.Namespace, directory: Path) -> int:
    updates_db = await asyncio.to_thread(fresh_database, directory, "updates.db")
    full, bare, ratio, core = await bench_updates(
        updates_db, args.people, args.updates, args.rounds, args.core_concurrency
    )
    print(
        f"\n1. updates: {args.updates} commands from {args.people} people (closed loop), "
        f"{args.rounds} rounds alternating, medians; emulator without send limits; both bots "
        f"take up to {CONCURRENCY} updates at once (the full stack {core} in its core at once)"
    )
    print(f"{'':26}{'updates/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for name, figures in (("cds-bot, full stack", full), ("bare PTB echo bot", bare)):
        print(
            f"{name:26}{figures.per_second:10.1f}{figures.percentile(50):9.1f}"
            f"{figures.percentile(99):9.1f}"
        )
    print(f"ratio full stack / echo bot (updates/s): {ratio:.2f}")

    fan_db = await asyncio.to_thread(fresh_database, directory, "fan_out.db")
    fan = await bench_fan_out(fan_db, args.privates, args.groups)
    print(
        f"\n2. fan-out: news to {args.privates} private chats and an announcement in "
        f"{args.groups} groups, emulator enforcing Telegram's limits"
    )
    print(
        f"delivered {fan.delivered}/{fan.expected} in {fan.seconds:.1f} s "
        f"(first to last send {fan.first_to_last:.1f} s): {fan.rate:.1f} messages/s of "
        f"{ALLOWED_PER_SECOND:.0f} allowed = {fan.fraction:.2f} (target >= 0.90); "
        f"429 responses: {fan.count_429} (target 0)"
    )
    ok = fan.delivered == fan.expected and fan.count_429 == 0 and fan.fraction >= 0.9
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=1000, help="per round")
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--core-concurrency",
        type=int,
        default=None,
        help="events in the core at once (default: the adapter's, 1 on SQLite)",
    )
    parser.add_argument("--privates", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as directory:
        NetworkGuard().install(patch)
        return asyncio.run(run(args, Path(directory)))


if __name__ == "__main__":
    raise SystemExit(main())
