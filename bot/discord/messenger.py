"""The Discord `Messenger`: what the outbox sends, as channel messages, embeds and DMs.

A private target's `chat_id` is the member's Discord user id: the DM channel is opened on
first use (and cached by discord.py). A message to a channel is an announcement, shown as an
embed. Discord's refusals become the outbox's vocabulary, so that a closed DM holds the
message for the member's return, a missing permission is reported once, a deleted channel
is forgotten, and a rate limit is retried later instead of in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import discord

from bot.discord.render import CONTENT_MAX, clip, contents, embed_text, markdown
from bot.discord.views import Labels, make_view
from handlers.chat import (
    ChatChange,
    ChatLeft,
    DeliveryError,
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
    SendFailed,
    SendRates,
    Target,
    Unreachable,
)
from handlers.i18n import _, use_language

logger = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
POLL_QUESTION_MAX = 300
POLL_ANSWER_MAX = 55
POLL_ANSWERS_MAX = 10
POLL_HOURS = 24
EMBED_COLOUR = discord.Colour(0x2E8B57)

# Discord's JSON error codes the outbox must tell apart.
CANNOT_DM = 50007
MISSING_PERMISSIONS = 50013
MISSING_ACCESS = 50001
UNKNOWN_CHANNEL = 10003
UNKNOWN_USER = 10013
INVALID_RECIPIENT = 50033

ChatChanged = Callable[[Place, ChatChange], Awaitable[None]]


@dataclass
class Payload:
    """Keyword arguments for discord.py's send/edit, one message's worth."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    poll: discord.Poll | None = None
    file: discord.File | None = None

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        for key in ("content", "embed", "view", "poll", "file"):
            value = getattr(self, key)
            if value is not None:
                kwargs[key] = value
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """An edit replaces everything: what is absent is removed."""
        return {
            "content": self.content,
            "embed": self.embed,
            "view": self.view,
            "allowed_mentions": NO_MENTIONS,
        }


@dataclass
class Composer:
    """Turns neutral messages into Discord payloads, with the words the adapter adds."""

    labels: Callable[[], Labels]
    poll_hours: int = POLL_HOURS

    def message(self, message: Message, *, embed: bool = False) -> list[Payload]:
        """A message as one embed (an announcement) or as contents of at most 2000
        characters; its components go with the last one."""
        view = make_view(message, self.labels())
        if embed:
            text = embed_text(message.text)
            card = discord.Embed(
                title=text.title or None,
                description=text.description or None,
                colour=EMBED_COLOUR,
            )
            return [Payload(embed=card, view=view)]
        texts = contents(message.text) or [""]
        payloads = [Payload(content=text or "\u200b") for text in texts]
        payloads[-1].view = view
        return payloads

    def outgoing(self, out: Outgoing, *, embed: bool = False) -> list[Payload]:
        match out:
            case Message():
                return self.message(out, embed=embed)
            case Edit():
                return self.message(out.message, embed=embed)
            case Poll():
                return [Payload(poll=self.poll(out))]
            case Image():
                caption = markdown(out.caption)[:CONTENT_MAX] or None
                return [
                    Payload(content=caption, file=discord.File(io.BytesIO(out.png), "image.png"))
                ]
            case Document():
                caption = markdown(out.caption)[:CONTENT_MAX] or None
                name = clip(out.filename, 100) or "document"
                return [Payload(content=caption, file=discord.File(io.BytesIO(out.data), name))]
        raise TypeError(f"cannot send {out!r} on Discord")

    def poll(self, poll: Poll) -> discord.Poll:
        """Discord's native poll: question 300 characters, 10 answers of 55."""
        native = discord.Poll(
            question=clip(poll.question, POLL_QUESTION_MAX) or "?",
            duration=timedelta(hours=self.poll_hours),
        )
        for option in poll.options[:POLL_ANSWERS_MAX]:
            native.add_answer(text=clip(option, POLL_ANSWER_MAX) or "…")
        if len(poll.options) > POLL_ANSWERS_MAX:
            logger.warning("a poll had %d options: Discord shows 10", len(poll.options))
        return native


def translation_labels(language: str) -> Labels:
    with use_language(language):
        return Labels(answer=_("Answer"), more=_("More choices…"))


class DiscordMessenger:
    """Sends the outbox's deliveries through the running client."""

    # Discord: 50 requests a second per bot; per channel, about 5 messages per 5 seconds.
    rates = SendRates(per_second=50, private=(5, 5.0), group=(5, 5.0))

    def __init__(
        self,
        client: Callable[[], discord.Client | None],
        *,
        default_language: str,
        chat_changed: Callable[[], ChatChanged | None] = lambda: None,
        timeout: float = 60.0,
    ) -> None:
        self._client = client
        self._chat_changed = chat_changed
        self.timeout = timeout
        self.composer = Composer(lambda: translation_labels(default_language))

    def _running(self) -> discord.Client:
        client = self._client()
        if client is None or client.is_closed():
            raise RetryLater("the Discord client is not connected", 5.0)
        return client

    async def send(self, target: Target, message: Outgoing) -> str | None:
        client = self._running()
        first, *rest = self.composer.outgoing(message, embed=not target.private)
        async with self._refusals(target):
            channel = await self._channel(client, target)
            sent = await channel.send(**first.send_kwargs())
        # The first piece is out: the delivery counts as sent, whatever happens to the rest
        # (sending it again would repeat the first piece).
        for payload in rest:
            try:
                async with self._refusals(target):
                    await channel.send(**payload.send_kwargs())
            except DeliveryError as error:
                logger.warning("a continuation to %s was not sent: %s", target.key, error)
                break
        return str(sent.id)

    async def edit(self, ref: MessageRef, message: Message) -> None:
        client = self._running()
        payload = self.composer.message(message, embed=not ref.target.private)[0]
        if not ref.target.private:
            payload.content = None
        elif len(contents(message.text)) > 1:
            # An edit cannot grow into several messages: keep what fits.
            payload.content = contents(message.text)[0]
        if not ref.message_id.isdigit():
            raise SendFailed(f"{ref.message_id!r} is not a Discord message id")
        async with self._refusals(ref.target):
            channel = await self._channel(client, ref.target)
            partial = channel.get_partial_message(int(ref.message_id))
            await partial.edit(**payload.edit_kwargs())

    async def _channel(
        self, client: discord.Client, target: Target
    ) -> discord.DMChannel | discord.PartialMessageable:
        if not target.chat_id.isdigit():
            raise SendFailed(f"{target.chat_id!r} is not a Discord id")
        if target.private:
            return await client.create_dm(discord.Object(int(target.chat_id)))
        return client.get_partial_messageable(int(target.chat_id))

    @contextlib.asynccontextmanager
    async def _refusals(self, target: Target) -> AsyncIterator[None]:
        """Discord's errors as the outbox's, and a bound on the time one send may take."""
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError:
            raise OutcomeUnknown("Discord did not answer in time") from None
        except discord.RateLimited as error:
            raise RetryLater("rate limited by Discord", error.retry_after) from error
        except discord.Forbidden as error:
            if error.code == CANNOT_DM:
                raise Unreachable("this member does not accept direct messages") from error
            if error.code in (MISSING_PERMISSIONS, MISSING_ACCESS):
                raise NotPermitted(f"missing permission in channel {target.chat_id}") from error
            raise SendFailed(f"forbidden (code {error.code})") from error
        except discord.NotFound as error:
            if error.code == UNKNOWN_USER and target.private:
                raise Unreachable("unknown Discord user") from error
            if error.code == UNKNOWN_CHANNEL:
                await self.channel_gone(target)
                raise SendFailed("the channel no longer exists") from error
            raise SendFailed(f"not found (code {error.code})") from error
        except discord.DiscordServerError as error:
            raise RetryLater(f"Discord server error {error.status}", 10.0) from error
        except discord.HTTPException as error:
            if error.status == 429:
                scope = error.response.headers.get("X-RateLimit-Global", "")
                raise RetryLater(
                    "rate limited by Discord", 5.0, global_pause=scope.lower() == "true"
                ) from error
            if error.code == INVALID_RECIPIENT and target.private:
                raise Unreachable("invalid recipient") from error
            raise SendFailed(f"refused by Discord: {error.status} (code {error.code})") from error
        except aiohttp.ClientConnectorError as error:
            raise RetryLater("cannot reach Discord", 5.0) from error
        except (aiohttp.ClientError, ConnectionError) as error:
            raise OutcomeUnknown(
                f"connection lost while sending: {type(error).__name__}"
            ) from error

    async def channel_gone(self, target: Target) -> None:
        """The channel no longer exists: its registration follows (once per report)."""
        report = self._chat_changed()
        if report is None or target.private:
            return
        try:
            await report(Place(Platform.DISCORD, target.chat_id, False), ChatLeft())
        except Exception:
            logger.exception("could not record that channel %s is gone", target.chat_id)
