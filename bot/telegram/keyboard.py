"""Neutral buttons as inline keyboards: callback buttons, links, and deep links into private.

Callback data is the versioned payload of `handlers.buttons` (at most 64 bytes); a button that
must open a private conversation becomes, in a group, a deep link
`https://t.me/<bot>?start=<payload>` that opens the private chat at the right step.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.buttons import PayloadTooLong, encode
from handlers.chat import Button

logger = logging.getLogger(__name__)

PER_ROW = 8
TOTAL = 100
LABEL_LIMIT = 64
DEEP_LINK_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def deep_link(bot_username: str, payload: str | None = None) -> str:
    """The link that opens the private chat with the bot (and sends `/start payload`)."""
    base = f"https://t.me/{bot_username}"
    if payload and DEEP_LINK_PAYLOAD.fullmatch(payload):
        return f"{base}?start={payload}"
    return base


def _label(text: str) -> str:
    text = " ".join(text.split()) or "·"
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def button(item: Button, *, private: bool, bot_username: str) -> InlineKeyboardButton | None:
    """One button as Telegram shows it here, or None when it cannot be encoded."""
    label = _label(item.label)
    if item.private_start and not private and bot_username:
        return InlineKeyboardButton(label, url=deep_link(bot_username, item.private_start))
    if item.action:
        try:
            return InlineKeyboardButton(label, callback_data=encode(item.action, item.args))
        except (PayloadTooLong, ValueError):
            logger.error("button %r has a payload Telegram cannot carry; left out", item.action)
            return None
    if item.url:
        return InlineKeyboardButton(label, url=item.url)
    if item.private_start and bot_username:
        return InlineKeyboardButton(label, url=deep_link(bot_username, item.private_start))
    return None


def keyboard(
    rows: Sequence[Sequence[Button]], *, private: bool, bot_username: str
) -> InlineKeyboardMarkup | None:
    """The inline keyboard for `rows` (at most 8 buttons a row, 100 in all), or None."""
    out: list[list[InlineKeyboardButton]] = []
    total = 0
    for row in rows:
        rendered = [
            b
            for b in (button(item, private=private, bot_username=bot_username) for item in row)
            if b is not None
        ]
        for start in range(0, len(rendered), PER_ROW):
            part = rendered[start : start + PER_ROW][: TOTAL - total]
            if part:
                out.append(part)
                total += len(part)
    return InlineKeyboardMarkup(out) if out else None
