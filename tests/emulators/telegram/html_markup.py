"""Telegram's HTML subset, parsed as strictly as Telegram does and with its error wording."""

from __future__ import annotations

import re
from typing import Final

from tests.emulators.telegram.entities import EntityParseError, OpenEntity, TextBuilder, byte_offset
from tests.emulators.telegram.model import JSON

_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _HTML_NAMED[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return chr(code) if 0 < code <= 0x10FFFF else match.group(0)


def _html_unescape(text: str) -> str:
    return _HTML_ENTITY.sub(_html_entity, text)


def _html_attributes(source: str, index: int, tag: str, offset: int) -> tuple[dict[str, str], int]:
    """Read the attributes of a start tag; return them and the index after its '>'."""
    attributes: dict[str, str] = {}
    length = len(source)
    while True:
        while index < length and (source[index].isspace() or source[index] == "/"):
            index += 1
        if index >= length:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        if source[index] == ">":
            return attributes, index + 1
        name_start = index
        while index < length and not source[index].isspace() and source[index] not in "=>":
            index += 1
        name = source[name_start:index].lower()
        while index < length and source[index].isspace():
            index += 1
        if index >= length or source[index] != "=":
            attributes[name] = ""
            continue
        index += 1
        while index < length and source[index].isspace():
            index += 1
        if index < length and source[index] in "\"'":
            end = source.find(source[index], index + 1)
            if end < 0:
                raise EntityParseError(f'Unclosed value of attribute "{name}" of tag "{tag}"')
            value, index = source[index + 1 : end], end + 1
        else:
            value_start = index
            while index < length and not source[index].isspace() and source[index] != ">":
                index += 1
            value = source[value_start:index]
        attributes[name] = _html_unescape(value)


def _close_html_tag(out: TextBuilder, opened: OpenEntity, stack: list[OpenEntity]) -> None:
    tag, attrs = opened.tag, opened.attrs
    if tag == "a":
        if attrs.get("href"):
            out.close("text_link", opened.start, url=attrs["href"])
    elif tag == "code" and stack and stack[-1].tag == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language.removeprefix("language-")
        else:
            out.close("code", opened.start)
    elif tag == "pre":
        extra = {"language": attrs["language"]} if attrs.get("language") else {}
        out.close("pre", opened.start, **extra)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        out.close(kind, opened.start)
    elif tag == "tg-emoji":
        out.close("custom_emoji", opened.start, custom_emoji_id=attrs["emoji-id"])
    else:
        out.close(_HTML_TAGS[tag], opened.start)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset into plain text and entities, or raise EntityParseError."""
    out = TextBuilder()
    stack: list[OpenEntity] = []
    index, length = 0, len(source)
    while index < length:
        char = source[index]
        if char == "&":
            match = _HTML_ENTITY.match(source, index)
            out.add(_html_entity(match) if match else "&")
            index = match.end() if match else index + 1
            continue
        if char != "<":
            end = min(
                (p for p in (source.find("<", index), source.find("&", index)) if p >= 0),
                default=length,
            )
            out.add(source[index:end])
            index = end
            continue
        offset = byte_offset(source, index)
        if source.startswith("</", index):
            end = source.find(">", index)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
            name = source[index + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
            opened = stack.pop()
            if name != opened.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{opened.tag}>", '
                    f'found "</{name}>"'
                )
            _close_html_tag(out, opened, stack)
            index = end + 1
            continue
        end = index + 1
        while end < length and not source[end].isspace() and source[end] not in "/>":
            end += 1
        name = source[index + 1 : end].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs, index = _html_attributes(source, end, name, offset)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset}'
            )
        stack.append(OpenEntity(name, out.position, offset, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.result()
