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
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Protocol, TextIO

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings, community_from
from bot.console import CONSOLE_HELP, NAME, Console, ConsoleMessenger, Screen
from handlers import core
from handlers.chat import Clock, Event, Messenger, Outgoing, Platform
from handlers.context import Community, Services, SystemClock
from handlers.core import Router
from schedules.outbox import Dispatcher
from store.db import create_engine, session_factory
from store.models import Delivery, DeliveryStatus

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
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.services = services
        self.router = router
        self.dispatcher = dispatcher
        # Set whenever an event queued deliveries, so the dispatcher sends them at once.
        self.wake = wake

    @property
    def community(self) -> Community:
        return self.services.community

    async def handle(self, event: Event) -> list[Outgoing]:
        """One event through the core: what to answer where it happened."""
        return await core.handle(self.services, self.router, event)

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
    dispatcher = Dispatcher(sessions, messengers, clock, batch_size=settings.outbox.batch_size)
    return App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        services=services,
        router=ROUTER,
        dispatcher=dispatcher,
        wake=wake,
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
        await app.dispatcher.recover()
        started: list[PlatformAdapter] = []
        dispatcher = asyncio.create_task(
            app.dispatcher.run(stop, app.wake, settings.outbox.poll_seconds),
            name="outbox-dispatcher",
        )
        try:
            for adapter in adapters:
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
            await dispatcher
    return 0


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
    app = await build_app(settings, messengers={Platform.CONSOLE: messenger}, community=community)
    async with app:
        messenger.last_id = await _last_console_message_id(app)
        if demo:
            screen.write(
                f"*** DEMO community: sample projects and people, nothing here is real. "
                f"Data: {settings.database.safe_url}. {DEMO_PERSONA} is a community manager. ***"
            )
            from bot.demo import seed_demo

            await seed_demo(app.sessions, app.services.now())
        else:
            screen.write(f"{community.name}: console, talking to the bot as {persona}.")
        screen.note(CONSOLE_HELP)
        console = Console(app.handle, app.dispatcher.drain, screen, persona)
        await app.dispatcher.recover()
        await console.flush_outbox()
        return await console.loop(stdin)


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
