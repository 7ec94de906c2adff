"""Native polls: users voting in a poll the bot sent, with the vote events Discord sends."""

from __future__ import annotations

from collections.abc import Sequence

from tests.emulators.discord.inspection import Inspection
from tests.emulators.discord.model import MessageRecord
from tests.emulators.discord.protocol import JSON, Intent, as_object


class Polls(Inspection):
    """Votes in the bot's polls."""

    def vote(self, user_id: int, message: MessageRecord | int, answer_ids: Sequence[int]) -> None:
        """A user votes in a native poll the bot sent (answers numbered from 1, as Discord
        does); an empty list takes the vote back. Like Discord, one
        MESSAGE_POLL_VOTE_REMOVE per answer given up, then one MESSAGE_POLL_VOTE_ADD per new
        answer (with the polls intent of a guild or of direct messages)."""
        record = message if isinstance(message, MessageRecord) else self.message(message)
        if record.poll is None or record.deleted:
            raise ValueError(f"message {record.id} has no poll")
        channel = self._channel(record.channel_id)
        self._require_member(channel, user_id)
        poll = as_object(record.poll)
        count = len(poll.get("answers") or [])
        if any(not 1 <= answer <= count for answer in answer_ids):
            raise ValueError(f"the poll of message {record.id} has answers 1 to {count}")
        if len(set(answer_ids)) > 1 and not poll.get("allow_multiselect"):
            raise ValueError(f"the poll of message {record.id} allows one answer")
        votes = self._poll_votes.setdefault(record.id, {})
        before, after = votes.get(user_id, []), list(dict.fromkeys(answer_ids))
        votes[user_id] = after
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(record.channel_id),
            "message_id": str(record.id),
        }
        if record.guild_id is not None:
            data["guild_id"] = str(record.guild_id)
        intent = (
            Intent.GUILD_MESSAGE_POLLS
            if record.guild_id is not None
            else Intent.DIRECT_MESSAGE_POLLS
        )
        for answer in before:
            if answer not in after:
                self._dispatch(
                    "MESSAGE_POLL_VOTE_REMOVE", {**data, "answer_id": answer}, intent=intent
                )
        for answer in after:
            if answer not in before:
                self._dispatch(
                    "MESSAGE_POLL_VOTE_ADD", {**data, "answer_id": answer}, intent=intent
                )
        self._changed()
