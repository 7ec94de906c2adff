"""What the bot asks or does about a chat: getChat, getChatMember and leaveChat."""

from __future__ import annotations

from tests.emulators.telegram.model import JSON, ApiError, UploadedFile
from tests.emulators.telegram.params import as_int
from tests.emulators.telegram.store import MessageStore


class ChatMembers(MessageStore):
    """Chat information, membership and leaving a group."""

    async def _get_chat(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"), sending=False)
        gifts = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        info = chat.to_dict() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }
        return info

    async def _get_chat_member(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"), sending=False)
        user_id = as_int(params.get("user_id"))
        if user_id == self.bot.id:
            return self._member_dict(self.bot, chat)
        if user_id not in self.users:
            raise ApiError(400, "Bad Request: user not found")
        return self._member_dict(self.users[user_id], chat)

    async def _leave_chat(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._target(params.get("chat_id"), sending=False)
        if not chat.is_group:
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        old = self._member_dict(self.bot, chat)
        chat.bot_status = "left"
        self._enqueue_member_change(chat, self.bot, old)
        return True
