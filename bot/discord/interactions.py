"""Interactions in, neutral events out, and the core's answers back as Discord responses.

Every interaction is acknowledged before any database or network work (Discord allows three
seconds): a deferred answer, then the core's replies as its edit and follow-ups. Personal
answers in a server channel are ephemeral: the offer conversation, decisions and profile run
in place, seen by the member alone. A dialog button or a modal submitted from a message
updates that message, so a conversation reads as one card that moves on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.discord.commands import Completion, personal
from bot.discord.messenger import (
    NO_MENTIONS,
    Composer,
    DiscordMessenger,
    Payload,
    translation_labels,
)
from bot.discord.render import contents
from bot.discord.views import answer_limit, answer_modal, pressed_payload, submitted_text
from handlers.buttons import decode
from handlers.chat import (
    Command,
    DeliveryError,
    Edit,
    Event,
    FormSubmit,
    Identity,
    Incoming,
    Message,
    Outgoing,
    Place,
    Platform,
    Rich,
    Target,
    Unreachable,
    Vote,
)
from handlers.errors import StaleButton
from handlers.i18n import _, negotiate, use_language

logger = logging.getLogger(__name__)

Handle = Callable[[Event], Awaitable[list[Outgoing]]]
Suggest = Callable[[Identity, str, str], Awaitable[list[tuple[str, str]]]]
MarkUnreachable = Callable[[Identity], Awaitable[None]]
TITLE_MAX = 200
SUGGEST_SECONDS = 2.0
_MARKERS = re.compile(r"(?<!\\)\*+")
_ESCAPED = re.compile(r"\\([^0-9A-Za-z\s])")


def identity_of(interaction: discord.Interaction) -> Identity:
    user = interaction.user
    return Identity(
        Platform.DISCORD,
        str(user.id),
        user.name,
        user.global_name or user.name,
        interaction.locale.value,
    )


def channel_title(channel: Any) -> str | None:
    """`Server #channel`, as community managers see it in /groups."""
    name = getattr(channel, "name", None)
    if not name:
        return None
    guild = getattr(channel, "guild", None)
    title = f"{guild.name} #{name}" if guild is not None else f"#{name}"
    return title[:TITLE_MAX]


def place_of(interaction: discord.Interaction) -> Place:
    """A server channel (where personal answers are whispered), or the member's DMs, which
    the core knows by the member's own id, like every private target."""
    if interaction.guild_id is None:
        return Place(Platform.DISCORD, str(interaction.user.id), private=True)
    return Place(
        Platform.DISCORD,
        str(interaction.channel_id),
        private=False,
        title=channel_title(interaction.channel),
        whisper=True,
    )


def question_of(message: discord.Message | None) -> str:
    """The first line of the question a modal answers, as plain text (for its title)."""
    if message is None:
        return ""
    for line in message.content.splitlines():
        text = _ESCAPED.sub(r"\1", _MARKERS.sub("", line)).replace("\u200b", "").strip()
        if text:
            return text
    return ""


class Responder:
    """Puts the core's replies to one interaction on Discord: the first one into the
    deferred answer (or the message being updated), the others as follow-ups."""

    def __init__(
        self,
        interaction: discord.Interaction,
        composer: Composer,
        messenger: DiscordMessenger,
        *,
        place: Place,
        ephemeral: bool,
        language: str,
        fresh: bool,
        unreachable: Callable[[Target], Awaitable[None]] | None = None,
    ) -> None:
        self.interaction = interaction
        self.fresh = fresh  # the deferred answer is a new "thinking" message, not a pressed one
        self.composer = composer
        self.messenger = messenger
        self.place = place
        self.ephemeral = ephemeral
        self.language = language
        self.original_free = True
        self.unreachable = unreachable

    def _here(self, target: Target) -> bool:
        place = self.place
        return (target.platform, target.chat_id, target.private) == (
            place.platform,
            place.chat_id,
            place.private,
        )

    async def send(self, replies: list[Outgoing]) -> None:
        for out in replies:
            try:
                await self._one(out)
            except discord.HTTPException as error:
                # Most often the 15 minutes of the interaction's token are over.
                logger.warning(
                    "could not answer interaction %s: %s (code %s)",
                    self.interaction.id,
                    error.status,
                    error.code,
                )
            except DeliveryError as error:
                logger.warning("an edit asked by the core failed: %s", error)
        if self.original_free and self.fresh:
            # A deferred "thinking" answer with nothing to say: take it away.
            await self._quietly(self.interaction.delete_original_response())

    async def _one(self, out: Outgoing) -> None:
        if isinstance(out, Edit):
            await self.messenger.edit(out.ref, out.message)
            return
        target = getattr(out, "to", None)
        if target is not None and not self._here(target):
            await self._elsewhere(target, out)
            return
        for payload in self.composer.outgoing(out):
            await self.post(payload)

    async def post(self, payload: Payload) -> None:
        if self.original_free and payload.poll is None and payload.file is None:
            self.original_free = False
            await self.interaction.edit_original_response(
                content=payload.content,
                embed=payload.embed,
                view=payload.view,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await self.interaction.followup.send(
            **payload.send_kwargs(), ephemeral=self.ephemeral, wait=True
        )

    async def _elsewhere(self, target: Target, out: Outgoing) -> None:
        """A reply meant for the member's DMs: sent there, or explained here if it cannot."""
        try:
            await self.messenger.send(target, out)
        except Unreachable:
            if self.unreachable is not None:
                await self.unreachable(target)
            with use_language(self.language):
                text = _(
                    "I cannot write to you in direct messages. Allow direct messages from this "
                    "server's members in your privacy settings, then try again."
                )
            await self.notice(text)
        except DeliveryError as error:
            logger.warning("a reply to the DMs of %s failed: %s", target.chat_id, error)
            await self.notice(apology(self.language))

    async def notice(self, text: str) -> None:
        for content in contents(Rich.of(text)):
            await self.post(Payload(content=content))

    @staticmethod
    async def _quietly(action: Awaitable[Any]) -> None:
        try:
            await action
        except discord.HTTPException:
            logger.debug("a cleanup of an interaction answer failed", exc_info=True)


def apology(language: str) -> str:
    with use_language(language):
        return _("Sorry, something went wrong on my side. Nothing was changed; please try again.")


class InteractionRouter:
    """Every interaction the bot receives: commands (through the command tree), buttons,
    select menus and modals (through `on_interaction`), autocomplete."""

    def __init__(
        self,
        handle: Handle,
        messenger: DiscordMessenger,
        *,
        default_language: str,
        suggest: Callable[[], Suggest | None],
        mark_unreachable: Callable[[], MarkUnreachable | None] = lambda: None,
    ) -> None:
        self.handle = handle
        self.messenger = messenger
        self.default_language = default_language
        self._suggest = suggest
        self._mark_unreachable = mark_unreachable
        # One member's votes in the order Discord sent them (see `vote`).
        self._vote_locks: dict[int, asyncio.Lock] = {}
        self._votes_waiting: dict[int, int] = {}

    def language(self, interaction: discord.Interaction) -> str:
        return negotiate(interaction.locale.value) or self.default_language

    def composer(self, interaction: discord.Interaction) -> Composer:
        language = self.language(interaction)
        return Composer(lambda: translation_labels(language))

    # --- commands and autocomplete ---------------------------------------------------------

    async def command(
        self, interaction: discord.Interaction, name: str, args: tuple[str, ...]
    ) -> None:
        ephemeral = interaction.guild_id is not None and personal(name)
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        await self._run(interaction, Command(name, args), ephemeral=ephemeral)

    async def complete(
        self, interaction: discord.Interaction, kind: Completion, typed: str
    ) -> list[tuple[str, str]]:
        suggest = self._suggest()
        if suggest is None:
            return []
        try:
            # Suggestions cannot be deferred: better none than too late.
            async with asyncio.timeout(SUGGEST_SECONDS):
                return await suggest(identity_of(interaction), kind, typed)
        except TimeoutError:
            logger.warning("suggestions for %s took too long", kind)
        except Exception:
            logger.exception("suggestions for %s failed", kind)
        return []

    # --- buttons, selects, modals ----------------------------------------------------------

    async def interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.component:
            await self._component(interaction)
        elif interaction.type is discord.InteractionType.modal_submit:
            await self._modal(interaction)

    async def _component(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        limit = answer_limit(str(data.get("custom_id") or ""))
        if limit is not None:
            # A modal must be the very first answer: nothing is looked up before it.
            await interaction.response.send_modal(self._answer_modal(interaction, limit))
            return
        press = decode(pressed_payload(data))
        if press is None:
            logger.info("a press with an unknown custom_id was refused")
            with use_language(self.language(interaction)):
                text = "⚠️ " + StaleButton().render()
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        in_guild = interaction.guild_id is not None
        in_place = press.action == "dlg" and self._own_private(interaction.message)
        if in_place:
            await interaction.response.defer()  # the conversation's card moves on in place
        else:
            await interaction.response.defer(ephemeral=in_guild, thinking=True)
        await self._run(interaction, press, ephemeral=in_guild, fresh=not in_place)

    async def _modal(self, interaction: discord.Interaction) -> None:
        data: Any = interaction.data or {}
        text = submitted_text(data)
        in_guild = interaction.guild_id is not None
        in_place = self._own_private(interaction.message)
        if in_place:
            await interaction.response.defer()
        else:
            await interaction.response.defer(ephemeral=in_guild, thinking=True)
        submitted = FormSubmit({"text": text})
        await self._run(interaction, submitted, ephemeral=in_guild, fresh=not in_place)

    @staticmethod
    def _own_private(message: discord.Message | None) -> bool:
        """A message only this member sees (ephemeral, or in their DMs): safe to update."""
        if message is None:
            return False
        return message.flags.ephemeral or message.guild is None

    def _answer_modal(self, interaction: discord.Interaction, limit: int) -> discord.ui.Modal:
        with use_language(self.language(interaction)):
            return answer_modal(
                limit,
                title=question_of(interaction.message) or _("Your answer"),
                label=_("Your answer"),
                placeholder=_("At most {limit} characters").format(limit=limit),
            )

    # --- poll votes ------------------------------------------------------------------------

    async def vote(
        self, vote: discord.RawPollVoteActionEvent, *, added: bool, user: discord.User | None
    ) -> None:
        """A vote in one of the bot's native polls, or its withdrawal. discord.py runs each
        event in its own task: a member's votes are handled one at a time, in the order
        Discord sent them, because changing a vote is a removal then an addition, and the
        removal handled last would erase the new choice."""
        key = vote.user_id
        lock = self._vote_locks.setdefault(key, asyncio.Lock())
        self._votes_waiting[key] = self._votes_waiting.get(key, 0) + 1
        try:
            async with lock:
                await self._vote(vote, added=added, user=user)
        finally:
            self._votes_waiting[key] -= 1
            if not self._votes_waiting[key]:
                del self._votes_waiting[key], self._vote_locks[key]

    async def _vote(
        self, vote: discord.RawPollVoteActionEvent, *, added: bool, user: discord.User | None
    ) -> None:
        """One vote (Discord numbers answers from 1); there is no interaction to answer, so
        what the core says goes to the member's DMs when the vote was cast there, and
        nowhere from a server channel."""
        identity = Identity(
            Platform.DISCORD,
            str(vote.user_id),
            user.name if user is not None else None,
            (user.global_name or user.name) if user is not None else "",
        )
        if vote.guild_id is None:
            place = Place(Platform.DISCORD, str(vote.user_id), private=True)
        else:
            place = Place(Platform.DISCORD, str(vote.channel_id), private=False)
        choices = (vote.answer_id - 1,) if added else ()
        try:
            replies = await self.handle(Event(identity, place, Vote(str(vote.message_id), choices)))
        except Exception:
            logger.exception("the core failed on a poll vote")
            return
        if not place.private:
            return
        target = Target(Platform.DISCORD, str(vote.user_id), True)
        for out in replies:
            try:
                await self.messenger.send(target, out)
            except DeliveryError as error:
                logger.info("an answer to a vote could not be sent: %s", error)

    # --- the core --------------------------------------------------------------------------

    async def _run(
        self,
        interaction: discord.Interaction,
        incoming: Incoming,
        *,
        ephemeral: bool,
        fresh: bool = True,
    ) -> None:
        place = place_of(interaction)
        language = self.language(interaction)
        try:
            replies = await self.handle(Event(identity_of(interaction), place, incoming))
        except Exception:
            logger.exception("the core failed on a Discord interaction")
            replies = [Message(Rich.of(apology(language)))]
        responder = Responder(
            interaction,
            self.composer(interaction),
            self.messenger,
            place=place,
            ephemeral=ephemeral,
            language=language,
            fresh=fresh,
            unreachable=self._unreachable,
        )
        await responder.send(replies)

    async def _unreachable(self, target: Target) -> None:
        """Closed DMs: the identity is marked, so that notices wait for the member's return."""
        mark = self._mark_unreachable()
        if mark is not None:
            await mark(Identity(Platform.DISCORD, target.chat_id))
