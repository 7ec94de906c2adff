"""MarkdownV2 and legacy Markdown, parsed as strictly as Telegram does, with its wording."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, urlsplit

from tests.emulators.telegram.entities import EntityParseError, OpenEntity, TextBuilder, byte_offset
from tests.emulators.telegram.model import JSON

_MARKDOWN_V2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_TOGGLES: Final = {
    "*": ("bold", "Bold"),
    "_": ("italic", "Italic"),
    "__": ("underline", "Underline"),
    "~": ("strikethrough", "Strikethrough"),
    "||": ("spoiler", "Spoiler"),
}
_MARKDOWN_V2_NAMES: Final = {"`": "Code", "```": "Pre", "[": "TextUrl", "![": "CustomEmoji"} | {
    marker: name for marker, (_, name) in _MARKDOWN_V2_TOGGLES.items()
}


def _markdown_url(source: str, index: int, offset: int) -> tuple[str, int]:
    """Read `(url)` starting at `index` (the '('); return the url and the index after ')'."""
    if not source.startswith("(", index):
        raise EntityParseError(f"Can't find end of a URL at byte offset {offset}")
    url: list[str] = []
    index += 1
    while index < len(source) and source[index] != ")":
        if source[index] == "\\" and index + 1 < len(source):
            index += 1
        url.append(source[index])
        index += 1
    if index >= len(source):
        raise EntityParseError(f"Can't find end of a URL at byte offset {offset}")
    return "".join(url), index + 1


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 into plain text and entities, or raise EntityParseError."""
    out = TextBuilder()
    stack: list[OpenEntity] = []
    quote: int | None = None
    index, length = 0, len(source)
    at_line_start = True
    while index < length:
        char = source[index]
        top = stack[-1].tag if stack else None
        if char == "\\" and index + 1 < length and 0 < ord(source[index + 1]) < 127:
            out.add(source[index + 1])
            index, at_line_start = index + 2, False
            continue
        if top in ("`", "```"):
            if top == "```" and source.startswith("```", index):
                opened = stack.pop()
                extra = {"language": opened.attrs["language"]} if opened.attrs["language"] else {}
                out.close("pre", opened.start, **extra)
                index += 3
            elif top == "`" and char == "`":
                out.close("code", stack.pop().start)
                index += 1
            else:
                out.add(char)
                index += 1
            continue
        if char == "\n":
            if quote is not None and not source.startswith(">", index + 1):
                out.close("blockquote", quote)
                quote = None
            out.add(char)
            index, at_line_start = index + 1, True
            continue
        if at_line_start and char == ">":
            if quote is None:
                quote = out.position
            index, at_line_start = index + 1, False
            continue
        at_line_start = False
        if char not in _MARKDOWN_V2_RESERVED:
            out.add(char)
            index += 1
            continue
        offset = byte_offset(source, index)
        if source.startswith("```", index):
            newline = source.find("\n", index + 3)
            header = source[index + 3 : newline] if newline >= 0 else ""
            is_language = bool(header) and not any(c.isspace() or c == "`" for c in header)
            stack.append(
                OpenEntity("```", out.position, offset, {"language": header if is_language else ""})
            )
            index = newline + 1 if is_language else index + 3
        elif char == "`":
            stack.append(OpenEntity("`", out.position, offset))
            index += 1
        elif char == "[" or source.startswith("![", index):
            marker = "[" if char == "[" else "!["
            stack.append(OpenEntity(marker, out.position, offset))
            index += len(marker)
        elif char == "]" and top in ("[", "!["):
            opened = stack.pop()
            url, index = _markdown_url(source, index + 1, opened.offset)
            if opened.tag == "![":
                emoji_id = parse_qs(urlsplit(url).query).get("id", [""])[0]
                out.close("custom_emoji", opened.start, custom_emoji_id=emoji_id)
            else:
                out.close("text_link", opened.start, url=url)
        elif source.startswith("||", index) or char in "*_~":
            marker = "||" if char == "|" else char
            if source.startswith("__", index) and top != "_":
                marker = "__"
            if top == marker:
                out.close(_MARKDOWN_V2_TOGGLES[marker][0], stack.pop().start)
            elif any(opened.tag == marker for opened in stack):
                name = _MARKDOWN_V2_NAMES[stack[-1].tag]
                raise EntityParseError(
                    f"Can't find end of {name} entity at byte offset {stack[-1].offset}"
                )
            else:
                stack.append(OpenEntity(marker, out.position, offset))
            index += len(marker)
        else:
            raise EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        name = _MARKDOWN_V2_NAMES[stack[-1].tag]
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {stack[-1].offset}")
    if quote is not None:
        out.close("blockquote", quote)
    return out.result()


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Parse legacy Markdown (no nesting) into plain text and entities."""
    out = TextBuilder()
    index, length = 0, len(source)
    simple = {"*": "bold", "_": "italic", "`": "code"}
    while index < length:
        char = source[index]
        if char == "\\" and index + 1 < length and source[index + 1] in "_*`[":
            out.add(source[index + 1])
            index += 2
            continue
        if char not in "_*`[":
            out.add(char)
            index += 1
            continue
        offset = byte_offset(source, index)
        missing = EntityParseError(f"Can't find end of the entity starting at byte offset {offset}")
        start = out.position
        if source.startswith("```", index):
            end = source.find("```", index + 3)
            if end < 0:
                raise missing
            out.add(source[index + 3 : end])
            out.close("pre", start)
            index = end + 3
        elif char == "[":
            end = source.find("]", index + 1)
            if end < 0:
                raise missing
            out.add(source[index + 1 : end])
            try:
                url, index = _markdown_url(source, end + 1, offset)
            except EntityParseError:
                raise missing from None
            out.close("text_link", start, url=url)
        else:
            end = source.find(char, index + 1)
            if end < 0:
                raise missing
            out.add(source[index + 1 : end])
            out.close(simple[char], start)
            index = end + 1
    return out.result()
