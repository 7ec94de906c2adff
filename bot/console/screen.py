"""The terminal as a chat window: what is printed where, and which button each number means.

Each place a message can appear in (a persona's private chat, a console group) is a view,
named by its `Target`. Messages for the view you are in print plainly; the others print
under a header (`-> to hassan (private):`, `-> in #souss-massa:`), indented. Buttons are numbered
across everything shown in one view in answer to one event, so a number typed afterwards
means exactly one button.
"""

from __future__ import annotations

import logging
from typing import TextIO

from bot.console.render import header, render
from handlers.chat import Button, Message, MessageRef, Outgoing, Platform, Target

logger = logging.getLogger(__name__)

INDENT = "  "


def private_view(persona: str) -> Target:
    return Target(Platform.CONSOLE, persona, True)


def group_view(group: str) -> Target:
    return Target(Platform.CONSOLE, group, False)


class Screen:
    """Prints messages and remembers the numbered buttons of the latest answer per view."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.current = private_view("me")
        self._batch = 0
        self._buttons: dict[Target, tuple[int, list[Button]]] = {}

    def new_batch(self) -> None:
        """A new event: the next message shown in a view numbers its buttons from 1 again."""
        self._batch += 1

    def show(self, view: Target, out: Outgoing, *, edited: str | None = None) -> None:
        batch, numbered = self._buttons.get(view, (-1, []))
        if batch != self._batch:
            numbered = []
        rendered = render(out, first_number=len(numbered) + 1)
        if view != self.current or edited is not None:
            # Indented under its header, so that it reads apart from your own conversation.
            self.write(header(view, edited))
            self.write("\n".join(INDENT + line for line in rendered.text.split("\n")))
        else:
            self.write(rendered.text)
        self.write("")
        if rendered.buttons:
            self._buttons[view] = (self._batch, [*numbered, *rendered.buttons])
        elif batch != self._batch:
            # The latest message there has no buttons: older numbers no longer apply.
            self._buttons.pop(view, None)

    def button(self, view: Target, number: int) -> Button | None:
        """The button numbered `number` in the latest answer shown in `view`, if any."""
        _batch, numbered = self._buttons.get(view, (-1, []))
        if 1 <= number <= len(numbered):
            return numbered[number - 1]
        return None

    def note(self, text: str) -> None:
        """A line from the console itself (not from the bot)."""
        self.write(f"({text})")

    def write(self, text: str) -> None:
        try:
            self.out.write(text + "\n")
        except UnicodeEncodeError:
            encoding = getattr(self.out, "encoding", None) or "ascii"
            self.out.write(text.encode(encoding, "replace").decode(encoding) + "\n")
        self.out.flush()

    def prompt(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


class ConsoleMessenger:
    """The console's `Messenger`: deliveries from the outbox are printed where they go."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.last_id = 0

    async def send(self, target: Target, message: Outgoing) -> str:
        self.last_id += 1
        self.screen.show(target, message)
        return str(self.last_id)

    async def edit(self, ref: MessageRef, message: Message) -> None:
        self.screen.show(ref.target, message, edited=ref.message_id)
