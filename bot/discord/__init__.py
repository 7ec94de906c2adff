"""The Discord adapter: slash commands, buttons, modals and embeds through discord.py.

`bot.app` calls `create_adapter(settings)`; this package knows only the neutral vocabulary
of `handlers`.
"""

from bot.discord.adapter import CdsClient, DiscordAdapter, DiscordConfig, create_adapter
from bot.discord.messenger import DiscordMessenger

__all__ = ["CdsClient", "DiscordAdapter", "DiscordConfig", "DiscordMessenger", "create_adapter"]
