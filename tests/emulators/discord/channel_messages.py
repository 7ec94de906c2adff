"""REST routes of channel messages: send (with the permission, DM and reply checks), read,
edit, delete, and the typing indicator.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.errors import DiscordError, FormErrors
from tests.emulators.discord.model import MessageRecord
from tests.emulators.discord.protocol import EPHEMERAL, LOADING, TEXT_CHANNEL_TYPES, Perm, as_object
from tests.emulators.discord.routing import Call
from tests.emulators.discord.transcripts import MessageStore


class ChannelMessages(MessageStore):
    """The bot's messages in channels and DMs over REST."""

    def _channel_message(self, call: Call) -> MessageRecord:
        channel = self._channel(call.id("channel_id"))
        message = self._messages.get(call.id("message_id"))
        if (
            message is None
            or message.channel_id != channel.id
            or message.deleted
            or message.ephemeral
        ):
            raise DiscordError(10008)
        return message

    async def _post_message(self, call: Call) -> tuple[int, Any]:
        channel = self._channel(call.id("channel_id"))
        if channel.type not in TEXT_CHANNEL_TYPES:
            raise DiscordError(50008)
        permissions = self._permissions(channel, self.bot_user.id)
        if not permissions & Perm.VIEW_CHANNEL:
            raise DiscordError(50001)
        if not permissions & Perm.SEND_MESSAGES or (
            call.files and not permissions & Perm.ATTACH_FILES
        ):
            raise DiscordError(50013)
        if channel.recipient_id is not None and self._user(channel.recipient_id).dms_closed:
            raise DiscordError(50007)
        body = dict(call.json)
        body["flags"] = int(body.get("flags") or 0) & ~(EPHEMERAL | LOADING)
        self._validate_new_message(body, call.files)
        reference = as_object(body.get("message_reference"))
        if reference.get("message_id") and reference.get("fail_if_not_exists", True):
            referenced = self._messages.get(int(reference["message_id"]))
            if referenced is None or referenced.channel_id != channel.id:
                errors = FormErrors()
                errors.add(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                raise DiscordError(50035, errors=errors.tree)
        message = self._store_message(
            channel, body, author_id=self.bot_user.id, kind="channel", files=call.files
        )
        return 200, self._message_json(message)

    async def _get_message(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        return 200, self._message_json(message)

    async def _patch_message(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        if message.author_id != self.bot_user.id:
            raise DiscordError(50005)
        if self._channel(message.channel_id).denied:
            raise DiscordError(50013)
        self._edit_message(message, call.json, call.files)
        return 200, self._message_json(message)

    async def _delete_message(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        channel = self._channel(message.channel_id)
        own = message.author_id == self.bot_user.id
        if not own and not self._permissions(channel, self.bot_user.id) & Perm.MANAGE_MESSAGES:
            raise DiscordError(50013)
        self._delete(message)
        return 204, None

    async def _typing(self, call: Call) -> tuple[int, Any]:
        self._channel(call.id("channel_id"))
        return 204, None
