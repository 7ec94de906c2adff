"""A Telegram Bot API emulator: a real HTTP server on 127.0.0.1 for the real python-telegram-bot.

Point the client at it and script a small world of users, private chats and groups::

    async with TelegramEmulator(token="123:ABC", bot_username="cds_test_bot") as emu:
        app = (
            ApplicationBuilder()
            .token(emu.token)
            .base_url(emu.base_url)
            .base_file_url(emu.base_file_url)
            .build()
        )
        alice = emu.add_user(1001, "Alice", username="alice")
        emu.start_private(alice)
        emu.user_sends(alice, alice.id, "/start")
        reply = await emu.wait_for(lambda m: m.chat_id == alice.id)

The emulator answers with Telegram's own error bodies (so the client raises the same
exceptions it would in production), enforces the documented limits and the send rate limits,
and can inject faults (`fail_next`). Everything the bot sent is kept per chat (`sent`), every
call in `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
T = TypeVar("T")
ChatType = Literal["private", "group", "supergroup"]
BotStatus = Literal["member", "administrator", "left", "kicked"]
FaultKind = Literal[
    "blocked",
    "kicked",
    "chat_not_found",
    "migrated",
    "server_error",
    "flood",
    "slow",
    "drop",
    "lost",
]

#: Form fields that stay strings even when they look like JSON ("123", "true", "null").
TEXT_FIELDS: Final = frozenset(
    {
        "text",
        "caption",
        "question",
        "callback_data",
        "callback_query_id",
        "inline_message_id",
        "parse_mode",
        "url",
        "description",
        "short_description",
        "name",
        "title",
        "explanation",
        "secret_token",
        "language_code",
        "file_id",
        "photo",
        "document",
        "ip_address",
        "query",
        "emoji",
    }
)

#: Update types delivered when `allowed_updates` is empty or was never set.
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
#: Methods that post a new message and therefore count against the send rate limits.
SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendPoll"})
_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_IN_TEXT = re.compile(r"(?<!\S)/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?")
_MENTION_IN_TEXT = re.compile(r"(?<!\S)@[A-Za-z0-9_]{5,32}")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


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


# --------------------------------------------------------------------------------------------
# The simulated world
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class RateLimits:
    """Telegram's send limits as sliding windows; `RateLimits.off()` disables them."""

    enabled: bool = True
    overall: int = 30
    overall_window: float = 1.0
    #: 1 message a second per private chat, with a burst of 3.
    private: int = 3
    private_window: float = 3.0
    group: int = 20
    group_window: float = 60.0
    methods: frozenset[str] = SEND_METHODS

    @classmethod
    def off(cls) -> RateLimits:
        return cls(enabled=False)


@dataclass(frozen=True)
class Limits:
    """The documented size limits of Bot API 10.0 that the emulator enforces."""

    message_text: int = 4096
    caption: int = 1024
    callback_data_bytes: int = 64
    buttons_total: int = 100
    buttons_per_row: int = 8
    callback_answer_text: int = 200
    poll_question: int = 300
    #: Bot API 10.0 lowered the minimum from 2 to 1; set 2 to mimic older servers.
    poll_options_min: int = 1
    poll_options_max: int = 12
    poll_option_text: int = 100
    commands: int = 100
    command_description: int = 256
    deep_link_payload: int = 64


@dataclass
class _Fault:
    method: str
    chat_id: int | str | None
    kind: FaultKind
    times: int
    delay: float
    status: int
    migrate_to: int | None
    retry_after: int


@dataclass
class _CallbackQuery:
    created: float
    user: User
    message: SentMessage
    data: str
    answer: JSON | None = None


# --------------------------------------------------------------------------------------------
# Entity parsing: HTML, MarkdownV2 and legacy Markdown, as strict as Telegram
# --------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """The text is not valid markup for its parse mode (Telegram's own wording)."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of entity offsets and lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


@dataclass
class _Open:
    tag: str
    start: int
    offset: int
    attrs: dict[str, str] = field(default_factory=dict)


class _TextBuilder:
    """Collects plain text and entities with UTF-16 offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.position = 0
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def close(self, kind: str, start: int, **extra: Any) -> None:
        if self.position > start:
            entity = {"type": kind, "offset": start, "length": self.position - start}
            self.entities.append(entity | extra)

    def result(self) -> tuple[str, list[JSON]]:
        # Outer entities first: on equal ranges the one closed last encloses the others.
        order = sorted(
            enumerate(self.entities), key=lambda p: (p[1]["offset"], -p[1]["length"], -p[0])
        )
        return "".join(self.parts), [entity for _, entity in order]


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _HTML_NAMED[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return chr(code) if 0 < code <= 0x10FFFF else match.group(0)


def _html_unescape(text: str) -> str:
    return _HTML_ENTITY.sub(_html_entity, text)


def _html_attributes(source: str, index: int, tag: str, offset: int) -> tuple[dict[str, str], int]:
    """Read the attributes of a start tag; return them and the index after its '>'."""
    attributes: dict[str, str] = {}
    length = len(source)
    while True:
        while index < length and (source[index].isspace() or source[index] == "/"):
            index += 1
        if index >= length:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        if source[index] == ">":
            return attributes, index + 1
        name_start = index
        while index < length and not source[index].isspace() and source[index] not in "=>":
            index += 1
        name = source[name_start:index].lower()
        while index < length and source[index].isspace():
            index += 1
        if index >= length or source[index] != "=":
            attributes[name] = ""
            continue
        index += 1
        while index < length and source[index].isspace():
            index += 1
        if index < length and source[index] in "\"'":
            end = source.find(source[index], index + 1)
            if end < 0:
                raise EntityParseError(f'Unclosed value of attribute "{name}" of tag "{tag}"')
            value, index = source[index + 1 : end], end + 1
        else:
            value_start = index
            while index < length and not source[index].isspace() and source[index] != ">":
                index += 1
            value = source[value_start:index]
        attributes[name] = _html_unescape(value)


def _close_html_tag(out: _TextBuilder, opened: _Open, stack: list[_Open]) -> None:
    tag, attrs = opened.tag, opened.attrs
    if tag == "a":
        if attrs.get("href"):
            out.close("text_link", opened.start, url=attrs["href"])
    elif tag == "code" and stack and stack[-1].tag == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language.removeprefix("language-")
        else:
            out.close("code", opened.start)
    elif tag == "pre":
        extra = {"language": attrs["language"]} if attrs.get("language") else {}
        out.close("pre", opened.start, **extra)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        out.close(kind, opened.start)
    elif tag == "tg-emoji":
        out.close("custom_emoji", opened.start, custom_emoji_id=attrs["emoji-id"])
    else:
        out.close(_HTML_TAGS[tag], opened.start)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset into plain text and entities, or raise EntityParseError."""
    out = _TextBuilder()
    stack: list[_Open] = []
    index, length = 0, len(source)
    while index < length:
        char = source[index]
        if char == "&":
            match = _HTML_ENTITY.match(source, index)
            out.add(_html_entity(match) if match else "&")
            index = match.end() if match else index + 1
            continue
        if char != "<":
            end = min(
                (p for p in (source.find("<", index), source.find("&", index)) if p >= 0),
                default=length,
            )
            out.add(source[index:end])
            index = end
            continue
        offset = _byte_offset(source, index)
        if source.startswith("</", index):
            end = source.find(">", index)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
            name = source[index + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
            opened = stack.pop()
            if name != opened.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{opened.tag}>", '
                    f'found "</{name}>"'
                )
            _close_html_tag(out, opened, stack)
            index = end + 1
            continue
        end = index + 1
        while end < length and not source[end].isspace() and source[end] not in "/>":
            end += 1
        name = source[index + 1 : end].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs, index = _html_attributes(source, end, name, offset)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset}'
            )
        stack.append(_Open(name, out.position, offset, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.result()


_MARKDOWN_V2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_TOGGLES: Final = {
    "*": ("bold", "Bold"),
    "_": ("italic", "Italic"),
    "__": ("underline", "Underline"),
    "~": ("strikethrough", "Strikethrough"),
    "||": ("spoiler", "Spoiler"),
}
_MARKDOWN_V2_NAMES: Final = {"`": "Code", "```": "Pre", "[": "TextUrl", "![": "CustomEmoji"} | {
    marker: name for marker, (_, name) in _MARKDOWN_V2_TOGGLES.items()
}


def _markdown_url(source: str, index: int, offset: int) -> tuple[str, int]:
    """Read `(url)` starting at `index` (the '('); return the url and the index after ')'."""
    if not source.startswith("(", index):
        raise EntityParseError(f"Can't find end of a URL at byte offset {offset}")
    url: list[str] = []
    index += 1
    while index < len(source) and source[index] != ")":
        if source[index] == "\\" and index + 1 < len(source):
            index += 1
        url.append(source[index])
        index += 1
    if index >= len(source):
        raise EntityParseError(f"Can't find end of a URL at byte offset {offset}")
    return "".join(url), index + 1


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 into plain text and entities, or raise EntityParseError."""
    out = _TextBuilder()
    stack: list[_Open] = []
    quote: int | None = None
    index, length = 0, len(source)
    at_line_start = True
    while index < length:
        char = source[index]
        top = stack[-1].tag if stack else None
        if char == "\\" and index + 1 < length and 0 < ord(source[index + 1]) < 127:
            out.add(source[index + 1])
            index, at_line_start = index + 2, False
            continue
        if top in ("`", "```"):
            if top == "```" and source.startswith("```", index):
                opened = stack.pop()
                extra = {"language": opened.attrs["language"]} if opened.attrs["language"] else {}
                out.close("pre", opened.start, **extra)
                index += 3
            elif top == "`" and char == "`":
                out.close("code", stack.pop().start)
                index += 1
            else:
                out.add(char)
                index += 1
            continue
        if char == "\n":
            if quote is not None and not source.startswith(">", index + 1):
                out.close("blockquote", quote)
                quote = None
            out.add(char)
            index, at_line_start = index + 1, True
            continue
        if at_line_start and char == ">":
            if quote is None:
                quote = out.position
            index, at_line_start = index + 1, False
            continue
        at_line_start = False
        if char not in _MARKDOWN_V2_RESERVED:
            out.add(char)
            index += 1
            continue
        offset = _byte_offset(source, index)
        if source.startswith("```", index):
            newline = source.find("\n", index + 3)
            header = source[index + 3 : newline] if newline >= 0 else ""
            is_language = bool(header) and not any(c.isspace() or c == "`" for c in header)
            stack.append(
                _Open("```", out.position, offset, {"language": header if is_language else ""})
            )
            index = newline + 1 if is_language else index + 3
        elif char == "`":
            stack.append(_Open("`", out.position, offset))
            index += 1
        elif char == "[" or source.startswith("![", index):
            marker = "[" if char == "[" else "!["
            stack.append(_Open(marker, out.position, offset))
            index += len(marker)
        elif char == "]" and top in ("[", "!["):
            opened = stack.pop()
            url, index = _markdown_url(source, index + 1, opened.offset)
            if opened.tag == "![":
                emoji_id = parse_qs(urlsplit(url).query).get("id", [""])[0]
                out.close("custom_emoji", opened.start, custom_emoji_id=emoji_id)
            else:
                out.close("text_link", opened.start, url=url)
        elif source.startswith("||", index) or char in "*_~":
            marker = "||" if char == "|" else char
            if source.startswith("__", index) and top != "_":
                marker = "__"
            if top == marker:
                out.close(_MARKDOWN_V2_TOGGLES[marker][0], stack.pop().start)
            elif any(opened.tag == marker for opened in stack):
                name = _MARKDOWN_V2_NAMES[stack[-1].tag]
                raise EntityParseError(
                    f"Can't find end of {name} entity at byte offset {stack[-1].offset}"
                )
            else:
                stack.append(_Open(marker, out.position, offset))
            index += len(marker)
        else:
            raise EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        name = _MARKDOWN_V2_NAMES[stack[-1].tag]
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {stack[-1].offset}")
    if quote is not None:
        out.close("blockquote", quote)
    return out.result()


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Parse legacy Markdown (no nesting) into plain text and entities."""
    out = _TextBuilder()
    index, length = 0, len(source)
    simple = {"*": "bold", "_": "italic", "`": "code"}
    while index < length:
        char = source[index]
        if char == "\\" and index + 1 < length and source[index + 1] in "_*`[":
            out.add(source[index + 1])
            index += 2
            continue
        if char not in "_*`[":
            out.add(char)
            index += 1
            continue
        offset = _byte_offset(source, index)
        missing = EntityParseError(f"Can't find end of the entity starting at byte offset {offset}")
        start = out.position
        if source.startswith("```", index):
            end = source.find("```", index + 3)
            if end < 0:
                raise missing
            out.add(source[index + 3 : end])
            out.close("pre", start)
            index = end + 3
        elif char == "[":
            end = source.find("]", index + 1)
            if end < 0:
                raise missing
            out.add(source[index + 1 : end])
            try:
                url, index = _markdown_url(source, end + 1, offset)
            except EntityParseError:
                raise missing from None
            out.close("text_link", start, url=url)
        else:
            end = source.find(char, index + 1)
            if end < 0:
                raise missing
            out.add(source[index + 1 : end])
            out.close(simple[char], start)
            index = end + 1
    return out.result()


_PARSERS: Final[dict[str, Callable[[str], tuple[str, list[JSON]]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace as Telegram does, shifting and clipping the entities."""
    left = utf16_len(text[: len(text) - len(text.lstrip())])
    trimmed = text.strip()
    total = utf16_len(trimmed)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            kept.append(entity | {"offset": start, "length": end - start})
    return trimmed, kept


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------

_Handler = Callable[[JSON, dict[str, UploadedFile]], Awaitable[Any]]
_REGISTERED: Final = object()


class TelegramEmulator:
    """A Bot API server on 127.0.0.1 with a scriptable world of users, chats and faults."""

    def __init__(
        self,
        token: str = "123:ABC",
        bot_username: str = "test_bot",
        *,
        bot_name: str = "Test Bot",
        rate_limits: RateLimits | None = None,
        limits: Limits | None = None,
        privacy_mode: bool = True,
        callback_query_ttl: float = 15.0,
        poll_conflict_grace: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot = User(
            int(prefix) if prefix.isdigit() else 1, bot_name, bot_username, None, is_bot=True
        )
        self.rate_limits = rate_limits or RateLimits()
        self.limits = limits or Limits()
        self.privacy_mode = privacy_mode
        self.callback_query_ttl = callback_query_ttl
        self.poll_conflict_grace = poll_conflict_grace
        self.clock = clock

        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.requests: list[RecordedRequest] = []
        self.updates: list[JSON] = []
        self.count_429 = 0
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.settings: dict[str, JSON] = {}
        self.callback_answers: dict[str, JSON] = {}
        self.files: dict[str, bytes] = {}

        self._sent: dict[int, list[SentMessage]] = {}
        self._sent_by_id: dict[int, SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._pending: list[JSON] = []
        self._delivered: set[int] = set()
        self._allowed_updates: frozenset[str] | None = None
        self._queries: dict[str, _CallbackQuery] = {}
        self._query_of_update: dict[int, str] = {}
        self._polls: dict[str, SentMessage] = {}
        self._votes: dict[str, dict[int, list[int]]] = {}
        self._commands: dict[tuple[str, int | None, int | None, str], list[JSON]] = {}
        self._faults: list[_Fault] = []
        self._windows: dict[tuple[str, int], deque[float]] = {}
        self._next_message_id = 1
        self._next_update_id = 100_001
        self._next_serial = 1
        self._update_added = asyncio.Event()
        self._changed = asyncio.Event()
        self._poll_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Stop the server, ending pending long polls."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, once started."""
        if self._port is None:
            raise RuntimeError("the emulator is not started: use `async with`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The value for `ApplicationBuilder().base_url(...)`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """The value for `ApplicationBuilder().base_file_url(...)`."""
        return f"{self.url}/file/bot"

    # ---- the world -------------------------------------------------------------------------

    def add_user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "fr",
        *,
        last_name: str | None = None,
    ) -> User:
        """Create a user; their private chat exists once they start the bot."""
        user = User(id, first_name, username, language_code, last_name)
        self.users[id] = user
        self.chats[id] = Chat(id, "private", user=user, bot_status="left")
        return user

    def start_private(self, user: User | int) -> Chat:
        """The user pressed Start: the bot may now write to them (unblocks if needed)."""
        chat = self._private(user)
        if chat.blocked:
            self.unblock(chat.id)
        chat.started, chat.bot_status = True, "member"
        return chat

    def block(self, user_id: User | int) -> int:
        """The user blocks the bot; returns the id of the `my_chat_member` update."""
        chat = self._private(user_id)
        old = self._member_dict(self.bot, chat)
        chat.blocked, chat.bot_status = True, "kicked"
        return self._enqueue_member_change(chat, self._user(user_id), old)

    def unblock(self, user_id: User | int) -> int:
        """The user restarts the bot after blocking it."""
        chat = self._private(user_id)
        old = self._member_dict(self.bot, chat)
        chat.blocked, chat.started, chat.bot_status = False, True, "member"
        return self._enqueue_member_change(chat, self._user(user_id), old)

    def add_group(
        self,
        chat_id: int,
        title: str,
        members: Iterable[User | int] = (),
        supergroup: bool = False,
        *,
        admins: Iterable[User | int] = (),
        creator: User | int | None = None,
        with_bot: bool = True,
        username: str | None = None,
    ) -> Chat:
        """Create a group (or supergroup) that already contains the bot unless `with_bot=False`."""
        admin_ids = {self._user(a).id for a in admins}
        creator_id = self._user(creator).id if creator is not None else None
        member_ids = {self._user(m).id for m in members} | admin_ids
        if creator_id is not None:
            member_ids.add(creator_id)
        chat = Chat(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            members=member_ids,
            admins=admin_ids,
            creator=creator_id,
            bot_status="member" if with_bot else "left",
            username=username,
        )
        self.chats[chat_id] = chat
        return chat

    def add_member(self, chat: Chat | int, user: User | int) -> None:
        """Put a user in a group (no update: use it to set the scene)."""
        self._group(chat).members.add(self._user(user).id)

    def add_bot_to_group(self, chat: Chat | int, by: User | int | None = None) -> int:
        """Someone adds the bot to the group; returns the `my_chat_member` update id."""
        group = self._group(chat)
        old = self._member_dict(self.bot, group)
        group.bot_status = "member"
        return self._enqueue_member_change(group, self._actor(group, by), old)

    def remove_bot_from_group(self, chat: Chat | int, by: User | int | None = None) -> int:
        """An admin removes the bot; returns the `my_chat_member` update id."""
        group = self._group(chat)
        old = self._member_dict(self.bot, group)
        group.bot_status = "kicked" if group.type == "supergroup" else "left"
        return self._enqueue_member_change(group, self._actor(group, by), old)

    def promote_bot(self, chat: Chat | int) -> None:
        """Make the bot an administrator of the group (no update)."""
        self._group(chat).bot_status = "administrator"

    def migrate_group(self, old_id: int, new_id: int) -> Chat:
        """Upgrade a group to a supergroup; queues the two service messages Telegram sends."""
        old = self._group(old_id)
        if old.type != "group":
            raise ValueError(f"chat {old_id} is a {old.type}, only basic groups migrate")
        new = replace(old, id=new_id, type="supergroup", migrated_to=None)
        new.members, new.admins = set(old.members), set(old.admins)
        self.chats[new_id] = new
        old.migrated_to = new_id
        actor = self._actor(old, None)
        if old.bot_status in ("member", "administrator"):
            self._enqueue_user_message(actor, old, {"migrate_to_chat_id": new_id})
            self._enqueue_user_message(actor, new, {"migrate_from_chat_id": old_id})
        return new

    # ---- update injection ------------------------------------------------------------------

    def user_sends(self, user: User | int, chat: Chat | int | None, text: str) -> int | None:
        """A user writes `text`; returns the update id, or None if the bot cannot see it.

        Commands get their `bot_command` entity. With privacy mode (the default) the bot sees
        in groups only commands, replies to its own messages and mentions of it.
        """
        sender = self._user(user)
        place = self._place(sender, chat)
        return self._enqueue_user_message(sender, place, self._text_fields(text))

    def user_replies(
        self, user: User | int, chat: Chat | int | None, text: str, reply_to_message_id: int
    ) -> int | None:
        """A user answers a message (the bot's or anyone's) with `text`."""
        sender = self._user(user)
        place = self._place(sender, chat)
        fields = self._text_fields(text)
        replied = self._message_dict(place.id, reply_to_message_id)
        if replied is not None:
            replied.pop("reply_to_message", None)
            fields["reply_to_message"] = replied
        return self._enqueue_user_message(sender, place, fields)

    def user_presses(
        self,
        user: User | int,
        message_id_or_message: int | SentMessage,
        callback_data: str,
        *,
        check: bool = True,
    ) -> int:
        """A user presses an inline button; returns the `callback_query` update id.

        With `check` the message must carry a button with this data; pass `check=False` to
        forge a press, as a modified client could.
        """
        sender = self._user(user)
        message = self._find_sent(message_id_or_message)
        if message.deleted:
            raise ValueError(f"message {message.message_id} was deleted")
        if check and callback_data not in message.callback_data:
            raise ValueError(
                f"message {message.message_id} has no button {callback_data!r}: "
                f"{message.callback_data}"
            )
        query_id = str(4_000_000_000_000_000 + self._serial())
        self._queries[query_id] = _CallbackQuery(self.clock(), sender, message, callback_data)
        payload = {
            "id": query_id,
            "from": sender.to_dict(),
            "message": self._sent_dict(message),
            "chat_instance": str(abs(hash((self.bot.id, message.chat_id)))),
            "data": callback_data,
        }
        update_id = self._enqueue("callback_query", payload)
        self._query_of_update[update_id] = query_id
        return update_id

    def user_votes(self, user: User | int, poll_id: str, option_ids: list[int]) -> int:
        """A user votes (an empty list retracts); returns the update id.

        A non-anonymous poll yields a `poll_answer`; an anonymous one only a `poll` update.
        """
        voter = self._user(user)
        message = self._polls[poll_id]
        poll = message.poll
        assert poll is not None
        if poll["is_closed"]:
            raise ValueError(f"poll {poll_id} is closed")
        if any(not 0 <= i < len(poll["options"]) for i in option_ids):
            raise ValueError(f"poll {poll_id} has {len(poll['options'])} options: {option_ids}")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError(f"poll {poll_id} allows one answer")
        votes = self._votes.setdefault(poll_id, {})
        if votes.get(voter.id) and not poll["allows_revoting"]:
            raise ValueError(f"poll {poll_id} does not allow changing a vote")
        votes[voter.id] = list(option_ids)
        for index, option in enumerate(poll["options"]):
            option["voter_count"] = sum(index in chosen for chosen in votes.values())
        poll["total_voter_count"] = sum(1 for chosen in votes.values() if chosen)
        if poll["is_anonymous"]:
            return self._enqueue("poll", copy.deepcopy(poll))
        answer = {
            "poll_id": poll_id,
            "user": voter.to_dict(),
            "option_ids": list(option_ids),
            "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
        }
        return self._enqueue("poll_answer", answer)

    def queue_update(self, kind: str, payload: JSON) -> int:
        """Queue any other update (`{"update_id": ..., kind: payload}`); returns its id."""
        return self._enqueue(kind, payload)

    # ---- what the bot did ------------------------------------------------------------------

    def sent(self, chat_id: Chat | User | int) -> list[SentMessage]:
        """Everything the bot posted in a chat, in order (deleted ones are flagged)."""
        key = chat_id if isinstance(chat_id, int) else chat_id.id
        return list(self._sent.get(key, []))

    @property
    def all_sent(self) -> list[SentMessage]:
        """Everything the bot posted, in order."""
        return sorted(self._sent_by_id.values(), key=lambda m: m.message_id)

    def calls(self, method: str, chat_id: int | None = None) -> list[RecordedRequest]:
        """The recorded calls of one method, optionally to one chat."""
        return [
            r
            for r in self.requests
            if r.method == method and (chat_id is None or _same_id(r.chat_id, chat_id))
        ]

    def callback_answer(self, update_id: int) -> JSON | None:
        """How the bot answered the callback query of this update (None if not yet)."""
        return self._queries[self._query_of_update[update_id]].answer

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The commands set for exactly this scope and language."""
        return list(self._commands.get(self._scope_key(scope, language_code), []))

    def visible_commands(self, user: User | int, chat: Chat | int) -> list[JSON]:
        """The command menu a user sees in a chat, resolving scopes as Telegram does."""
        viewer = self._user(user)
        place = self.chats[chat if isinstance(chat, int) else chat.id]
        scopes: list[JSON] = []
        if place.is_group:
            scopes.append({"type": "chat_member", "chat_id": place.id, "user_id": viewer.id})
            if viewer.id in place.admins or viewer.id == place.creator:
                scopes.append({"type": "chat_administrators", "chat_id": place.id})
            scopes.append({"type": "chat", "chat_id": place.id})
            if viewer.id in place.admins or viewer.id == place.creator:
                scopes.append({"type": "all_chat_administrators"})
            scopes.append({"type": "all_group_chats"})
        else:
            scopes += [{"type": "chat", "chat_id": place.id}, {"type": "all_private_chats"}]
        scopes.append({"type": "default"})
        for scope in scopes:
            for language in (viewer.language_code or "", ""):
                key = self._scope_key(scope, language)
                if key in self._commands:
                    return list(self._commands[key])
        return []

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by the bot."""
        return list(self._pending)

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the helper's documented signature
        *,
        chat_id: int | None = None,
    ) -> SentMessage:
        """Wait until a message the bot posted (or edited into shape) matches `predicate`."""

        def find() -> SentMessage | None:
            candidates = self.sent(chat_id) if chat_id is not None else self.all_sent
            return next((m for m in candidates if predicate(m)), None)

        try:
            return await self._wait(find, timeout)
        except TimeoutError:
            seen = [(m.chat_id, m.method, m.text or m.caption) for m in self.all_sent]
            raise TimeoutError(f"no matching message after {timeout}s; sent: {seen}") from None

    async def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - same signature as wait_for
        *,
        answered: bool = True,
    ) -> RecordedRequest:
        """Wait until the bot made a call matching `predicate` (and got its answer)."""

        def find() -> RecordedRequest | None:
            calls = (r for r in self.requests if r.status is not None or not answered)
            return next((r for r in calls if predicate(r)), None)

        return await self._wait(find, timeout)

    async def wait_delivered(
        self,
        update_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - same signature as wait_for
    ) -> None:
        """Wait until an update was handed to the bot (by getUpdates or a webhook push)."""
        await self._wait(lambda: True if update_id in self._delivered else None, timeout)

    # ---- fault injection and webhooks ------------------------------------------------------

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None = None,
        kind: FaultKind = "server_error",
        *,
        times: int = 1,
        delay: float = 1.0,
        status: int = 500,
        migrate_to: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, if given) fail.

        Kinds: "blocked" and "kicked" (403), "chat_not_found" and "migrated" (400),
        "server_error" (`status`, 500 or 502), "flood" (429 with `retry_after`), "slow"
        (answer normally after `delay` seconds), "drop" (close the connection, do nothing) and
        "lost" (do the work, then close the connection without answering).
        """
        self._faults.append(
            _Fault(method, chat_id, kind, times, delay, status, migrate_to, retry_after)
        )

    async def push_webhook(
        self,
        update: JSON | int,
        url: str | None = None,
        secret: str | object | None = _REGISTERED,
        *,
        content_type: str = "application/json",
    ) -> int:
        """POST an update (or a queued update, by id) to the bot's webhook; return the status.

        `url` and `secret` default to what the bot registered with setWebhook; pass
        `secret=None` to omit the X-Telegram-Bot-Api-Secret-Token header.
        """
        if isinstance(update, int):
            update = next(u for u in self._pending if u["update_id"] == update)
            self._pending.remove(update)
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook url: the bot did not call setWebhook")
        token = self.webhook_secret if secret is _REGISTERED else secret
        headers = {"Content-Type": content_type}
        if isinstance(token, str):
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, data=json.dumps(update), headers=headers) as response,
        ):
            await response.read()
            if response.status < 300:
                self._delivered.add(update["update_id"])
                self._notify()
            return response.status

    # ---- HTTP layer ------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        params, files = await _read_params(request)
        canonical, handler = self._methods.get(name.lower(), (name, None))
        record = RecordedRequest(canonical, params, files, self.clock(), request.method)
        self.requests.append(record)
        self._notify()
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            fault = self._take_fault(canonical, params)
            if fault is not None and fault.kind == "drop":
                return self._drop(request, record)
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault is not None and fault.kind != "lost":
                raise self._fault_error(fault, params)
            result = await handler(params, files)
            if fault is not None and fault.kind == "lost":
                return self._drop(request, record)
            body: JSON = {"ok": True, "result": result}
            status = 200
        except ApiError as error:
            body, status = error.body(), error.code
            record.description, record.parameters = error.description, error.parameters
        except asyncio.CancelledError:
            # The client hung up (e.g. a cancelled long poll): nginx's "client closed request".
            record.status, record.description = 499, "client closed the connection"
            raise
        record.status = status
        if status == 429:
            self.count_429 += 1
        self._notify()
        return web.json_response(body, status=status)

    def _drop(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        record.status, record.description = 0, "connection dropped"
        self._notify()
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    def _take_fault(self, method: str, params: JSON) -> _Fault | None:
        for fault in self._faults:
            if fault.method.lower() != method.lower():
                continue
            if fault.chat_id is not None and not _same_id(params.get("chat_id"), fault.chat_id):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _fault_error(self, fault: _Fault, params: JSON) -> ApiError:
        chat = self.chats.get(_as_int(params.get("chat_id")) or 0)
        chat_kind = "supergroup" if chat and chat.type == "supergroup" else "group"
        if fault.kind == "blocked":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if fault.kind == "kicked":
            return ApiError(403, f"Forbidden: bot was kicked from the {chat_kind} chat")
        if fault.kind == "chat_not_found":
            return ApiError(400, "Bad Request: chat not found")
        if fault.kind == "migrated":
            new_id = fault.migrate_to or -(10**12) - abs(_as_int(params.get("chat_id")) or 1)
            return ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id},
            )
        if fault.kind == "flood":
            return ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        phrase = "Bad Gateway" if fault.status == 502 else "Internal Server Error"
        return ApiError(fault.status, phrase)

    # ---- Bot API methods -------------------------------------------------------------------

    def _method_table(self) -> dict[str, _Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "leaveChat": self._leave_chat,
            "getFile": self._get_file,
        } | {
            name: self._setting(name)
            for name in (
                "setChatMenuButton",
                "setMyDescription",
                "setMyShortDescription",
                "setMyName",
            )
        }

    async def _true(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        return True

    def _setting(self, method: str) -> _Handler:
        """A setter that only records its parameters in `settings[method]`."""

        async def store(params: JSON, files: dict[str, UploadedFile]) -> bool:
            self.settings[method] = params
            return True

        return store

    async def _get_me(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return self.bot.to_dict() | {
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        try:
            # A poll whose client went away ends a moment later: give it that moment.
            async with asyncio.timeout(self.poll_conflict_grace):
                await self._poll_lock.acquire()
        except TimeoutError:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            ) from None
        try:
            self._confirm(_as_int(params.get("offset")) or 0)
            if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
                self._allowed_updates = frozenset(params["allowed_updates"]) or None
            limit = min(max(_as_int(params.get("limit")) or 100, 1), 100)
            timeout = max(_as_int(params.get("timeout")) or 0, 0)
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                batch = self._next_batch(limit)
                remaining = deadline - asyncio.get_running_loop().time()
                if batch or remaining <= 0:
                    return batch
                added = self._update_added
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await added.wait()
                if self.webhook_url:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
        finally:
            self._poll_lock.release()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _next_batch(self, limit: int) -> list[JSON]:
        def allowed(update: JSON) -> bool:
            kind = next(k for k in update if k != "update_id")
            if self._allowed_updates is None:
                return kind not in _DEFAULT_EXCLUDED_UPDATES
            return kind in self._allowed_updates

        self._pending = [u for u in self._pending if allowed(u)]
        batch = self._pending[:limit]
        self._delivered.update(u["update_id"] for u in batch)
        if batch:
            self._notify()
        return batch

    async def _set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        url = params.get("url") or ""
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: Failed to parse webhook URL")
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and _SECRET_TOKEN.fullmatch(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = frozenset(params["allowed_updates"]) or None
        self.webhook_url, self.webhook_secret = url, secret if url else None
        self._wake_pollers()
        return True

    async def _delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        self.webhook_url, self.webhook_secret = "", None
        return True

    async def _get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"))
        text, entities = self._formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
        )
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        self._check_rate("sendMessage", chat)
        message = self._store(
            "sendMessage",
            chat,
            params,
            text=text,
            entities=entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )
        return self._sent_dict(message)

    async def _send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return await self._send_media("sendPhoto", "photo", params, files)

    async def _send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return await self._send_media("sendDocument", "document", params, files)

    async def _send_media(
        self, method: str, kind: str, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        chat = self._target(params.get("chat_id"))
        data, file_id, file_name = self._media(kind, params, files)
        caption, caption_entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        self._check_rate(method, chat)
        message = self._store(
            method,
            chat,
            params,
            caption=caption or None,
            caption_entities=caption_entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply_to,
            file_id=file_id,
            file_name=file_name,
            **{kind: data},
        )
        return self._sent_dict(message)

    def _media(
        self, kind: str, params: JSON, files: dict[str, UploadedFile]
    ) -> tuple[bytes | None, str, str | None]:
        value = params.get(kind)
        upload = files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            if not upload.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            file_id = f"emu-{kind}-{self._serial()}"
            self.files[file_id] = upload.data
            return upload.data, file_id, upload.filename
        if isinstance(value, str) and value:
            return self.files.get(value), value, None
        raise ApiError(400, f"Bad Request: there is no {kind} in the request")

    async def _send_poll(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"))
        question = params.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ApiError(400, "Bad Request: poll question must be non-empty")
        if len(question) > self.limits.poll_question:
            raise ApiError(
                400,
                f"Bad Request: poll question length must not exceed {self.limits.poll_question}",
            )
        raw_options = params.get("options")
        if not isinstance(raw_options, list):
            raise ApiError(400, "Bad Request: can't parse options JSON object")
        texts = [o.get("text") if isinstance(o, dict) else o for o in raw_options]
        if len(texts) < self.limits.poll_options_min:
            raise ApiError(
                400, f"Bad Request: poll must have at least {self.limits.poll_options_min} option"
            )
        if len(texts) > self.limits.poll_options_max:
            raise ApiError(
                400,
                f"Bad Request: poll can't have more than {self.limits.poll_options_max} options",
            )
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ApiError(400, "Bad Request: poll options must be non-empty")
            if len(text) > self.limits.poll_option_text:
                raise ApiError(
                    400,
                    "Bad Request: poll options length must not exceed "
                    f"{self.limits.poll_option_text}",
                )
        kind = params.get("type") or "regular"
        if kind not in ("regular", "quiz"):
            raise ApiError(400, "Bad Request: poll type is invalid")
        if (
            kind == "quiz"
            and params.get("correct_option_ids") is None
            and params.get("correct_option_id") is None
        ):
            raise ApiError(400, "Bad Request: wrong correct option ID specified")
        markup = self._checked_markup(params.get("reply_markup"))
        self._check_rate("sendPoll", chat)
        poll_id = str(5_000_000_000_000_000_000 + self._serial())
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": [
                {"persistent_id": str(index), "text": text, "voter_count": 0}
                for index, text in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": params.get("is_closed") is True,
            "is_anonymous": params.get("is_anonymous") is not False,
            "type": kind,
            "allows_multiple_answers": params.get("allows_multiple_answers") is True,
            "allows_revoting": params.get("allows_revoting", kind == "regular") is True,
            "members_only": False,
        }
        message = self._store("sendPoll", chat, params, poll=poll, reply_markup=markup)
        self._polls[poll_id] = message
        return self._sent_dict(message)

    async def _stop_poll(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"))
        message = self._sent_in(chat, params.get("message_id"))
        if message is None or message.poll is None:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message.poll["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        if "reply_markup" in params:
            message.reply_markup = self._checked_markup(params["reply_markup"])
        message.poll["is_closed"] = True
        self._enqueue("poll", copy.deepcopy(message.poll))
        return dict(message.poll)

    async def _send_chat_action(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self._target(params.get("chat_id"))
        return True

    async def _edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        message = self._editable(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
        )
        markup = self._checked_markup(params.get("reply_markup"))
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, _NOT_MODIFIED)
        self._revise(message, "editMessageText")
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.parse_mode = params.get("parse_mode")
        return self._sent_dict(message)

    async def _edit_message_caption(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        message = self._editable(params)
        if message.text is not None or message.poll is not None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._checked_markup(params.get("reply_markup"))
        current = (message.caption or "", message.caption_entities, message.reply_markup)
        if (caption, entities, markup) == current:
            raise ApiError(400, _NOT_MODIFIED)
        self._revise(message, "editMessageCaption")
        message.caption, message.caption_entities = caption or None, entities
        message.reply_markup = markup
        return self._sent_dict(message)

    async def _edit_message_reply_markup(
        self, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        message = self._editable(params)
        markup = self._checked_markup(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._revise(message, "editMessageReplyMarkup")
        message.reply_markup = markup
        return self._sent_dict(message)

    async def _delete_message(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._target(params.get("chat_id"))
        message = self._sent_in(chat, params.get("message_id"))
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True

    async def _answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        query = self._queries.get(query_id)
        if (
            query is None
            or query.answer is not None
            or self.clock() - query.created > self.callback_query_ttl
        ):
            raise ApiError(400, _QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > self.limits.callback_answer_text:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answer = dict(params)
        self.callback_answers[query_id] = query.answer
        return True

    async def _set_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > self.limits.commands:
            raise ApiError(400, "Bad Request: too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand: object expected")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not description.strip():
                raise ApiError(400, "Bad Request: command description must be non-empty")
            if len(description) > self.limits.command_description:
                raise ApiError(400, "Bad Request: command description is too long")
        key = self._scope_key(params.get("scope"), params.get("language_code") or "")
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        key = self._scope_key(params.get("scope"), params.get("language_code") or "")
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        key = self._scope_key(params.get("scope"), params.get("language_code") or "")
        self._commands.pop(key, None)
        return True

    async def _get_chat(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"), sending=False)
        gifts = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        info = chat.to_dict() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }
        return info

    async def _get_chat_member(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"), sending=False)
        user_id = _as_int(params.get("user_id"))
        if user_id == self.bot.id:
            return self._member_dict(self.bot, chat)
        if user_id not in self.users:
            raise ApiError(400, "Bad Request: user not found")
        return self._member_dict(self.users[user_id], chat)

    async def _leave_chat(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._target(params.get("chat_id"), sending=False)
        if not chat.is_group:
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        old = self._member_dict(self.bot, chat)
        chat.bot_status = "left"
        self._enqueue_member_change(chat, self.bot, old)
        return True

    async def _get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"files/{file_id}",
        }

    # ---- checks ----------------------------------------------------------------------------

    def _target(self, chat_id: Any, *, sending: bool = True) -> Chat:
        """Resolve `chat_id` as Telegram does, with its errors for every unreachable chat."""
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: Chat | None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == chat_id[1:]), None)
        else:
            number = _as_int(chat_id)
            chat = self.chats.get(number) if number is not None else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            if chat.blocked and sending:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                if sending:
                    raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
                raise ApiError(400, "Bad Request: chat not found")
        elif chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _formatted(
        self, text: Any, parse_mode: Any, entities: Any, *, caption: bool
    ) -> tuple[str, list[JSON]]:
        """Parse text or caption as Telegram does, then check its length."""
        if text is None and caption:
            return "", []
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if isinstance(entities, list):
            plain, parsed = text, [dict(e) for e in entities if isinstance(e, dict)]
        elif parse_mode:
            parser = _PARSERS.get(str(parse_mode).lower())
            if parser is None:
                raise ApiError(400, f"Bad Request: unsupported parse_mode: {parse_mode}")
            try:
                plain, parsed = parser(text)
            except EntityParseError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        else:
            plain, parsed = text, []
        plain, parsed = _trim(plain, parsed)
        if caption:
            if len(plain) > self.limits.caption:
                raise ApiError(400, "Bad Request: message caption is too long")
        elif not plain:
            raise ApiError(400, "Bad Request: message text is empty")
        elif len(plain) > self.limits.message_text:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, parsed

    def _checked_markup(self, markup: Any, *, inline_only: bool = False) -> JSON | None:
        """Validate a reply_markup object (edits accept only an inline keyboard)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
            return markup
        if inline_only:
            raise ApiError(400, "Bad Request: can't parse inline keyboard markup JSON object")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup must be an '
                    "Array of Arrays",
                )
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _check_inline_keyboard(self, rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an '
                "Array of Arrays",
            )
        total = sum(len(row) for row in rows)
        widest = max((len(row) for row in rows), default=0)
        if total > self.limits.buttons_total or widest > self.limits.buttons_per_row:
            raise ApiError(400, "Bad Request: reply markup is too long")
        for button in (b for row in rows for b in row):
            self._check_button(button)

    def _check_button(self, button: Any) -> None:
        prefix = "Bad Request: can't parse inline keyboard button: "
        if not isinstance(button, dict):
            raise ApiError(400, prefix + "InlineKeyboardButton must be an Object")
        if not isinstance(button.get("text"), str):
            raise ApiError(400, prefix + 'Can\'t find field "text"')
        if not button["text"].strip():
            raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
        actions = [key for key in _BUTTON_ACTIONS if button.get(key) is not None]
        if not actions:
            raise ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:
            raise ApiError(400, prefix + "exactly one of the optional fields must be used")
        if "callback_data" in actions:
            data = button["callback_data"]
            if not isinstance(data, str):
                raise ApiError(400, prefix + 'Field "callback_data" must be of type String')
            if not 1 <= len(data.encode("utf-8")) <= self.limits.callback_data_bytes:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "url" in actions:
            url = button["url"]
            if not isinstance(url, str):
                raise ApiError(400, prefix + 'Field "url" must be of type String')
            if not self._valid_button_url(url):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")

    def _valid_button_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "tg") or (
            parts.scheme != "tg" and not parts.netloc
        ):
            return False
        if parts.netloc.lower() not in ("t.me", "telegram.me") and parts.scheme != "tg":
            return True
        query = parse_qs(parts.query, keep_blank_values=True)
        payload_pattern = re.compile(rf"[A-Za-z0-9_-]{{0,{self.limits.deep_link_payload}}}")
        return all(
            payload_pattern.fullmatch(value)
            for key in ("start", "startgroup")
            for value in query.get(key, [])
        )

    def _reply_target(self, chat: Chat, params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, lenient = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            message_id = params.get("reply_to_message_id")
            lenient = params.get("allow_sending_without_reply")
        if message_id is None:
            return None
        number = _as_int(message_id)
        if number is not None and self._message_dict(chat.id, number) is not None:
            return number
        if lenient is True:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _editable(self, params: JSON) -> SentMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: message to edit not found")
        chat = self._target(params.get("chat_id"))
        number = _as_int(params.get("message_id"))
        message = self._sent_in(chat, number)
        if message is None or message.deleted:
            if number is not None and (chat.id, number) in self._user_messages:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _check_rate(self, method: str, chat: Chat) -> None:
        """Refuse with 429 when a send would exceed a sliding window; else count it."""
        limits = self.rate_limits
        if not limits.enabled or method not in limits.methods:
            return
        now = self.clock()
        windows = [(self._window("all", 0), limits.overall, limits.overall_window)]
        if chat.is_group:
            windows.append((self._window("chat", chat.id), limits.group, limits.group_window))
        else:
            windows.append((self._window("chat", chat.id), limits.private, limits.private_window))
        wait = 0
        for stamps, capacity, span in windows:
            while stamps and stamps[0] <= now - span:
                stamps.popleft()
            if len(stamps) >= capacity:
                wait = max(wait, math.ceil(stamps[0] + span - now), 1)
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for stamps, _, _ in windows:
            stamps.append(now)

    def _window(self, scope: str, key: int) -> deque[float]:
        return self._windows.setdefault((scope, key), deque())

    # ---- storage and rendering -------------------------------------------------------------

    def _store(self, method: str, chat: Chat, params: JSON, **fields: Any) -> SentMessage:
        message = SentMessage(
            method=method,
            chat_id=chat.id,
            message_id=self._new_message_id(),
            date=int(time.time()),
            params=params,
            **fields,
        )
        self._sent.setdefault(chat.id, []).append(message)
        self._sent_by_id[message.message_id] = message
        return message

    def _revise(self, message: SentMessage, method: str) -> None:
        message.history.append(
            Revision(
                method,
                message.text,
                list(message.entities),
                message.caption,
                message.reply_markup,
                self.clock(),
            )
        )
        message.edit_date = int(time.time())

    def _sent_in(self, chat: Chat, message_id: Any) -> SentMessage | None:
        message = self._sent_by_id.get(_as_int(message_id) or 0)
        return message if message is not None and message.chat_id == chat.id else None

    def _find_sent(self, message: int | SentMessage) -> SentMessage:
        if isinstance(message, SentMessage):
            return message
        if message not in self._sent_by_id:
            raise KeyError(f"the bot sent no message {message}")
        return self._sent_by_id[message]

    def _sent_dict(self, message: SentMessage) -> JSON:
        """The Bot API `Message` for a message the bot posted, as it is now."""
        data: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chats[message.chat_id].to_dict(),
            "from": self.bot.to_dict(),
        }
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.caption:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        if message.method == "sendPhoto":
            width, height = _png_size(message.photo or b"")
            data["photo"] = [
                {
                    "file_id": message.file_id,
                    "file_unique_id": f"u{message.file_id}",
                    "width": width,
                    "height": height,
                    "file_size": len(message.photo or b""),
                }
            ]
        if message.method == "sendDocument":
            data["document"] = {
                "file_id": message.file_id,
                "file_unique_id": f"u{message.file_id}",
                "file_size": len(message.document or b""),
            } | ({"file_name": message.file_name} if message.file_name else {})
        if message.poll is not None:
            data["poll"] = copy.deepcopy(message.poll)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_to_message_id is not None:
            replied = self._message_dict(message.chat_id, message.reply_to_message_id)
            if replied is not None:
                replied.pop("reply_to_message", None)
                data["reply_to_message"] = replied
        return data

    def _message_dict(self, chat_id: int, message_id: int) -> JSON | None:
        """A copy of any message of the chat (the bot's or a user's), None if unknown."""
        if (chat_id, message_id) in self._user_messages:
            return copy.deepcopy(self._user_messages[(chat_id, message_id)])
        message = self._sent_by_id.get(message_id)
        if message is None or message.chat_id != chat_id or message.deleted:
            return None
        return self._sent_dict(message)

    def _member_dict(self, user: User, chat: Chat) -> JSON:
        if user.id == self.bot.id:
            status: str = chat.bot_status
        elif chat.type == "private":
            status = "member" if user.id == chat.id else "left"
        elif user.id == chat.creator:
            status = "creator"
        elif user.id in chat.admins:
            status = "administrator"
        else:
            status = "member" if user.id in chat.members else "left"
        member: JSON = {"status": status, "user": user.to_dict()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            rights = (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
            )
            member |= {right: True for right in rights} | {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        return member

    # ---- updates ---------------------------------------------------------------------------

    def _enqueue(self, kind: str, payload: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self.updates.append(update)
        self._pending.append(update)
        self._wake_pollers()
        return update_id

    def _enqueue_member_change(self, chat: Chat, actor: User, old: JSON) -> int:
        change = {
            "chat": chat.to_dict(),
            "from": actor.to_dict(),
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": self._member_dict(self.bot, chat),
        }
        return self._enqueue("my_chat_member", change)

    def _enqueue_user_message(self, sender: User, place: Chat, fields: JSON) -> int | None:
        message = {
            "message_id": self._new_message_id(),
            "date": int(time.time()),
            "chat": place.to_dict(),
            "from": sender.to_dict(),
            **fields,
        }
        self._user_messages[(place.id, message["message_id"])] = message
        if not self._bot_sees(place, message):
            return None
        return self._enqueue("message", message)

    def _text_fields(self, text: str) -> JSON:
        fields: JSON = {"text": text}
        entities = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in _COMMAND_IN_TEXT.finditer(text)
        ] + [
            {
                "type": "mention",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in _MENTION_IN_TEXT.finditer(text)
        ]
        if entities:
            fields["entities"] = sorted(entities, key=lambda e: e["offset"])
        return fields

    def _bot_sees(self, place: Chat, message: JSON) -> bool:
        """Privacy mode: in groups the bot sees commands, replies to it and mentions of it."""
        if place.type == "private":
            return True
        if place.bot_status not in ("member", "administrator"):
            return False
        text = message.get("text")
        if not self.privacy_mode or text is None:
            return True
        username = (self.bot.username or "").lower()
        command = _COMMAND_IN_TEXT.match(text)
        if command and (command.group(2) is None or command.group(2).lower() == username):
            return True
        replied = message.get("reply_to_message") or {}
        if replied.get("from", {}).get("id") == self.bot.id:
            return True
        return f"@{username}" in text.lower()

    def _wake_pollers(self) -> None:
        self._update_added.set()
        self._update_added = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, find: Callable[[], T | None], seconds: float) -> T:
        """Re-run `find` after every answered call until it returns something."""
        async with asyncio.timeout(seconds):
            while True:
                changed = self._changed
                found = find()
                if found is not None:
                    return found
                await changed.wait()

    # ---- small lookups ---------------------------------------------------------------------

    def _serial(self) -> int:
        self._next_serial += 1
        return self._next_serial

    def _new_message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id - 1

    def _user(self, user: User | int | None) -> User:
        if isinstance(user, User):
            return user
        if user is None or user not in self.users:
            raise KeyError(f"unknown user {user}: call add_user first")
        return self.users[user]

    def _private(self, user: User | int) -> Chat:
        return self.chats[self._user(user).id]

    def _group(self, chat: Chat | int) -> Chat:
        group = self.chats[chat if isinstance(chat, int) else chat.id]
        if not group.is_group:
            raise ValueError(f"chat {group.id} is not a group")
        return group

    def _actor(self, group: Chat, by: User | int | None) -> User:
        if by is not None:
            return self._user(by)
        for candidate in (group.creator, *sorted(group.admins), *sorted(group.members)):
            if candidate is not None and candidate in self.users:
                return self.users[candidate]
        return self.bot

    def _place(self, sender: User, chat: Chat | int | None) -> Chat:
        """The chat a user writes in; writing privately means having started the bot."""
        chat_id = sender.id if chat is None else chat if isinstance(chat, int) else chat.id
        if chat_id == sender.id:
            return self.start_private(sender)
        place = self.chats.get(chat_id)
        if place is None or not place.is_group:
            raise ValueError(f"user {sender.id} cannot write in chat {chat_id}")
        if place.migrated_to is not None:
            raise ValueError(f"group {chat_id} migrated to {place.migrated_to}")
        if sender.id not in place.members:
            raise ValueError(f"user {sender.id} is not a member of group {chat_id}")
        return place

    def _scope_key(self, scope: Any, language_code: str) -> tuple[str, int | None, int | None, str]:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return (
            str(scope.get("type", "default")),
            _as_int(scope.get("chat_id")),
            _as_int(scope.get("user_id")),
            language_code,
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _decode_field(name: str, value: str) -> Any:
    """A form field: JSON when it parses, except text fields which stay strings."""
    if name in TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
    """Decode query string and body (form, multipart, JSON or nothing) into parameters."""
    params: JSON = {key: _decode_field(key, value) for key, value in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return params, files
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[key] = UploadedFile(key, value.filename, value.content_type, data)
            elif isinstance(value, str):
                params[key] = _decode_field(key, value)
        return params, files
    raw = await request.read()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
    return params, files


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _same_id(value: Any, expected: int | str) -> bool:
    return value == expected or (_as_int(value) is not None and _as_int(value) == _as_int(expected))


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, or a plausible default for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 320, 240
