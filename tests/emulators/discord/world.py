"""Building the world a test plays in, and changing it under the bot: users, guilds with their
channels, roles and members, closed DMs, lost permissions, deleted channels, left guilds and
outages, each with the gateway event Discord would send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.emulators.discord.model import Channel, Guild, Member, Role, User
from tests.emulators.discord.payloads import Payloads
from tests.emulators.discord.protocol import (
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    JSON,
    Intent,
)


class World(Payloads):
    """The scripted users, guilds and channels, and what happens to them."""

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
