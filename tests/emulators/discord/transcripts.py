"""The transcripts: storing, editing and deleting messages (the bot's and the users'), with the
mentions they would ping, and their MESSAGE_CREATE/UPDATE/DELETE dispatches.
"""

from __future__ import annotations

import re
from typing import Literal

from tests.emulators.discord.errors import DiscordError, FormErrors
from tests.emulators.discord.message_checks import check_message
from tests.emulators.discord.model import Attachment, Channel, MessageRecord, utc_now
from tests.emulators.discord.payloads import Payloads
from tests.emulators.discord.protocol import EPHEMERAL, JSON, LOADING, Intent, as_object
from tests.emulators.discord.records import InteractionRecord

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)")


class MessageStore(Payloads):
    """Every message of every channel, and the dispatches their changes send."""

    def _validate_new_message(self, body: JSON, files: list[Attachment]) -> None:
        errors = FormErrors()
        check_message(body, errors)
        errors.raise_if_any()
        for upload in files:
            if len(upload.data) > self.attachment_size_limit:
                raise DiscordError(40005)
        parts = ("content", "embeds", "components", "poll", "sticker_ids")
        if not files and not any(body.get(part) for part in parts):
            raise DiscordError(50006)

    def _store_message(
        self,
        channel: Channel,
        body: JSON,
        *,
        author_id: int,
        kind: Literal["channel", "response", "followup", "user"],
        files: list[Attachment],
        interaction: InteractionRecord | None = None,
    ) -> MessageRecord:
        flags = int(body.get("flags") or 0)
        message = MessageRecord(
            id=self._ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            kind=kind,
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=flags,
            poll=body.get("poll"),
            allowed_mentions=body.get("allowed_mentions"),
            attachments=list(files),
            message_reference=body.get("message_reference"),
            interaction_id=interaction.id if interaction else None,
            visible_to=interaction.user_id if interaction and flags & EPHEMERAL else None,
        )
        self._compute_mentions(message)
        self._messages[message.id] = message
        self._transcripts.setdefault(channel.id, []).append(message)
        if not message.ephemeral:
            self._dispatch_message("MESSAGE_CREATE", message)
        self._changed()
        return message

    def _edit_message(self, message: MessageRecord, body: JSON, files: list[Attachment]) -> None:
        errors = FormErrors()
        check_message(body, errors)
        errors.raise_if_any()
        message.edits.append(message.snapshot())
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        if body.get("flags") is not None:
            kept = message.flags & EPHEMERAL
            message.flags = kept | (int(body["flags"]) & ~(EPHEMERAL | LOADING))
        message.flags &= ~LOADING
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body:
            kept_ids = {str(as_object(a).get("id")) for a in body["attachments"] or []}
            message.attachments = [a for a in message.attachments if str(a.id) in kept_ids]
        message.attachments.extend(files)
        message.edited_at = utc_now()
        self._compute_mentions(message)
        if not message.ephemeral:
            self._dispatch_message("MESSAGE_UPDATE", message)
        self._changed()

    def _delete(self, message: MessageRecord) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            self._dispatch("MESSAGE_DELETE", data, intent=self._message_intent(message))
        self._changed()

    def _compute_mentions(self, message: MessageRecord) -> None:
        """Who the message would ping, given its allowed_mentions (absent means "everything")."""
        allowed = message.allowed_mentions
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        listed_users = {int(u) for u in (allowed or {}).get("users") or []}
        listed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        content = message.content
        message.mention_everyone = "everyone" in parse and bool(EVERYONE_MENTION.search(content))
        users = [int(u) for u in USER_MENTION.findall(content)]
        roles = [int(r) for r in ROLE_MENTION.findall(content)]
        message.mentions = [
            u for u in dict.fromkeys(users) if "users" in parse or u in listed_users
        ]
        message.mention_roles = [
            r for r in dict.fromkeys(roles) if "roles" in parse or r in listed_roles
        ]

    def _dispatch_message(self, event: str, message: MessageRecord) -> None:
        data = self._message_json(message)
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
            guild = self.guilds.get(message.guild_id)
            member = guild.members.get(message.author_id) if guild else None
            if guild is not None and member is not None:
                data["member"] = self._member_json(guild, member, with_user=False)
        session = self._session
        hidden = (
            session is not None
            and message.author_id != self.bot_user.id
            and message.guild_id is not None
            and not session.intents & Intent.MESSAGE_CONTENT
            and self.bot_user.id not in message.mentions
        )
        if hidden:
            data.update(content="", embeds=[], components=[], attachments=[])
            data.pop("poll", None)
        self._dispatch(event, data, intent=self._message_intent(message))

    def _message_intent(self, message: MessageRecord) -> int:
        return Intent.GUILD_MESSAGES if message.guild_id is not None else Intent.DIRECT_MESSAGES
