"""The scripted world: users, their private chats, groups, and what users write to the bot.

Tests set the scene (`add_user`, `add_group`, `migrate_group`...) and make users act
(`user_sends`, `user_replies`, `block`...); each action queues the update Telegram would send,
filtered by privacy mode as Telegram filters it. Button presses and votes live with keyboards
and polls.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import replace

from tests.emulators.telegram.entities import utf16_len
from tests.emulators.telegram.model import JSON, Chat, User
from tests.emulators.telegram.store import MessageStore

_COMMAND_IN_TEXT = re.compile(r"(?<!\S)/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?")
_MENTION_IN_TEXT = re.compile(r"(?<!\S)@[A-Za-z0-9_]{5,32}")


class World(MessageStore):
    """Scripted users and groups, and the updates their actions produce."""

    # ---- the world -------------------------------------------------------------------------

    def add_user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "fr",
        *,
        last_name: str | None = None,
    ) -> User:
        """Create a user; their private chat exists once they start the bot."""
        user = User(id, first_name, username, language_code, last_name)
        self.users[id] = user
        self.chats[id] = Chat(id, "private", user=user, bot_status="left")
        return user

    def start_private(self, user: User | int) -> Chat:
        """The user pressed Start: the bot may now write to them (unblocks if needed)."""
        chat = self._private(user)
        if chat.blocked:
            self.unblock(chat.id)
        chat.started, chat.bot_status = True, "member"
        return chat

    def block(self, user_id: User | int) -> int:
        """The user blocks the bot; returns the id of the `my_chat_member` update."""
        chat = self._private(user_id)
        old = self._member_dict(self.bot, chat)
        chat.blocked, chat.bot_status = True, "kicked"
        return self._enqueue_member_change(chat, self._user(user_id), old)

    def unblock(self, user_id: User | int) -> int:
        """The user restarts the bot after blocking it."""
        chat = self._private(user_id)
        old = self._member_dict(self.bot, chat)
        chat.blocked, chat.started, chat.bot_status = False, True, "member"
        return self._enqueue_member_change(chat, self._user(user_id), old)

    def add_group(
        self,
        chat_id: int,
        title: str,
        members: Iterable[User | int] = (),
        supergroup: bool = False,
        *,
        admins: Iterable[User | int] = (),
        creator: User | int | None = None,
        with_bot: bool = True,
        username: str | None = None,
    ) -> Chat:
        """Create a group (or supergroup) that already contains the bot unless `with_bot=False`."""
        admin_ids = {self._user(a).id for a in admins}
        creator_id = self._user(creator).id if creator is not None else None
        member_ids = {self._user(m).id for m in members} | admin_ids
        if creator_id is not None:
            member_ids.add(creator_id)
        chat = Chat(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            members=member_ids,
            admins=admin_ids,
            creator=creator_id,
            bot_status="member" if with_bot else "left",
            username=username,
        )
        self.chats[chat_id] = chat
        return chat

    def add_member(self, chat: Chat | int, user: User | int) -> None:
        """Put a user in a group (no update: use it to set the scene)."""
        self._group(chat).members.add(self._user(user).id)

    def add_bot_to_group(self, chat: Chat | int, by: User | int | None = None) -> int:
        """Someone adds the bot to the group; returns the `my_chat_member` update id."""
        group = self._group(chat)
        old = self._member_dict(self.bot, group)
        group.bot_status = "member"
        return self._enqueue_member_change(group, self._actor(group, by), old)

    def remove_bot_from_group(self, chat: Chat | int, by: User | int | None = None) -> int:
        """An admin removes the bot; returns the `my_chat_member` update id."""
        group = self._group(chat)
        old = self._member_dict(self.bot, group)
        group.bot_status = "kicked" if group.type == "supergroup" else "left"
        return self._enqueue_member_change(group, self._actor(group, by), old)

    def promote_bot(self, chat: Chat | int) -> None:
        """Make the bot an administrator of the group (no update)."""
        self._group(chat).bot_status = "administrator"

    def migrate_group(self, old_id: int, new_id: int) -> Chat:
        """Upgrade a group to a supergroup; queues the two service messages Telegram sends."""
        old = self._group(old_id)
        if old.type != "group":
            raise ValueError(f"chat {old_id} is a {old.type}, only basic groups migrate")
        new = replace(old, id=new_id, type="supergroup", migrated_to=None)
        new.members, new.admins = set(old.members), set(old.admins)
        self.chats[new_id] = new
        old.migrated_to = new_id
        actor = self._actor(old, None)
        if old.bot_status in ("member", "administrator"):
            self._enqueue_user_message(actor, old, {"migrate_to_chat_id": new_id})
            self._enqueue_user_message(actor, new, {"migrate_from_chat_id": old_id})
        return new

    # ---- update injection ------------------------------------------------------------------

    def user_sends(self, user: User | int, chat: Chat | int | None, text: str) -> int | None:
        """A user writes `text`; returns the update id, or None if the bot cannot see it.

        Commands get their `bot_command` entity. With privacy mode (the default) the bot sees
        in groups only commands, replies to its own messages and mentions of it.
        """
        sender = self._user(user)
        place = self._place(sender, chat)
        return self._enqueue_user_message(sender, place, self._text_fields(text))

    def user_replies(
        self, user: User | int, chat: Chat | int | None, text: str, reply_to_message_id: int
    ) -> int | None:
        """A user answers a message (the bot's or anyone's) with `text`."""
        sender = self._user(user)
        place = self._place(sender, chat)
        fields = self._text_fields(text)
        replied = self._message_dict(place.id, reply_to_message_id)
        if replied is not None:
            replied.pop("reply_to_message", None)
            fields["reply_to_message"] = replied
        return self._enqueue_user_message(sender, place, fields)

    def queue_update(self, kind: str, payload: JSON) -> int:
        """Queue any other update (`{"update_id": ..., kind: payload}`); returns its id."""
        return self._enqueue(kind, payload)

    def _enqueue_user_message(self, sender: User, place: Chat, fields: JSON) -> int | None:
        message = {
            "message_id": self._new_message_id(),
            "date": int(time.time()),
            "chat": place.to_dict(),
            "from": sender.to_dict(),
            **fields,
        }
        self._user_messages[(place.id, message["message_id"])] = message
        if not self._bot_sees(place, message):
            return None
        return self._enqueue("message", message)

    def _text_fields(self, text: str) -> JSON:
        fields: JSON = {"text": text}
        entities = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in _COMMAND_IN_TEXT.finditer(text)
        ] + [
            {
                "type": "mention",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in _MENTION_IN_TEXT.finditer(text)
        ]
        if entities:
            fields["entities"] = sorted(entities, key=lambda e: e["offset"])
        return fields

    def _bot_sees(self, place: Chat, message: JSON) -> bool:
        """Privacy mode: in groups the bot sees commands, replies to it and mentions of it."""
        if place.type == "private":
            return True
        if place.bot_status not in ("member", "administrator"):
            return False
        text = message.get("text")
        if not self.privacy_mode or text is None:
            return True
        username = (self.bot.username or "").lower()
        command = _COMMAND_IN_TEXT.match(text)
        if command and (command.group(2) is None or command.group(2).lower() == username):
            return True
        replied = message.get("reply_to_message") or {}
        if replied.get("from", {}).get("id") == self.bot.id:
            return True
        return f"@{username}" in text.lower()

    # ---- lookups -----------------------------------------------------------------------------

    def _private(self, user: User | int) -> Chat:
        return self.chats[self._user(user).id]

    def _group(self, chat: Chat | int) -> Chat:
        group = self.chats[chat if isinstance(chat, int) else chat.id]
        if not group.is_group:
            raise ValueError(f"chat {group.id} is not a group")
        return group

    def _actor(self, group: Chat, by: User | int | None) -> User:
        if by is not None:
            return self._user(by)
        for candidate in (group.creator, *sorted(group.admins), *sorted(group.members)):
            if candidate is not None and candidate in self.users:
                return self.users[candidate]
        return self.bot

    def _place(self, sender: User, chat: Chat | int | None) -> Chat:
        """The chat a user writes in; writing privately means having started the bot."""
        chat_id = sender.id if chat is None else chat if isinstance(chat, int) else chat.id
        if chat_id == sender.id:
            return self.start_private(sender)
        place = self.chats.get(chat_id)
        if place is None or not place.is_group:
            raise ValueError(f"user {sender.id} cannot write in chat {chat_id}")
        if place.migrated_to is not None:
            raise ValueError(f"group {chat_id} migrated to {place.migrated_to}")
        if sender.id not in place.members:
            raise ValueError(f"user {sender.id} is not a member of group {chat_id}")
        return place
