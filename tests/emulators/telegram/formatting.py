"""Text and captions as Telegram stores them: parsed by parse mode, trimmed, length-checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from tests.emulators.telegram.entities import EntityParseError, utf16_len
from tests.emulators.telegram.html_markup import parse_html
from tests.emulators.telegram.limits import Limits
from tests.emulators.telegram.markdown import parse_markdown, parse_markdown_v2
from tests.emulators.telegram.model import JSON, ApiError

_PARSERS: Final[dict[str, Callable[[str], tuple[str, list[JSON]]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace as Telegram does, shifting and clipping the entities."""
    left = utf16_len(text[: len(text) - len(text.lstrip())])
    trimmed = text.strip()
    total = utf16_len(trimmed)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            kept.append(entity | {"offset": start, "length": end - start})
    return trimmed, kept


def message_text(params: JSON, limits: Limits) -> tuple[str, list[JSON]]:
    """The `text` of a send or edit, with its `parse_mode` or `entities`, as Telegram keeps it."""
    text, entities = params.get("text"), params.get("entities")
    return _formatted(text, params.get("parse_mode"), entities, limits, caption=False)


def message_caption(params: JSON, limits: Limits) -> tuple[str, list[JSON]]:
    """The `caption` of a send or edit, with `parse_mode` or `caption_entities`, as kept."""
    caption, entities = params.get("caption"), params.get("caption_entities")
    return _formatted(caption, params.get("parse_mode"), entities, limits, caption=True)


def _formatted(
    text: Any, parse_mode: Any, entities: Any, limits: Limits, *, caption: bool
) -> tuple[str, list[JSON]]:
    """Parse text or caption as Telegram does, then check its length."""
    if text is None and caption:
        return "", []
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if isinstance(entities, list):
        plain, parsed = text, [dict(e) for e in entities if isinstance(e, dict)]
    elif parse_mode:
        parser = _PARSERS.get(str(parse_mode).lower())
        if parser is None:
            raise ApiError(400, f"Bad Request: unsupported parse_mode: {parse_mode}")
        try:
            plain, parsed = parser(text)
        except EntityParseError as error:
            raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
    else:
        plain, parsed = text, []
    plain, parsed = _trim(plain, parsed)
    if caption:
        if len(plain) > limits.caption:
            raise ApiError(400, "Bad Request: message caption is too long")
    elif not plain:
        raise ApiError(400, "Bad Request: message text is empty")
    elif len(plain) > limits.message_text:
        raise ApiError(400, "Bad Request: message is too long")
    return plain, parsed
