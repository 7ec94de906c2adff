"""The emulated world as dataclasses: users, channels, roles, members, guilds, attachments and
the messages of the transcripts, with the time-based ids (snowflakes) they are numbered by.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tests.emulators.discord.protocol import DISCORD_EPOCH_MS, EPHEMERAL, JSON, LOADING


def utc_now() -> datetime:
    return datetime.now(UTC)


class Snowflakes:
    """Time-based ids, as discord.py derives creation times (and poll durations) from them."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


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
    joined_at: datetime = field(default_factory=utc_now)


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
    joined_at: datetime = field(default_factory=utc_now)
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
    created_at: datetime = field(default_factory=utc_now)
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
