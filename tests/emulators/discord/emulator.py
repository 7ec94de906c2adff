"""The assembled emulator: `DiscordEmulator`, its lifecycle on 127.0.0.1, and the route table.

`DiscordEmulator` combines the families (one mixin per module) over the shared
`EmulatorState`; ``ROUTES`` maps each REST path to its handler and rate limit bucket.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import discord.gateway
import discord.http
import yarl
from aiohttp import web

from tests.emulators.discord.channel_messages import ChannelMessages
from tests.emulators.discord.commands import ApplicationCommands
from tests.emulators.discord.directory import Directory
from tests.emulators.discord.gateway import Gateway
from tests.emulators.discord.inspection import Inspection
from tests.emulators.discord.interaction_answers import InteractionAnswers
from tests.emulators.discord.polls import Polls
from tests.emulators.discord.protocol import API_PREFIX
from tests.emulators.discord.routing import Route
from tests.emulators.discord.server import RestServer
from tests.emulators.discord.user_actions import UserActions
from tests.emulators.discord.world import World


class DiscordEmulator(
    World,
    Directory,
    ChannelMessages,
    InteractionAnswers,
    ApplicationCommands,
    UserActions,
    Polls,
    Gateway,
    RestServer,
    Inspection,
):
    """One aiohttp server on 127.0.0.1 speaking Discord's REST API v10 and gateway.

    Its options are those of `EmulatorState.__init__`.
    """

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

    def _route_table(self) -> tuple[Route, ...]:
        return ROUTES


_E = DiscordEmulator
ROUTES: tuple[Route, ...] = (
    Route("GET", "/users/@me", _E._get_me),
    Route("POST", "/users/@me/channels", _E._create_dm),
    Route("GET", "/users/{user_id}", _E._get_user),
    Route("GET", "/oauth2/applications/@me", _E._get_application),
    Route("GET", "/gateway", _E._get_gateway),
    Route("GET", "/gateway/bot", _E._get_gateway_bot),
    Route("GET", "/applications/{application_id}/commands", _E._get_commands),
    Route("PUT", "/applications/{application_id}/commands", _E._put_commands),
    Route("GET", "/applications/{application_id}/guilds/{guild_id}/commands", _E._get_commands),
    Route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", _E._put_commands),
    Route("GET", "/channels/{channel_id}", _E._get_channel),
    Route("POST", "/channels/{channel_id}/messages", _E._post_message, bucket="message"),
    Route("GET", "/channels/{channel_id}/messages/{message_id}", _E._get_message),
    Route("PATCH", "/channels/{channel_id}/messages/{message_id}", _E._patch_message),
    Route("DELETE", "/channels/{channel_id}/messages/{message_id}", _E._delete_message),
    Route("POST", "/channels/{channel_id}/typing", _E._typing),
    Route("GET", "/guilds/{guild_id}", _E._get_guild),
    Route("GET", "/guilds/{guild_id}/channels", _E._get_guild_channels),
    Route("GET", "/guilds/{guild_id}/members/{user_id}", _E._get_member),
    Route(
        "POST",
        "/interactions/{interaction_id}/{token}/callback",
        _E._interaction_callback,
        auth=False,
        global_limit=False,
    ),
    Route(
        "POST",
        "/webhooks/{application_id}/{token}",
        _E._post_followup,
        auth=False,
        global_limit=False,
    ),
    Route(
        "GET",
        "/webhooks/{application_id}/{token}/messages/{message_id}",
        _E._get_webhook_message,
        auth=False,
        global_limit=False,
    ),
    Route(
        "PATCH",
        "/webhooks/{application_id}/{token}/messages/{message_id}",
        _E._patch_webhook_message,
        auth=False,
        global_limit=False,
    ),
    Route(
        "DELETE",
        "/webhooks/{application_id}/{token}/messages/{message_id}",
        _E._delete_webhook_message,
        auth=False,
        global_limit=False,
    ),
)
