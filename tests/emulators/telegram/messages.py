"""Text messages: sendMessage, sendChatAction and deleteMessage."""

from __future__ import annotations

from tests.emulators.telegram.formatting import message_text
from tests.emulators.telegram.keyboards import checked_markup
from tests.emulators.telegram.model import JSON, ApiError, UploadedFile
from tests.emulators.telegram.store import MessageStore


class Messages(MessageStore):
    """Sending, and deleting, the bot's text messages."""

    async def _send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"))
        text, entities = message_text(params, self.limits)
        markup = checked_markup(params.get("reply_markup"), self.limits)
        reply_to = self._reply_target(chat, params)
        self._rate_windows.admit(self.rate_limits, self.clock, "sendMessage", chat)
        message = self._store(
            "sendMessage",
            chat,
            params,
            text=text,
            entities=entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )
        return self._sent_dict(message)

    async def _send_chat_action(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self._target(params.get("chat_id"))
        return True

    async def _delete_message(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._target(params.get("chat_id"))
        message = self._sent_in(chat, params.get("message_id"))
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True
