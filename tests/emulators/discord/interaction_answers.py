"""How the bot answers interactions: the callback (on time, once, of a type the interaction
allows) and the webhook routes of the original answer and its follow-ups.
"""

from __future__ import annotations

import time
from typing import Any

from tests.emulators.discord.command_checks import check_choices
from tests.emulators.discord.component_checks import check_modal
from tests.emulators.discord.errors import DiscordError, FormErrors
from tests.emulators.discord.message_checks import check_message
from tests.emulators.discord.model import Attachment, MessageRecord
from tests.emulators.discord.protocol import (
    ALLOWED_CALLBACKS,
    EPHEMERAL,
    JSON,
    LOADING,
    CallbackType,
    as_object,
)
from tests.emulators.discord.records import CallbackAttempt, InteractionRecord, InteractionReply
from tests.emulators.discord.routing import Call
from tests.emulators.discord.transcripts import MessageStore


class InteractionAnswers(MessageStore):
    """Interaction callbacks and the interaction webhooks."""

    async def _interaction_callback(self, call: Call) -> tuple[int, Any]:
        record = self.interactions.get(call.id("interaction_id"))
        if record is None or record.token != call.params["token"]:
            raise DiscordError(10062)
        body = call.json
        raw_kind = body.get("type")
        kind = raw_kind if isinstance(raw_kind, int) else None
        data = as_object(body.get("data"))
        elapsed = time.monotonic() - record.dispatched_at
        attempt = CallbackAttempt(kind, data, elapsed, 200)
        record.attempts.append(attempt)
        try:
            if record.reply is not None:
                raise DiscordError(40060)
            if elapsed > self.interaction_deadline:
                raise DiscordError(10062)
            result = self._answer_interaction(record, kind, data, call.files)
        except DiscordError as error:
            attempt.status, attempt.code = error.status, error.code
            raise
        assert kind is not None  # _answer_interaction refused anything else
        message = record.original if kind in (4, 5, 7) else None
        record.reply = InteractionReply(kind, data, elapsed, message, record.followups)
        record._answered.set()
        self._changed()
        return 200, result

    def _answer_interaction(
        self, record: InteractionRecord, kind: int | None, data: JSON, files: list[Attachment]
    ) -> JSON:
        """Apply a first answer (already checked for timing) and build the callback body."""
        errors = FormErrors()
        if kind not in ALLOWED_CALLBACKS[record.type]:
            errors.add(
                ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
            )
            errors.raise_if_any()
        if kind in (6, 7) and record.component_message is None:
            errors.add(
                ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "There is no message to update"
            )
            errors.raise_if_any()
        if kind == CallbackType.MODAL:
            check_modal(data, errors)
        elif kind == CallbackType.AUTOCOMPLETE_RESULT:
            check_choices(data.get("choices"), errors)
        elif kind in (4, 7):
            check_message(data, errors)
        errors.raise_if_any()
        channel = self._channel(record.channel_id, unknown=10062)
        flags = int(data.get("flags") or 0)
        interaction: JSON = {"id": str(record.id), "type": record.type}
        if kind == CallbackType.MESSAGE:
            self._validate_new_message(data, files)
            record.original = self._store_message(
                channel,
                data,
                author_id=self.bot_user.id,
                kind="response",
                files=files,
                interaction=record,
            )
        elif kind == CallbackType.DEFERRED_MESSAGE:
            deferred = {"content": "", "flags": (flags & EPHEMERAL) | LOADING}
            record.original = self._store_message(
                channel,
                deferred,
                author_id=self.bot_user.id,
                kind="response",
                files=[],
                interaction=record,
            )
        elif kind in (CallbackType.DEFERRED_UPDATE, CallbackType.UPDATE_MESSAGE):
            record.original = record.component_message
            if kind == CallbackType.UPDATE_MESSAGE and record.original is not None:
                self._edit_message(record.original, data, files)
        elif kind == CallbackType.AUTOCOMPLETE_RESULT:
            record.choices = list(data.get("choices") or [])
        elif kind == CallbackType.MODAL:
            record.modal = data
            self._modals.append(record)
        result: JSON = {"interaction": interaction}
        if record.original is not None and kind in (4, 5, 7):
            message = record.original
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = message.loading
            interaction["response_message_ephemeral"] = message.ephemeral
            result["resource"] = {"type": kind, "message": self._message_json(message)}
        return result

    async def _post_followup(self, call: Call) -> tuple[int, Any]:
        record = self._webhook_interaction(call)
        channel = self._channel(record.channel_id, unknown=10015)
        body = dict(call.json)
        flags = int(body.get("flags") or 0)
        body["flags"] = flags & ~LOADING
        self._validate_new_message(body, call.files)
        message = self._store_message(
            channel,
            body,
            author_id=self.bot_user.id,
            kind="followup",
            files=call.files,
            interaction=record,
        )
        record.followups.append(message)
        self._changed()
        if call.query.get("wait", "false").lower() in ("true", "1"):
            return 200, self._message_json(message)
        return 204, None

    def _webhook_interaction(self, call: Call) -> InteractionRecord:
        record = self._tokens.get(call.params["token"])
        if call.id("application_id") != self.app_id or record is None:
            raise DiscordError(10015)
        if time.monotonic() - record.created_at > self.token_lifetime:
            raise DiscordError(50027)
        if record.reply is None:
            raise DiscordError(10015)
        return record

    def _webhook_message(self, call: Call) -> MessageRecord:
        record = self._webhook_interaction(call)
        wanted = call.params["message_id"]
        if wanted == "@original":
            message = record.original
        else:
            message_id = call.id("message_id")
            candidates = [record.original, *record.followups]
            message = next((m for m in candidates if m is not None and m.id == message_id), None)
        if message is None or message.deleted:
            raise DiscordError(10008)
        return message

    async def _get_webhook_message(self, call: Call) -> tuple[int, Any]:
        return 200, self._message_json(self._webhook_message(call))

    async def _patch_webhook_message(self, call: Call) -> tuple[int, Any]:
        message = self._webhook_message(call)
        self._edit_message(message, call.json, call.files)
        return 200, self._message_json(message)

    async def _delete_webhook_message(self, call: Call) -> tuple[int, Any]:
        self._delete(self._webhook_message(call))
        return 204, None
