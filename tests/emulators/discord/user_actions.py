"""The users acting: plain messages, slash commands, autocomplete, button presses, selects and
modal submissions, each dispatched as Discord would (INTERACTION_CREATE for interactions).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tests.emulators.discord.invocation import CommandInvocation
from tests.emulators.discord.model import Channel, MessageRecord
from tests.emulators.discord.protocol import JSON, SELECT_TYPES, InteractionType, Where, as_object
from tests.emulators.discord.records import InteractionRecord
from tests.emulators.discord.transcripts import MessageStore


class UserActions(CommandInvocation, MessageStore):
    """What a scripted user does, and the interactions it creates."""

    def user_message(self, user_id: int, where: Where, content: str) -> MessageRecord:
        """A user posts a plain message: MESSAGE_CREATE (content hidden without the intent)."""
        channel = self._where(where, user_id)
        self._require_member(channel, user_id)
        body = {"content": content}
        message = self._store_message(channel, body, author_id=user_id, kind="user", files=[])
        return message

    async def slash_command(
        self,
        user_id: int,
        where: Where,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user runs a synced slash command (``"group sub"`` for sub-commands).

        ``options`` maps option names to values (ids for users, channels and roles); the
        Discord client's own checks (required options, choices, ranges, permissions) raise
        ``ValueError``/``PermissionError``/``LookupError``. ``locale`` defaults to the user's.
        """
        channel = self._where(where, user_id)
        data = self._command_data(channel, name, dict(options or {}), user_id=user_id)
        return self._interact(InteractionType.APPLICATION_COMMAND, user_id, channel, data, locale)

    async def autocomplete(
        self,
        user_id: int,
        where: Where,
        name: str,
        focused_option: str,
        value: str,
        options: Mapping[str, Any] | None = None,
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user types ``value`` into an autocompleted option; the bot answers with choices."""
        channel = self._where(where, user_id)
        data = self._command_data(
            channel, name, dict(options or {}), user_id=user_id, focused=(focused_option, value)
        )
        return self._interact(InteractionType.AUTOCOMPLETE, user_id, channel, data, locale)

    async def press_button(
        self,
        user_id: int,
        message: MessageRecord | int,
        custom_id: str,
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user presses a button of a message the bot sent."""
        record = self._component_message(message)
        component = self._find_component(record, custom_id, {2})
        if component.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": 2}
        channel = self._channel(record.channel_id)
        return self._interact(
            InteractionType.MESSAGE_COMPONENT, user_id, channel, data, locale, message=record
        )

    async def select(
        self,
        user_id: int,
        message: MessageRecord | int,
        custom_id: str,
        values: Sequence[str | int],
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user picks ``values`` in a select menu of a message the bot sent."""
        record = self._component_message(message)
        component = self._find_component(record, custom_id, SELECT_TYPES)
        channel = self._channel(record.channel_id)
        data = self._select_data(component, values, channel)
        return self._interact(
            InteractionType.MESSAGE_COMPONENT, user_id, channel, data, locale, message=record
        )

    async def submit_modal(
        self,
        user_id: int,
        where: Where | None,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        *,
        locale: str | None = None,
    ) -> InteractionRecord:
        """A user fills in and submits a modal the bot opened for them.

        ``where`` may be ``None`` for the channel the modal was opened in.
        """
        opener = next(
            (
                r
                for r in reversed(self._modals)
                if r.user_id == user_id and as_object(r.modal).get("custom_id") == custom_id
            ),
            None,
        )
        if opener is None or opener.modal is None:
            raise ValueError(f"no modal {custom_id!r} was opened for user {user_id}")
        channel = self._channel(opener.channel_id) if where is None else self._where(where, user_id)
        components = _modal_submission(opener.modal, dict(values))
        data = {"custom_id": custom_id, "components": components}
        return self._interact(
            InteractionType.MODAL_SUBMIT,
            user_id,
            channel,
            data,
            locale,
            message=opener.component_message,
        )

    def _interact(
        self,
        kind: InteractionType,
        user_id: int,
        channel: Channel,
        data: JSON,
        locale: str | None,
        *,
        message: MessageRecord | None = None,
    ) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE; ``locale`` defaults to the user's own."""
        self._require_member(channel, user_id)
        locale = locale or self._user(user_id).locale
        interaction_id = self._ids.next()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        payload = self._interaction_payload(
            interaction_id, token, kind, user_id, channel, data, locale, message
        )
        now = time.monotonic()
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=kind,
            user_id=user_id,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            payload=payload,
            created_at=now,
            dispatched_at=now,
            component_message=message,
        )
        self.interactions[interaction_id] = record
        self._tokens[token] = record

        def sent() -> None:
            record.dispatched_at = time.monotonic()

        self._dispatch("INTERACTION_CREATE", payload, on_sent=sent)
        self._changed()
        return record

    def _interaction_payload(
        self,
        interaction_id: int,
        token: str,
        kind: InteractionType,
        user_id: int,
        channel: Channel,
        data: JSON,
        locale: str,
        message: MessageRecord | None,
    ) -> JSON:
        user = self._user(user_id)
        channel_data = self._channel_json(channel)
        channel_data["permissions"] = str(self._permissions(channel, user_id))
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": int(kind),
            "token": token,
            "version": 1,
            "data": data,
            "channel_id": str(channel.id),
            "channel": channel_data,
            "locale": locale,
            "app_permissions": str(self._permissions(channel, self.bot_user.id)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
            "authorizing_integration_owners": {"0": str(channel.guild_id or 0)},
            "context": 0 if channel.guild_id is not None else 1,
        }
        if channel.guild_id is not None:
            guild = self._guild(channel.guild_id)
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = guild.locale
            payload["guild"] = {"id": str(guild.id), "locale": guild.locale, "features": []}
            member = self._member_json(guild, guild.members[user_id])
            member["permissions"] = str(self._permissions(channel, user_id))
            payload["member"] = member
        else:
            payload["user"] = user.to_json()
        if message is not None:
            payload["message"] = self._message_json(message)
        return payload

    def _component_message(self, message: MessageRecord | int) -> MessageRecord:
        record = self._messages.get(message if isinstance(message, int) else message.id)
        if record is None or record.deleted:
            raise ValueError(f"message {message!r} is unknown or deleted")
        return record

    def _find_component(self, message: MessageRecord, custom_id: str, kinds: Any) -> JSON:
        component = message.component(custom_id)
        if component is None or component.get("type") not in kinds:
            raise ValueError(
                f"message {message.id} has no such component {custom_id!r} "
                f"(custom_ids: {message.custom_ids()})"
            )
        return component

    def _select_data(self, component: JSON, values: Sequence[str | int], channel: Channel) -> JSON:
        kind = component["type"]
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise ValueError(f"select {component['custom_id']!r} takes {low}..{high} values")
        data: JSON = {"custom_id": component["custom_id"], "component_type": kind}
        if kind == 3:
            offered = [o["value"] for o in component.get("options") or []]
            unknown = [v for v in values if v not in offered]
            if unknown:
                raise ValueError(f"values {unknown} are not options of {component['custom_id']!r}")
            data["values"] = [str(v) for v in values]
            return data
        resolved: JSON = {}
        option_kind = {5: 6, 6: 8, 7: 9, 8: 7}[kind]
        for value in values:
            self._resolve(int(value), option_kind, channel, resolved)
        data["values"] = [str(v) for v in values]
        data["resolved"] = resolved
        return data


def _modal_submission(modal: JSON, values: dict[str, str | Sequence[str]]) -> list[JSON]:
    """The ``components`` of a modal submission, shaped like the modal that was opened."""
    expected: set[str] = set()
    submitted: list[JSON] = []
    for component in modal.get("components") or []:
        field_ = component.get("component") if component.get("type") == 18 else None
        if component.get("type") == 1:
            field_ = (component.get("components") or [None])[0]
        if not isinstance(field_, dict) or "custom_id" not in field_:
            continue
        custom_id = field_["custom_id"]
        expected.add(custom_id)
        entry = _submitted_field(field_, values.get(custom_id))
        if component.get("type") == 18:
            submitted.append({"type": 18, "component": entry})
        else:
            submitted.append({"type": 1, "components": [entry]})
    unknown = set(values) - expected
    if unknown:
        raise ValueError(f"the modal has no fields {sorted(unknown)}")
    return submitted


def _submitted_field(definition: JSON, value: str | Sequence[str] | None) -> JSON:
    custom_id = definition["custom_id"]
    kind = definition.get("type")
    if kind == 4:
        text = "" if value is None else str(value)
        required = definition.get("required", True)
        low, high = definition.get("min_length", 0), definition.get("max_length", 4000)
        if required and not text:
            raise ValueError(f"field {custom_id!r} is required")
        if text and not low <= len(text) <= high:
            raise ValueError(f"field {custom_id!r} takes {low}..{high} characters")
        return {"type": 4, "custom_id": custom_id, "value": text}
    picked = [] if value is None else [value] if isinstance(value, str) else list(value)
    return {"type": kind, "custom_id": custom_id, "values": [str(v) for v in picked]}
