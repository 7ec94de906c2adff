"""Polls: sendPoll and stopPoll with Telegram's checks, and votes by scripted users."""

from __future__ import annotations

import copy

from tests.emulators.telegram.keyboards import checked_markup
from tests.emulators.telegram.model import JSON, ApiError, UploadedFile, User
from tests.emulators.telegram.store import MessageStore


class Polls(MessageStore):
    """The bot's polls and the votes they receive."""

    async def _send_poll(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"))
        question = params.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ApiError(400, "Bad Request: poll question must be non-empty")
        if len(question) > self.limits.poll_question:
            raise ApiError(
                400,
                f"Bad Request: poll question length must not exceed {self.limits.poll_question}",
            )
        raw_options = params.get("options")
        if not isinstance(raw_options, list):
            raise ApiError(400, "Bad Request: can't parse options JSON object")
        texts = [o.get("text") if isinstance(o, dict) else o for o in raw_options]
        if len(texts) < self.limits.poll_options_min:
            raise ApiError(
                400, f"Bad Request: poll must have at least {self.limits.poll_options_min} option"
            )
        if len(texts) > self.limits.poll_options_max:
            raise ApiError(
                400,
                f"Bad Request: poll can't have more than {self.limits.poll_options_max} options",
            )
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ApiError(400, "Bad Request: poll options must be non-empty")
            if len(text) > self.limits.poll_option_text:
                raise ApiError(
                    400,
                    "Bad Request: poll options length must not exceed "
                    f"{self.limits.poll_option_text}",
                )
        kind = params.get("type") or "regular"
        if kind not in ("regular", "quiz"):
            raise ApiError(400, "Bad Request: poll type is invalid")
        if (
            kind == "quiz"
            and params.get("correct_option_ids") is None
            and params.get("correct_option_id") is None
        ):
            raise ApiError(400, "Bad Request: wrong correct option ID specified")
        markup = checked_markup(params.get("reply_markup"), self.limits)
        self._rate_windows.admit(self.rate_limits, self.clock, "sendPoll", chat)
        poll_id = str(5_000_000_000_000_000_000 + self._serial())
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": [
                {"persistent_id": str(index), "text": text, "voter_count": 0}
                for index, text in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": params.get("is_closed") is True,
            "is_anonymous": params.get("is_anonymous") is not False,
            "type": kind,
            "allows_multiple_answers": params.get("allows_multiple_answers") is True,
            "allows_revoting": params.get("allows_revoting", kind == "regular") is True,
            "members_only": False,
        }
        message = self._store("sendPoll", chat, params, poll=poll, reply_markup=markup)
        self._polls[poll_id] = message
        return self._sent_dict(message)

    async def _stop_poll(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._target(params.get("chat_id"))
        message = self._sent_in(chat, params.get("message_id"))
        if message is None or message.poll is None:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message.poll["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        if "reply_markup" in params:
            message.reply_markup = checked_markup(params["reply_markup"], self.limits)
        message.poll["is_closed"] = True
        self._enqueue("poll", copy.deepcopy(message.poll))
        return dict(message.poll)

    def user_votes(self, user: User | int, poll_id: str, option_ids: list[int]) -> int:
        """A user votes (an empty list retracts); returns the update id.

        A non-anonymous poll yields a `poll_answer`; an anonymous one only a `poll` update.
        """
        voter = self._user(user)
        message = self._polls[poll_id]
        poll = message.poll
        assert poll is not None
        if poll["is_closed"]:
            raise ValueError(f"poll {poll_id} is closed")
        if any(not 0 <= i < len(poll["options"]) for i in option_ids):
            raise ValueError(f"poll {poll_id} has {len(poll['options'])} options: {option_ids}")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError(f"poll {poll_id} allows one answer")
        votes = self._votes.setdefault(poll_id, {})
        if votes.get(voter.id) and not poll["allows_revoting"]:
            raise ValueError(f"poll {poll_id} does not allow changing a vote")
        votes[voter.id] = list(option_ids)
        for index, option in enumerate(poll["options"]):
            option["voter_count"] = sum(index in chosen for chosen in votes.values())
        poll["total_voter_count"] = sum(1 for chosen in votes.values() if chosen)
        if poll["is_anonymous"]:
            return self._enqueue("poll", copy.deepcopy(poll))
        answer = {
            "poll_id": poll_id,
            "user": voter.to_dict(),
            "option_ids": list(option_ids),
            "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
        }
        return self._enqueue("poll_answer", answer)
