"""Inline keyboards: markup validation, button presses and the bot's callback answers.

`checked_markup` enforces Telegram's rules on reply markup (button counts, callback data size,
URLs and deep links); `KeyboardCallbacks` lets a scripted user press a button and records how
the bot answers the callback query, refusing an answer that comes too late or twice.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from tests.emulators.telegram.limits import Limits
from tests.emulators.telegram.model import (
    JSON,
    ApiError,
    CallbackQuery,
    SentMessage,
    UploadedFile,
    User,
)
from tests.emulators.telegram.store import MessageStore

_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def checked_markup(markup: Any, limits: Limits, *, inline_only: bool = False) -> JSON | None:
    """Validate a reply_markup object (edits accept only an inline keyboard)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"], limits)
        return markup
    if inline_only:
        raise ApiError(400, "Bad Request: can't parse inline keyboard markup JSON object")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(
                400,
                'Bad Request: field "keyboard" of the ReplyKeyboardMarkup must be an '
                "Array of Arrays",
            )
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")


def _check_inline_keyboard(rows: Any, limits: Limits) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(
            400,
            'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an '
            "Array of Arrays",
        )
    total = sum(len(row) for row in rows)
    widest = max((len(row) for row in rows), default=0)
    if total > limits.buttons_total or widest > limits.buttons_per_row:
        raise ApiError(400, "Bad Request: reply markup is too long")
    for button in (b for row in rows for b in row):
        _check_button(button, limits)


def _check_button(button: Any, limits: Limits) -> None:
    prefix = "Bad Request: can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise ApiError(400, prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise ApiError(400, prefix + 'Can\'t find field "text"')
    if not button["text"].strip():
        raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if button.get(key) is not None]
    if not actions:
        raise ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise ApiError(400, prefix + "exactly one of the optional fields must be used")
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str):
            raise ApiError(400, prefix + 'Field "callback_data" must be of type String')
        if not 1 <= len(data.encode("utf-8")) <= limits.callback_data_bytes:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in actions:
        url = button["url"]
        if not isinstance(url, str):
            raise ApiError(400, prefix + 'Field "url" must be of type String')
        if not _valid_button_url(url, limits):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")


def _valid_button_url(url: str, limits: Limits) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "tg") or (parts.scheme != "tg" and not parts.netloc):
        return False
    if parts.netloc.lower() not in ("t.me", "telegram.me") and parts.scheme != "tg":
        return True
    query = parse_qs(parts.query, keep_blank_values=True)
    payload_pattern = re.compile(rf"[A-Za-z0-9_-]{{0,{limits.deep_link_payload}}}")
    return all(
        payload_pattern.fullmatch(value)
        for key in ("start", "startgroup")
        for value in query.get(key, [])
    )


class KeyboardCallbacks(MessageStore):
    """Button presses by scripted users, and answerCallbackQuery."""

    def user_presses(
        self,
        user: User | int,
        message_id_or_message: int | SentMessage,
        callback_data: str,
        *,
        check: bool = True,
    ) -> int:
        """A user presses an inline button; returns the `callback_query` update id.

        With `check` the message must carry a button with this data; pass `check=False` to
        forge a press, as a modified client could.
        """
        sender = self._user(user)
        message = self._find_sent(message_id_or_message)
        if message.deleted:
            raise ValueError(f"message {message.message_id} was deleted")
        if check and callback_data not in message.callback_data:
            raise ValueError(
                f"message {message.message_id} has no button {callback_data!r}: "
                f"{message.callback_data}"
            )
        query_id = str(4_000_000_000_000_000 + self._serial())
        self._queries[query_id] = CallbackQuery(self.clock(), sender, message, callback_data)
        payload = {
            "id": query_id,
            "from": sender.to_dict(),
            "message": self._sent_dict(message),
            "chat_instance": str(abs(hash((self.bot.id, message.chat_id)))),
            "data": callback_data,
        }
        update_id = self._enqueue("callback_query", payload)
        self._query_of_update[update_id] = query_id
        return update_id

    def callback_answer(self, update_id: int) -> JSON | None:
        """How the bot answered the callback query of this update (None if not yet)."""
        return self._queries[self._query_of_update[update_id]].answer

    async def _answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        query = self._queries.get(query_id)
        if (
            query is None
            or query.answer is not None
            or self.clock() - query.created > self.callback_query_ttl
        ):
            raise ApiError(400, _QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > self.limits.callback_answer_text:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answer = dict(params)
        self.callback_answers[query_id] = query.answer
        return True
