"""The state every part of the emulator shares, and the primitives they all use.

`EmulatorState` takes the emulator's options and holds its whole mutable state; it also finds
users, guilds and channels (with Discord's "Unknown ..." errors), computes permissions, queues
gateway dispatches for the session and wakes whoever waits on a change. The families in the
other modules are mixins on top of it, assembled by `emulator.DiscordEmulator`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from tests.emulators.discord.errors import DiscordError
from tests.emulators.discord.model import (
    Channel,
    Guild,
    MessageRecord,
    Snowflakes,
    User,
)
from tests.emulators.discord.protocol import (
    ALL_PERMISSIONS,
    API_PREFIX,
    DEFAULT_APP_ID,
    DM_PERMISSIONS,
    JSON,
    PRIVILEGED_INTENTS,
    Op,
    Perm,
    Where,
)
from tests.emulators.discord.ratelimits import Window
from tests.emulators.discord.records import InteractionRecord, RequestRecord, ResumeRecord
from tests.emulators.discord.routing import Route

if TYPE_CHECKING:
    from tests.emulators.discord.faults import Fault
    from tests.emulators.discord.gateway import Connection, Session


class EmulatorState:
    """The emulator's options and state, with the lookups and signals every family uses."""

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

        self._ids = Snowflakes()
        self._dm_channels: dict[int, int] = {}
        self._messages: dict[int, MessageRecord] = {}
        self._transcripts: dict[int, list[MessageRecord]] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self._tokens: dict[str, InteractionRecord] = {}
        self._modals: list[InteractionRecord] = []
        self._poll_votes: dict[int, dict[int, list[int]]] = {}  # message -> user -> answers
        self._faults: list[Fault] = []
        self._global_window = Window(*global_limit)
        self._buckets: dict[tuple[str, str], Window] = {}
        self._session: Session | None = None
        self._connections: list[Connection] = []
        self._gateway_open = asyncio.Event()
        self._gateway_open.set()
        self._change = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes = [(route, route.pattern) for route in self._route_table()]
        self.port = 0

    def _route_table(self) -> tuple[Route, ...]:
        """Every REST route served (the assembled emulator lists them)."""
        raise NotImplementedError

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

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

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

    def dm_channel(self, user_id: int) -> Channel:
        """The DM channel between the bot and a user (created on first use)."""
        self._user(user_id)
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self._ids.next()
            self._dm_channels[user_id] = channel_id
            self.channels[channel_id] = Channel(channel_id, None, type=1, recipient_id=user_id)
        return self.channels[channel_id]

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
