"""The Telegram adapter: the python-telegram-bot `Application`, updates in, answers out.

Updates become neutral events for the core's `handle`: commands (`/name@bot args`, ignoring
those addressed to another bot), plain text in private chats and replies to the bot in groups,
button presses (decoded and never trusted: the core re-authorises them), and the bot's own
membership of groups (added, removed, upgraded to a supergroup). Answers go back at once;
anything for someone else goes through the outbox, which uses `messenger`.

Updates of different people are handled concurrently, those of one person in order, so that
a conversation's answers never overtake each other.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import CallbackQuery, ChatMemberUpdated, Update
from telegram import Chat as TgChat
from telegram import Message as TgMessage
from telegram import User as TgUser
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.telegram.commands import set_menus
from bot.telegram.keyboard import deep_link
from bot.telegram.messenger import (
    ChatChanged,
    Sender,
    TelegramMessenger,
    chat_id_of,
    patiently,
)
from bot.telegram.updates import (
    PerSenderProcessor,
    identity_of,
    parse_command,
    place_of,
    present,
    resume_payload,
)
from handlers.buttons import decode
from handlers.chat import (
    Button,
    ChatJoined,
    ChatLeft,
    ChatMoved,
    Edit,
    Event,
    Identity,
    Incoming,
    Message,
    Outgoing,
    Place,
    Platform,
    Rich,
    Text,
    Vote,
)
from handlers.errors import StaleButton
from handlers.i18n import _, negotiate, use_language

logger = logging.getLogger(__name__)

Handle = Callable[[Event], Awaitable[list[Outgoing]]]
MarkUnreachable = Callable[[Identity], Awaitable[None]]
TgApplication = Application[Any, Any, Any, Any, Any, Any]

ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member", "poll_answer")
TOKEN_LOGGERS = ("httpx", "httpcore")
CALLBACK_TEXT_LIMIT = 200
REFUSAL_MARK = "⚠️"


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    """What the adapter needs of the settings (it never reads the configuration itself)."""

    token: str
    mode: str = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8443
    webhook_secret: str | None = None
    default_language: str = "fr"
    # Telegram user ids of configured managers and their roles, for their command menus.
    staff: tuple[tuple[int, frozenset[str]], ...] = ()
    concurrency: int = 64
    # Events in the core at once (None: as many as `concurrency`). SQLite takes one writer at
    # a time and wakes waiting writers unfairly: with it, one event at a time gives more
    # updates a second and a far shorter tail; the answers still go out concurrently.
    core_concurrency: int | None = None
    poll_timeout: int = 10
    # Seconds to wait for Telegram's answer to a call (None: the library's default, 5).
    read_timeout: float | None = None


# --- the adapter ------------------------------------------------------------------------------


class TelegramAdapter:
    """One bot on Telegram: `start(handle)` connects, `stop()` disconnects."""

    platform = Platform.TELEGRAM

    def __init__(self, options: TelegramOptions) -> None:
        self.options = options
        builder = (
            ApplicationBuilder()
            .token(options.token)
            .base_url(options.base_url)
            .base_file_url(options.base_file_url)
            .concurrent_updates(PerSenderProcessor(options.concurrency))
            .job_queue(None)
        )
        if options.read_timeout is not None:
            builder = builder.read_timeout(options.read_timeout)
        self.application: TgApplication = builder.build()
        self.sender = Sender(self.application.bot)
        self.messenger = TelegramMessenger(self.sender)
        self.mark_unreachable: MarkUnreachable | None = None
        self._handle: Handle | None = None
        self._core = asyncio.Semaphore(options.core_concurrency or options.concurrency)
        self._add_handlers()

    @property
    def chat_changed(self) -> ChatChanged | None:
        return self.messenger.chat_changed

    def bind(
        self,
        *,
        chat_changed: ChatChanged | None = None,
        mark_unreachable: MarkUnreachable | None = None,
    ) -> None:
        """Receive the core's entry points for what is not a member's event."""
        self.messenger.chat_changed = chat_changed
        self.mark_unreachable = mark_unreachable

    @property
    def username(self) -> str:
        return self.sender.username

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, handle: Handle) -> None:
        """Connect (getMe), set the command menus, then poll or serve the webhook."""
        self._handle = handle
        for name in TOKEN_LOGGERS:  # they log request URLs, and those hold the token
            quiet = logging.getLogger(name)
            if quiet.getEffectiveLevel() < logging.WARNING:
                quiet.setLevel(logging.WARNING)
        application = self.application
        await application.initialize()
        self.messenger.stopped = False
        self.messenger.ready.set()
        await set_menus(application.bot, self.options.default_language, self.options.staff)
        updater = application.updater
        assert updater is not None
        if self.options.mode == "webhook":
            url, secret = self._webhook()
            await updater.start_webhook(
                listen=self.options.listen,
                port=self.options.port,
                url_path=urlsplit(url).path.lstrip("/"),
                webhook_url=url,
                secret_token=secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        else:
            await updater.start_polling(
                timeout=self.options.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
            )
        await application.start()
        logger.info("telegram: @%s is %s", self.username, self.options.mode)

    def _webhook(self) -> tuple[str, str]:
        """The public webhook URL and the secret Telegram must send with every update."""
        url = self.options.webhook_url
        if not url:
            raise ValueError("telegram.webhook_url is required when telegram.mode is 'webhook'")
        secret = self.options.webhook_secret
        if not secret:
            # Telegram then sends this per-run secret with every update: still checked.
            secret = secrets.token_urlsafe(32)
            logger.warning("telegram.webhook_secret is not set: using a random one for this run")
        return url, secret

    async def stop(self) -> None:
        """Stop receiving, let the updates in progress finish, and close the connections."""
        application = self.application
        self.messenger.stopped = True
        self.messenger.ready.clear()
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    # --- updates -----------------------------------------------------------------------------

    def _add_handlers(self) -> None:
        new = filters.UpdateType.MESSAGE
        add = self.application.add_handler
        add(MessageHandler(new & filters.StatusUpdate.MIGRATE, self._on_migrate))
        add(MessageHandler(new & filters.COMMAND, self._on_command))
        add(MessageHandler(new & filters.TEXT & ~filters.COMMAND, self._on_text))
        add(CallbackQueryHandler(self._on_press))
        add(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        add(PollAnswerHandler(self._on_vote))
        self.application.add_error_handler(self._on_error)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None or message.from_user is None:
            return
        command = parse_command(message.text, self.username)
        if command is None:
            return
        if message.sender_chat is not None:
            await self._anonymous(message)
            return
        await self._event(message.from_user, message.chat, command, message)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None or message.from_user is None:
            return
        if message.sender_chat is not None:
            return
        reply_to: str | None = None
        if message.chat.type != ChatType.PRIVATE:
            replied = message.reply_to_message
            author = replied.from_user if replied is not None else None
            if replied is None or author is None or author.id != self.application.bot.id:
                return  # group chatter: not for the bot
            reply_to = str(replied.message_id)
        text = Text(message.text, reply_to=reply_to)
        await self._event(message.from_user, message.chat, text, message)

    async def _on_vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A vote on one of the bot's (non-anonymous) polls: answered by nobody, recorded."""
        answer = update.poll_answer
        if answer is None or answer.user is None:
            return
        vote = Vote(answer.poll_id, tuple(answer.option_ids))
        # Telegram does not say in which chat the poll was: the vote is recorded silently,
        # and nothing is said to the voter (the poll itself shows their choice).
        where = Place(Platform.TELEGRAM, str(answer.user.id), private=False)
        if self._handle is not None:
            async with self._core:
                await self._handle(Event(identity_of(answer.user), where, vote))

    async def _on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        notice: str | None = None
        try:
            press = decode(query.data or "")
            message = query.message
            if press is None or message is None:
                with use_language(self._language(query.from_user)):
                    notice = StaleButton().render()
                return
            notice = await self._event(query.from_user, message.chat, press, None)
        finally:
            await self._answer_query(query, notice)

    async def _answer_query(self, query: CallbackQuery, notice: str | None) -> None:
        """Every press is answered, so that no spinner stays on the button."""
        text = notice[:CALLBACK_TEXT_LIMIT] if notice else None
        try:
            await query.answer(text, show_alert=bool(text))
        except TelegramError as error:
            logger.info("could not answer a callback query: %s", error.message)

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None:
            return
        chat = change.chat
        was, now = present(change.old_chat_member), present(change.new_chat_member)
        if chat.type == ChatType.PRIVATE:
            if was and not now and self.mark_unreachable is not None:
                await self.mark_unreachable(identity_of(change.from_user))  # blocked the bot
            return
        if self.chat_changed is None or was == now:
            return
        place = place_of(chat)
        await self.chat_changed(place, ChatJoined(chat.title or "") if now else ChatLeft())

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or self.chat_changed is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        place = Place(Platform.TELEGRAM, str(old), False, message.chat.title)
        await self.chat_changed(place, ChatMoved(str(new)))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("error while handling a telegram update", exc_info=context.error)

    async def _anonymous(self, message: TgMessage) -> None:
        """An anonymous admin (or a channel) cannot be told apart from the group itself."""
        with use_language(self.options.default_language):
            text = _(
                "I can't tell who you are when you write anonymously: turn off “Remain "
                "anonymous” in your administrator rights to use my commands."
            )
        await self._send_here(message.chat.id, Message(Rich.of(text)), False, message.message_id)

    # --- events and answers ------------------------------------------------------------------

    async def _event(
        self, user: TgUser, chat: TgChat, incoming: Incoming, message: TgMessage | None
    ) -> str | None:
        """Hand one event to the core and deliver its answers; returns the text for a callback
        answer when the only answer is a refusal."""
        if self._handle is None:
            return None
        event = Event(identity_of(user), place_of(chat), incoming)
        async with self._core:
            replies = await self._handle(event)
        reply_to = message.message_id if message is not None and not event.place.private else None
        if message is None and _only_refusal(replies):
            refusal = replies[0]
            assert isinstance(refusal, Message)
            return refusal.text.plain
        await self._deliver(event, replies, reply_to)
        return None

    async def _deliver(
        self, event: Event, replies: Iterable[Outgoing], reply_to: int | None
    ) -> None:
        place = event.place
        closed = False  # the member's private chat refused us
        for out in replies:
            if isinstance(out, Edit):
                target = out.ref.target
                await self._try(
                    self.sender.edit(
                        chat_id_of(target.chat_id),
                        out.ref.message_id,
                        out.message,
                        private=target.private,
                    )
                )
                continue
            to = out.to
            if to is None or (to.chat_id == place.chat_id and to.private == place.private):
                if closed and not place.private:
                    continue  # "answered you privately" would not be true
                await self._send_here(chat_id_of(place.chat_id), out, place.private, reply_to)
                reply_to = None
                continue
            if closed:
                continue
            try:
                await self._send_flood_safe(chat_id_of(to.chat_id), out, to.private, None)
            except (Forbidden, BadRequest) as error:
                if not to.private or (
                    isinstance(error, BadRequest) and "chat not found" not in error.message.lower()
                ):
                    logger.warning("could not send an answer: %s", error.message)
                    continue
                closed = True
                await self._private_closed(event)
            except TelegramError as error:
                logger.warning("could not send an answer: %s", error.message)

    async def _private_closed(self, event: Event) -> None:
        """The member never started the bot, or blocked it: say so where they are, with the
        deep link that opens the private chat at the step they were going to."""
        if self.mark_unreachable is not None:
            try:
                await self.mark_unreachable(event.identity)
            except Exception:
                logger.exception("could not record an unreachable member")
        if event.place.private:
            return
        with use_language(self._language_of(event.identity)):
            text = _(
                "{name}, I can't write to you privately yet: tap the button to open a chat "
                "with me, then try again."
            ).format(name=event.identity.display_name or event.identity.username or "👋")
            label = _("Open a chat with me")
        link = deep_link(self.username, resume_payload(event.incoming))
        notice = Message(Rich.of(text), ((Button(label, url=link),),))
        await self._send_here(chat_id_of(event.place.chat_id), notice, False, None)

    async def _send_here(
        self, chat_id: int | str, out: Outgoing, private: bool, reply_to: int | None
    ) -> None:
        try:
            await self._send_flood_safe(chat_id, out, private, reply_to)
        except TelegramError as error:
            logger.warning("could not send an answer: %s", error.message)

    async def _send_flood_safe(
        self, chat_id: int | str, out: Outgoing, private: bool, reply_to: int | None
    ) -> None:
        """A direct answer, waiting out a short flood control rather than dropping it."""
        await patiently(
            functools.partial(self.sender.send, chat_id, out, private=private, reply_to=reply_to)
        )

    async def _try(self, work: Awaitable[object]) -> None:
        try:
            await work
        except TelegramError as error:
            logger.warning("could not edit a message: %s", error.message)

    def _language(self, user: TgUser) -> str:
        return negotiate(user.language_code) or self.options.default_language

    def _language_of(self, identity: Identity) -> str:
        return negotiate(identity.language_code) or self.options.default_language


def _only_refusal(replies: list[Outgoing]) -> bool:
    """One short refusal (the core prefixes them with ⚠️) fits a callback answer."""
    if len(replies) != 1 or not isinstance(replies[0], Message):
        return False
    reply = replies[0]
    text = reply.text.plain
    return (
        reply.to is None
        and not reply.buttons
        and text.startswith(REFUSAL_MARK)
        and len(text) <= CALLBACK_TEXT_LIMIT
    )
