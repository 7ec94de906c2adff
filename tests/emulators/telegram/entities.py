"""What the markup parsers share: UTF-16 offsets, the parse error and the entity builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.emulators.telegram.model import JSON


class EntityParseError(ValueError):
    """The text is not valid markup for its parse mode (Telegram's own wording)."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of entity offsets and lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


@dataclass
class OpenEntity:
    """A start mark read from the source, waiting for the end of its entity."""

    tag: str
    start: int
    offset: int
    attrs: dict[str, str] = field(default_factory=dict)


class TextBuilder:
    """Collects plain text and entities with UTF-16 offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.position = 0
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def close(self, kind: str, start: int, **extra: Any) -> None:
        if self.position > start:
            entity = {"type": kind, "offset": start, "length": self.position - start}
            self.entities.append(entity | extra)

    def result(self) -> tuple[str, list[JSON]]:
        # Outer entities first: on equal ranges the one closed last encloses the others.
        order = sorted(
            enumerate(self.entities), key=lambda p: (p[1]["offset"], -p[1]["length"], -p[0])
        )
        return "".join(self.parts), [entity for _, entity in order]
