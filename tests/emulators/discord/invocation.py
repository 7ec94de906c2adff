"""What the Discord client builds when a user runs a slash command: the interaction ``data``
from the synced definition, with the client's own checks (contexts, permissions, required
options, choices, ranges) and the ``resolved`` users, members, roles and channels.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.model import Channel
from tests.emulators.discord.payloads import Payloads
from tests.emulators.discord.protocol import JSON


class CommandInvocation(Payloads):
    """Slash command data as the Discord client sends it."""

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


def _find_option(definitions: list[JSON], option_name: str, command: str) -> JSON:
    definition = next((d for d in definitions if d.get("name") == option_name), None)
    if definition is None:
        raise ValueError(f"command {command!r} has no option {option_name!r}")
    return definition
