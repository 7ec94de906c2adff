"""Discord's JSON objects built from the model: channels, members, GUILD_CREATE, messages and
their polls, as REST answers and gateway dispatches carry them.
"""

from __future__ import annotations

from datetime import timedelta

from tests.emulators.discord.model import Channel, Guild, Member, MessageRecord
from tests.emulators.discord.protocol import JSON, Intent, InteractionType, Perm, as_object
from tests.emulators.discord.state import EmulatorState


class Payloads(EmulatorState):
    """The JSON shapes of the world's objects."""

    def _channel_json(self, channel: Channel) -> JSON:
        if channel.recipient_id is not None:
            return {
                "id": str(channel.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._user(channel.recipient_id).to_json()],
            }
        data: JSON = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "permission_overwrites": [],
            "parent_id": str(channel.parent_id) if channel.parent_id else None,
            "nsfw": False,
            "flags": 0,
        }
        if channel.type in (0, 5):
            data |= {"topic": channel.topic, "last_message_id": None, "rate_limit_per_user": 0}
        elif channel.type in (2, 13):
            data |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None, "last_message_id": None}
        if channel.denied:
            deny = {"id": str(self.bot_user.id), "type": 1, "allow": "0"}
            data["permission_overwrites"] = [deny | {"deny": str(int(Perm.SEND_MESSAGES))}]
        return data

    def _member_json(self, guild: Guild, member: Member, *, with_user: bool = True) -> JSON:
        data: JSON = {
            "roles": [str(r) for r in member.roles],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "joined_at": member.joined_at.isoformat(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self._user(member.user_id).to_json()
        return data

    def _guild_create(self, guild: Guild, intents: int | None = None) -> JSON:
        """A GUILD_CREATE payload; without GUILD_MEMBERS only the bot's member is sent."""
        session_intents = intents if intents is not None else self._session_intents()
        members = list(guild.members.values())
        if not session_intents & Intent.GUILD_MEMBERS:
            members = [m for m in members if m.user_id == self.bot_user.id]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "roles": [r.to_json() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [self._channel_json(c) for c in guild.channels.values() if not c.unlisted],
            "threads": [],
            "members": [self._member_json(guild, m) for m in members],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "member_count": len(guild.members),
            "large": False,
            "unavailable": False,
            "joined_at": guild.joined_at.isoformat(),
            "preferred_locale": guild.locale,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "vanity_url_code": None,
            "application_id": None,
        }

    def _message_json(self, message: MessageRecord) -> JSON:
        author = self._user(message.author_id)
        data: JSON = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": author.to_json(),
            "content": message.content,
            "timestamp": message.created_at.isoformat(),
            "edited_timestamp": message.edited_at.isoformat() if message.edited_at else None,
            "tts": False,
            "mention_everyone": message.mention_everyone,
            "mentions": [self._user(u).to_json() for u in message.mentions if u in self.users],
            "mention_roles": [str(r) for r in message.mention_roles],
            "attachments": [
                a.to_json(self.base_url, message.channel_id) for a in message.attachments
            ],
            "embeds": [{"type": "rich", **e} for e in message.embeds],
            "components": message.components,
            "pinned": False,
            "type": 0,
            "flags": message.flags,
        }
        if message.message_reference:
            data["type"] = 19
            data["message_reference"] = message.message_reference
        if message.interaction_id is not None:
            data["webhook_id"] = str(self.app_id)
            data["application_id"] = str(self.app_id)
            record = self.interactions[message.interaction_id]
            if record.type == InteractionType.APPLICATION_COMMAND and message.kind == "response":
                data["type"] = 20
        if message.poll is not None:
            data["poll"] = self._poll_json(message)
        return data

    def _poll_json(self, message: MessageRecord) -> JSON:
        poll = dict(as_object(message.poll))
        hours = float(poll.pop("duration", 24) or 24)
        answers = [
            {"answer_id": index, "poll_media": as_object(answer).get("poll_media", {})}
            for index, answer in enumerate(poll.get("answers") or [], start=1)
        ]
        return {
            "allow_multiselect": False,
            "layout_type": 1,
            **poll,
            "answers": answers,
            "expiry": (message.created_at + timedelta(hours=hours)).isoformat(),
            "results": {"is_finalized": False, "answer_counts": []},
        }
