"""The command menus Telegram shows: one list per audience and language, each holding only
what that audience may use.

Private chats get the member commands; groups the member commands that make sense in a group;
group administrators those plus the group registration commands. Configured community
managers and administrators get, in their own private chat, every command they may use. Each
list is set for fr, en and ar, and once without a language in the community's language.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError

from handlers.i18n import LANGUAGES, translate
from handlers.permissions import COMMANDS, Scope, permits
from handlers.routes import COMMAND_ROUTES

logger = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 256
MEMBER = "member"  # the role anyone has (handlers.permissions)
# Member commands that mean nothing in a group (conversations and welcome are private).
NOT_IN_GROUPS = frozenset({"start", "cancel"})
# What a group's administrators add: registering the group, and seeing the registered ones.
GROUP_ADMIN = ("linkgroup", "unlinkgroup", "groups")


@dataclass(frozen=True, slots=True)
class Menu:
    scope: BotCommandScope
    names: tuple[str, ...]


def member_commands() -> tuple[str, ...]:
    return tuple(name for name in COMMAND_ROUTES if COMMANDS[name].role == MEMBER)


def group_commands() -> tuple[str, ...]:
    return tuple(
        name
        for name in member_commands()
        if COMMANDS[name].scope is not Scope.PRIVATE and name not in NOT_IN_GROUPS
    )


def group_admin_commands() -> tuple[str, ...]:
    return group_commands() + tuple(name for name in GROUP_ADMIN if name in COMMAND_ROUTES)


def staff_commands(roles: frozenset[str]) -> tuple[str, ...]:
    """Everything someone with `roles` may use in a private chat."""
    return tuple(
        name
        for name, rule in COMMANDS.items()
        if name in COMMAND_ROUTES and rule.scope is not Scope.GROUP and permits(rule, roles)
    )


def menus(staff: Iterable[tuple[int, frozenset[str]]] = ()) -> list[Menu]:
    """Every menu to set; `staff` are (Telegram user id, roles) of configured managers."""
    out = [
        Menu(BotCommandScopeAllPrivateChats(), member_commands()),
        Menu(BotCommandScopeAllGroupChats(), group_commands()),
        Menu(BotCommandScopeAllChatAdministrators(), group_admin_commands()),
    ]
    out.extend(
        Menu(BotCommandScopeChat(user_id), staff_commands(roles)) for user_id, roles in staff
    )
    return out


def entries(names: Iterable[str], language: str) -> list[BotCommand]:
    """The menu entries in `language`; descriptions within Telegram's 256 characters."""
    commands = []
    for name in names:
        description = translate(COMMAND_ROUTES[name].description, language).strip() or name
        if len(description) > DESCRIPTION_LIMIT:
            description = description[: DESCRIPTION_LIMIT - 1] + "…"
        commands.append(BotCommand(name, description))
    return commands


async def set_menus(
    bot: Bot, default_language: str, staff: Iterable[tuple[int, frozenset[str]]] = ()
) -> int:
    """Set every menu in every language; returns how many lists were set. A refusal is
    logged and the others are still set: a missing menu never stops the bot."""
    done = 0
    for menu in menus(staff):
        for language in (None, *LANGUAGES):
            commands = entries(menu.names, language or default_language)
            try:
                await bot.set_my_commands(commands, scope=menu.scope, language_code=language)
            except TelegramError as error:
                logger.warning(
                    "could not set the %s command menu (%s): %s",
                    menu.scope.type,
                    language or "default",
                    error.message,
                )
            else:
                done += 1
    return done
