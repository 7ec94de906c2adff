"""Checks of application command definitions (a bulk overwrite) and of autocomplete choices:
names, descriptions, localizations, options, and the per-type command counts.
"""

from __future__ import annotations

import re
from typing import Any

from tests.emulators.discord.errors import FormErrors
from tests.emulators.discord.protocol import JSON, as_object

LOCALES = frozenset(
    {
        *("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu"),
        *("nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru"),
        *("uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"),
    }
)
COMMAND_NAME = re.compile(r"[-_\w]{1,32}")


def check_choices(choices: Any, errors: FormErrors) -> None:
    items = errors.items(("data", "choices"), choices, max_items=25)
    for index, raw in enumerate(items):
        choice, path = as_object(raw), ("data", "choices", index)
        errors.text((*path, "name"), choice.get("name"), min_len=1, max_len=100, required=True)
        if isinstance(choice.get("value"), str):
            errors.text((*path, "value"), choice["value"], min_len=1, max_len=100)


def _check_command_name(
    path: tuple[str | int, ...], name: Any, errors: FormErrors, *, chat_input: bool
) -> None:
    if not chat_input:
        errors.text(path, name, min_len=1, max_len=32, required=True)
    elif not isinstance(name, str) or not COMMAND_NAME.fullmatch(name) or name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_localizations(
    path: tuple[str | int, ...], value: Any, errors: FormErrors, *, name: bool, chat_input: bool
) -> None:
    for locale, text in as_object(value).items():
        if locale not in LOCALES:
            errors.add((*path, locale), "LOCALE_INVALID", f"Invalid locale {locale!r}.")
        elif name:
            _check_command_name((*path, locale), text, errors, chat_input=chat_input)
        else:
            errors.text((*path, locale), text, min_len=1, max_len=100, required=True)


def _check_command(command: JSON, path: tuple[str | int, ...], errors: FormErrors) -> None:
    chat_input = command.get("type", 1) == 1
    _check_command_name((*path, "name"), command.get("name"), errors, chat_input=chat_input)
    description = command.get("description")
    if chat_input:
        errors.text((*path, "description"), description, min_len=1, max_len=100, required=True)
    elif description:
        errors.add(
            (*path, "description"), "APPLICATION_COMMAND_DESCRIPTION_NOT_EMPTY", "Must be empty"
        )
    for key, is_name in (("name_localizations", True), ("description_localizations", False)):
        _check_localizations(
            (*path, key), command.get(key), errors, name=is_name, chat_input=chat_input
        )
    if chat_input:
        _check_options((*path, "options"), command.get("options"), errors)


def _check_options(path: tuple[str | int, ...], options: Any, errors: FormErrors) -> None:
    names: set[str] = set()
    optional_seen = False
    for index, raw in enumerate(errors.items(path, options, max_items=25)):
        option, where = as_object(raw), (*path, index)
        kind = option.get("type")
        if kind not in range(1, 12):
            errors.add(
                (*where, "type"), "BASE_TYPE_CHOICES", "Value must be an option type (1-11)."
            )
        _check_command_name((*where, "name"), option.get("name"), errors, chat_input=True)
        if option.get("name") in names:
            errors.add(
                (*where, "name"),
                "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(str(option.get("name")))
        description = option.get("description")
        errors.text((*where, "description"), description, min_len=1, max_len=100, required=True)
        for key, is_name in (("name_localizations", True), ("description_localizations", False)):
            _check_localizations(
                (*where, key), option.get(key), errors, name=is_name, chat_input=True
            )
        if kind in (1, 2):
            _check_options((*where, "options"), option.get("options"), errors)
            continue
        if not option.get("required"):
            optional_seen = True
        elif optional_seen:
            errors.add(
                where,
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        choices = errors.items((*where, "choices"), option.get("choices"), max_items=25)
        if choices and option.get("autocomplete"):
            errors.add(
                (*where, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                "Autocomplete cannot be set on an option with choices",
            )
        for number, raw_choice in enumerate(choices):
            choice = as_object(raw_choice)
            choice_path = (*where, "choices", number)
            name = choice.get("name")
            errors.text((*choice_path, "name"), name, min_len=1, max_len=100, required=True)
            if isinstance(choice.get("value"), str):
                errors.text((*choice_path, "value"), choice["value"], max_len=100)
        errors.number((*where, "min_length"), option.get("min_length"), low=0, high=6000)
        errors.number((*where, "max_length"), option.get("max_length"), low=1, high=6000)


def check_command_list(commands: Any, errors: FormErrors) -> list[JSON]:
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Could not interpret the value as an array.")
        return []
    seen: set[tuple[int, str]] = set()
    per_type: dict[int, int] = {}
    for index, raw in enumerate(commands):
        command = as_object(raw)
        _check_command(command, (index,), errors)
        key = (int(command.get("type", 1)), str(command.get("name")))
        if key in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)
        per_type[key[0]] = per_type.get(key[0], 0) + 1
    for kind, count in per_type.items():
        limit = 100 if kind == 1 else 15
        if count > limit:
            errors.add(
                (), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer commands of type {kind}."
            )
    return [as_object(c) for c in commands]
