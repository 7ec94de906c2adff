"""Edits of the bot's messages: text, caption and inline keyboard, each kept in history."""

from __future__ import annotations

import time

from tests.emulators.telegram.formatting import message_caption, message_text
from tests.emulators.telegram.keyboards import checked_markup
from tests.emulators.telegram.model import JSON, ApiError, Revision, SentMessage, UploadedFile
from tests.emulators.telegram.params import as_int
from tests.emulators.telegram.store import MessageStore

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)


class Edits(MessageStore):
    """editMessageText, editMessageCaption and editMessageReplyMarkup."""

    async def _edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        message = self._editable(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = message_text(params, self.limits)
        markup = checked_markup(params.get("reply_markup"), self.limits)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, _NOT_MODIFIED)
        self._revise(message, "editMessageText")
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.parse_mode = params.get("parse_mode")
        return self._sent_dict(message)

    async def _edit_message_caption(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        message = self._editable(params)
        if message.text is not None or message.poll is not None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = message_caption(params, self.limits)
        markup = checked_markup(params.get("reply_markup"), self.limits)
        current = (message.caption or "", message.caption_entities, message.reply_markup)
        if (caption, entities, markup) == current:
            raise ApiError(400, _NOT_MODIFIED)
        self._revise(message, "editMessageCaption")
        message.caption, message.caption_entities = caption or None, entities
        message.reply_markup = markup
        return self._sent_dict(message)

    async def _edit_message_reply_markup(
        self, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        message = self._editable(params)
        markup = checked_markup(params.get("reply_markup"), self.limits)
        if markup == message.reply_markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._revise(message, "editMessageReplyMarkup")
        message.reply_markup = markup
        return self._sent_dict(message)

    def _editable(self, params: JSON) -> SentMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: message to edit not found")
        chat = self._target(params.get("chat_id"))
        number = as_int(params.get("message_id"))
        message = self._sent_in(chat, number)
        if message is None or message.deleted:
            if number is not None and (chat.id, number) in self._user_messages:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _revise(self, message: SentMessage, method: str) -> None:
        message.history.append(
            Revision(
                method,
                message.text,
                list(message.entities),
                message.caption,
                message.reply_markup,
                self.clock(),
            )
        )
        message.edit_date = int(time.time())
