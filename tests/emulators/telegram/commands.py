"""The bot's profile: getMe, command menus by scope and language, and the plain settings.

Commands are stored per (scope, language) as Telegram does; `visible_commands` resolves the
menu a given user sees in a given chat. The other setters (name, descriptions, menu button)
only record their parameters in `settings`.
"""

from __future__ import annotations

import re
from typing import Any

from tests.emulators.telegram.model import JSON, ApiError, Chat, UploadedFile, User
from tests.emulators.telegram.params import as_int
from tests.emulators.telegram.state import EmulatorState, Handler

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


class BotCommands(EmulatorState):
    """getMe, the command menus and the recorded settings."""

    async def _true(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        return True

    def _setting(self, method: str) -> Handler:
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

    def _scope_key(self, scope: Any, language_code: str) -> tuple[str, int | None, int | None, str]:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return (
            str(scope.get("type", "default")),
            as_int(scope.get("chat_id")),
            as_int(scope.get("user_id")),
            language_code,
        )
