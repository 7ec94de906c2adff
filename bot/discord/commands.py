"""Slash commands: one per route of the core, with typed options, autocomplete and choices,
described in every language of the catalogues through discord.py's translator.

Command names stay the same in every language, because every text of the bot (help, usage
lines, hints such as "see /myoffers") names them so; their descriptions, option names, option
descriptions and choices are translated. Discord has no Arabic locale: Arabic speakers see the
default descriptions there, and the bot's answers in Arabic.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import discord
from discord import app_commands
from discord.app_commands import Choice, TranslationContextLocation, locale_str

from bot.discord.render import clip
from handlers.cards import KIND_LABELS, NEED_STATUS_LABELS
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, N_, translate
from handlers.permissions import COMMANDS, Scope
from handlers.routes import COMMAND_ROUTES

Completion = Literal["project", "need"]
RunCommand = Callable[[discord.Interaction, str, tuple[str, ...]], Awaitable[None]]
Complete = Callable[[discord.Interaction, Completion, str], Awaitable[list[tuple[str, str]]]]

DESCRIPTION_MAX = 100
CHOICES_MAX = 25
# Discord locales the catalogues can serve (Discord has none for Arabic).
CATALOGUE_OF_LOCALE = {"fr": "fr", "en-US": "en", "en-GB": "en"}
OPTION_NAME = re.compile(r"[-_\w]{1,32}")
# Hidden from members by default in servers; the core's permission table still decides.
STAFF_ROLES = frozenset({"cm", "admin"})
STAFF_PERMISSIONS = discord.Permissions(manage_guild=True)


@dataclass(frozen=True, slots=True)
class Option:
    """One slash-command option: a string, completed, chosen, or free text split in words."""

    name: str  # an N_() msgid too: localized when the translation is a valid option name
    description: str  # an N_() msgid
    required: bool = True
    complete: Completion | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (label msgid, value)
    words: bool = False  # free text: each word becomes an argument of the command


PROJECT = Option(N_("project"), N_("the project's short name"), complete="project")
NEED = Option(N_("need"), N_("the need's number"), complete="need")
KIND = Option(
    N_("kind"),
    N_("a kind of contribution"),
    required=False,
    choices=tuple((label, kind) for kind, label in KIND_LABELS.items()),
)
STATUS = Option(
    N_("status"),
    N_("how the need ends"),
    choices=tuple((NEED_STATUS_LABELS[s], s) for s in ("fulfilled", "cancelled")),
)
LANGUAGE = Option(
    N_("language"),
    N_("the language I speak with you"),
    required=False,
    choices=tuple((LANGUAGE_NAMES[code], code) for code in LANGUAGES),
)


def _text(name: str, description: str, *, required: bool = False) -> Option:
    return Option(name, description, required=required, words=True)


RIGHTS = _text(N_("details"), N_("who, and which right: see /help"), required=True)

OPTIONS: dict[str, tuple[Option, ...]] = {
    "projects": (_text(N_("search"), N_("a territory or a kind of contribution")),),
    "project": (PROJECT,),
    "needs": (KIND,),
    "offer": (NEED,),
    "follow": (PROJECT,),
    "unfollow": (PROJECT,),
    "language": (LANGUAGE,),
    "link": (_text(N_("code"), N_("the code shown on your other account; empty to get one")),),
    "addneed": (PROJECT,),
    "editneed": (NEED,),
    "closeneed": (NEED, STATUS),
    "offers": (Option(PROJECT.name, PROJECT.description, False, "project"),),
    "announce": (NEED,),
    "update": (PROJECT, _text(N_("news"), N_("the news; empty to write it in a form"))),
    "newproject": (_text(N_("short_name"), N_("the project's short name, if you know it")),),
    "publish": (PROJECT,),
    "pause": (PROJECT,),
    "archive": (PROJECT,),
    "grant": (RIGHTS,),
    "revoke": (RIGHTS,),
    "linkgroup": (_text(N_("tags"), N_("territory or theme tags, separated by spaces")),),
    "start": (_text(N_("link"), N_("what follows /start in a shared link, e.g. offer-12-r3")),),
    "contributors": (PROJECT,),
    "match": (NEED,),
    "profile": (_text(N_("field"), N_("the field to change, e.g. skills; empty to see all")),),
    "stats": (_text(N_("period"), N_("7d, 30d, 90d, 1y or all")),),
    "campaign": (_text(N_("number"), N_("a campaign's number; empty to create one")),),
}
NO_OPTIONS = frozenset(
    {
        "help",
        "myoffers",
        "propose",
        "cancel",
        "drafts",
        "unlinkgroup",
        "groups",
        "mycontributions",
        "mydata",
        "forgetme",
        "campaigns",
    }
)
# A command added to the core later still works here, with one free-text option.
ANY_TEXT = _text(N_("text"), N_("what follows the command"))


def options_of(command: str) -> tuple[Option, ...]:
    if command in NO_OPTIONS:
        return ()
    return OPTIONS.get(command, (ANY_TEXT,))


def arguments(options: Sequence[Option], values: dict[str, Any]) -> tuple[str, ...]:
    """The neutral command's arguments, in the order of the options."""
    args: list[str] = []
    for option in options:
        value = values.get(option.name)
        if value is None:
            continue
        text = str(value)
        args.extend(text.split() if option.words else [text.strip()])
    return tuple(arg for arg in args if arg)


class CatalogueTranslator(app_commands.Translator):
    """Descriptions, option names and choices from the bot's own catalogues."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = CATALOGUE_OF_LOCALE.get(locale.value)
        if language is None:
            return None
        location = context.location
        if location in (
            TranslationContextLocation.command_name,
            TranslationContextLocation.group_name,
        ):
            return None
        text = translate(string.message, language)
        if text == string.message:
            return None
        if location is TranslationContextLocation.parameter_name:
            valid = OPTION_NAME.fullmatch(text) is not None and text == text.lower()
            return text if valid else None
        return clip(text, DESCRIPTION_MAX) or None


def _signature(options: Sequence[Option]) -> inspect.Signature:
    parameters = [
        inspect.Parameter(
            "interaction",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=discord.Interaction,
        )
    ]
    for option in sorted(options, key=lambda o: not o.required):
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=str if option.required else str | None,
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    return inspect.Signature(parameters)


def _completer(
    kind: Completion, complete: Complete
) -> Callable[[discord.Interaction, str], Coroutine[Any, Any, list[Choice[str]]]]:
    async def completer(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        pairs = await complete(interaction, kind, current)
        return [Choice(name=clip(label, 100), value=value) for value, label in pairs[:CHOICES_MAX]]

    return completer


def make_command(
    name: str, description: str, options: Sequence[Option], run: RunCommand, complete: Complete
) -> app_commands.Command[Any, ..., None]:
    """One slash command whose options are `options`, calling `run` with the arguments."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(interaction, name, arguments(options, values))

    callback.__signature__ = _signature(options)  # type: ignore[attr-defined]
    decorated: Any = callback
    if options:
        decorated = app_commands.describe(**{o.name: o.description for o in options})(decorated)
        decorated = app_commands.rename(**{o.name: locale_str(o.name) for o in options})(decorated)
    completions = {o.name: _completer(o.complete, complete) for o in options if o.complete}
    if completions:
        decorated = app_commands.autocomplete(**completions)(decorated)
    choices = {
        o.name: [Choice(name=label, value=value) for label, value in o.choices]
        for o in options
        if o.choices
    }
    if choices:
        decorated = app_commands.choices(**choices)(decorated)
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=clip(description, DESCRIPTION_MAX), callback=decorated
    )
    rule = COMMANDS.get(name)
    if rule is not None and rule.role in STAFF_ROLES:
        command.default_permissions = STAFF_PERMISSIONS
    if rule is not None and rule.scope is Scope.GROUP:
        command.guild_only = True
    return command


def build_tree(
    client: discord.Client, run: RunCommand, complete: Complete
) -> app_commands.CommandTree[Any]:
    """The command tree of `client`: every command of the core, translated."""
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    for name, route in COMMAND_ROUTES.items():
        tree.add_command(make_command(name, route.description, options_of(name), run, complete))
    return tree


def personal(command: str) -> bool:
    """Whether the answer to `command` in a server channel is for the member alone
    (ephemeral); browsing and the channel's own registration are answered for all to see."""
    return command not in PUBLIC_IN_CHANNELS


PUBLIC_IN_CHANNELS = frozenset({"projects", "project", "needs", "linkgroup", "unlinkgroup"})
