"""Neutral rich text as Telegram HTML, escaped, and split within Telegram's length limits.

Every span's text is escaped, so a project called `<b>` or `@everyone` or `*x*` is shown as
typed. Telegram counts a message's length after parsing the markup, so the limits apply to the
visible text; they are counted in UTF-16 code units (never fewer than code points), which keeps
every chunk within the limit however the server counts.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from handlers.chat import Rich, Span

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_OPTIONS_MAX = 12
ELLIPSIS = "…"
# Links Telegram accepts in <a href>; anything else is shown as text.
LINK_SCHEMES = frozenset({"http", "https", "tg", "mailto"})

_TAGS = {"bold": "b", "italic": "i", "code": "code"}
# A word with the whitespace after it, or whitespace alone (at the start of a span).
_PIECES = re.compile(r"\S+\s*|\s+")


def size(text: str) -> int:
    """Length as Telegram counts it at worst: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape(text: str) -> str:
    """Text for Telegram's HTML: only `<`, `>` and `&` are special outside attributes."""
    return html.escape(text, quote=False)


def _linkable(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return bool(parts.netloc)
    return scheme in LINK_SCHEMES


def span_html(span: Span) -> str:
    text = escape(span.text)
    if not span.text:
        return ""
    if span.kind == "link":
        if _linkable(span.url):
            return f'<a href="{html.escape(span.url or "", quote=True)}">{text}</a>'
        return text if not span.url or span.url == span.text else f"{text} ({escape(span.url)})"
    tag = _TAGS.get(span.kind)
    return f"<{tag}>{text}</{tag}>" if tag else text


def to_html(rich: Rich) -> str:
    """The whole text as Telegram HTML (no length check: see `split`)."""
    return "".join(span_html(span) for span in rich.spans)


def visible(rich: Rich) -> str:
    """What Telegram shows once the markup is parsed."""
    return "".join(
        span.text
        if span.kind != "link" or _linkable(span.url) or not span.url or span.url == span.text
        else f"{span.text} ({span.url})"
        for span in rich.spans
    )


def _cut(text: str, limit: int) -> list[str]:
    """A single word longer than `limit`, in slices of at most `limit` units."""
    slices: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        width = size(char)
        if used + width > limit:
            slices.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += width
    if current:
        slices.append("".join(current))
    return slices


def _pieces(rich: Rich, limit: int) -> list[Span]:
    """The text as words (with their trailing whitespace), each keeping its span's style."""
    pieces: list[Span] = []
    for span in rich.spans:
        if span.kind == "link" and not _linkable(span.url) and span.url and span.url != span.text:
            span = Span(f"{span.text} ({span.url})")
        for match in _PIECES.finditer(span.text):
            word = match.group()
            for part in _cut(word, limit) if size(word) > limit else [word]:
                pieces.append(Span(part, span.kind, span.url))
    return pieces


def _merge(pieces: list[Span]) -> Rich:
    """Adjacent pieces of the same style back into one span."""
    spans: list[Span] = []
    for piece in pieces:
        if spans and (spans[-1].kind, spans[-1].url) == (piece.kind, piece.url):
            spans[-1] = Span(spans[-1].text + piece.text, piece.kind, piece.url)
        else:
            spans.append(piece)
    return Rich(tuple(spans))


def split(rich: Rich, limit: int = MESSAGE_LIMIT) -> list[Rich]:
    """Cut `rich` into texts of at most `limit` visible units, between words, preferring a
    line break in the second half of a chunk; a tag is closed at the end of a chunk and opened
    again in the next. Whitespace-only chunks are left out (Telegram refuses empty texts)."""
    chunks: list[list[Span]] = []
    current: list[Span] = []
    used = 0
    for piece in _pieces(rich, limit):
        width = size(piece.text)
        while current and used + width > limit:
            keep = _line_break(current, limit)
            chunks.append(current[:keep])
            current = current[keep:]
            used = sum(size(p.text) for p in current)
        current.append(piece)
        used += width
    if current:
        chunks.append(current)
    return [_merge(chunk) for chunk in chunks if "".join(p.text for p in chunk).strip()]


def _line_break(pieces: list[Span], limit: int) -> int:
    """How many pieces to keep: up to the last line break past half the limit, else all."""
    used = 0
    best = len(pieces)
    for index, piece in enumerate(pieces, 1):
        used += size(piece.text)
        if piece.text.endswith("\n") and used >= limit // 2:
            best = index
    return best


def clip(text: str, limit: int) -> str:
    """Plain text shortened to `limit` units with an ellipsis (poll questions and options)."""
    if size(text) <= limit:
        return text
    kept = _cut(text, limit - 1)[0]
    return kept.rstrip() + ELLIPSIS
