"""Sending neutral messages with the python-telegram-bot `Bot`, and the outbox's `Messenger`.

`Sender` renders and sends (Telegram's own errors pass through). `TelegramMessenger` is what
the outbox dispatcher uses: it maps Telegram's answers to the neutral delivery errors, so the
dispatcher holds, retries, gives up or records an unknown outcome as each case needs. The
dispatcher paces itself by `rates`; nothing here throttles.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InputFile, LinkPreviewOptions, ReplyParameters
from telegram import Message as TgMessage
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.telegram import render
from bot.telegram.keyboard import keyboard
from handlers.chat import (
    ChatChange,
    ChatMoved,
    Document,
    Edit,
    Image,
    Message,
    MessageRef,
    NotPermitted,
    OutcomeUnknown,
    Outgoing,
    Place,
    Platform,
    Poll,
    RetryLater,
    Rich,
    SendFailed,
    SendRates,
    Sent,
    Target,
    Unreachable,
)

logger = logging.getLogger(__name__)

ChatChanged = Callable[[Place, ChatChange], Awaitable[None]]

# Telegram's documented pace: 30 messages a second overall, 1 a second in a private chat,
# 20 a minute in a group.
TELEGRAM_RATES = SendRates(per_second=30, private=(1, 1.0), group=(20, 60.0))
NOT_MODIFIED = "message is not modified"
NO_RIGHTS = ("not enough rights", "have no rights", "chat_write_forbidden", "need administrator")
READY_WAIT = 10.0
# A message already begun waits out flood control this long at most, this many times.
MAX_FLOOD_WAIT = 10.0
FLOOD_RETRIES = 2
T = TypeVar("T")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def chat_id_of(value: str) -> int | str:
    """Telegram chat ids are integers; `@channelname` stays a string."""
    try:
        return int(value)
    except ValueError:
        return value


def retry_after_seconds(error: RetryAfter) -> float:
    # PTB warns that `retry_after` will become a timedelta; accept both without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Sender:
    """Renders neutral messages as Telegram messages and sends them with `bot`."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @property
    def username(self) -> str:
        try:
            return self.bot.username or ""
        except RuntimeError:  # not initialised yet
            return ""

    async def send(
        self,
        chat_id: int | str,
        out: Outgoing,
        *,
        private: bool,
        reply_to: int | None = None,
    ) -> str | Sent | None:
        """Send `out`; returns the id of the message that carries its buttons (with the poll's
        id for a poll)."""
        match out:
            case Message():
                return await self._text(chat_id, out, private=private, reply_to=reply_to)
            case Poll():
                sent = await self.bot.send_poll(
                    chat_id,
                    render.clip(out.question, render.POLL_QUESTION_LIMIT),
                    [
                        render.clip(option, render.POLL_OPTION_LIMIT)
                        for option in out.options[: render.POLL_OPTIONS_MAX]
                    ],
                    # Telegram reports votes (poll_answer) only for polls that are not
                    # anonymous, and by poll id: keep it beside the message id.
                    is_anonymous=False,
                )
                poll = sent.poll
                return Sent(str(sent.message_id), poll.id if poll is not None else None)
            case Image():
                caption, rest = _caption(out.caption)
                sent = await self.bot.send_photo(
                    chat_id, out.png, caption=caption, parse_mode=ParseMode.HTML
                )
                await self._follow_up(chat_id, rest, private=private)
                return str(sent.message_id)
            case Document():
                caption, rest = _caption(out.caption)
                sent = await self.bot.send_document(
                    chat_id,
                    InputFile(out.data, filename=out.filename),
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                )
                await self._follow_up(chat_id, rest, private=private)
                return str(sent.message_id)
            case Edit():
                await self.edit(chat_id, out.ref.message_id, out.message, private=private)
                return out.ref.message_id
        raise TypeError(f"cannot send {type(out).__name__}")

    async def _text(
        self, chat_id: int | str, out: Message, *, private: bool, reply_to: int | None
    ) -> str | None:
        """One message, or several when the text is too long for one (the buttons go on the
        last). Once a part is out, the others wait out a short flood control; if one still
        fails, `PartlySent` says so (sending again would repeat the parts already out)."""
        chunks = render.split(out.text) or [Rich.of("…")]
        markup = keyboard(out.buttons, private=private, bot_username=self.username)
        last: TgMessage | None = None
        for index, chunk in enumerate(chunks):
            final = index == len(chunks) - 1
            send = functools.partial(
                self.bot.send_message,
                chat_id,
                render.to_html(chunk),
                parse_mode=ParseMode.HTML,
                reply_markup=markup if final else None,
                link_preview_options=NO_PREVIEW,
                reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to is not None and index == 0
                    else None
                ),
            )
            if index == 0:
                last = await send()
                continue
            try:
                last = await patiently(send)
            except TelegramError as error:
                raise PartlySent(f"{index} of {len(chunks)} parts sent: {error.message}") from error
        return str(last.message_id) if last is not None else None

    async def _follow_up(self, chat_id: int | str, rest: Rich | None, *, private: bool) -> None:
        """The caption that did not fit, after the photo or file already sent."""
        if rest is None:
            return
        try:
            await patiently(
                functools.partial(
                    self._text, chat_id, Message(rest), private=private, reply_to=None
                )
            )
        except TelegramError as error:
            raise PartlySent(f"the file was sent, not its caption: {error.message}") from error

    async def edit(
        self, chat_id: int | str, message_id: str, message: Message, *, private: bool
    ) -> None:
        """Edit a text message in place; an edit that changes nothing is not an error."""
        chunks = render.split(message.text, render.MESSAGE_LIMIT - 1) or [Rich.of("…")]
        text = chunks[0] if len(chunks) == 1 else chunks[0] + render.ELLIPSIS
        try:
            await self.bot.edit_message_text(
                render.to_html(text),
                chat_id=chat_id,
                message_id=int(message_id),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(message.buttons, private=private, bot_username=self.username),
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as error:
            if NOT_MODIFIED not in error.message.lower():
                raise


class PartlySent(TelegramError):
    """The first parts of a long message went out, a later one did not."""


async def patiently(send: Callable[[], Awaitable[T]]) -> T:
    """`send`, waiting out a short flood control (a message already begun must finish)."""
    for attempt in range(FLOOD_RETRIES + 1):
        try:
            return await send()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            if attempt == FLOOD_RETRIES or wait > MAX_FLOOD_WAIT:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _caption(caption: Rich) -> tuple[str | None, Rich | None]:
    """The caption if it fits in 1024 characters; else no caption and a follow-up message."""
    if not caption.plain.strip():
        return None, None
    if render.size(render.visible(caption)) <= render.CAPTION_LIMIT:
        return render.to_html(caption), None
    return None, caption


class TelegramMessenger:
    """The outbox's port to Telegram: sends and edits, and names every failure."""

    rates = TELEGRAM_RATES

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.ready = asyncio.Event()
        self.stopped = False
        self.chat_changed: ChatChanged | None = None

    async def send(self, target: Target, message: Outgoing) -> str | Sent | None:
        await self._wait_ready()
        chat_id = chat_id_of(target.chat_id)
        try:
            return await self.sender.send(chat_id, message, private=target.private)
        except ChatMigrated as moved:
            new_id = await self._moved(target, moved)
            try:
                return await self.sender.send(new_id, message, private=False)
            except TelegramError as error:
                raise classify(error, target) from error
        except TelegramError as error:
            raise classify(error, target) from error

    async def edit(self, ref: MessageRef, message: Message) -> None:
        await self._wait_ready()
        target = ref.target
        try:
            await self.sender.edit(
                chat_id_of(target.chat_id), ref.message_id, message, private=target.private
            )
        except ChatMigrated as moved:
            new_id = await self._moved(target, moved)
            try:
                await self.sender.edit(new_id, ref.message_id, message, private=False)
            except TelegramError as error:
                raise classify(error, target) from error
        except TelegramError as error:
            raise classify(error, target) from error

    async def _wait_ready(self) -> None:
        if self.stopped:
            raise RetryLater("the Telegram adapter is stopped", 5)
        if self.ready.is_set():
            return
        try:
            async with asyncio.timeout(READY_WAIT):
                await self.ready.wait()
        except TimeoutError:
            raise RetryLater("the Telegram adapter is not started yet", 5) from None

    async def _moved(self, target: Target, moved: ChatMigrated) -> int:
        """The group became a supergroup: record its new id (the outbox re-targets what is
        pending there) and go on with the new id."""
        new_id = moved.new_chat_id
        logger.info("telegram group %s migrated to %s", target.chat_id, new_id)
        if self.chat_changed is not None:
            place = Place(Platform.TELEGRAM, target.chat_id, False)
            await self.chat_changed(place, ChatMoved(str(new_id)))
        return new_id


# Transport failures that happen before a request leaves: safe to send again.
NOT_SENT = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})


def _left(error: TelegramError) -> bool | None:
    """Whether a failed request may have reached Telegram: False when it surely did not,
    True when it may have, None when Telegram answered (an HTTP error status)."""
    cause = error.__cause__
    if cause is None:
        return None
    return type(cause).__name__ not in NOT_SENT


def classify(error: TelegramError, target: Target) -> Exception:
    """The neutral delivery error for one of Telegram's answers."""
    text = error.message.lower()
    match error:
        case PartlySent():
            return OutcomeUnknown(error.message)
        case RetryAfter():
            return RetryLater("telegram flood control", retry_after_seconds(error))
        case Forbidden():
            if target.private:
                return Unreachable(error.message)
            return NotPermitted(error.message)
        case InvalidToken():
            return RetryLater("telegram refused the bot token", 60)
        case TimedOut():
            if "pool timeout" in text or _left(error) is False:  # the request never left
                return RetryLater("telegram could not be reached in time", 1)
            return OutcomeUnknown("telegram timed out: the message may have been sent")
        case BadRequest():
            if any(phrase in text for phrase in NO_RIGHTS):
                return NotPermitted(error.message)
            if target.private and "chat not found" in text:
                return Unreachable(error.message)
            return SendFailed(error.message)
        case NetworkError():
            if _left(error):  # the connection broke after the request was sent
                return OutcomeUnknown(f"telegram connection lost: {error.message}")
            return RetryLater(f"telegram unavailable: {error.message}", 1)  # 5xx or no connection
    return SendFailed(error.message)
