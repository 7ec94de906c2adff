"""Buttons, select menus and modals, and the custom_ids that come back when they are used.

No view object waits in memory for a press: every component carries all it needs in its
custom_id (a `handlers.buttons` payload, versioned, at most 64 bytes), and one router reads
it back (see `adapter.py`), so buttons keep working after a restart and a forged custom_id
is only ever a request that the core re-checks. The few ids that belong to Discord alone are
versioned too:

- `t1:<limit>`  the "✍️ Answer" button of a free-text step: opens a modal;
- `s1`          a select menu standing for more choices than fit as buttons; each option's
                value is a button payload;
- `m1`          the modal itself; its one text input is `text`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.discord.render import clip
from handlers.buttons import PayloadTooLong, encode
from handlers.chat import Button, Message

logger = logging.getLogger(__name__)

ROWS_MAX = 5
PER_ROW_MAX = 5
LABEL_MAX = 80
OPTION_MAX = 25
OPTION_LABEL_MAX = 100
URL_MAX = 512
MODAL_TITLE_MAX = 45
INPUT_LABEL_MAX = 45
PLACEHOLDER_MAX = 100
TEXT_MAX = 4000  # what Discord lets a member type in a modal field

ANSWER = re.compile(r"t1:(\d{1,4})")
SELECT_ID = "s1"
MODAL_ID = "m1"
TEXT_INPUT_ID = "text"

_STYLES = {
    "help": discord.ButtonStyle.success,
    "acc": discord.ButtonStyle.success,
    "done": discord.ButtonStyle.success,
    "pub": discord.ButtonStyle.success,
    "dec": discord.ButtonStyle.danger,
    "wd": discord.ButtonStyle.danger,
}


class StaticView(discord.ui.View):
    """Components sent as they are: discord.py keeps no listener for them (the router reads
    every press), so thousands of announcements cost no memory and survive restarts."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Labels:
    """Words the adapter adds itself, in the member's language."""

    answer: str
    more: str  # the placeholder of a select menu of choices


def answer_id(limit: int) -> str:
    return f"t1:{max(1, min(limit, TEXT_MAX))}"


def answer_limit(custom_id: str) -> int | None:
    """The length limit of the step an "Answer" button belongs to, if it is one."""
    found = ANSWER.fullmatch(custom_id)
    return int(found.group(1)) if found else None


def _style(button: Button) -> discord.ButtonStyle:
    if button.action == "dlg" and button.args[-1:] in (("__cancel",), ("__skip",)):
        return discord.ButtonStyle.secondary
    return _STYLES.get(button.action, discord.ButtonStyle.primary)


def _label(text: str) -> str:
    return clip(text, LABEL_MAX) or "…"


def _link_url(button: Button) -> str | None:
    url = button.url or ""
    if button.action or not url.startswith(("https://", "http://")) or len(url) > URL_MAX:
        return None
    return url


def _payload(button: Button) -> str | None:
    if not button.action:
        return None
    try:
        return encode(button.action, button.args)
    except (PayloadTooLong, ValueError):
        logger.warning("button %r does not fit in a custom_id: left out", button.action)
        return None


def _items(message: Message, labels: Labels) -> list[list[discord.ui.Item[Any]]]:
    rows: list[list[discord.ui.Item[Any]]] = []
    seen: set[str] = set()
    for row in message.buttons:
        items: list[discord.ui.Item[Any]] = []
        for button in row:
            url = _link_url(button)
            if url is not None:
                items.append(discord.ui.Button(label=_label(button.label), url=url))
                continue
            payload = _payload(button)
            if payload is None or payload in seen:
                continue
            seen.add(payload)
            items.append(
                discord.ui.Button(
                    label=_label(button.label), custom_id=payload, style=_style(button)
                )
            )
        if items:
            rows.append(items)
    if message.expects_text:
        answer: discord.ui.Button[Any] = discord.ui.Button(
            label=_label("✍️ " + labels.answer),
            custom_id=answer_id(message.expects_text),
            style=discord.ButtonStyle.primary,
        )
        # Beside the step's own Skip and Cancel, which the dialog engine puts last.
        if rows and len(rows[-1]) < PER_ROW_MAX:
            rows[-1].insert(0, answer)
        else:
            rows.append([answer])
    return [row[i : i + PER_ROW_MAX] for row in rows for i in range(0, len(row), PER_ROW_MAX)]


def _as_select(rows: list[list[discord.ui.Item[Any]]], labels: Labels) -> list[list[Any]]:
    """Too many rows for Discord: every choice but the last row goes into one select menu."""
    *choices, last = rows
    options: list[discord.SelectOption] = []
    for row in choices:
        for item in row:
            if isinstance(item, discord.ui.Button) and item.custom_id:
                label = clip(item.label or "…", OPTION_LABEL_MAX)
                options.append(discord.SelectOption(label=label, value=item.custom_id))
    if len(options) > OPTION_MAX:
        logger.warning("%d choices for a select menu: only %d shown", len(options), OPTION_MAX)
    select: discord.ui.Select[Any] = discord.ui.Select(
        custom_id=SELECT_ID,
        placeholder=clip(labels.more, PLACEHOLDER_MAX),
        options=options[:OPTION_MAX],
    )
    return [[select], last]


def make_view(message: Message, labels: Labels) -> StaticView | None:
    """The message's buttons as Discord components (None when it has none)."""
    rows: list[list[Any]] = _items(message, labels)
    if not rows:
        return None
    if len(rows) > ROWS_MAX:
        rows = _as_select(rows, labels)
    view = StaticView()
    for number, row in enumerate(rows[:ROWS_MAX]):
        for item in row:
            item.row = number
            view.add_item(item)
    return view


def answer_modal(limit: int, *, title: str, label: str, placeholder: str) -> discord.ui.Modal:
    """The modal of a free-text step; the core checks the step's own limit and says so."""
    modal = discord.ui.Modal(title=clip(title, MODAL_TITLE_MAX) or "…", custom_id=MODAL_ID)
    modal.add_item(
        discord.ui.TextInput(
            label=clip(label, INPUT_LABEL_MAX) or "…",
            custom_id=TEXT_INPUT_ID,
            style=discord.TextStyle.paragraph if limit > 100 else discord.TextStyle.short,
            placeholder=clip(placeholder, PLACEHOLDER_MAX) or None,
            required=True,
            max_length=TEXT_MAX,
        )
    )
    # Not kept by discord.py either: the router reads every submission.
    modal.stop()
    return modal


def _walk(components: Sequence[Any]) -> Iterator[Mapping[str, Any]]:
    for component in components:
        if not isinstance(component, Mapping):
            continue
        yield component
        yield from _walk(component.get("components") or [])
        inner = component.get("component")
        if isinstance(inner, Mapping):
            yield from _walk([inner])


def submitted_text(data: Mapping[str, Any]) -> str:
    """The text typed in a modal we opened (its first text input, whatever its id)."""
    values = [c for c in _walk(data.get("components") or []) if isinstance(c.get("value"), str)]
    preferred = [c for c in values if c.get("custom_id") == TEXT_INPUT_ID]
    found = (preferred or values)[:1]
    return str(found[0]["value"]) if found else ""


def pressed_payload(data: Mapping[str, Any]) -> str:
    """The button payload a component interaction carries: its custom_id, or for our
    select menu the option picked."""
    custom_id = str(data.get("custom_id") or "")
    if custom_id == SELECT_ID:
        values = data.get("values") or []
        return str(values[0]) if values else ""
    return custom_id
