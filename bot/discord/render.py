"""Neutral rich text as Discord markdown, within Discord's limits.

Everything a member typed is escaped: markdown, headings, quotes, lists, masked links and
mentions show as typed and ping nobody (messages are also sent with no allowed mentions).
Long text is split into messages at line or word boundaries, never inside a styled run, and
an announcement becomes an embed whose title and description fit Discord's limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord.utils

from handlers.chat import Rich, Span

CONTENT_MAX = 2000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_TOTAL_MAX = 6000
ELLIPSIS = "…"

# What discord.utils.escape_markdown leaves alone but Discord still renders specially:
# ordered lists, and <@…> <#…> </cmd:…> <:emoji:…> <t:…> tags.
_ORDERED_LIST = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)
_TAG = re.compile(r"<(?=[@#:/!&]|a:|t:)")
_SAFE_URL = re.compile(r"https?://[^\s()<>\[\]]+", re.IGNORECASE)


def escape(text: str) -> str:
    """`text` shown exactly as typed: no markdown, no mention, no special tag."""
    text = discord.utils.escape_markdown(text)
    text = _ORDERED_LIST.sub(r"\1\\.", text)
    text = _TAG.sub(r"\\<", text)
    return discord.utils.escape_mentions(text)


def _wrap(text: str, marker: str) -> str:
    """Style markers hug the text: Discord ignores `* x *`, so spaces stay outside."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{marker}{escape(core)}{marker}{trail}"


def span_markdown(span: Span) -> str:
    match span.kind:
        case "bold":
            return _wrap(span.text, "**")
        case "italic":
            return _wrap(span.text, "*")
        case "code":
            if span.text.strip() and "`" not in span.text:
                return f"`{span.text}`"
            return escape(span.text)
        case "link":
            url = span.url or ""
            if not _SAFE_URL.fullmatch(url):
                return escape(span.text)
            if span.text in ("", url):
                return url
            return f"[{escape(span.text)}](<{url}>)"
    return escape(span.text)


def markdown(rich: Rich) -> str:
    return "".join(span_markdown(span) for span in rich.spans)


def _best_cut(text: str, fits: int) -> tuple[int, bool]:
    """Where to cut `text` so that its first part (`fits` characters at most) ends well:
    after a line break, else after a space; the flag says whether such a place was found."""
    if fits >= len(text):
        return len(text), True
    for separator in ("\n", " "):
        cut = text.rfind(separator, 0, fits)
        if cut >= 0:
            return cut + 1, True
    return max(fits, 1), False


def _largest_prefix(span: Span, room: int) -> int:
    """The most characters of `span` whose markdown fits in `room` (escaping grows text)."""
    low, high = 0, len(span.text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(span_markdown(Span(span.text[:middle], span.kind, span.url))) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def split(rich: Rich, limit: int = CONTENT_MAX) -> list[Rich]:
    """`rich` in pieces whose markdown each fits in `limit`, cut between lines or words."""
    pieces: list[Rich] = []
    current: list[Span] = []
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            pieces.append(Rich(tuple(current)))
        current, size = [], 0

    for span in rich.spans:
        remaining = span
        while remaining.text:
            if size + len(span_markdown(remaining)) <= limit:
                current.append(remaining)
                size += len(span_markdown(remaining))
                break
            fits = _largest_prefix(remaining, limit - size)
            cut, clean = _best_cut(remaining.text, fits) if fits else (0, False)
            if current and not clean:
                flush()  # a fresh piece may take this run whole, or cut it between words
                continue
            head = Span(remaining.text[:cut], remaining.kind, remaining.url)
            current.append(head)
            remaining = Span(remaining.text[cut:], remaining.kind, remaining.url)
            flush()
    flush()
    return [piece for piece in pieces if piece.plain.strip()] or [Rich.of("")]


def contents(rich: Rich, limit: int = CONTENT_MAX) -> list[str]:
    """The message contents for `rich`: one, or several when it is too long for one."""
    return [markdown(piece).strip("\n") for piece in split(rich, limit)]


def clip(text: str, limit: int) -> str:
    """Plain text (a label, a title) cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _clip_escaped(text: str, limit: int) -> str:
    """`text` escaped, cut so that the escaped form fits in `limit`."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    fits = _largest_prefix(Span(text), limit - 1)
    return escape(text[:fits].rstrip()) + ELLIPSIS


@dataclass(frozen=True, slots=True)
class EmbedText:
    title: str
    description: str


def embed_text(rich: Rich) -> EmbedText:
    """An announcement as an embed: its first line is the title, the rest the description."""
    head: list[Span] = []
    body: list[Span] = []
    in_body = False
    for span in rich.spans:
        if in_body:
            body.append(span)
            continue
        before, newline, after = span.text.partition("\n")
        if before:
            head.append(Span(before, span.kind, span.url))
        if newline:
            in_body = True
            if after:
                body.append(Span(after, span.kind, span.url))
    title = _clip_escaped("".join(s.text for s in head).strip(), EMBED_TITLE_MAX)
    body_rich = Rich(tuple(body))
    if not body_rich.plain.strip():
        return EmbedText(title, "")
    pieces = split(body_rich, EMBED_DESCRIPTION_MAX - len(ELLIPSIS))
    description = markdown(pieces[0]).strip("\n")
    if len(pieces) > 1:
        description += ELLIPSIS
    return EmbedText(title, description)
