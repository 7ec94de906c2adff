"""Checks of a message body (create or edit) against Discord's documented limits: content,
embeds, components, polls and allowed mentions.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.component_checks import check_components
from tests.emulators.discord.errors import FormErrors
from tests.emulators.discord.protocol import IS_COMPONENTS_V2, JSON, as_object


def check_message(body: JSON, errors: FormErrors) -> None:
    """Check a message body (create or edit) against Discord's documented limits."""
    errors.text(("content",), body.get("content"), max_len=2000)
    flags = body.get("flags") or 0
    v2 = isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)
    if "embeds" in body:
        _check_embeds(body.get("embeds"), errors)
    if "components" in body:
        check_components(body.get("components"), errors, v2=v2)
    if v2 and (body.get("content") or body.get("embeds")):
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with IS_COMPONENTS_V2",
        )
    if body.get("poll") is not None:
        _check_poll(as_object(body["poll"]), errors)
    if body.get("allowed_mentions") is not None:
        _check_allowed_mentions(as_object(body["allowed_mentions"]), errors)


def _check_embeds(embeds: Any, errors: FormErrors) -> None:
    total = 0
    for index, raw in enumerate(errors.items(("embeds",), embeds, max_items=10)):
        embed, path = as_object(raw), ("embeds", index)
        for key, limit in (("title", 256), ("description", 4096)):
            errors.text((*path, key), embed.get(key), max_len=limit)
            total += _length(embed.get(key))
        if "author" in embed:
            name = as_object(embed["author"]).get("name")
            errors.text((*path, "author", "name"), name, max_len=256, required=True)
            total += _length(name)
        if "footer" in embed:
            text = as_object(embed["footer"]).get("text")
            errors.text((*path, "footer", "text"), text, max_len=2048, required=True)
            total += _length(text)
        fields = errors.items((*path, "fields"), embed.get("fields"), max_items=25)
        for number, raw_field in enumerate(fields):
            item, where = as_object(raw_field), (*path, "fields", number)
            errors.text((*where, "name"), item.get("name"), min_len=1, max_len=256, required=True)
            errors.text(
                (*where, "value"), item.get("value"), min_len=1, max_len=1024, required=True
            )
            total += _length(item.get("name")) + _length(item.get("value"))
    if total > 6000:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )


def _check_poll(poll: JSON, errors: FormErrors) -> None:
    question = as_object(poll.get("question")).get("text")
    errors.text(("poll", "question", "text"), question, min_len=1, max_len=300, required=True)
    answers = errors.items(("poll", "answers"), poll.get("answers"), max_items=10, min_items=1)
    for index, answer in enumerate(answers):
        text = as_object(as_object(answer).get("poll_media")).get("text")
        path = ("poll", "answers", index, "poll_media", "text")
        errors.text(path, text, min_len=1, max_len=55, required=True)
    errors.number(("poll", "duration"), poll.get("duration"), low=1, high=768)


def _check_allowed_mentions(mentions: JSON, errors: FormErrors) -> None:
    parse = errors.items(("allowed_mentions", "parse"), mentions.get("parse"), max_items=3)
    for index, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errors.add(
                ("allowed_mentions", "parse", index),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('everyone', 'roles', 'users').",
            )
    for kind in ("users", "roles"):
        ids = errors.items(("allowed_mentions", kind), mentions.get(kind), max_items=100)
        if ids and kind in parse:
            errors.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0
