"""The bot's messages as the emulator keeps them, and their rendering as Bot API objects.

`_store` records what the bot posted; `_sent_dict` and `_message_dict` render `Message`
objects (with the message they reply to), `_member_dict` a `ChatMember`; `_reply_target`
resolves the message a send replies to, with Telegram's errors.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from tests.emulators.telegram.model import JSON, ApiError, Chat, SentMessage, User
from tests.emulators.telegram.params import as_int
from tests.emulators.telegram.state import EmulatorState


class MessageStore(EmulatorState):
    """Keeps what the bot posted and renders messages and chat members as the Bot API does."""

    def _store(self, method: str, chat: Chat, params: JSON, **fields: Any) -> SentMessage:
        message = SentMessage(
            method=method,
            chat_id=chat.id,
            message_id=self._new_message_id(),
            date=int(time.time()),
            params=params,
            **fields,
        )
        self._sent.setdefault(chat.id, []).append(message)
        self._sent_by_id[message.message_id] = message
        return message

    def _sent_in(self, chat: Chat, message_id: Any) -> SentMessage | None:
        message = self._sent_by_id.get(as_int(message_id) or 0)
        return message if message is not None and message.chat_id == chat.id else None

    def _find_sent(self, message: int | SentMessage) -> SentMessage:
        if isinstance(message, SentMessage):
            return message
        if message not in self._sent_by_id:
            raise KeyError(f"the bot sent no message {message}")
        return self._sent_by_id[message]

    def _sent_dict(self, message: SentMessage) -> JSON:
        """The Bot API `Message` for a message the bot posted, as it is now."""
        data: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chats[message.chat_id].to_dict(),
            "from": self.bot.to_dict(),
        }
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.caption:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        if message.method == "sendPhoto":
            width, height = _png_size(message.photo or b"")
            data["photo"] = [
                {
                    "file_id": message.file_id,
                    "file_unique_id": f"u{message.file_id}",
                    "width": width,
                    "height": height,
                    "file_size": len(message.photo or b""),
                }
            ]
        if message.method == "sendDocument":
            data["document"] = {
                "file_id": message.file_id,
                "file_unique_id": f"u{message.file_id}",
                "file_size": len(message.document or b""),
            } | ({"file_name": message.file_name} if message.file_name else {})
        if message.poll is not None:
            data["poll"] = copy.deepcopy(message.poll)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_to_message_id is not None:
            replied = self._message_dict(message.chat_id, message.reply_to_message_id)
            if replied is not None:
                replied.pop("reply_to_message", None)
                data["reply_to_message"] = replied
        return data

    def _message_dict(self, chat_id: int, message_id: int) -> JSON | None:
        """A copy of any message of the chat (the bot's or a user's), None if unknown."""
        if (chat_id, message_id) in self._user_messages:
            return copy.deepcopy(self._user_messages[(chat_id, message_id)])
        message = self._sent_by_id.get(message_id)
        if message is None or message.chat_id != chat_id or message.deleted:
            return None
        return self._sent_dict(message)

    def _reply_target(self, chat: Chat, params: JSON) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, lenient = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            message_id = params.get("reply_to_message_id")
            lenient = params.get("allow_sending_without_reply")
        if message_id is None:
            return None
        number = as_int(message_id)
        if number is not None and self._message_dict(chat.id, number) is not None:
            return number
        if lenient is True:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _member_dict(self, user: User, chat: Chat) -> JSON:
        if user.id == self.bot.id:
            status: str = chat.bot_status
        elif chat.type == "private":
            status = "member" if user.id == chat.id else "left"
        elif user.id == chat.creator:
            status = "creator"
        elif user.id in chat.admins:
            status = "administrator"
        else:
            status = "member" if user.id in chat.members else "left"
        member: JSON = {"status": status, "user": user.to_dict()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            rights = (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
            )
            member |= {right: True for right in rights} | {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        return member

    def _enqueue_member_change(self, chat: Chat, actor: User, old: JSON) -> int:
        change = {
            "chat": chat.to_dict(),
            "from": actor.to_dict(),
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": self._member_dict(self.bot, chat),
        }
        return self._enqueue("my_chat_member", change)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, or a plausible default for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 320, 240
