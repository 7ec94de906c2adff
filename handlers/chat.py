"""The neutral chat vocabulary: what every adapter translates to and from.

Nothing here knows a platform. Adapters turn platform updates into `Event`s and render
`Outgoing` messages natively; handlers only ever see and produce these types.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


class Platform(enum.StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    CONSOLE = "console"


# --- rich text -----------------------------------------------------------------------------

SpanKind = Literal["plain", "bold", "italic", "link", "code"]


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one style; renderers escape `text` for their platform."""

    text: str
    kind: SpanKind = "plain"
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Rich:
    """Text built from spans, never from a platform's markup."""

    spans: tuple[Span, ...] = ()

    def __add__(self, other: Rich | Span | str) -> Rich:
        return Rich(self.spans + Rich.of(other).spans)

    def __radd__(self, other: Span | str) -> Rich:
        return Rich.of(other) + self

    @staticmethod
    def of(value: Rich | Span | str) -> Rich:
        if isinstance(value, Rich):
            return value
        if isinstance(value, Span):
            return Rich((value,))
        return Rich((Span(value),))

    @staticmethod
    def join(parts: Iterable[Rich | Span | str], sep: str = "\n") -> Rich:
        out: list[Span] = []
        for index, part in enumerate(parts):
            if index and sep:
                out.append(Span(sep))
            out.extend(Rich.of(part).spans)
        return Rich(tuple(out))

    @property
    def plain(self) -> str:
        """The text without styles: what a length check or a console sees."""
        return "".join(span.text for span in self.spans)


def bold(text: str) -> Span:
    return Span(text, "bold")


def italic(text: str) -> Span:
    return Span(text, "italic")


def code(text: str) -> Span:
    return Span(text, "code")


def link(text: str, url: str) -> Span:
    return Span(text, "link", url)


# --- who and where -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    """A person as a platform knows them."""

    platform: Platform
    user_id: str
    username: str | None = None
    display_name: str = ""
    language_code: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform.value}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event happened: a private chat with the bot, or a group/channel."""

    platform: Platform
    chat_id: str
    private: bool
    title: str | None = None
    # True where the platform can answer one person privately in place (Discord ephemeral
    # messages): personal flows then stay here instead of moving to the private chat.
    whisper: bool = False


@dataclass(frozen=True, slots=True)
class Actor:
    """The member behind an event, once the core has resolved them."""

    member_id: int
    identity: Identity
    display_name: str
    locale: str
    roles: frozenset[str]


# --- incoming ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    @property
    def rest(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    reply_to: str | None = None  # the bot's message this answers (a reply in a group)


@dataclass(frozen=True, slots=True)
class Press:
    """A button or a select; `payload` is the adapter-decoded button data, never trusted."""

    action: str
    args: tuple[str, ...] = ()
    value: str | None = None  # the chosen option of a select menu


@dataclass(frozen=True, slots=True)
class FormSubmit:
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Vote:
    """A member's answer to a native poll the bot sent; `poll_ref` is the platform's
    reference recorded on the delivery (its `external_ref`, else its message id)."""

    poll_ref: str
    choices: tuple[int, ...]


Incoming = Command | Text | Press | FormSubmit | Vote


# --- what happens to a group or channel itself ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatJoined:
    """The bot was added to a group or channel."""

    title: str = ""


@dataclass(frozen=True, slots=True)
class ChatLeft:
    """The bot was removed, or the group or channel was deleted."""


@dataclass(frozen=True, slots=True)
class ChatMoved:
    """The group got a new id (a Telegram group upgraded to a supergroup)."""

    new_chat_id: str


ChatChange = ChatJoined | ChatLeft | ChatMoved


@dataclass(frozen=True, slots=True)
class Event:
    identity: Identity
    place: Place
    incoming: Incoming


# --- outgoing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    """A button: an action with arguments, or a link.

    `private_start` marks a button that must open a private conversation: in a Telegram group
    the adapter renders it as a deep link `?start=<private_start>` instead of a callback.
    """

    label: str
    action: str = ""
    args: tuple[str, ...] = ()
    url: str | None = None
    private_start: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a message goes: a member's private chat or a chat, on one platform."""

    platform: Platform
    chat_id: str
    private: bool

    @property
    def key(self) -> str:
        kind = "user" if self.private else "chat"
        return f"{self.platform.value}:{kind}:{self.chat_id}"

    @staticmethod
    def parse(key: str) -> Target:
        platform, kind, chat_id = key.split(":", 2)
        return Target(Platform(platform), chat_id, kind == "user")


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a select menu (Discord) or a button (elsewhere)."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Message:
    """A message; `buttons` are rows. `expects_text` hints the adapter to collect free text
    (a Discord modal) with at most `max_length` characters."""

    text: Rich
    buttons: tuple[tuple[Button, ...], ...] = ()
    to: Target | None = None
    private: bool = False
    expects_text: int | None = None
    text_label: str = ""


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message the bot sent, as the platform identifies it."""

    target: Target
    message_id: str


@dataclass(frozen=True, slots=True)
class Edit:
    ref: MessageRef
    message: Message


@dataclass(frozen=True, slots=True)
class Poll:
    question: str
    options: tuple[str, ...]
    to: Target | None = None


@dataclass(frozen=True, slots=True)
class Image:
    png: bytes
    caption: Rich = field(default_factory=Rich)
    to: Target | None = None


@dataclass(frozen=True, slots=True)
class Document:
    data: bytes
    filename: str
    caption: Rich = field(default_factory=Rich)
    to: Target | None = None


Outgoing = Message | Edit | Poll | Image | Document


def rows(*buttons: Button, width: int = 2) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out in rows of `width`."""
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))


# --- ports ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """What a send produced: the message id, and another reference where the platform has
    one (Telegram reports poll votes by poll id, not by message id)."""

    message_id: str | None
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SendRates:
    """How fast a platform lets a bot send; the outbox paces itself within these.

    `private` and `group` are (messages, seconds) per chat."""

    per_second: float
    private: tuple[int, float]
    group: tuple[int, float]


class Messenger(Protocol):
    """Sends on one platform; implemented by each adapter (which may also set a `rates:
    SendRates` attribute for the outbox to pace itself by)."""

    async def send(self, target: Target, message: Outgoing) -> str | Sent | None:
        """Send and return the platform message id (None when the platform gives none), or a
        `Sent` when the platform gives a second reference (a Telegram poll's id)."""
        ...

    async def edit(self, ref: MessageRef, message: Message) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


# --- what a Messenger may raise ---------------------------------------------------------------


class DeliveryError(Exception):
    """A send that did not go through; the outbox records why."""


class Unreachable(DeliveryError):
    """The person cannot be written to privately (blocked the bot, never started it, DMs
    closed). The identity is marked unreachable; nothing is retried."""


class RetryLater(DeliveryError):
    """Rate limited or a passing fault: try again after `seconds` (at least).

    `global_pause`: the platform limited the whole bot, not one chat (a global 429), so the
    outbox pauses every send on that platform, not only this chat's."""

    def __init__(self, reason: str, seconds: float, *, global_pause: bool = False) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.global_pause = global_pause


class SendFailed(DeliveryError):
    """Refused for good (chat gone, missing permission, invalid message)."""


class NotPermitted(SendFailed):
    """The bot lacks a permission in that chat: the community manager is told once and the
    chat's other pending messages are not attempted in a loop."""


class OutcomeUnknown(DeliveryError):
    """A timeout hid the outcome: it may have been sent, so it is never sent again."""
