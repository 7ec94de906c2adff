"""REST routes that read who and where: the bot user and other users, the application, the
gateway URL, channels, guilds and members; and opening a DM channel.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.errors import DiscordError
from tests.emulators.discord.payloads import Payloads
from tests.emulators.discord.routing import Call


class Directory(Payloads):
    """Users, the application, the gateway, guilds, channels and members over REST."""

    async def _get_me(self, call: Call) -> tuple[int, Any]:
        data = self.bot_user.to_json() | {"verified": True, "mfa_enabled": False, "email": None}
        return 200, data

    async def _get_user(self, call: Call) -> tuple[int, Any]:
        user = self.users.get(call.id("user_id"))
        if user is None:
            raise DiscordError(10013)
        return 200, user.to_json()

    async def _create_dm(self, call: Call) -> tuple[int, Any]:
        try:
            recipient = int(call.json.get("recipient_id", ""))
        except ValueError:
            raise DiscordError(50033) from None
        if recipient not in self.users or recipient == self.bot_user.id:
            raise DiscordError(50033)
        return 200, self._channel_json(self.dm_channel(recipient))

    async def _get_application(self, call: Call) -> tuple[int, Any]:
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

    async def _get_gateway(self, call: Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, call: Call) -> tuple[int, Any]:
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

    async def _get_channel(self, call: Call) -> tuple[int, Any]:
        return 200, self._channel_json(self._channel(call.id("channel_id")))

    async def _get_guild(self, call: Call) -> tuple[int, Any]:
        guild = self._guild(call.id("guild_id"))
        data = self._guild_create(guild)
        for key in ("channels", "members", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return 200, data

    async def _get_guild_channels(self, call: Call) -> tuple[int, Any]:
        guild = self._guild(call.id("guild_id"))
        return 200, [self._channel_json(c) for c in guild.channels.values()]

    async def _get_member(self, call: Call) -> tuple[int, Any]:
        guild = self._guild(call.id("guild_id"))
        member = guild.members.get(call.id("user_id"))
        if member is None:
            raise DiscordError(10007)
        return 200, self._member_json(guild, member)
