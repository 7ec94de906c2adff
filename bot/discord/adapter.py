"""The Discord adapter: a discord.py client with minimal intents, slash commands synced in
`setup_hook`, one router for every button, modal and poll vote, and the lifecycle of servers
and channels reported to the core.

It imports only `handlers` of the project: the core's entry points (`handle`, and the
optional `chat_changed`, `chats_present` and `suggest`) are handed to it by `bot.app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from bot.discord.commands import CatalogueTranslator, build_tree
from bot.discord.interactions import (
    Handle,
    InteractionRouter,
    MarkUnreachable,
    Suggest,
    apology,
    channel_title,
)
from bot.discord.messenger import NO_MENTIONS, ChatChanged, DiscordMessenger
from handlers.chat import ChatChange, ChatJoined, ChatLeft, Place, Platform

logger = logging.getLogger(__name__)

RECENT_JOIN = timedelta(minutes=10)

# The core's reconciliation: the ids of every channel the bot sees after connecting.
ChatsPresent = Callable[
    [Platform, frozenset[str], Callable[[str], Awaitable[bool]]], Awaitable[None]
]


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """What the adapter needs from the settings (`[discord]` and the community)."""

    token: str
    guild_ids: tuple[int, ...] = ()
    api_base_url: str | None = None
    gateway_url: str | None = None
    default_language: str = "fr"
    # Seconds discord.py waits for the servers' data before `on_ready` (tests: 0.1).
    guild_ready_timeout: float = 2.0
    # Discord allows one IDENTIFY per 5 s: discord.py waits before each one but the first.
    reidentify_delay: float = 5.0
    ready_timeout: float = 30.0
    sync_commands: bool = True


class CdsClient(discord.Client):
    """The bot on Discord: guild events only (no message content, no members list)."""

    def __init__(self, adapter: DiscordAdapter, handle: Handle) -> None:
        config = adapter.config
        intents = discord.Intents.none()
        intents.guilds = True
        intents.polls = True  # votes in the native polls of campaigns (not privileged)
        super().__init__(
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=config.guild_ready_timeout,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            max_ratelimit_timeout=30.0,
        )
        self.adapter = adapter
        self._joined_guilds: set[int] = set()
        self.router = InteractionRouter(
            handle,
            adapter.messenger,
            default_language=config.default_language,
            suggest=lambda: adapter.suggest,
            mark_unreachable=lambda: adapter.mark_unreachable,
        )
        self.tree = build_tree(self, self.router.command, self.router.complete)
        self.tree.error(self._command_failed)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogueTranslator())
        config = self.adapter.config
        if not config.sync_commands:
            return
        if config.guild_ids:
            # Instant, for testing servers; global commands take up to an hour to show.
            for guild_id in config.guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        logger.info("slash commands synced (%s)", "per server" if config.guild_ids else "global")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial:
            await asyncio.sleep(self.adapter.config.reidentify_delay)

    async def _command_failed(
        self, interaction: discord.Interaction, error: discord.app_commands.AppCommandError
    ) -> None:
        logger.error("slash command failed", exc_info=error)
        if not interaction.response.is_done():
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.send_message(
                    apology(self.router.language(interaction)), ephemeral=True
                )

    # --- events ------------------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.router.interaction(interaction)

    async def on_raw_poll_vote_add(self, vote: discord.RawPollVoteActionEvent) -> None:
        await self.router.vote(vote, added=True, user=self.get_user(vote.user_id))

    async def on_raw_poll_vote_remove(self, vote: discord.RawPollVoteActionEvent) -> None:
        await self.router.vote(vote, added=False, user=self.get_user(vote.user_id))

    async def on_ready(self) -> None:
        # Once per new session (start-up, or a reconnection that could not resume): removals
        # that happened while the bot was offline were never sent as events.
        await self.adapter.channels_seen(self.guilds)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._joined(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # A server the bot has just been added to may arrive as "available" rather than
        # "joined" (when its GUILD_CREATE carries `unavailable: false`): recent arrivals
        # count as joins; older servers are simply back after an outage or a restart.
        me = guild.me
        joined_at = me.joined_at if me is not None else None
        if joined_at is not None and discord.utils.utcnow() - joined_at < RECENT_JOIN:
            await self._joined(guild)

    async def _joined(self, guild: discord.Guild) -> None:
        if guild.id in self._joined_guilds:
            return
        self._joined_guilds.add(guild.id)
        logger.info("joined server %s", guild.id)
        for channel in guild.channels:
            if isinstance(channel, discord.TextChannel):
                title = channel_title(channel) or guild.name
                await self.adapter.report(_place(channel.id, title), ChatJoined(title))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        logger.info("left server %s", guild.id)
        self._joined_guilds.discard(guild.id)
        for channel in guild.channels:
            await self.adapter.report(_place(channel.id), ChatLeft())

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self.adapter.report(_place(channel.id), ChatLeft())


def _place(channel_id: int, title: str | None = None) -> Place:
    return Place(Platform.DISCORD, str(channel_id), False, title)


def visible_channel_ids(guilds: Iterable[discord.Guild]) -> frozenset[str] | None:
    """The ids of every channel and active thread of `guilds`, or None when a server is
    unavailable (an outage): its channels are hidden, not gone."""
    ids: set[str] = set()
    for guild in guilds:
        if guild.unavailable:
            return None
        ids.update(str(channel.id) for channel in guild.channels)
        ids.update(str(thread.id) for thread in guild.threads)
    return frozenset(ids)


class DiscordAdapter:
    """`bot.app`'s view of Discord: a messenger for the outbox, `start` and `stop`."""

    platform = Platform.DISCORD

    def __init__(
        self,
        config: DiscordConfig,
        *,
        chat_changed: ChatChanged | None = None,
        suggest: Suggest | None = None,
    ) -> None:
        self.config = config
        # The core's other entry points; `bot.app` sets them once the app is built.
        self.chat_changed: ChatChanged | None = chat_changed
        self.suggest: Suggest | None = suggest
        self.chats_present: ChatsPresent | None = None
        self.client: CdsClient | None = None
        self.messenger = DiscordMessenger(
            lambda: self.client,
            default_language=config.default_language,
            chat_changed=lambda: self.chat_changed,
        )
        self.mark_unreachable: MarkUnreachable | None = None
        self._connection: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None

    def bind(
        self,
        *,
        chat_changed: ChatChanged | None = None,
        mark_unreachable: MarkUnreachable | None = None,
        suggest: Suggest | None = None,
        chats_present: ChatsPresent | None = None,
    ) -> None:
        """Receive the core's entry points besides `handle` (from `bot.app`)."""
        self.chat_changed = chat_changed
        self.mark_unreachable = mark_unreachable
        self.suggest = suggest
        self.chats_present = chats_present

    async def start(self, handle: Handle) -> None:
        """Log in (which syncs the commands), connect, and wait until the servers are known."""
        self._point_at_endpoints()
        client = CdsClient(self, handle)
        self.client = client
        try:
            await client.login(self.config.token)
        except BaseException:
            await self.stop()
            raise
        self._connection = asyncio.create_task(client.connect(), name="discord-gateway")
        ready = asyncio.create_task(client.wait_until_ready())
        done, _pending = await asyncio.wait(
            {ready, self._connection},
            timeout=self.config.ready_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._connection in done:
            ready.cancel()
            failure = self._connection.exception()
            await self.stop()
            raise failure or RuntimeError("the Discord gateway connection ended at once")
        if ready not in done:
            ready.cancel()
            logger.warning("Discord is not ready after %.0f s; going on", self.config.ready_timeout)

    async def stop(self) -> None:
        client, connection = self.client, self._connection
        self.client, self._connection = None, None
        if client is not None:
            await client.close()
        if connection is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await connection
        self._restore_endpoints()

    async def report(self, place: Place, change: ChatChange) -> None:
        """Tell the core a channel appeared or went away (its registration follows)."""
        if self.chat_changed is None:
            return
        try:
            await self.chat_changed(place, change)
        except Exception:
            logger.exception("could not record a change of channel %s", place.chat_id)

    async def channels_seen(self, guilds: Sequence[discord.Guild]) -> None:
        """Tell the core every channel the bot sees, so that the ones removed while it was
        offline are let go; not while a server is unavailable."""
        if self.chats_present is None:
            return
        present = visible_channel_ids(guilds)
        if present is None:
            hidden = sum(guild.unavailable for guild in guilds)
            logger.warning(
                "not reconciling channels: %d of %d servers are unavailable (a Discord outage); "
                "their channels may only be hidden",
                hidden,
                len(guilds),
            )
            return
        try:
            await self.chats_present(Platform.DISCORD, present, self._still_there)
        except Exception:
            logger.exception("could not reconcile the channels the bot sees")

    async def _still_there(self, chat_id: str) -> bool:
        """Whether a channel missing from the servers' lists still exists for the bot (an
        archived thread is not listed): asked by id, it is gone only on 404 or 403."""
        client = self.client
        if client is None or not chat_id.isdigit():
            return True
        try:
            await client.fetch_channel(int(chat_id))
        except (discord.NotFound, discord.Forbidden):
            return False
        except discord.HTTPException:
            logger.warning("could not tell whether channel %s still exists: kept", chat_id)
        return True

    def _point_at_endpoints(self) -> None:
        """The REST and gateway addresses (a local emulator in tests), for the whole run:
        discord.py reads them from class attributes, also when it reconnects."""
        route, socket = discord.http.Route, discord.gateway.DiscordWebSocket
        if self._saved_endpoints is None:
            self._saved_endpoints = (route.BASE, socket.DEFAULT_GATEWAY)
        if self.config.api_base_url:
            route.BASE = self.config.api_base_url.rstrip("/")
        if self.config.gateway_url:
            socket.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    def _restore_endpoints(self) -> None:
        if self._saved_endpoints is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
                self._saved_endpoints
            )
            self._saved_endpoints = None


def create_adapter(settings: Any) -> DiscordAdapter:
    """The adapter for `settings` (a `bot.config.Settings`, read by attribute)."""
    section = settings.discord
    return DiscordAdapter(
        DiscordConfig(
            token=section.token.get_secret_value(),
            guild_ids=tuple(int(g) for g in section.guild_ids),
            api_base_url=section.api_base_url,
            gateway_url=section.gateway_url,
            default_language=settings.community.default_language,
        )
    )
