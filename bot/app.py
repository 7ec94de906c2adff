"""The composition root: builds the engine, the services, the router and the dispatcher.

Nothing connects at import time: `build_app` creates everything, `async with app:` releases
it. The adapters (console, Telegram, Discord) are wired here: they receive `app.handle` and
give the dispatcher one `Messenger` per platform. `run` is `cds-bot run`; `run_console` is
`cds-bot console`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import inspect
import logging
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, TextIO

from sqlalchemy import Integer, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings, community_from
from bot.console import CONSOLE_HELP, NAME, Console, ConsoleMessenger, Screen
from handlers import charts, core, groups, suggest
from handlers.chat import ChatChange, Clock, Event, Identity, Messenger, Outgoing, Place, Platform
from handlers.context import Community, Services, SystemClock
from handlers.core import Router
from schedules.engine import CampaignEngine, EngineSettings
from schedules.outbox import Dispatcher
from schedules.plans import Respect
from schedules.reminders import remind_overdue, run_reminders
from store.db import create_engine, session_factory
from store.models import Delivery, DeliveryStatus, MemberIdentity

logger = logging.getLogger(__name__)

NO_PLATFORM = (
    "no platform configured: set CDS_TELEGRAM__TOKEN or CDS_DISCORD__TOKEN, "
    "or try `cds-bot console --demo`"
)
# Exit status when the runtime cannot start (nothing to connect to, bad arguments).
EXIT_NOT_CONFIGURED = 2
DEMO_PERSONA = "alice"
DEFAULT_PERSONA = "me"


class App:
    """Everything one running bot needs, wired together."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        services: Services,
        router: Router,
        dispatcher: Dispatcher,
        wake: asyncio.Event,
        campaigns: CampaignEngine | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.services = services
        self.router = router
        self.dispatcher = dispatcher
        # Set whenever an event queued deliveries, so the dispatcher sends them at once.
        self.wake = wake
        # The campaign scheduler (`services.scheduler`); started by `run` and `run_console`.
        self.campaigns = campaigns

    @property
    def community(self) -> Community:
        return self.services.community

    async def handle(self, event: Event) -> list[Outgoing]:
        """One event through the core: what to answer where it happened."""
        return await core.handle(self.services, self.router, event)

    async def chat_changed(self, place: Place, change: ChatChange) -> None:
        """The bot was added to or removed from a group, or the group got a new id."""
        await groups.chat_changed(self.services, place, change)

    async def chats_present(
        self,
        platform: Platform,
        present: frozenset[str],
        still_there: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        """The chats the bot sees after connecting: those gone while it was offline (as
        `still_there` confirms, one by one) are left."""
        await groups.chats_present(self.services, platform, present, still_there)

    async def suggest(self, identity: Identity, kind: str, typed: str) -> list[tuple[str, str]]:
        """Projects or needs matching what a member has typed so far (autocomplete)."""
        return await suggest.suggest(self.services, identity, kind, typed)

    async def mark_unreachable(self, identity: Identity) -> None:
        """The platform refused a private message to `identity` (never started, blocked):
        remember it until they write again, so that what waits for them is held for them."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(MemberIdentity)
                .where(
                    MemberIdentity.platform == identity.platform.value,
                    MemberIdentity.external_id == identity.user_id,
                )
                .values(unreachable=True)
            )

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def engine_settings(settings: Settings) -> EngineSettings:
    """The campaign engine's settings from the `[campaigns]` section."""
    section = settings.campaigns
    return EngineSettings(
        grace=timedelta(minutes=section.grace_minutes),
        respect=Respect(
            cap_messages=section.cap_messages,
            cap_days=section.cap_days,
            quiet_hours=section.quiet_hours,
            digest_soon_days=section.digest_soon_days,
        ),
        progress_seconds=section.progress_seconds,
        resync_seconds=section.resync_seconds,
    )


async def build_app(
    settings: Settings,
    *,
    messengers: Mapping[Platform, Messenger],
    clock: Clock | None = None,
    community: Community | None = None,
) -> App:
    """Build the app for `settings`; nothing is sent until someone drains the outbox."""
    from handlers.routes import ROUTER  # imports every feature module

    clock = clock or SystemClock()
    engine = create_engine(settings.database.url)
    sessions = session_factory(engine)
    wake = asyncio.Event()

    def outbox_written() -> None:
        wake.set()

    services = Services(
        sessions=sessions,
        community=community or community_from(settings),
        clock=clock,
        on_outbox=outbox_written,
    )
    dispatcher = Dispatcher(
        sessions,
        messengers,
        clock,
        batch_size=settings.outbox.batch_size,
        lease_seconds=settings.outbox.lease_seconds,
        # Told when the bot may not post in a chat (with the members granted the cm role).
        community_managers=services.community.community_managers | services.community.admins,
        default_language=services.community.default_language,
    )
    campaigns = CampaignEngine(
        sessions, services.community, clock, engine_settings(settings), on_outbox=outbox_written
    )
    services.scheduler = campaigns
    return App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        services=services,
        router=ROUTER,
        dispatcher=dispatcher,
        wake=wake,
        campaigns=campaigns,
    )


# --- the long-running bot ------------------------------------------------------------------


Handle = Callable[[Event], Awaitable[list[Outgoing]]]


class PlatformAdapter(Protocol):
    """What `run` expects of `bot.<platform>.create_adapter(settings)`.

    `messenger` is given to the dispatcher; `start(handle)` connects and routes each platform
    update, as a neutral event, to `handle` (the core's entry point); `stop()` disconnects.
    An adapter imports only `handlers`, so it is handed callables, never the `App`.
    """

    platform: Platform
    messenger: Messenger

    async def start(self, handle: Handle) -> None: ...

    async def stop(self) -> None: ...


def bind_adapter(app: App, adapter: PlatformAdapter) -> None:
    """Give an adapter the core's entry points for what is not a member's event, those its
    `bind` takes (`bind(chat_changed=..., chats_present=..., mark_unreachable=..., ...)`)."""
    bind = getattr(adapter, "bind", None)
    if bind is None:
        return
    ports: dict[str, Callable[..., Awaitable[Any]]] = {
        "chat_changed": app.chat_changed,
        "chats_present": app.chats_present,
        "mark_unreachable": app.mark_unreachable,
        "suggest": app.suggest,
    }
    accepted = inspect.signature(bind).parameters
    bind(**{name: port for name, port in ports.items() if name in accepted})


def enabled_platforms(settings: Settings) -> list[Platform]:
    platforms = []
    if settings.telegram.enabled:
        platforms.append(Platform.TELEGRAM)
    if settings.discord.enabled:
        platforms.append(Platform.DISCORD)
    return platforms


def _load_adapter(settings: Settings, platform: Platform) -> PlatformAdapter | None:
    try:
        module = importlib.import_module(f"bot.{platform.value}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bot.{platform.value}":
            raise
        return None
    factory = getattr(module, "create_adapter", None)
    if factory is None:
        return None
    adapter: PlatformAdapter = factory(settings)
    return adapter


async def run(settings: Settings) -> int:
    """Run the bot on every configured platform until SIGINT/SIGTERM; returns the exit status."""
    platforms = enabled_platforms(settings)
    if not platforms:
        print(NO_PLATFORM, file=sys.stderr)
        return EXIT_NOT_CONFIGURED
    adapters: list[PlatformAdapter] = []
    for platform in platforms:
        adapter = _load_adapter(settings, platform)
        if adapter is None:
            print(
                f"the {platform.value} adapter is not available in this version; "
                f"unset CDS_{platform.value.upper()}__TOKEN or try `cds-bot console --demo`",
                file=sys.stderr,
            )
            return EXIT_NOT_CONFIGURED
        adapters.append(adapter)

    app = await build_app(
        settings, messengers={adapter.platform: adapter.messenger for adapter in adapters}
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every OS
            loop.add_signal_handler(sig, stop.set)
    async with app:
        campaigns = app.campaigns
        if campaigns is not None:
            await campaigns.start()
        started: list[PlatformAdapter] = []
        dispatcher = asyncio.create_task(
            app.dispatcher.run(stop, app.wake, settings.outbox.poll_seconds),
            name="outbox-dispatcher",
        )
        # Offers waiting for an answer: remind the leaders, tell the CMs, release (once each).
        reminders = asyncio.create_task(run_reminders(app.services, stop), name="offer-reminders")
        charts_ready = asyncio.create_task(_prepare_charts(), name="charts-warm-up")
        try:
            for adapter in adapters:
                bind_adapter(app, adapter)
                await adapter.start(app.handle)
                started.append(adapter)
                logger.info("%s adapter started", adapter.platform.value)
            await stop.wait()
        finally:
            stop.set()
            for adapter in reversed(started):
                try:
                    await adapter.stop()
                except Exception:
                    logger.exception("the %s adapter failed to stop", adapter.platform.value)
            if campaigns is not None:
                await campaigns.stop()
            await reminders
            await dispatcher
            await charts_ready
    return 0


async def _prepare_charts() -> None:
    """Load matplotlib in a worker thread while the bot starts (a failure only costs the
    first /stats that second)."""
    try:
        await asyncio.to_thread(charts.prepare)
    except Exception:
        logger.warning("could not prepare the charts ahead of time", exc_info=True)


# --- the console ----------------------------------------------------------------------------


async def run_console(
    settings: Settings,
    *,
    as_name: str | None = None,
    demo: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the console until the end of input or `/quit`; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    screen = Screen(stdout)
    persona = (as_name or (DEMO_PERSONA if demo else DEFAULT_PERSONA)).lower()
    if not NAME.fullmatch(persona):
        print(f"--as {as_name!r}: use letters, digits, '.', '_' or '-'", file=sys.stderr)
        return EXIT_NOT_CONFIGURED
    community = community_from(settings, demo=demo)
    if demo:
        community = dataclasses.replace(
            community,
            community_managers=community.community_managers | {f"console:{DEMO_PERSONA}"},
        )
    messenger = ConsoleMessenger(screen)
    clock = ConsoleClock()
    app = await build_app(
        settings, messengers={Platform.CONSOLE: messenger}, community=community, clock=clock
    )
    async with app:
        messenger.last_id = await _last_console_message_id(app)
        if demo:
            screen.write(
                f"*** DEMO community: sample projects and people, nothing here is real. "
                f"Data: {settings.database.safe_url}. {DEMO_PERSONA} is a community manager. ***"
            )
            from bot.demo import seed_demo

            await seed_demo(app.sessions, app.services.now(), community.timezone)
        else:
            screen.write(f"{community.name}: console, talking to the bot as {persona}.")
        screen.note(CONSOLE_HELP)
        console = Console(
            app.handle, app.dispatcher.drain, screen, persona, clock=clock_control(app, clock)
        )
        campaigns = app.campaigns
        if campaigns is not None:
            # A campaign firing on its own timer is shown when the console is idle.
            campaigns.on_outbox = console.flush_soon
            await campaigns.start()
        try:
            await console.flush_outbox()
            return await console.loop(stdin)
        finally:
            if campaigns is not None:
                await campaigns.stop()


class ConsoleClock:
    """The console's clock: the system's, moved forward by `/clock +3d` to watch campaigns
    fire (what the bot does at that time, it does as the clock passes it)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


JUMP = re.compile(r"\+\s*(\d{1,4})\s*([dhm])")
JUMP_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_jump(text: str) -> timedelta | None:
    """ "+3d", "+2h", "+30m" (several may follow each other: "+1d +2h")."""
    text = text.strip()
    if not text:
        return None
    total = timedelta(0)
    position = 0
    for match in JUMP.finditer(text):
        if text[position : match.start()].strip():
            return None
        total += timedelta(**{JUMP_UNITS[match.group(2)]: int(match.group(1))})
        position = match.end()
    if text[position:].strip() or total <= timedelta(0):
        return None
    return total


def clock_control(app: App, clock: ConsoleClock) -> Callable[[str], Awaitable[str]]:
    """What `/clock` does in the console: show the bot's time, or move it forward and fire
    the campaigns that became due."""
    tz = app.community.tz

    def shown(at: datetime) -> str:
        return at.astimezone(tz).strftime(f"%a %Y-%m-%d %H:%M ({app.community.timezone})")

    async def control(argument: str) -> str:
        if not argument.strip():
            return f"the bot's clock: {shown(clock.now())}"
        jump = parse_jump(argument)
        if jump is None:
            return "usage: /clock, or /clock +3d, +2h, +30m to move the bot's clock forward"
        before = clock.now()
        clock.advance(jump)
        fired = 0
        if app.campaigns is not None:
            fired = await app.campaigns.clock_moved(before)
        runs = f"{fired} campaign run(s) fired" if fired else "no campaign was due"
        reminded = await remind_overdue(app.services)  # offers left unanswered meanwhile
        if reminded:
            runs += f"; {reminded} offer reminder stage(s) applied"
        return f"the bot's clock: {shown(clock.now())}; {runs}"

    return control


async def _last_console_message_id(app: App) -> int:
    """Message ids go on from the last session's, so that an edit names the right one."""
    async with app.sessions() as session:
        last = await session.scalar(
            select(func.max(cast(Delivery.message_id, Integer))).where(
                Delivery.platform == Platform.CONSOLE.value,
                Delivery.status == DeliveryStatus.SENT.value,
            )
        )
    return int(last or 0)
