"""A Discord emulator for tests: REST under ``/api/v10`` and the gateway at ``/`` on one port.

The real discord.py client logs in, connects, syncs its commands, sends messages and answers
interactions against it. The emulator enforces Discord's documented limits and rate limits,
keeps a transcript per channel, and plays the users: slash commands, button presses, selects,
modal submissions, autocomplete and plain messages.

    async with DiscordEmulator(token="tok", app_id=1, bot_user_id=1) as emu:
        emu.add_guild(10, "CDS", channels=[(11, "general")], members=[100])
        with emu.patch_discord():
            ...  # start a discord.Client with guild_ready_timeout=0.1 and wait for on_ready
            record = await emu.slash_command(100, 11, "help")
            reply = await record.response()

Paths in ``requests``, ``fail_next`` and ``slow_next`` are relative to ``/api/v10``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import re
import secrets
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

JSON = dict[str, Any]
T = TypeVar("T")
Where = int | Literal["dm"]
"""Where a user acts: a channel id, or ``"dm"`` for the user's direct messages with the bot."""

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_APP_ID = 1_180_000_000_000_000_001

EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15


class Intent(enum.IntFlag):
    """The gateway intents the emulator looks at."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


class Perm(enum.IntFlag):
    """The permission bits the emulator looks at."""

    ADMINISTRATOR = 1 << 3
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38
    SEND_POLLS = 1 << 49


EVERYONE_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.ADD_REACTIONS
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.SEND_POLLS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS
ALL_PERMISSIONS = (1 << 51) - 1
DM_PERMISSIONS = EVERYONE_PERMISSIONS & ~Perm.USE_EXTERNAL_EMOJIS


class Op(enum.IntEnum):
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class InteractionType(enum.IntEnum):
    """What the user did."""

    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(enum.IntEnum):
    """How the bot first answers an interaction."""

    MESSAGE = 4
    DEFERRED_MESSAGE = 5
    DEFERRED_UPDATE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    InteractionType.AUTOCOMPLETE: frozenset({8}),
    InteractionType.MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}

ERRORS: dict[int, tuple[int, str]] = {
    0: (400, "400: Bad Request"),
    10003: (404, "Unknown Channel"),
    10004: (404, "Unknown Guild"),
    10007: (404, "Unknown Member"),
    10008: (404, "Unknown Message"),
    10013: (404, "Unknown User"),
    10015: (404, "Unknown Webhook"),
    10062: (404, "Unknown interaction"),
    10063: (404, "Unknown application command"),
    40005: (413, "Request entity too large"),
    40060: (400, "Interaction has already been acknowledged"),
    50001: (403, "Missing Access"),
    50005: (403, "Cannot edit a message authored by another user"),
    50006: (400, "Cannot send an empty message"),
    50007: (403, "Cannot send messages to this user"),
    50008: (400, "Cannot send messages in a non-text channel"),
    50013: (403, "Missing Permissions"),
    50027: (401, "Invalid Webhook Token"),
    50033: (400, "Invalid Recipient(s)"),
    50035: (400, "Invalid Form Body"),
    50109: (400, "The request body contains invalid JSON."),
}
STATUS_MESSAGES = {
    401: "401: Unauthorized",
    404: "404: Not Found",
    405: "405: Method Not Allowed",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}

TEXT_CHANNEL_TYPES = frozenset({0, 1, 2, 3, 5, 10, 11, 12, 13})
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
LOCALES = frozenset(
    {
        *("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu"),
        *("nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru"),
        *("uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"),
    }
)
COMMAND_NAME = re.compile(r"[-_\w]{1,32}")
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)")


def _now() -> datetime:
    return datetime.now(UTC)


def _obj(value: Any) -> JSON:
    """The value if it is a JSON object, else an empty one (malformed input is reported apart)."""
    return value if isinstance(value, dict) else {}


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


class _Snowflakes:
    """Time-based ids, as discord.py derives creation times (and poll durations) from them."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


# --------------------------------------------------------------------------------------------
# Errors and validation
# --------------------------------------------------------------------------------------------


class DiscordError(Exception):
    """An error answered like Discord's: an HTTP status, a JSON code and message, form errors."""

    def __init__(
        self,
        code: int,
        *,
        status: int | None = None,
        message: str | None = None,
        errors: JSON | None = None,
    ) -> None:
        known_status, known_message = ERRORS.get(code, (400, "400: Bad Request"))
        self.code = code
        self.status = status or known_status
        self.message = message or known_message
        self.errors = errors
        super().__init__(f"{self.status} (code {self.code}) {self.message}")

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _FormErrors:
    """Collects field errors into Discord's nested ``errors`` tree for a 50035 answer."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def text(
        self,
        path: Sequence[str | int],
        value: Any,
        *,
        max_len: int,
        min_len: int = 0,
        required: bool = False,
    ) -> None:
        if value is None:
            if required:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Could not interpret the value as string.")
        elif len(value) > max_len and not min_len:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {max_len} or fewer in length.")
        elif not min_len <= len(value) <= max_len:
            message = f"Must be between {min_len} and {max_len} in length."
            self.add(path, "BASE_TYPE_BAD_LENGTH", message)

    def items(
        self, path: Sequence[str | int], value: Any, *, max_items: int, min_items: int = 0
    ) -> list[Any]:
        """Check a list's size and return it (empty when absent or not a list)."""
        if value is None:
            if min_items:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return []
        if not isinstance(value, list):
            self.add(path, "BASE_TYPE_ARRAY", "Could not interpret the value as an array.")
            return []
        if len(value) > max_items:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {max_items} or fewer in length.")
        elif len(value) < min_items:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {min_items} or more in length.")
        return value

    def number(self, path: Sequence[str | int], value: Any, *, low: float, high: float) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not a number.')
        elif value > high:
            self.add(path, "NUMBER_TYPE_MAX", f"Must be less than or equal to {high}.")
        elif value < low:
            self.add(path, "NUMBER_TYPE_MIN", f"Must be greater than or equal to {low}.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordError(50035, errors=self.tree)


def _check_message(body: JSON, errors: _FormErrors) -> None:
    """Check a message body (create or edit) against Discord's documented limits."""
    errors.text(("content",), body.get("content"), max_len=2000)
    flags = body.get("flags") or 0
    v2 = isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)
    if "embeds" in body:
        _check_embeds(body.get("embeds"), errors)
    if "components" in body:
        _check_components(body.get("components"), errors, v2=v2)
    if v2 and (body.get("content") or body.get("embeds")):
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with IS_COMPONENTS_V2",
        )
    if body.get("poll") is not None:
        _check_poll(_obj(body["poll"]), errors)
    if body.get("allowed_mentions") is not None:
        _check_allowed_mentions(_obj(body["allowed_mentions"]), errors)


def _check_embeds(embeds: Any, errors: _FormErrors) -> None:
    total = 0
    for index, raw in enumerate(errors.items(("embeds",), embeds, max_items=10)):
        embed, path = _obj(raw), ("embeds", index)
        for key, limit in (("title", 256), ("description", 4096)):
            errors.text((*path, key), embed.get(key), max_len=limit)
            total += _length(embed.get(key))
        if "author" in embed:
            name = _obj(embed["author"]).get("name")
            errors.text((*path, "author", "name"), name, max_len=256, required=True)
            total += _length(name)
        if "footer" in embed:
            text = _obj(embed["footer"]).get("text")
            errors.text((*path, "footer", "text"), text, max_len=2048, required=True)
            total += _length(text)
        fields = errors.items((*path, "fields"), embed.get("fields"), max_items=25)
        for number, raw_field in enumerate(fields):
            item, where = _obj(raw_field), (*path, "fields", number)
            errors.text((*where, "name"), item.get("name"), min_len=1, max_len=256, required=True)
            errors.text(
                (*where, "value"), item.get("value"), min_len=1, max_len=1024, required=True
            )
            total += _length(item.get("name")) + _length(item.get("value"))
    if total > 6000:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )


def _check_components(components: Any, errors: _FormErrors, *, v2: bool) -> None:
    seen: set[str] = set()
    rows = errors.items(("components",), components, max_items=40 if v2 else 5)
    for index, raw in enumerate(rows):
        path = ("components", index)
        if v2:
            _check_layout_component(_obj(raw), path, errors, seen)
        else:
            _check_action_row(_obj(raw), path, errors, seen)


def _check_action_row(
    row: JSON, path: tuple[str | int, ...], errors: _FormErrors, seen: set[str]
) -> None:
    if row.get("type") != 1:
        errors.add(
            (*path, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
        )
        return
    children = [
        _obj(c)
        for c in errors.items(
            (*path, "components"), row.get("components"), max_items=5, min_items=1
        )
    ]
    if len(children) > 1 and any(c.get("type") in SELECT_TYPES for c in children):
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for index, child in enumerate(children):
        where = (*path, "components", index)
        if child.get("type") == 2:
            _check_button(child, where, errors, seen)
        elif child.get("type") in SELECT_TYPES:
            _check_select(child, where, errors, seen)
        else:
            errors.add((*where, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")


def _check_layout_component(
    component: JSON, path: tuple[str | int, ...], errors: _FormErrors, seen: set[str]
) -> None:
    """Check a components-v2 layout node: rows inside are checked, text displays measured."""
    kind = component.get("type")
    if kind == 1:
        _check_action_row(component, path, errors, seen)
        return
    if kind == 10:
        errors.text((*path, "content"), component.get("content"), min_len=1, max_len=4000)
    accessory = component.get("accessory")
    if isinstance(accessory, dict) and accessory.get("type") == 2:
        _check_button(accessory, (*path, "accessory"), errors, seen)
    for index, child in enumerate(component.get("components") or []):
        _check_layout_component(_obj(child), (*path, "components", index), errors, seen)


def _check_custom_id(
    value: Any, path: tuple[str | int, ...], errors: _FormErrors, seen: set[str]
) -> None:
    errors.text(path, value, min_len=1, max_len=100, required=True)
    if isinstance(value, str):
        if value in seen:
            errors.add(
                path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        seen.add(value)


def _check_button(
    button: JSON, path: tuple[str | int, ...], errors: _FormErrors, seen: set[str]
) -> None:
    style = button.get("style")
    if style not in range(1, 7):
        errors.add(
            (*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}."
        )
    errors.text((*path, "label"), button.get("label"), max_len=80)
    if style == 5:
        errors.text((*path, "url"), button.get("url"), min_len=1, max_len=512, required=True)
        if "custom_id" in button:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_WITH_URL",
                "A link button cannot have a custom id",
            )
    elif style == 6:
        if not button.get("sku_id"):
            errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        _check_custom_id(button.get("custom_id"), (*path, "custom_id"), errors, seen)
    if style != 6 and not button.get("label") and not button.get("emoji"):
        errors.add(
            (*path, "label"),
            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
            "A label or an emoji is required",
        )


def _check_select(
    select: JSON, path: tuple[str | int, ...], errors: _FormErrors, seen: set[str]
) -> None:
    _check_custom_id(select.get("custom_id"), (*path, "custom_id"), errors, seen)
    errors.text((*path, "placeholder"), select.get("placeholder"), max_len=150)
    errors.number((*path, "min_values"), select.get("min_values"), low=0, high=25)
    errors.number((*path, "max_values"), select.get("max_values"), low=1, high=25)
    if select.get("type") != 3:
        return
    options = errors.items((*path, "options"), select.get("options"), max_items=25, min_items=1)
    values: set[str] = set()
    for index, raw in enumerate(options):
        option, where = _obj(raw), (*path, "options", index)
        errors.text((*where, "label"), option.get("label"), min_len=1, max_len=100, required=True)
        errors.text((*where, "value"), option.get("value"), min_len=1, max_len=100, required=True)
        errors.text((*where, "description"), option.get("description"), max_len=100)
        if option.get("value") in values:
            errors.add(
                (*where, "value"),
                "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                "Option values must be unique",
            )
        if isinstance(option.get("value"), str):
            values.add(option["value"])


def _check_poll(poll: JSON, errors: _FormErrors) -> None:
    question = _obj(poll.get("question")).get("text")
    errors.text(("poll", "question", "text"), question, min_len=1, max_len=300, required=True)
    answers = errors.items(("poll", "answers"), poll.get("answers"), max_items=10, min_items=1)
    for index, answer in enumerate(answers):
        text = _obj(_obj(answer).get("poll_media")).get("text")
        path = ("poll", "answers", index, "poll_media", "text")
        errors.text(path, text, min_len=1, max_len=55, required=True)
    errors.number(("poll", "duration"), poll.get("duration"), low=1, high=768)


def _check_allowed_mentions(mentions: JSON, errors: _FormErrors) -> None:
    parse = errors.items(("allowed_mentions", "parse"), mentions.get("parse"), max_items=3)
    for index, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errors.add(
                ("allowed_mentions", "parse", index),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('everyone', 'roles', 'users').",
            )
    for kind in ("users", "roles"):
        ids = errors.items(("allowed_mentions", kind), mentions.get(kind), max_items=100)
        if ids and kind in parse:
            errors.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )


def _check_modal(data: JSON, errors: _FormErrors) -> None:
    errors.text(("data", "custom_id"), data.get("custom_id"), min_len=1, max_len=100, required=True)
    errors.text(("data", "title"), data.get("title"), min_len=1, max_len=45, required=True)
    seen: set[str] = set()
    rows = errors.items(("data", "components"), data.get("components"), max_items=5, min_items=1)
    for index, raw in enumerate(rows):
        component, path = _obj(raw), ("data", "components", index)
        kind = component.get("type")
        if kind == 1:
            inner = errors.items(
                (*path, "components"), component.get("components"), max_items=1, min_items=1
            )
            for number, item in enumerate(inner):
                row_path = (*path, "components", number)
                _check_text_input(_obj(item), row_path, errors, seen, labelled=False)
        elif kind == 18:
            label = component.get("label")
            errors.text((*path, "label"), label, min_len=1, max_len=45, required=True)
            errors.text((*path, "description"), component.get("description"), max_len=100)
            inner_component = _obj(component.get("component"))
            if inner_component.get("type") == 4:
                label_path = (*path, "component")
                _check_text_input(inner_component, label_path, errors, seen, labelled=True)
            elif inner_component.get("type") in SELECT_TYPES:
                _check_select(inner_component, (*path, "component"), errors, seen)
            elif inner_component.get("type") != 19:
                errors.add(
                    (*path, "component", "type"), "COMPONENT_TYPE_INVALID", "Invalid component type"
                )
        elif kind == 10:
            errors.text((*path, "content"), component.get("content"), min_len=1, max_len=4000)
        else:
            errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")


def _check_text_input(
    text_input: JSON,
    path: tuple[str | int, ...],
    errors: _FormErrors,
    seen: set[str],
    *,
    labelled: bool,
) -> None:
    if text_input.get("type") != 4:
        errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")
        return
    _check_custom_id(text_input.get("custom_id"), (*path, "custom_id"), errors, seen)
    if text_input.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    label = text_input.get("label")
    errors.text((*path, "label"), label, min_len=1, max_len=45, required=not labelled)
    errors.number((*path, "min_length"), text_input.get("min_length"), low=0, high=4000)
    errors.number((*path, "max_length"), text_input.get("max_length"), low=1, high=4000)
    errors.text((*path, "value"), text_input.get("value"), max_len=4000)
    errors.text((*path, "placeholder"), text_input.get("placeholder"), max_len=100)


def _check_choices(choices: Any, errors: _FormErrors) -> None:
    items = errors.items(("data", "choices"), choices, max_items=25)
    for index, raw in enumerate(items):
        choice, path = _obj(raw), ("data", "choices", index)
        errors.text((*path, "name"), choice.get("name"), min_len=1, max_len=100, required=True)
        if isinstance(choice.get("value"), str):
            errors.text((*path, "value"), choice["value"], min_len=1, max_len=100)


def _check_command_name(
    path: tuple[str | int, ...], name: Any, errors: _FormErrors, *, chat_input: bool
) -> None:
    if not chat_input:
        errors.text(path, name, min_len=1, max_len=32, required=True)
    elif not isinstance(name, str) or not COMMAND_NAME.fullmatch(name) or name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_localizations(
    path: tuple[str | int, ...], value: Any, errors: _FormErrors, *, name: bool, chat_input: bool
) -> None:
    for locale, text in _obj(value).items():
        if locale not in LOCALES:
            errors.add((*path, locale), "LOCALE_INVALID", f"Invalid locale {locale!r}.")
        elif name:
            _check_command_name((*path, locale), text, errors, chat_input=chat_input)
        else:
            errors.text((*path, locale), text, min_len=1, max_len=100, required=True)


def _check_command(command: JSON, path: tuple[str | int, ...], errors: _FormErrors) -> None:
    chat_input = command.get("type", 1) == 1
    _check_command_name((*path, "name"), command.get("name"), errors, chat_input=chat_input)
    description = command.get("description")
    if chat_input:
        errors.text((*path, "description"), description, min_len=1, max_len=100, required=True)
    elif description:
        errors.add(
            (*path, "description"), "APPLICATION_COMMAND_DESCRIPTION_NOT_EMPTY", "Must be empty"
        )
    for key, is_name in (("name_localizations", True), ("description_localizations", False)):
        _check_localizations(
            (*path, key), command.get(key), errors, name=is_name, chat_input=chat_input
        )
    if chat_input:
        _check_options((*path, "options"), command.get("options"), errors)


def _check_options(path: tuple[str | int, ...], options: Any, errors: _FormErrors) -> None:
    names: set[str] = set()
    optional_seen = False
    for index, raw in enumerate(errors.items(path, options, max_items=25)):
        option, where = _obj(raw), (*path, index)
        kind = option.get("type")
        if kind not in range(1, 12):
            errors.add(
                (*where, "type"), "BASE_TYPE_CHOICES", "Value must be an option type (1-11)."
            )
        _check_command_name((*where, "name"), option.get("name"), errors, chat_input=True)
        if option.get("name") in names:
            errors.add(
                (*where, "name"),
                "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(str(option.get("name")))
        description = option.get("description")
        errors.text((*where, "description"), description, min_len=1, max_len=100, required=True)
        for key, is_name in (("name_localizations", True), ("description_localizations", False)):
            _check_localizations(
                (*where, key), option.get(key), errors, name=is_name, chat_input=True
            )
        if kind in (1, 2):
            _check_options((*where, "options"), option.get("options"), errors)
            continue
        if not option.get("required"):
            optional_seen = True
        elif optional_seen:
            errors.add(
                where,
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        choices = errors.items((*where, "choices"), option.get("choices"), max_items=25)
        if choices and option.get("autocomplete"):
            errors.add(
                (*where, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                "Autocomplete cannot be set on an option with choices",
            )
        for number, raw_choice in enumerate(choices):
            choice = _obj(raw_choice)
            choice_path = (*where, "choices", number)
            name = choice.get("name")
            errors.text((*choice_path, "name"), name, min_len=1, max_len=100, required=True)
            if isinstance(choice.get("value"), str):
                errors.text((*choice_path, "value"), choice["value"], max_len=100)
        errors.number((*where, "min_length"), option.get("min_length"), low=0, high=6000)
        errors.number((*where, "max_length"), option.get("max_length"), low=1, high=6000)


def _check_command_list(commands: Any, errors: _FormErrors) -> list[JSON]:
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Could not interpret the value as an array.")
        return []
    seen: set[tuple[int, str]] = set()
    per_type: dict[int, int] = {}
    for index, raw in enumerate(commands):
        command = _obj(raw)
        _check_command(command, (index,), errors)
        key = (int(command.get("type", 1)), str(command.get("name")))
        if key in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)
        per_type[key[0]] = per_type.get(key[0], 0) + 1
    for kind, count in per_type.items():
        limit = 100 if kind == 1 else 15
        if count > limit:
            errors.add(
                (), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer commands of type {kind}."
            )
    return [_obj(c) for c in commands]


# --------------------------------------------------------------------------------------------
# The emulated world and what tests read back
# --------------------------------------------------------------------------------------------


@dataclass
class User:
    """A Discord user (a member of the community, or the bot itself)."""

    id: int
    username: str
    global_name: str | None = None
    locale: str = "fr"
    bot: bool = False
    dms_closed: bool = False

    def to_json(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }


@dataclass
class Channel:
    """A guild channel or a DM channel (``type`` 1, ``recipient_id`` set)."""

    id: int
    name: str | None
    type: int = 0
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    recipient_id: int | None = None
    denied: bool = False
    """The bot lost its permission to send here (``deny_channel``)."""
    unlisted: bool = False
    """Left out of GUILD_CREATE but still found by id, as Discord leaves archived threads out
    (``unlist_channel``)."""


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    def to_json(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Member:
    user_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime = field(default_factory=_now)


@dataclass
class Guild:
    """A server with its channels, roles (``roles[id]`` is @everyone) and members."""

    id: int
    name: str
    owner_id: int
    locale: str = "fr"
    channels: dict[int, Channel] = field(default_factory=dict)
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    joined_at: datetime = field(default_factory=_now)
    # In an outage: listed as unavailable in READY, and no GUILD_CREATE is sent for it.
    unavailable: bool = False


@dataclass
class Attachment:
    """A file uploaded with a message; ``data`` holds its bytes."""

    id: int
    filename: str
    content_type: str | None
    data: bytes

    def to_json(self, base_url: str, channel_id: int) -> JSON:
        url = f"{base_url}/attachments/{channel_id}/{self.id}/{self.filename}"
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }


@dataclass
class MessageRecord:
    """One message of a transcript, as last edited; ``edits`` keeps the earlier versions."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    kind: Literal["channel", "response", "followup", "user"]
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    flags: int = 0
    poll: JSON | None = None
    allowed_mentions: JSON | None = None
    attachments: list[Attachment] = field(default_factory=list)
    message_reference: JSON | None = None
    interaction_id: int | None = None
    visible_to: int | None = None
    """The only user who sees an ephemeral message."""
    created_at: datetime = field(default_factory=_now)
    edited_at: datetime | None = None
    deleted: bool = False
    edits: list[JSON] = field(default_factory=list)
    mention_everyone: bool = False
    """The text would ping @everyone/@here (the allowed mentions let it through)."""
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred answer still "thinking"."""
        return bool(self.flags & LOADING)

    def snapshot(self) -> JSON:
        return {
            "content": self.content,
            "embeds": self.embeds,
            "components": self.components,
            "flags": self.flags,
            "at": self.edited_at or self.created_at,
        }

    def custom_ids(self) -> list[str]:
        """Every component custom_id on the message, in order."""
        return [c["custom_id"] for c in _walk_components(self.components) if "custom_id" in c]

    def component(self, custom_id: str) -> JSON | None:
        return next(
            (c for c in _walk_components(self.components) if c.get("custom_id") == custom_id), None
        )


def _walk_components(components: Sequence[Any]) -> Iterator[JSON]:
    for component in components:
        if not isinstance(component, dict):
            continue
        yield component
        yield from _walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from _walk_components([component[key]])


@dataclass
class CallbackAttempt:
    """One ``POST /interactions/{id}/{token}/callback`` and how the emulator answered it."""

    type: int | None
    data: JSON
    elapsed: float
    """Seconds between the INTERACTION_CREATE dispatch and this callback."""
    status: int
    code: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass
class InteractionReply:
    """The bot's accepted first answer; ``followups`` is the live list of its follow-ups."""

    type: int
    data: JSON
    elapsed: float
    message: MessageRecord | None
    followups: list[MessageRecord]


@dataclass
class InteractionRecord:
    """An interaction the emulator dispatched, and everything the bot did to answer it."""

    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    guild_id: int | None
    payload: JSON
    created_at: float
    dispatched_at: float
    component_message: MessageRecord | None = None
    attempts: list[CallbackAttempt] = field(default_factory=list)
    reply: InteractionReply | None = None
    original: MessageRecord | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    modal: JSON | None = None
    choices: list[JSON] | None = None
    _answered: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def response(self, timeout: float = 5.0) -> InteractionReply:  # noqa: ASYNC109
        """Wait for the bot's accepted callback."""
        try:
            await asyncio.wait_for(self._answered.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"interaction {self.id} got no accepted answer within {timeout}s "
                f"(attempts: {self.attempts})"
            ) from None
        assert self.reply is not None
        return self.reply

    async def followup(self, index: int = 0, timeout: float = 5.0) -> MessageRecord:  # noqa: ASYNC109
        """Wait for the follow-up number ``index`` (0 is the first)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.followups) <= index:
            if loop.time() > deadline:
                raise TimeoutError(f"interaction {self.id} got no follow-up #{index}")
            await asyncio.sleep(0.01)
        return self.followups[index]


@dataclass
class RequestRecord:
    """One REST request: ``path`` is relative to /api/v10, ``at`` is ``time.monotonic()``."""

    method: str
    path: str
    query: dict[str, str]
    at: float
    json: Any
    status: int | None = None


@dataclass
class ResumeRecord:
    session_id: str
    seq: int
    replayed: int


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int | None = None
    code: int | None = None
    message: str | None = None
    retry_after: float = 0.1
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and bool(self.pattern.search(path))


@dataclass
class _Window:
    """A fixed-window counter: ``limit`` requests per ``per`` seconds."""

    limit: int
    per: float
    remaining: int = 0
    reset_at: float = 0.0

    def refresh(self, now: float) -> None:
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = now + self.per

    def retry_after(self, now: float) -> float:
        return max(self.reset_at - now, 0.001)


class _RateLimited(Exception):
    def __init__(self, retry_after: float, *, is_global: bool) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.is_global = is_global


@dataclass
class _Call:
    """One REST call as the handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[Attachment]

    def id(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            errors = _FormErrors()
            value = self.params[name]
            errors.add((name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
            raise DiscordError(50035, errors=errors.tree) from None

    @property
    def json(self) -> JSON:
        return _obj(self.body)


@dataclass
class _Connection:
    """One gateway WebSocket; frames go out through a queue to keep their order."""

    ws: web.WebSocketResponse
    request: web.Request
    compress: bool
    queue: asyncio.Queue[tuple[JSON, Callable[[], None] | None]] = field(
        default_factory=asyncio.Queue
    )
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    authenticated: bool = False
    compressor: Any = None

    def send(self, frame: JSON, on_sent: Callable[[], None] | None = None) -> None:
        self.queue.put_nowait((frame, on_sent))


@dataclass
class _Session:
    id: str
    intents: int
    seq: int = 0
    backlog: list[JSON] = field(default_factory=list)
    connection: _Connection | None = None


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    handler: Callable[[DiscordEmulator, _Call], Awaitable[tuple[int, Any]]]
    auth: bool = True
    global_limit: bool = True
    bucket: Literal["route", "message"] = "route"

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")

    @property
    def bucket_hash(self) -> str:
        return hashlib.sha1(f"{self.method} {self.template}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class DiscordEmulator:
    """One aiohttp server on 127.0.0.1 speaking Discord's REST API v10 and gateway."""

    def __init__(
        self,
        token: str = "tok",
        app_id: int = DEFAULT_APP_ID,
        bot_user_id: int | None = None,
        *,
        bot_name: str = "CDS Bot",
        owner_id: int = 1,
        heartbeat_interval: int = 41250,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 900.0,
        rate_limits: bool = True,
        global_limit: tuple[int, float] = (50, 1.0),
        message_limit: tuple[int, float] = (5, 5.0),
        route_limit: tuple[int, float] = (50, 1.0),
        privileged_intents: int = PRIVILEGED_INTENTS,
        attachment_size_limit: int = 10 * 1024 * 1024,
        gateway_compression: bool = False,
    ) -> None:
        """Configure the emulator; ``async with`` starts it.

        ``interaction_deadline``: seconds the bot has for its first answer (Discord: 3).
        ``token_lifetime``: seconds follow-ups are accepted (Discord: 15 minutes).
        ``global_limit``, ``message_limit`` (per channel), ``route_limit`` (every other route
        and major parameter): (requests, seconds); ``rate_limits=False`` turns all off.
        ``privileged_intents``: the privileged intents enabled for the app (others get 4014).
        ``gateway_compression``: send zlib-stream binary frames when the client asks for them
        (plain JSON text frames otherwise, which discord.py also accepts).
        """
        self.token = token
        self.app_id = app_id
        self.heartbeat_interval = heartbeat_interval
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.rate_limits = rate_limits
        self.global_limit = global_limit
        self.message_limit = message_limit
        self.route_limit = route_limit
        self.privileged_intents = privileged_intents
        self.attachment_size_limit = attachment_size_limit
        self.gateway_compression = gateway_compression

        self.bot_user = User(bot_user_id or app_id, bot_name, bot_name, "en-US", bot=True)
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user}
        if owner_id not in self.users:
            self.users[owner_id] = User(owner_id, "owner")
        self.owner_id = owner_id
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.requests: list[RequestRecord] = []
        self.unhandled: list[str] = []
        """``METHOD /path`` of REST calls the emulator does not know (answered 404)."""
        self.count_429 = 0
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.resumes: list[ResumeRecord] = []
        self.gateway_queries: list[dict[str, str]] = []
        """The query string of every gateway connection (``v``, ``encoding``, ``compress``)."""
        self.gateway_received: list[JSON] = []
        """Every frame the client sent on the gateway (tokens masked)."""
        self.presence: JSON | None = None

        self._ids = _Snowflakes()
        self._dm_channels: dict[int, int] = {}
        self._messages: dict[int, MessageRecord] = {}
        self._transcripts: dict[int, list[MessageRecord]] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self._tokens: dict[str, InteractionRecord] = {}
        self._modals: list[InteractionRecord] = []
        self._poll_votes: dict[int, dict[int, list[int]]] = {}  # message -> user -> answers
        self._faults: list[_Fault] = []
        self._global_window = _Window(*global_limit)
        self._buckets: dict[tuple[str, str], _Window] = {}
        self._session: _Session | None = None
        self._connections: list[_Connection] = []
        self._gateway_open = asyncio.Event()
        self._gateway_open.set()
        self._change = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes = [(route, route.pattern) for route in _ROUTES]
        self.port = 0

    # ---------------------------------------------------------------- lifecycle and wiring

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_get("/", self._gateway)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for connection in list(self._connections):
            await connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The value for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (as a yarl.URL)."""
        return f"ws://127.0.0.1:{self.port}/"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST routes and gateway at the emulator, and restore them after."""
        route, socket = discord.http.Route, discord.gateway.DiscordWebSocket
        saved = route.BASE, socket.DEFAULT_GATEWAY
        route.BASE = self.api_base
        socket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            route.BASE, socket.DEFAULT_GATEWAY = saved

    # ---------------------------------------------------------------- building the world

    def add_user(
        self, user_id: int, username: str, global_name: str | None = None, locale: str = "fr"
    ) -> User:
        """Create (or rename) a user."""
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(user_id, username, global_name, locale)
        else:
            user.username, user.global_name, user.locale = username, global_name, locale
        return user

    def add_guild(
        self,
        guild_id: int,
        name: str,
        channels: Sequence[int | tuple[int, str] | Mapping[str, Any]] = (),
        members: Sequence[int | Mapping[str, Any]] = (),
        *,
        roles: Sequence[Mapping[str, Any]] = (),
        owner_id: int | None = None,
        locale: str = "fr",
        bot_permissions: int = BOT_PERMISSIONS,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
    ) -> Guild:
        """Add a server the bot is in; dispatch GUILD_CREATE if the bot is connected.

        ``channels``: ids, ``(id, name)`` pairs or mappings with ``id``, ``name``, ``type``
        (0 text, 2 voice, 4 category, 5 news), ``parent_id``, ``topic``. ``members``: user ids
        or mappings with ``id``, ``roles``, ``nick``; unknown users are created.
        ``roles``: mappings with ``id``, ``name``, ``permissions``.
        """
        owner = owner_id if owner_id is not None else self.owner_id
        guild = Guild(guild_id, name, owner, locale)
        guild.roles[guild_id] = Role(guild_id, "@everyone", int(everyone_permissions))
        for position, spec in enumerate(roles, start=1):
            role_id = int(spec["id"])
            permissions = int(spec.get("permissions", 0))
            guild.roles[role_id] = Role(
                role_id, str(spec.get("name", role_id)), permissions, position
            )
        bot_role = Role(
            self._ids.next(), self.bot_user.username, int(bot_permissions), len(guild.roles)
        )
        bot_role.managed, bot_role.bot_id = True, self.bot_user.id
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot_user.id] = Member(self.bot_user.id, [bot_role.id])
        for position, channel_spec in enumerate(channels):
            channel = self._channel_from_spec(guild_id, position, channel_spec)
            guild.channels[channel.id] = channel
            self.channels[channel.id] = channel
        for member_spec in [owner, *members]:
            member = self._member_from_spec(member_spec)
            guild.members.setdefault(member.user_id, member)
        self.guilds[guild_id] = guild
        self._dispatch("GUILD_CREATE", self._guild_create(guild), intent=Intent.GUILDS)
        self._changed()
        return guild

    def add_channel(
        self, guild_id: int, channel_id: int, name: str, *, type: int = 0, **extra: Any
    ) -> Channel:
        """Add a channel to a guild and dispatch CHANNEL_CREATE."""
        guild = self.guilds[guild_id]
        spec = {"id": channel_id, "name": name, "type": type, **extra}
        channel = self._channel_from_spec(guild_id, len(guild.channels), spec)
        guild.channels[channel_id] = self.channels[channel_id] = channel
        self._dispatch("CHANNEL_CREATE", self._channel_json(channel), intent=Intent.GUILDS)
        return channel

    def close_dms(self, user_id: int, closed: bool = True) -> None:
        """Make DMs to this user fail with 403 50007."""
        self._user(user_id).dms_closed = closed

    def deny_channel(self, channel_id: int, denied: bool = True) -> None:
        """Take the bot's send permission away in a channel (403 50013); CHANNEL_UPDATE."""
        channel = self._channel(channel_id)
        channel.denied = denied
        self._dispatch("CHANNEL_UPDATE", self._channel_json(channel), intent=Intent.GUILDS)

    def unlist_channel(self, channel_id: int, unlisted: bool = True) -> None:
        """Leave a channel out of the next GUILD_CREATEs (as an archived thread): it still
        answers by id. No event: a connected client notices nothing."""
        self._channel(channel_id).unlisted = unlisted

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (later calls get 404 10003) and dispatch CHANNEL_DELETE."""
        channel = self.channels.pop(channel_id)
        if channel.guild_id is not None:
            self.guilds[channel.guild_id].channels.pop(channel_id, None)
        self._dispatch("CHANNEL_DELETE", self._channel_json(channel), intent=Intent.GUILDS)
        self._changed()

    def remove_guild(self, guild_id: int, *, unavailable: bool = False) -> None:
        """The bot leaves (or loses, with ``unavailable``) a guild: GUILD_DELETE."""
        data: JSON = {"id": str(guild_id)}
        if unavailable:
            data["unavailable"] = True
        else:
            guild = self.guilds.pop(guild_id)
            for channel_id in guild.channels:
                self.channels.pop(channel_id, None)
        self._dispatch("GUILD_DELETE", data, intent=Intent.GUILDS)
        self._changed()

    def guild_outage(self, guild_id: int, down: bool = True) -> None:
        """A Discord outage hides a guild (``down``) or ends: the bot keeps it, but while it
        is down READY lists it as unavailable without a GUILD_CREATE; a connected client gets
        GUILD_DELETE with ``unavailable``, then GUILD_CREATE when it is back."""
        guild = self._guild(guild_id)
        guild.unavailable = down
        if down:
            data = {"id": str(guild_id), "unavailable": True}
            self._dispatch("GUILD_DELETE", data, intent=Intent.GUILDS)
        else:
            self._dispatch("GUILD_CREATE", self._guild_create(guild), intent=Intent.GUILDS)
        self._changed()

    def dm_channel(self, user_id: int) -> Channel:
        """The DM channel between the bot and a user (created on first use)."""
        self._user(user_id)
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self._ids.next()
            self._dm_channels[user_id] = channel_id
            self.channels[channel_id] = Channel(channel_id, None, type=1, recipient_id=user_id)
        return self.channels[channel_id]

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The application commands synced globally (``None``) or for a guild."""
        return list(self._commands.get(guild_id, []))

    # ---------------------------------------------------------------- transcripts and waiting

    def messages(self, channel_id: int, *, deleted: bool = False) -> list[MessageRecord]:
        """The transcript of a channel, oldest first (interaction answers included)."""
        return [m for m in self._transcripts.get(channel_id, []) if deleted or not m.deleted]

    def dm_messages(self, user_id: int, *, deleted: bool = False) -> list[MessageRecord]:
        """The transcript of the bot's DMs with a user."""
        channel_id = self._dm_channels.get(user_id)
        return [] if channel_id is None else self.messages(channel_id, deleted=deleted)

    def message(self, message_id: int) -> MessageRecord:
        return self._messages[message_id]

    def all_messages(self) -> list[MessageRecord]:
        return sorted(self._messages.values(), key=lambda m: m.id)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy and return its value.

        It is re-checked on every emulator change and every 20 ms, so it may also look at
        the client's own state.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._change.wait(), min(remaining, 0.02))

    async def wait_for_message(
        self,
        predicate: Callable[[MessageRecord], bool] = lambda message: True,
        *,
        channel_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> MessageRecord:
        """Wait for a message (in a channel, if given) that satisfies ``predicate``."""

        def find() -> MessageRecord | None:
            pool = self.all_messages() if channel_id is None else self.messages(channel_id)
            return next((m for m in pool if predicate(m)), None)

        found = await self.wait_for(find, timeout)
        assert found is not None
        return found

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        code: int | None = None,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float = 0.1,
    ) -> None:
        """Answer the next ``times`` matching REST calls with an error.

        ``method`` may be ``"*"``; ``path_regex`` is searched in the path under /api/v10.
        A 429 carries ``retry_after`` and the ``Via`` header, like Discord's.
        """
        pattern = re.compile(path_regex)
        fault = _Fault(method.upper(), pattern, times, status, code, message, retry_after)
        self._faults.append(fault)

    def slow_next(self, method: str, path_regex: str, delay: float, *, times: int = 1) -> None:
        """Delay the next ``times`` matching REST calls by ``delay`` seconds."""
        self._faults.append(_Fault(method.upper(), re.compile(path_regex), times, delay=delay))

    def _take_faults(self, method: str, path: str) -> tuple[float, _Fault | None]:
        delay, failure = 0.0, None
        for fault in self._faults:
            if not fault.matches(method, path):
                continue
            if fault.status is None and not delay:
                fault.times -= 1
                delay = fault.delay
            elif fault.status is not None and failure is None:
                fault.times -= 1
                failure = fault
        self._faults = [f for f in self._faults if f.times > 0]
        return delay, failure

    # ---------------------------------------------------------------- users acting

    def user_message(self, user_id: int, where: Where, content: str) -> MessageRecord:
        """A user posts a plain message: MESSAGE_CREATE (content hidden without the intent)."""
        channel = self._where(where, user_id)
        self._require_member(channel, user_id)
        body = {"content": content}
        message = self._store_message(channel, body, author_id=user_id, kind="user", files=[])
        return message

    async def slash_command(
        self,
        user_id: int,
        where: Where,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user runs a synced slash command (``"group sub"`` for sub-commands).

        ``options`` maps option names to values (ids for users, channels and roles); the
        Discord client's own checks (required options, choices, ranges, permissions) raise
        ``ValueError``/``PermissionError``/``LookupError``. ``locale`` defaults to the user's.
        """
        channel = self._where(where, user_id)
        data = self._command_data(channel, name, dict(options or {}), user_id=user_id)
        return self._interact(InteractionType.APPLICATION_COMMAND, user_id, channel, data, locale)

    async def autocomplete(
        self,
        user_id: int,
        where: Where,
        name: str,
        focused_option: str,
        value: str,
        options: Mapping[str, Any] | None = None,
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user types ``value`` into an autocompleted option; the bot answers with choices."""
        channel = self._where(where, user_id)
        data = self._command_data(
            channel, name, dict(options or {}), user_id=user_id, focused=(focused_option, value)
        )
        return self._interact(InteractionType.AUTOCOMPLETE, user_id, channel, data, locale)

    async def press_button(
        self,
        user_id: int,
        message: MessageRecord | int,
        custom_id: str,
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user presses a button of a message the bot sent."""
        record = self._component_message(message)
        component = self._find_component(record, custom_id, {2})
        if component.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": 2}
        channel = self._channel(record.channel_id)
        return self._interact(
            InteractionType.MESSAGE_COMPONENT, user_id, channel, data, locale, message=record
        )

    async def select(
        self,
        user_id: int,
        message: MessageRecord | int,
        custom_id: str,
        values: Sequence[str | int],
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user picks ``values`` in a select menu of a message the bot sent."""
        record = self._component_message(message)
        component = self._find_component(record, custom_id, SELECT_TYPES)
        channel = self._channel(record.channel_id)
        data = self._select_data(component, values, channel)
        return self._interact(
            InteractionType.MESSAGE_COMPONENT, user_id, channel, data, locale, message=record
        )

    async def submit_modal(
        self,
        user_id: int,
        where: Where | None,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user fills in and submits a modal the bot opened for them.

        ``where`` may be ``None`` for the channel the modal was opened in.
        """
        opener = next(
            (
                r
                for r in reversed(self._modals)
                if r.user_id == user_id and _obj(r.modal).get("custom_id") == custom_id
            ),
            None,
        )
        if opener is None or opener.modal is None:
            raise ValueError(f"no modal {custom_id!r} was opened for user {user_id}")
        channel = self._channel(opener.channel_id) if where is None else self._where(where, user_id)
        components = _modal_submission(opener.modal, dict(values))
        data = {"custom_id": custom_id, "components": components}
        return self._interact(
            InteractionType.MODAL_SUBMIT,
            user_id,
            channel,
            data,
            locale,
            message=opener.component_message,
        )

    def vote(self, user_id: int, message: MessageRecord | int, answer_ids: Sequence[int]) -> None:
        """A user votes in a native poll the bot sent (answers numbered from 1, as Discord
        does); an empty list takes the vote back. Like Discord, one
        MESSAGE_POLL_VOTE_REMOVE per answer given up, then one MESSAGE_POLL_VOTE_ADD per new
        answer (with the polls intent of a guild or of direct messages)."""
        record = message if isinstance(message, MessageRecord) else self.message(message)
        if record.poll is None or record.deleted:
            raise ValueError(f"message {record.id} has no poll")
        channel = self._channel(record.channel_id)
        self._require_member(channel, user_id)
        poll = _obj(record.poll)
        count = len(poll.get("answers") or [])
        if any(not 1 <= answer <= count for answer in answer_ids):
            raise ValueError(f"the poll of message {record.id} has answers 1 to {count}")
        if len(set(answer_ids)) > 1 and not poll.get("allow_multiselect"):
            raise ValueError(f"the poll of message {record.id} allows one answer")
        votes = self._poll_votes.setdefault(record.id, {})
        before, after = votes.get(user_id, []), list(dict.fromkeys(answer_ids))
        votes[user_id] = after
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(record.channel_id),
            "message_id": str(record.id),
        }
        if record.guild_id is not None:
            data["guild_id"] = str(record.guild_id)
        intent = (
            Intent.GUILD_MESSAGE_POLLS
            if record.guild_id is not None
            else Intent.DIRECT_MESSAGE_POLLS
        )
        for answer in before:
            if answer not in after:
                self._dispatch(
                    "MESSAGE_POLL_VOTE_REMOVE", {**data, "answer_id": answer}, intent=intent
                )
        for answer in after:
            if answer not in before:
                self._dispatch(
                    "MESSAGE_POLL_VOTE_ADD", {**data, "answer_id": answer}, intent=intent
                )
        self._changed()

    # ---------------------------------------------------------------- gateway control

    @contextlib.asynccontextmanager
    async def gateway_offline(self) -> AsyncIterator[None]:
        """Hold new gateway connections (no HELLO) so dispatches pile up for the resume."""
        self._gateway_open.clear()
        try:
            yield
        finally:
            self._gateway_open.set()

    async def request_reconnect(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Send op 7 and wait until the client has closed the connection."""
        connection = self._live_connection()
        connection.send({"op": Op.RECONNECT, "d": None})
        await asyncio.wait_for(connection.closed.wait(), timeout)

    async def invalidate_session(self, resumable: bool = False, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Send op 9; unless ``resumable`` the client must IDENTIFY again."""
        connection = self._live_connection()
        connection.send({"op": Op.INVALID_SESSION, "d": resumable})
        if not resumable:
            self._session = None
        await asyncio.wait_for(connection.closed.wait(), timeout)

    async def drop_connection(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Cut the TCP connection without a close frame; the client reconnects and resumes."""
        connection = self._live_connection()
        transport = connection.request.transport
        if transport is not None:
            transport.abort()
        await asyncio.wait_for(connection.closed.wait(), timeout)

    def _live_connection(self) -> _Connection:
        if self._session is None or self._session.connection is None:
            raise RuntimeError("no client is connected to the gateway")
        return self._session.connection

    # ---------------------------------------------------------------- REST machinery

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        record = RequestRecord(method, path, dict(request.query), time.monotonic(), None)
        self.requests.append(record)
        headers: dict[str, str] = {}
        try:
            record.json, files = await self._read_body(request)
            route, params = self._match(method, path)
            self._rate_limit(route, params, headers)
            if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(0, status=401, message=STATUS_MESSAGES[401])
            delay, failure = self._take_faults(method, path)
            if delay:
                await asyncio.sleep(delay)
            if failure is not None:
                self._raise_fault(failure)
            call = _Call(method, path, params, request.query, record.json, files)
            status, payload = await route.handler(self, call)
        except DiscordError as error:
            status, payload = error.status, error.body()
        except _RateLimited as limited:
            status = 429
            payload = {
                "message": "You are being rate limited.",
                "retry_after": round(limited.retry_after, 3),
                "global": limited.is_global,
            }
            headers["Via"] = "1.1 google"
            headers["Retry-After"] = str(max(1, round(limited.retry_after)))
            headers["X-RateLimit-Scope"] = "global" if limited.is_global else "user"
            if limited.is_global:
                headers["X-RateLimit-Global"] = "true"
        record.status = status
        if status == 429:
            self.count_429 += 1
        self._changed()
        return _json_response(status, payload, headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Attachment]]:
        content_type = request.content_type
        if not request.can_read_body:
            return None, []
        if content_type.startswith("multipart/"):
            form = await request.post()
            body: Any = {}
            files: list[Attachment] = []
            for name, value in form.items():
                if name == "payload_json":
                    if isinstance(value, web.FileField):
                        value = value.file.read()
                    text = value.decode() if isinstance(value, bytes | bytearray) else value
                    body = json.loads(text)
                elif isinstance(value, web.FileField):
                    data = value.file.read()
                    files.append(
                        Attachment(self._ids.next(), value.filename, value.content_type, data)
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise DiscordError(50109) from None

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        known_path = False
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            known_path = True
            if route.method == method:
                return route, found.groupdict()
        self.unhandled.append(f"{method} {path}")
        status = 405 if known_path else 404
        raise DiscordError(0, status=status, message=STATUS_MESSAGES[status])

    def _rate_limit(
        self, route: _Route, params: Mapping[str, str], headers: dict[str, str]
    ) -> None:
        """Count the call against the global and route limits; fill the X-RateLimit headers."""
        now = time.monotonic()
        major = params.get("channel_id") or params.get("guild_id") or params.get("token") or ""
        key = (route.bucket_hash, major)
        window = self._buckets.get(key)
        if window is None:
            limit = self.message_limit if route.bucket == "message" else self.route_limit
            window = self._buckets[key] = _Window(*limit)
        window.refresh(now)
        if self.rate_limits and route.global_limit:
            self._global_window.limit, self._global_window.per = self.global_limit
            self._global_window.refresh(now)
            if self._global_window.remaining <= 0:
                _fill_rate_headers(headers, window, route.bucket_hash, now)
                raise _RateLimited(self._global_window.retry_after(now), is_global=True)
        if self.rate_limits and window.remaining <= 0:
            _fill_rate_headers(headers, window, route.bucket_hash, now)
            raise _RateLimited(window.retry_after(now), is_global=False)
        if self.rate_limits and route.global_limit:
            self._global_window.remaining -= 1
        window.remaining = max(window.remaining - 1, 0) if self.rate_limits else window.limit
        _fill_rate_headers(headers, window, route.bucket_hash, now)

    def _raise_fault(self, fault: _Fault) -> None:
        if fault.status == 429:
            raise _RateLimited(fault.retry_after, is_global=False)
        status = fault.status or 500
        code = fault.code if fault.code is not None else 0
        message = fault.message or (
            ERRORS[code][1] if code in ERRORS and code else STATUS_MESSAGES.get(status, "Error")
        )
        raise DiscordError(code, status=status, message=message)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        message_files = (a for m in self._messages.values() for a in m.attachments)
        wanted = int(request.match_info["attachment_id"])
        found = next((a for a in message_files if a.id == wanted), None)
        if found is None:
            return _json_response(404, {"message": "404: Not Found", "code": 0}, {})
        content_type = found.content_type or "application/octet-stream"
        return web.Response(body=found.data, headers={"Content-Type": content_type})

    # ---------------------------------------------------------------- REST handlers

    async def _get_me(self, call: _Call) -> tuple[int, Any]:
        data = self.bot_user.to_json() | {"verified": True, "mfa_enabled": False, "email": None}
        return 200, data

    async def _get_user(self, call: _Call) -> tuple[int, Any]:
        user = self.users.get(call.id("user_id"))
        if user is None:
            raise DiscordError(10013)
        return 200, user.to_json()

    async def _create_dm(self, call: _Call) -> tuple[int, Any]:
        try:
            recipient = int(call.json.get("recipient_id", ""))
        except ValueError:
            raise DiscordError(50033) from None
        if recipient not in self.users or recipient == self.bot_user.id:
            raise DiscordError(50033)
        return 200, self._channel_json(self.dm_channel(recipient))

    async def _get_application(self, call: _Call) -> tuple[int, Any]:
        return 200, {
            "id": str(self.app_id),
            "name": self.bot_user.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self._user(self.owner_id).to_json(),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "summary": "",
            "interactions_endpoint_url": None,
            "rpc_origins": [],
            "redirect_uris": [],
            "tags": [],
            "bot": self.bot_user.to_json(),
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    async def _get_gateway(self, call: _Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, call: _Call) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url.rstrip("/"),
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - self.identify_count,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def _get_commands(self, call: _Call) -> tuple[int, Any]:
        return 200, self.commands(self._command_scope(call))

    async def _put_commands(self, call: _Call) -> tuple[int, Any]:
        scope = self._command_scope(call)
        errors = _FormErrors()
        commands = _check_command_list(call.body, errors)
        errors.raise_if_any()
        stored = [self._store_command(scope, command) for command in commands]
        self._commands[scope] = stored
        self._changed()
        return 200, stored

    async def _get_channel(self, call: _Call) -> tuple[int, Any]:
        return 200, self._channel_json(self._channel(call.id("channel_id")))

    async def _post_message(self, call: _Call) -> tuple[int, Any]:
        channel = self._channel(call.id("channel_id"))
        if channel.type not in TEXT_CHANNEL_TYPES:
            raise DiscordError(50008)
        permissions = self._permissions(channel, self.bot_user.id)
        if not permissions & Perm.VIEW_CHANNEL:
            raise DiscordError(50001)
        if not permissions & Perm.SEND_MESSAGES or (
            call.files and not permissions & Perm.ATTACH_FILES
        ):
            raise DiscordError(50013)
        if channel.recipient_id is not None and self._user(channel.recipient_id).dms_closed:
            raise DiscordError(50007)
        body = dict(call.json)
        body["flags"] = int(body.get("flags") or 0) & ~(EPHEMERAL | LOADING)
        self._validate_new_message(body, call.files)
        reference = _obj(body.get("message_reference"))
        if reference.get("message_id") and reference.get("fail_if_not_exists", True):
            referenced = self._messages.get(int(reference["message_id"]))
            if referenced is None or referenced.channel_id != channel.id:
                errors = _FormErrors()
                errors.add(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                raise DiscordError(50035, errors=errors.tree)
        message = self._store_message(
            channel, body, author_id=self.bot_user.id, kind="channel", files=call.files
        )
        return 200, self._message_json(message)

    async def _get_message(self, call: _Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        return 200, self._message_json(message)

    async def _patch_message(self, call: _Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        if message.author_id != self.bot_user.id:
            raise DiscordError(50005)
        if self._channel(message.channel_id).denied:
            raise DiscordError(50013)
        self._edit_message(message, call.json, call.files)
        return 200, self._message_json(message)

    async def _delete_message(self, call: _Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        channel = self._channel(message.channel_id)
        own = message.author_id == self.bot_user.id
        if not own and not self._permissions(channel, self.bot_user.id) & Perm.MANAGE_MESSAGES:
            raise DiscordError(50013)
        self._delete(message)
        return 204, None

    async def _typing(self, call: _Call) -> tuple[int, Any]:
        self._channel(call.id("channel_id"))
        return 204, None

    async def _get_guild(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild(call.id("guild_id"))
        data = self._guild_create(guild)
        for key in ("channels", "members", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return 200, data

    async def _get_guild_channels(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild(call.id("guild_id"))
        return 200, [self._channel_json(c) for c in guild.channels.values()]

    async def _get_member(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild(call.id("guild_id"))
        member = guild.members.get(call.id("user_id"))
        if member is None:
            raise DiscordError(10007)
        return 200, self._member_json(guild, member)

    async def _interaction_callback(self, call: _Call) -> tuple[int, Any]:
        record = self.interactions.get(call.id("interaction_id"))
        if record is None or record.token != call.params["token"]:
            raise DiscordError(10062)
        body = call.json
        raw_kind = body.get("type")
        kind = raw_kind if isinstance(raw_kind, int) else None
        data = _obj(body.get("data"))
        elapsed = time.monotonic() - record.dispatched_at
        attempt = CallbackAttempt(kind, data, elapsed, 200)
        record.attempts.append(attempt)
        try:
            if record.reply is not None:
                raise DiscordError(40060)
            if elapsed > self.interaction_deadline:
                raise DiscordError(10062)
            result = self._answer_interaction(record, kind, data, call.files)
        except DiscordError as error:
            attempt.status, attempt.code = error.status, error.code
            raise
        assert kind is not None  # _answer_interaction refused anything else
        message = record.original if kind in (4, 5, 7) else None
        record.reply = InteractionReply(kind, data, elapsed, message, record.followups)
        record._answered.set()
        self._changed()
        return 200, result

    async def _post_followup(self, call: _Call) -> tuple[int, Any]:
        record = self._webhook_interaction(call)
        channel = self._channel(record.channel_id, unknown=10015)
        body = dict(call.json)
        flags = int(body.get("flags") or 0)
        body["flags"] = flags & ~LOADING
        self._validate_new_message(body, call.files)
        message = self._store_message(
            channel,
            body,
            author_id=self.bot_user.id,
            kind="followup",
            files=call.files,
            interaction=record,
        )
        record.followups.append(message)
        self._changed()
        if call.query.get("wait", "false").lower() in ("true", "1"):
            return 200, self._message_json(message)
        return 204, None

    async def _get_webhook_message(self, call: _Call) -> tuple[int, Any]:
        return 200, self._message_json(self._webhook_message(call))

    async def _patch_webhook_message(self, call: _Call) -> tuple[int, Any]:
        message = self._webhook_message(call)
        self._edit_message(message, call.json, call.files)
        return 200, self._message_json(message)

    async def _delete_webhook_message(self, call: _Call) -> tuple[int, Any]:
        self._delete(self._webhook_message(call))
        return 204, None

    # ---------------------------------------------------------------- REST helpers

    def _command_scope(self, call: _Call) -> int | None:
        if call.id("application_id") != self.app_id:
            raise DiscordError(50001)
        if "guild_id" not in call.params:
            return None
        guild_id = call.id("guild_id")
        if guild_id not in self.guilds:
            raise DiscordError(50001)
        return guild_id

    def _store_command(self, scope: int | None, command: JSON) -> JSON:
        kind = int(command.get("type", 1))
        key = (scope, kind, str(command["name"]))
        command_id = self._command_ids.setdefault(key, self._ids.next())
        stored = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "name_localizations": None,
            "description_localizations": None,
            **command,
            "id": str(command_id),
            "application_id": str(self.app_id),
            "type": kind,
            "version": str(self._ids.next()),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        else:
            stored.setdefault("contexts", None)
            stored.setdefault("integration_types", [0])
        return stored

    def _channel_message(self, call: _Call) -> MessageRecord:
        channel = self._channel(call.id("channel_id"))
        message = self._messages.get(call.id("message_id"))
        if (
            message is None
            or message.channel_id != channel.id
            or message.deleted
            or message.ephemeral
        ):
            raise DiscordError(10008)
        return message

    def _webhook_interaction(self, call: _Call) -> InteractionRecord:
        record = self._tokens.get(call.params["token"])
        if call.id("application_id") != self.app_id or record is None:
            raise DiscordError(10015)
        if time.monotonic() - record.created_at > self.token_lifetime:
            raise DiscordError(50027)
        if record.reply is None:
            raise DiscordError(10015)
        return record

    def _webhook_message(self, call: _Call) -> MessageRecord:
        record = self._webhook_interaction(call)
        wanted = call.params["message_id"]
        if wanted == "@original":
            message = record.original
        else:
            message_id = call.id("message_id")
            candidates = [record.original, *record.followups]
            message = next((m for m in candidates if m is not None and m.id == message_id), None)
        if message is None or message.deleted:
            raise DiscordError(10008)
        return message

    def _validate_new_message(self, body: JSON, files: list[Attachment]) -> None:
        errors = _FormErrors()
        _check_message(body, errors)
        errors.raise_if_any()
        for upload in files:
            if len(upload.data) > self.attachment_size_limit:
                raise DiscordError(40005)
        parts = ("content", "embeds", "components", "poll", "sticker_ids")
        if not files and not any(body.get(part) for part in parts):
            raise DiscordError(50006)

    def _answer_interaction(
        self, record: InteractionRecord, kind: int | None, data: JSON, files: list[Attachment]
    ) -> JSON:
        """Apply a first answer (already checked for timing) and build the callback body."""
        errors = _FormErrors()
        if kind not in ALLOWED_CALLBACKS[record.type]:
            errors.add(
                ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
            )
            errors.raise_if_any()
        if kind in (6, 7) and record.component_message is None:
            errors.add(
                ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "There is no message to update"
            )
            errors.raise_if_any()
        if kind == CallbackType.MODAL:
            _check_modal(data, errors)
        elif kind == CallbackType.AUTOCOMPLETE_RESULT:
            _check_choices(data.get("choices"), errors)
        elif kind in (4, 7):
            _check_message(data, errors)
        errors.raise_if_any()
        channel = self._channel(record.channel_id, unknown=10062)
        flags = int(data.get("flags") or 0)
        interaction: JSON = {"id": str(record.id), "type": record.type}
        if kind == CallbackType.MESSAGE:
            self._validate_new_message(data, files)
            record.original = self._store_message(
                channel,
                data,
                author_id=self.bot_user.id,
                kind="response",
                files=files,
                interaction=record,
            )
        elif kind == CallbackType.DEFERRED_MESSAGE:
            deferred = {"content": "", "flags": (flags & EPHEMERAL) | LOADING}
            record.original = self._store_message(
                channel,
                deferred,
                author_id=self.bot_user.id,
                kind="response",
                files=[],
                interaction=record,
            )
        elif kind in (CallbackType.DEFERRED_UPDATE, CallbackType.UPDATE_MESSAGE):
            record.original = record.component_message
            if kind == CallbackType.UPDATE_MESSAGE and record.original is not None:
                self._edit_message(record.original, data, files)
        elif kind == CallbackType.AUTOCOMPLETE_RESULT:
            record.choices = list(data.get("choices") or [])
        elif kind == CallbackType.MODAL:
            record.modal = data
            self._modals.append(record)
        result: JSON = {"interaction": interaction}
        if record.original is not None and kind in (4, 5, 7):
            message = record.original
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = message.loading
            interaction["response_message_ephemeral"] = message.ephemeral
            result["resource"] = {"type": kind, "message": self._message_json(message)}
        return result

    # ---------------------------------------------------------------- messages

    def _store_message(
        self,
        channel: Channel,
        body: JSON,
        *,
        author_id: int,
        kind: Literal["channel", "response", "followup", "user"],
        files: list[Attachment],
        interaction: InteractionRecord | None = None,
    ) -> MessageRecord:
        flags = int(body.get("flags") or 0)
        message = MessageRecord(
            id=self._ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            kind=kind,
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=flags,
            poll=body.get("poll"),
            allowed_mentions=body.get("allowed_mentions"),
            attachments=list(files),
            message_reference=body.get("message_reference"),
            interaction_id=interaction.id if interaction else None,
            visible_to=interaction.user_id if interaction and flags & EPHEMERAL else None,
        )
        self._compute_mentions(message)
        self._messages[message.id] = message
        self._transcripts.setdefault(channel.id, []).append(message)
        if not message.ephemeral:
            self._dispatch_message("MESSAGE_CREATE", message)
        self._changed()
        return message

    def _edit_message(self, message: MessageRecord, body: JSON, files: list[Attachment]) -> None:
        errors = _FormErrors()
        _check_message(body, errors)
        errors.raise_if_any()
        message.edits.append(message.snapshot())
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        if body.get("flags") is not None:
            kept = message.flags & EPHEMERAL
            message.flags = kept | (int(body["flags"]) & ~(EPHEMERAL | LOADING))
        message.flags &= ~LOADING
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body:
            kept_ids = {str(_obj(a).get("id")) for a in body["attachments"] or []}
            message.attachments = [a for a in message.attachments if str(a.id) in kept_ids]
        message.attachments.extend(files)
        message.edited_at = _now()
        self._compute_mentions(message)
        if not message.ephemeral:
            self._dispatch_message("MESSAGE_UPDATE", message)
        self._changed()

    def _delete(self, message: MessageRecord) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            self._dispatch("MESSAGE_DELETE", data, intent=self._message_intent(message))
        self._changed()

    def _compute_mentions(self, message: MessageRecord) -> None:
        """Who the message would ping, given its allowed_mentions (absent means "everything")."""
        allowed = message.allowed_mentions
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        listed_users = {int(u) for u in (allowed or {}).get("users") or []}
        listed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        content = message.content
        message.mention_everyone = "everyone" in parse and bool(EVERYONE_MENTION.search(content))
        users = [int(u) for u in USER_MENTION.findall(content)]
        roles = [int(r) for r in ROLE_MENTION.findall(content)]
        message.mentions = [
            u for u in dict.fromkeys(users) if "users" in parse or u in listed_users
        ]
        message.mention_roles = [
            r for r in dict.fromkeys(roles) if "roles" in parse or r in listed_roles
        ]

    def _message_json(self, message: MessageRecord) -> JSON:
        author = self._user(message.author_id)
        data: JSON = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": author.to_json(),
            "content": message.content,
            "timestamp": message.created_at.isoformat(),
            "edited_timestamp": message.edited_at.isoformat() if message.edited_at else None,
            "tts": False,
            "mention_everyone": message.mention_everyone,
            "mentions": [self._user(u).to_json() for u in message.mentions if u in self.users],
            "mention_roles": [str(r) for r in message.mention_roles],
            "attachments": [
                a.to_json(self.base_url, message.channel_id) for a in message.attachments
            ],
            "embeds": [{"type": "rich", **e} for e in message.embeds],
            "components": message.components,
            "pinned": False,
            "type": 0,
            "flags": message.flags,
        }
        if message.message_reference:
            data["type"] = 19
            data["message_reference"] = message.message_reference
        if message.interaction_id is not None:
            data["webhook_id"] = str(self.app_id)
            data["application_id"] = str(self.app_id)
            record = self.interactions[message.interaction_id]
            if record.type == InteractionType.APPLICATION_COMMAND and message.kind == "response":
                data["type"] = 20
        if message.poll is not None:
            data["poll"] = self._poll_json(message)
        return data

    def _poll_json(self, message: MessageRecord) -> JSON:
        poll = dict(_obj(message.poll))
        hours = float(poll.pop("duration", 24) or 24)
        answers = [
            {"answer_id": index, "poll_media": _obj(answer).get("poll_media", {})}
            for index, answer in enumerate(poll.get("answers") or [], start=1)
        ]
        return {
            "allow_multiselect": False,
            "layout_type": 1,
            **poll,
            "answers": answers,
            "expiry": (message.created_at + timedelta(hours=hours)).isoformat(),
            "results": {"is_finalized": False, "answer_counts": []},
        }

    def _dispatch_message(self, event: str, message: MessageRecord) -> None:
        data = self._message_json(message)
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
            guild = self.guilds.get(message.guild_id)
            member = guild.members.get(message.author_id) if guild else None
            if guild is not None and member is not None:
                data["member"] = self._member_json(guild, member, with_user=False)
        session = self._session
        hidden = (
            session is not None
            and message.author_id != self.bot_user.id
            and message.guild_id is not None
            and not session.intents & Intent.MESSAGE_CONTENT
            and self.bot_user.id not in message.mentions
        )
        if hidden:
            data.update(content="", embeds=[], components=[], attachments=[])
            data.pop("poll", None)
        self._dispatch(event, data, intent=self._message_intent(message))

    def _message_intent(self, message: MessageRecord) -> int:
        return Intent.GUILD_MESSAGES if message.guild_id is not None else Intent.DIRECT_MESSAGES

    # ---------------------------------------------------------------- interactions

    def _interact(
        self,
        kind: InteractionType,
        user_id: int,
        channel: Channel,
        data: JSON,
        locale: str | None,
        *,
        message: MessageRecord | None = None,
    ) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE; ``locale`` defaults to the user's own."""
        self._require_member(channel, user_id)
        locale = locale or self._user(user_id).locale
        interaction_id = self._ids.next()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        payload = self._interaction_payload(
            interaction_id, token, kind, user_id, channel, data, locale, message
        )
        now = time.monotonic()
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=kind,
            user_id=user_id,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            payload=payload,
            created_at=now,
            dispatched_at=now,
            component_message=message,
        )
        self.interactions[interaction_id] = record
        self._tokens[token] = record

        def sent() -> None:
            record.dispatched_at = time.monotonic()

        self._dispatch("INTERACTION_CREATE", payload, on_sent=sent)
        self._changed()
        return record

    def _interaction_payload(
        self,
        interaction_id: int,
        token: str,
        kind: InteractionType,
        user_id: int,
        channel: Channel,
        data: JSON,
        locale: str,
        message: MessageRecord | None,
    ) -> JSON:
        user = self._user(user_id)
        channel_data = self._channel_json(channel)
        channel_data["permissions"] = str(self._permissions(channel, user_id))
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": int(kind),
            "token": token,
            "version": 1,
            "data": data,
            "channel_id": str(channel.id),
            "channel": channel_data,
            "locale": locale,
            "app_permissions": str(self._permissions(channel, self.bot_user.id)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
            "authorizing_integration_owners": {"0": str(channel.guild_id or 0)},
            "context": 0 if channel.guild_id is not None else 1,
        }
        if channel.guild_id is not None:
            guild = self._guild(channel.guild_id)
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = guild.locale
            payload["guild"] = {"id": str(guild.id), "locale": guild.locale, "features": []}
            member = self._member_json(guild, guild.members[user_id])
            member["permissions"] = str(self._permissions(channel, user_id))
            payload["member"] = member
        else:
            payload["user"] = user.to_json()
        if message is not None:
            payload["message"] = self._message_json(message)
        return payload

    def _command_data(
        self,
        channel: Channel,
        name: str,
        options: dict[str, Any],
        *,
        user_id: int,
        focused: tuple[str, str] | None = None,
    ) -> JSON:
        """Build ``data`` for a slash command from its synced definition."""
        words = name.split()
        command, scope = self._find_command(channel, words[0])
        self._check_command_allowed(command, channel, user_id)
        data: JSON = {"id": command["id"], "name": words[0], "type": command.get("type", 1)}
        if scope is not None:
            data["guild_id"] = str(scope)
        container, definitions = data, list(command.get("options") or [])
        for word in words[1:]:
            sub = next(
                (o for o in definitions if o.get("name") == word and o.get("type") in (1, 2)), None
            )
            if sub is None:
                raise ValueError(f"command {name!r}: no sub-command {word!r}")
            node: JSON = {"type": sub["type"], "name": word}
            container["options"] = [node]
            container, definitions = node, list(sub.get("options") or [])
        resolved: JSON = {}
        values: list[JSON] = []
        for option_name, value in options.items():
            definition = _find_option(definitions, option_name, name)
            coerced = self._option_value(definition, value, channel, resolved)
            values.append({"type": definition["type"], "name": option_name, "value": coerced})
        if focused is not None:
            definition = _find_option(definitions, focused[0], name)
            if not definition.get("autocomplete"):
                raise ValueError(f"option {focused[0]!r} of {name!r} has no autocomplete")
            entry = {"type": definition["type"], "name": focused[0], "value": focused[1]}
            values.append(entry | {"focused": True})
        else:
            missing = [
                d["name"] for d in definitions if d.get("required") and d["name"] not in options
            ]
            if missing:
                raise ValueError(f"command {name!r}: required options missing: {missing}")
        if values:
            container["options"] = values
        if resolved:
            data["resolved"] = resolved
        return data

    def _find_command(self, channel: Channel, name: str) -> tuple[JSON, int | None]:
        scopes: list[int | None] = [channel.guild_id] if channel.guild_id is not None else []
        for scope in [*scopes, None]:
            for command in self._commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        raise LookupError(f"no slash command {name!r} was synced for this place")

    def _check_command_allowed(self, command: JSON, channel: Channel, user_id: int) -> None:
        """What the Discord client itself enforces before a user can run a command."""
        contexts = command.get("contexts")
        context = 0 if channel.guild_id is not None else 1
        if contexts is not None and context not in contexts:
            raise PermissionError(
                f"command {command['name']!r} is not offered in context {context}"
            )
        if channel.guild_id is None and command.get("dm_permission") is False:
            raise PermissionError(f"command {command['name']!r} is not offered in DMs")
        required = command.get("default_member_permissions")
        if channel.guild_id is not None and required is not None:
            granted = self._permissions(channel, user_id)
            if int(required) & ~granted:
                raise PermissionError(f"user {user_id} may not run {command['name']!r}")

    def _option_value(self, definition: JSON, value: Any, channel: Channel, resolved: JSON) -> Any:
        kind = definition["type"]
        name = definition["name"]
        coerced: Any
        if kind == 3:
            coerced = str(value)
            low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
            if not low <= len(coerced) <= high:
                raise ValueError(f"option {name!r}: length must be within {low}..{high}")
        elif kind in (4, 10):
            if isinstance(value, bool):
                raise ValueError(f"option {name!r} expects a number")
            coerced = int(value) if kind == 4 else float(value)
            if "min_value" in definition and coerced < definition["min_value"]:
                raise ValueError(f"option {name!r} below its minimum")
            if "max_value" in definition and coerced > definition["max_value"]:
                raise ValueError(f"option {name!r} above its maximum")
        elif kind == 5:
            coerced = bool(value)
        elif kind in (6, 7, 8, 9):
            coerced = str(int(value))
            self._resolve(int(value), kind, channel, resolved)
        else:
            raise ValueError(f"option {name!r}: option type {kind} is not emulated")
        choices = definition.get("choices")
        if choices and coerced not in [c["value"] for c in choices]:
            raise ValueError(f"option {name!r}: {value!r} is not one of its choices")
        return coerced

    def _resolve(self, target: int, kind: int, channel: Channel, resolved: JSON) -> None:
        """Add a user (6), channel (7), role (8) or either (9) to ``resolved``."""
        guild = self.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        if kind in (6, 9) and target in self.users:
            resolved.setdefault("users", {})[str(target)] = self.users[target].to_json()
            if guild is not None and target in guild.members:
                member = self._member_json(guild, guild.members[target], with_user=False)
                member["permissions"] = str(self._permissions(channel, target))
                resolved.setdefault("members", {})[str(target)] = member
        elif kind in (8, 9) and guild is not None and target in guild.roles:
            resolved.setdefault("roles", {})[str(target)] = guild.roles[target].to_json()
        elif kind == 7 and target in self.channels:
            target_channel = self.channels[target]
            data = self._channel_json(target_channel)
            data["permissions"] = str(self._permissions(target_channel, self.bot_user.id))
            resolved.setdefault("channels", {})[str(target)] = data
        else:
            raise ValueError(f"unknown id {target} for option type {kind}")

    def _component_message(self, message: MessageRecord | int) -> MessageRecord:
        record = self._messages.get(message if isinstance(message, int) else message.id)
        if record is None or record.deleted:
            raise ValueError(f"message {message!r} is unknown or deleted")
        return record

    def _find_component(self, message: MessageRecord, custom_id: str, kinds: Any) -> JSON:
        component = message.component(custom_id)
        if component is None or component.get("type") not in kinds:
            raise ValueError(
                f"message {message.id} has no such component {custom_id!r} "
                f"(custom_ids: {message.custom_ids()})"
            )
        return component

    def _select_data(self, component: JSON, values: Sequence[str | int], channel: Channel) -> JSON:
        kind = component["type"]
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise ValueError(f"select {component['custom_id']!r} takes {low}..{high} values")
        data: JSON = {"custom_id": component["custom_id"], "component_type": kind}
        if kind == 3:
            offered = [o["value"] for o in component.get("options") or []]
            unknown = [v for v in values if v not in offered]
            if unknown:
                raise ValueError(f"values {unknown} are not options of {component['custom_id']!r}")
            data["values"] = [str(v) for v in values]
            return data
        resolved: JSON = {}
        option_kind = {5: 6, 6: 8, 7: 9, 8: 7}[kind]
        for value in values:
            self._resolve(int(value), option_kind, channel, resolved)
        data["values"] = [str(v) for v in values]
        data["resolved"] = resolved
        return data

    # ---------------------------------------------------------------- lookups

    def _user(self, user_id: int) -> User:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(user_id, f"user{user_id}")
        return user

    def _guild(self, guild_id: int) -> Guild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise DiscordError(10004)
        return guild

    def _channel(self, channel_id: int, *, unknown: int = 10003) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(unknown)
        return channel

    def _where(self, where: Where, user_id: int) -> Channel:
        if where == "dm":
            return self.dm_channel(user_id)
        channel = self.channels.get(int(where))
        if channel is None:
            raise ValueError(f"unknown channel {where}")
        return channel

    def _require_member(self, channel: Channel, user_id: int) -> None:
        if channel.guild_id is not None and user_id not in self.guilds[channel.guild_id].members:
            raise ValueError(f"user {user_id} is not a member of guild {channel.guild_id}")

    def _permissions(self, channel: Channel, user_id: int) -> int:
        if channel.guild_id is None:
            return int(DM_PERMISSIONS)
        guild = self.guilds[channel.guild_id]
        if user_id == guild.owner_id:
            permissions = ALL_PERMISSIONS
        else:
            permissions = guild.roles[guild.id].permissions
            member = guild.members.get(user_id)
            for role_id in member.roles if member else []:
                role = guild.roles.get(role_id)
                permissions |= role.permissions if role else 0
            if permissions & Perm.ADMINISTRATOR:
                permissions = ALL_PERMISSIONS
        if channel.denied and user_id == self.bot_user.id:
            permissions &= ~Perm.SEND_MESSAGES
        return permissions

    def _channel_from_spec(
        self, guild_id: int, position: int, spec: int | tuple[int, str] | Mapping[str, Any]
    ) -> Channel:
        if isinstance(spec, int):
            return Channel(spec, f"channel-{spec}", guild_id=guild_id, position=position)
        if isinstance(spec, tuple):
            return Channel(spec[0], spec[1], guild_id=guild_id, position=position)
        channel_id = int(spec["id"])
        return Channel(
            channel_id,
            str(spec.get("name", f"channel-{channel_id}")),
            type=int(spec.get("type", 0)),
            guild_id=guild_id,
            position=int(spec.get("position", position)),
            parent_id=spec.get("parent_id"),
            topic=spec.get("topic"),
        )

    def _member_from_spec(self, spec: int | Mapping[str, Any]) -> Member:
        if isinstance(spec, int):
            self._user(spec)
            return Member(spec)
        user_id = int(spec["id"])
        user = self._user(user_id)
        if "username" in spec:
            user.username = str(spec["username"])
        return Member(user_id, [int(r) for r in spec.get("roles", [])], spec.get("nick"))

    # ---------------------------------------------------------------- JSON shapes

    def _channel_json(self, channel: Channel) -> JSON:
        if channel.recipient_id is not None:
            return {
                "id": str(channel.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._user(channel.recipient_id).to_json()],
            }
        data: JSON = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "permission_overwrites": [],
            "parent_id": str(channel.parent_id) if channel.parent_id else None,
            "nsfw": False,
            "flags": 0,
        }
        if channel.type in (0, 5):
            data |= {"topic": channel.topic, "last_message_id": None, "rate_limit_per_user": 0}
        elif channel.type in (2, 13):
            data |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None, "last_message_id": None}
        if channel.denied:
            deny = {"id": str(self.bot_user.id), "type": 1, "allow": "0"}
            data["permission_overwrites"] = [deny | {"deny": str(int(Perm.SEND_MESSAGES))}]
        return data

    def _member_json(self, guild: Guild, member: Member, *, with_user: bool = True) -> JSON:
        data: JSON = {
            "roles": [str(r) for r in member.roles],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "joined_at": member.joined_at.isoformat(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self._user(member.user_id).to_json()
        return data

    def _guild_create(self, guild: Guild, intents: int | None = None) -> JSON:
        """A GUILD_CREATE payload; without GUILD_MEMBERS only the bot's member is sent."""
        session_intents = intents if intents is not None else self._session_intents()
        members = list(guild.members.values())
        if not session_intents & Intent.GUILD_MEMBERS:
            members = [m for m in members if m.user_id == self.bot_user.id]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "roles": [r.to_json() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [self._channel_json(c) for c in guild.channels.values() if not c.unlisted],
            "threads": [],
            "members": [self._member_json(guild, m) for m in members],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "member_count": len(guild.members),
            "large": False,
            "unavailable": False,
            "joined_at": guild.joined_at.isoformat(),
            "preferred_locale": guild.locale,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "vanity_url_code": None,
            "application_id": None,
        }

    # ---------------------------------------------------------------- gateway

    def _session_intents(self) -> int:
        return self._session.intents if self._session is not None else 0

    def _dispatch(
        self,
        event: str,
        data: JSON,
        *,
        intent: int = 0,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        """Send a dispatch to the session, or keep it for the resume while disconnected."""
        session = self._session
        if session is None or (intent and not session.intents & intent):
            return
        session.seq += 1
        frame = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
        session.backlog.append(frame)
        del session.backlog[:-1000]
        if session.connection is not None:
            session.connection.send(frame, on_sent)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        if not ws.can_prepare(request).ok:
            return _json_response(400, {"message": "WebSocket expected", "code": 0}, {})
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        compress = self.gateway_compression and request.query.get("compress") == "zlib-stream"
        connection = _Connection(ws, request, compress)
        if compress:
            connection.compressor = zlib.compressobj()
        self._connections.append(connection)
        writer = asyncio.create_task(self._write_frames(connection))
        try:
            await self._gateway_open.wait()
            if request.query.get("v", "10") != "10":
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"Error while decoding payload.")
                return ws
            connection.send({"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval}})
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_gateway_frame(connection, _obj(payload))
        finally:
            connection.closed.set()
            if self._session is not None and self._session.connection is connection:
                self._session.connection = None
            writer.cancel()
            self._connections.remove(connection)
            self._changed()
        return ws

    async def _write_frames(self, connection: _Connection) -> None:
        while True:
            frame, on_sent = await connection.queue.get()
            text = json.dumps(frame, separators=(",", ":"))
            try:
                if connection.compressor is not None:
                    chunk = connection.compressor.compress(text.encode())
                    chunk += connection.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await connection.ws.send_bytes(chunk)
                else:
                    await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            if on_sent is not None:
                on_sent()

    async def _on_gateway_frame(self, connection: _Connection, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        masked = dict(payload)
        if isinstance(data, dict) and "token" in data:
            masked["d"] = data | {"token": "***"}
        self.gateway_received.append(masked)
        if op == Op.HEARTBEAT:
            self.heartbeat_count += 1
            connection.send({"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._identify(connection, _obj(data))
        elif op == Op.RESUME:
            await self._resume(connection, _obj(data))
        elif not connection.authenticated:
            await connection.ws.close(code=4003, message=b"Not authenticated.")
        elif op == Op.PRESENCE_UPDATE:
            self.presence = _obj(data)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            self._send_member_chunk(_obj(data))
        elif op != Op.VOICE_STATE_UPDATE:
            await connection.ws.close(code=4001, message=b"Unknown opcode.")
        self._changed()

    async def _identify(self, connection: _Connection, data: JSON) -> None:
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        if connection.authenticated:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        connection.authenticated = True
        self.identify_count += 1
        self._session = _Session(secrets.token_hex(16), intents, connection=connection)
        ready: JSON = {
            "v": 10,
            "user": self.bot_user.to_json() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": self._session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "auth": {},
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        self._dispatch("READY", ready)
        for guild in self.guilds.values():
            if not guild.unavailable:
                self._dispatch(
                    "GUILD_CREATE", self._guild_create(guild, intents), intent=Intent.GUILDS
                )

    async def _resume(self, connection: _Connection, data: JSON) -> None:
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = self._session
        if session is None or data.get("session_id") != session.id:
            connection.send({"op": Op.INVALID_SESSION, "d": False})
            return
        connection.authenticated = True
        seq = int(data.get("seq") or 0)
        session.connection = connection
        missed = [frame for frame in session.backlog if frame["s"] > seq]
        for frame in missed:
            connection.send(frame)
        self.resume_count += 1
        self.resumes.append(ResumeRecord(session.id, seq, len(missed)))
        self._dispatch("RESUMED", {})

    def _send_member_chunk(self, data: JSON) -> None:
        guild = self.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.user_id in wanted)
            and self._user(m.user_id).username.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [self._member_json(guild, m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._dispatch("GUILD_MEMBERS_CHUNK", chunk)


def _find_option(definitions: list[JSON], option_name: str, command: str) -> JSON:
    definition = next((d for d in definitions if d.get("name") == option_name), None)
    if definition is None:
        raise ValueError(f"command {command!r} has no option {option_name!r}")
    return definition


def _modal_submission(modal: JSON, values: dict[str, str | Sequence[str]]) -> list[JSON]:
    """The ``components`` of a modal submission, shaped like the modal that was opened."""
    expected: set[str] = set()
    submitted: list[JSON] = []
    for component in modal.get("components") or []:
        field_ = component.get("component") if component.get("type") == 18 else None
        if component.get("type") == 1:
            field_ = (component.get("components") or [None])[0]
        if not isinstance(field_, dict) or "custom_id" not in field_:
            continue
        custom_id = field_["custom_id"]
        expected.add(custom_id)
        entry = _submitted_field(field_, values.get(custom_id))
        if component.get("type") == 18:
            submitted.append({"type": 18, "component": entry})
        else:
            submitted.append({"type": 1, "components": [entry]})
    unknown = set(values) - expected
    if unknown:
        raise ValueError(f"the modal has no fields {sorted(unknown)}")
    return submitted


def _submitted_field(definition: JSON, value: str | Sequence[str] | None) -> JSON:
    custom_id = definition["custom_id"]
    kind = definition.get("type")
    if kind == 4:
        text = "" if value is None else str(value)
        required = definition.get("required", True)
        low, high = definition.get("min_length", 0), definition.get("max_length", 4000)
        if required and not text:
            raise ValueError(f"field {custom_id!r} is required")
        if text and not low <= len(text) <= high:
            raise ValueError(f"field {custom_id!r} takes {low}..{high} characters")
        return {"type": 4, "custom_id": custom_id, "value": text}
    picked = [] if value is None else [value] if isinstance(value, str) else list(value)
    return {"type": kind, "custom_id": custom_id, "values": [str(v) for v in picked]}


def _fill_rate_headers(headers: dict[str, str], window: _Window, bucket: str, now: float) -> None:
    reset_after = max(window.reset_at - now, 0.0)
    headers.update(
        {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
    )


def _json_response(status: int, payload: Any, headers: Mapping[str, str]) -> web.Response:
    """An answer typed ``application/json`` exactly: discord.py reads a charset as plain text."""
    if payload is None:
        # A 204 has no body and no type: discord.py would try to parse "" as JSON.
        return web.Response(status=status, headers=headers)
    all_headers = {**headers, "Content-Type": "application/json"}
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=all_headers)


_E = DiscordEmulator
_ROUTES: tuple[_Route, ...] = (
    _Route("GET", "/users/@me", _E._get_me),
    _Route("POST", "/users/@me/channels", _E._create_dm),
    _Route("GET", "/users/{user_id}", _E._get_user),
    _Route("GET", "/oauth2/applications/@me", _E._get_application),
    _Route("GET", "/gateway", _E._get_gateway),
    _Route("GET", "/gateway/bot", _E._get_gateway_bot),
    _Route("GET", "/applications/{application_id}/commands", _E._get_commands),
    _Route("PUT", "/applications/{application_id}/commands", _E._put_commands),
    _Route("GET", "/applications/{application_id}/guilds/{guild_id}/commands", _E._get_commands),
    _Route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", _E._put_commands),
    _Route("GET", "/channels/{channel_id}", _E._get_channel),
    _Route("POST", "/channels/{channel_id}/messages", _E._post_message, bucket="message"),
    _Route("GET", "/channels/{channel_id}/messages/{message_id}", _E._get_message),
    _Route("PATCH", "/channels/{channel_id}/messages/{message_id}", _E._patch_message),
    _Route("DELETE", "/channels/{channel_id}/messages/{message_id}", _E._delete_message),
    _Route("POST", "/channels/{channel_id}/typing", _E._typing),
    _Route("GET", "/guilds/{guild_id}", _E._get_guild),
    _Route("GET", "/guilds/{guild_id}/channels", _E._get_guild_channels),
    _Route("GET", "/guilds/{guild_id}/members/{user_id}", _E._get_member),
    _Route(
        "POST",
        "/interactions/{interaction_id}/{token}/callback",
        _E._interaction_callback,
        auth=False,
        global_limit=False,
    ),
    _Route(
        "POST",
        "/webhooks/{application_id}/{token}",
        _E._post_followup,
        auth=False,
        global_limit=False,
    ),
    _Route(
        "GET",
        "/webhooks/{application_id}/{token}/messages/{message_id}",
        _E._get_webhook_message,
        auth=False,
        global_limit=False,
    ),
    _Route(
        "PATCH",
        "/webhooks/{application_id}/{token}/messages/{message_id}",
        _E._patch_webhook_message,
        auth=False,
        global_limit=False,
    ),
    _Route(
        "DELETE",
        "/webhooks/{application_id}/{token}/messages/{message_id}",
        _E._delete_webhook_message,
        auth=False,
        global_limit=False,
    ),
)
