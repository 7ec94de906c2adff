"""The emulated world as data: users, chats, the bot's messages, recorded calls, API errors.

Plain dataclasses that render themselves as Bot API objects; what the emulator does with them
lives in the other modules of the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
ChatType = Literal["private", "group", "supergroup"]
BotStatus = Literal["member", "administrator", "left", "kicked"]


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class User:
    """A Telegram account that talks to the bot."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "fr"
    last_name: str | None = None
    is_bot: bool = False

    def to_dict(self) -> JSON:
        """The `User` object of the Bot API."""
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class Chat:
    """A private chat with one user, or a group or supergroup the bot may belong to."""

    id: int
    type: ChatType
    title: str | None = None
    user: User | None = None
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    creator: int | None = None
    bot_status: BotStatus = "member"
    started: bool = False
    blocked: bool = False
    migrated_to: int | None = None
    username: str | None = None

    def to_dict(self) -> JSON:
        """The `Chat` object of the Bot API."""
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class Revision:
    """One earlier state of a message the bot edited."""

    method: str
    text: str | None
    entities: list[JSON]
    caption: str | None
    reply_markup: JSON | None
    at: float


@dataclass
class SentMessage:
    """A message the bot posted, in its current state, with the history of its edits."""

    method: str
    chat_id: int
    message_id: int
    date: int
    params: JSON
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    parse_mode: str | None = None
    caption: str | None = None
    caption_entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    poll: JSON | None = None
    photo: bytes | None = None
    document: bytes | None = None
    file_id: str | None = None
    file_name: str | None = None
    reply_to_message_id: int | None = None
    history: list[Revision] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False

    @property
    def buttons(self) -> list[JSON]:
        """Every inline keyboard button, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def callback_data(self) -> list[str]:
        """The `callback_data` of every inline button."""
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def button(self, label: str) -> JSON:
        """The inline button whose text is `label` (KeyError if there is none)."""
        for candidate in self.buttons:
            if candidate.get("text") == label:
                return candidate
        raise KeyError(f"no button {label!r} on message {self.message_id}")


@dataclass
class UploadedFile:
    """A file the bot uploaded with multipart/form-data."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One HTTP call the bot made, with its decoded parameters and the answer it got."""

    method: str
    params: JSON
    files: dict[str, UploadedFile]
    at: float
    http_method: str = "POST"
    status: int | None = None
    description: str | None = None
    parameters: JSON | None = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class CallbackQuery:
    """A press on an inline button, and how the bot answered it."""

    created: float
    user: User
    message: SentMessage
    data: str
    answer: JSON | None = None
