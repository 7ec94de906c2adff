"""The console adapter proper: lines typed in, neutral events out, answers printed.

It knows only the neutral vocabulary: it is given the core's entry point (`handle`) and the
outbox's (`drain`) by `bot.app.run_console`, which wires the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.console.screen import Screen, group_view, private_view
from handlers.buttons import decode
from handlers.chat import (
    Button,
    Command,
    Edit,
    Event,
    Identity,
    Incoming,
    Outgoing,
    Place,
    Platform,
    Press,
    Target,
    Text,
)

logger = logging.getLogger(__name__)

Handle = Callable[[Event], Awaitable[list[Outgoing]]]
Drain = Callable[[], Awaitable[int]]
# `/clock` (show the bot's time) and `/clock +3d` (move it forward): given by the app.
ClockControl = Callable[[str], Awaitable[str]]
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
CONSOLE_HELP = (
    "console: /as NAME to be someone else, /in GROUP to enter a group (/in private to leave), "
    "a number to press a button, /press PAYLOAD to send a raw button, /clock +3d to move the "
    "bot's clock forward (campaigns fire), /quit to leave"
)


class Console:
    """One terminal session: who you are, where you are; events go to `handle`, and
    `drain` sends (prints) what they queued in the outbox."""

    def __init__(
        self,
        handle: Handle,
        drain: Drain,
        screen: Screen,
        persona: str,
        *,
        clock: ClockControl | None = None,
    ) -> None:
        self.handle = handle
        self.drain = drain
        self.screen = screen
        self.persona = persona
        self.clock = clock
        self.group: str | None = None
        self._busy = False
        self._background: set[asyncio.Task[None]] = set()
        self._sync_view()

    # --- who and where -----------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        name = self.persona
        return Identity(Platform.CONSOLE, name, name, name.capitalize())

    @property
    def private_place(self) -> Place:
        return Place(Platform.CONSOLE, self.persona, True)

    @property
    def place(self) -> Place:
        if self.group is None:
            return self.private_place
        return Place(Platform.CONSOLE, self.group, False, self.group)

    @property
    def prompt(self) -> str:
        where = "private" if self.group is None else f"#{self.group}"
        return f"{self.persona}@{where}> "

    def _sync_view(self) -> None:
        self.screen.current = (
            private_view(self.persona) if self.group is None else group_view(self.group)
        )

    # --- input -------------------------------------------------------------------------------

    async def loop(self, stdin: TextIO) -> int:
        """Read lines until the end of input or `/quit`; returns the exit status."""
        interactive = stdin.isatty()
        # A terminal gets line editing and history through `input` (with readline, where
        # the platform has it); anything else is read line by line, without a prompt.
        use_input = interactive and stdin is sys.stdin and self.screen.out is sys.stdout
        if use_input:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401
        while True:
            if use_input:
                try:
                    line = await asyncio.to_thread(input, self.prompt)
                except EOFError:
                    line = ""
                else:
                    line += "\n"
            else:
                if interactive:
                    self.screen.prompt(self.prompt)
                line = await asyncio.to_thread(stdin.readline)
            if not line:  # end of input
                if interactive:
                    self.screen.write("")
                return 0
            if not await self.feed(line.rstrip("\r\n")):
                return 0

    async def feed(self, line: str) -> bool:
        """One line of input; False when it asks to leave."""
        stripped = line.strip()
        if not stripped:
            return True
        if stripped.startswith("/") and len(stripped) > 1:
            name, _sep, rest = stripped[1:].partition(" ")
            name = name.lower()
            if name == "quit":
                return False
            if name == "as":
                self._switch_persona(rest.strip())
                return True
            if name == "in":
                self._enter(rest.strip())
                return True
            if name == "press":
                await self._press_payload(rest.strip())
                return True
            if name == "clock" and self.clock is not None:
                await self._clock(rest)
                return True
            await self.send(Command(name, tuple(rest.split())))
            return True
        if stripped.isdigit():
            button = self.screen.button(self.screen.current, int(stripped))
            if button is not None:
                await self.press(button)
                return True
        await self.send(Text(line))
        return True

    def _switch_persona(self, name: str) -> None:
        name = name.lower().removeprefix("@")
        if not NAME.fullmatch(name):
            self.screen.note("usage: /as NAME (letters, digits, '.', '_' or '-')")
            return
        self.persona = name
        self._sync_view()
        self.screen.note(f"you are now {name}, {self._where()}")

    def _enter(self, group: str) -> None:
        group = group.removeprefix("#").lower()
        if not group:
            self.screen.note("usage: /in GROUP, or /in private")
            return
        if group == "private":
            self.group = None
        elif not NAME.fullmatch(group):
            self.screen.note("a group name uses letters, digits, '.', '_' or '-'")
            return
        else:
            self.group = group
        self._sync_view()
        self.screen.note(f"{self.persona}, {self._where()}")

    def _where(self) -> str:
        return "in the private chat" if self.group is None else f"in #{self.group}"

    async def _press_payload(self, payload: str) -> None:
        press = decode(payload)
        if press is None:
            self.screen.note("not a button payload (expected 1|action|args...)")
            return
        await self.send(press)

    async def press(self, button: Button) -> None:
        """What pressing `button` does: an action here, a private start, or a link."""
        if button.action:
            await self.send(Press(button.action, button.args))
        elif button.private_start:
            await self.send(Command("start", (button.private_start,)), self.private_place)
        elif button.url:
            self.screen.note(f"opens {button.url}")

    # --- the bot -----------------------------------------------------------------------------

    async def send(self, incoming: Incoming, place: Place | None = None) -> None:
        """One event from the current persona; print the answers, then the deliveries."""
        place = place or self.place
        self.screen.new_batch()
        self._busy = True
        try:
            answers = await self.handle(Event(self.identity, place, incoming))
            here = Target(Platform.CONSOLE, place.chat_id, place.private)
            for out in answers:
                self._show(out, here)
            await self.flush_outbox()
        finally:
            self._busy = False

    def _show(self, out: Outgoing, here: Target) -> None:
        if isinstance(out, Edit):
            self.screen.show(out.ref.target, out, edited=out.ref.message_id)
            return
        self.screen.show(out.to or here, out)

    async def _clock(self, argument: str) -> None:
        self.screen.new_batch()
        self._busy = True
        try:
            self.screen.note(await self.clock(argument) if self.clock else "")
            await self.flush_outbox()
        finally:
            self._busy = False

    def flush_soon(self) -> None:
        """Something was queued outside any input (a campaign's timer): show it now, unless
        an input is being handled (its own flush will show it)."""
        if self._busy:
            return
        task = asyncio.get_running_loop().create_task(self.flush_outbox())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush_outbox(self) -> None:
        try:
            await self.drain()
        except Exception:
            logger.exception("could not drain the outbox")
            self.screen.note("some notifications could not be shown; see the log")
