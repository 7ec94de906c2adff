"""Application commands: the REST routes that read and overwrite them, globally or per guild,
and what tests read back (`commands`).
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.command_checks import check_command_list
from tests.emulators.discord.errors import DiscordError, FormErrors
from tests.emulators.discord.protocol import JSON
from tests.emulators.discord.routing import Call
from tests.emulators.discord.state import EmulatorState


class ApplicationCommands(EmulatorState):
    """The commands the bot synced, by scope (``None`` is global)."""

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The application commands synced globally (``None``) or for a guild."""
        return list(self._commands.get(guild_id, []))

    async def _get_commands(self, call: Call) -> tuple[int, Any]:
        return 200, self.commands(self._command_scope(call))

    async def _put_commands(self, call: Call) -> tuple[int, Any]:
        scope = self._command_scope(call)
        errors = FormErrors()
        commands = check_command_list(call.body, errors)
        errors.raise_if_any()
        stored = [self._store_command(scope, command) for command in commands]
        self._commands[scope] = stored
        self._changed()
        return 200, stored

    def _command_scope(self, call: Call) -> int | None:
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
