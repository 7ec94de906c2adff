"""Neutral messages as terminal text.

Everything a member typed is printed exactly as typed (markup, mentions, right-to-left
characters), except terminal control sequences: a project title must not be able to clear
the screen, move the cursor or retitle the window.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.chat import Button, Document, Edit, Image, Message, Outgoing, Poll, Rich, Target

# ECMA-48 escape sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings up to their
# terminator, two-character escapes, and the 8-bit CSI.
_ESCAPES = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?
    | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)
    | \x1b[ -/]*[0-~]?
    | \x9b[0-?]*[ -/]*[@-~]?
    | [\x90\x98\x9d\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)
    """,
    re.VERBOSE | re.DOTALL,
)
_KEPT_CONTROLS = frozenset("\n\t")
BUTTON_GAP = "   "


def clean(text: str) -> str:
    """`text` without terminal escape sequences or control characters (newlines and tabs
    stay; a carriage return becomes a newline so it cannot overwrite the line)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPES.sub("", text)
    return "".join(
        char for char in text if char in _KEPT_CONTROLS or unicodedata.category(char) != "Cc"
    )


def rich_text(rich: Rich) -> str:
    """Plain text of the spans; a link shows its address after its text."""
    parts = []
    for span in rich.spans:
        text = clean(span.text)
        if span.kind == "link" and span.url:
            url = clean(span.url)
            parts.append(url if text in ("", url) else f"{text} <{url}>")
        else:
            parts.append(text)
    return "".join(parts)


def button_text(number: int, button: Button) -> str:
    label = f"[{number}] {clean(button.label)}"
    if button.url and not button.action:
        label += f" <{clean(button.url)}>"
    return label


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as lines of text, and its buttons in the order of their numbers."""

    text: str
    buttons: tuple[Button, ...] = ()


def render_buttons(
    rows: Sequence[Sequence[Button]], first_number: int = 1
) -> tuple[list[str], list[Button]]:
    """One line per row, buttons numbered across the rows from `first_number`."""
    lines: list[str] = []
    numbered: list[Button] = []
    for row in rows:
        labels = []
        for button in row:
            numbered.append(button)
            labels.append(button_text(first_number + len(numbered) - 1, button))
        if labels:
            lines.append(BUTTON_GAP.join(labels))
    return lines, numbered


def render(out: Outgoing, first_number: int = 1) -> Rendered:
    """The text of any outgoing message, with numbered buttons when it has some."""
    match out:
        case Message():
            lines = [rich_text(out.text)]
            button_lines, numbered = render_buttons(out.buttons, first_number)
            lines.extend(button_lines)
            return Rendered("\n".join(lines), tuple(numbered))
        case Edit():
            return render(out.message, first_number)
        case Poll():
            options = [f"  {i}. {clean(option)}" for i, option in enumerate(out.options, 1)]
            return Rendered("\n".join([f"(poll) {clean(out.question)}", *options]))
        case Image():
            caption = rich_text(out.caption)
            head = f"(image, {len(out.png)} bytes)"
            return Rendered(f"{head}\n{caption}" if caption else head)
        case Document():
            caption = rich_text(out.caption)
            head = f"(document {clean(out.filename)}, {len(out.data)} bytes)"
            return Rendered(f"{head}\n{caption}" if caption else head)
    raise TypeError(f"cannot render {out!r}")


def where(target: Target) -> str:
    """`to hassan (private)` or `in #souss-massa`."""
    if target.private:
        return f"to {clean(target.chat_id)} (private)"
    return f"in #{clean(target.chat_id)}"


def header(target: Target, edited: str | None = None) -> str:
    """The line announcing a message shown somewhere other than where you are."""
    place = where(target)
    if edited is not None:
        if target.private:
            place = place.removesuffix(")") + f", edited message {clean(edited)})"
        else:
            place += f" (edited message {clean(edited)})"
    return f"-> {place}:"
